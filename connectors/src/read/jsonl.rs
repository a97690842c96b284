//! [`ReadJsonLines`]: one JSON value per line, typed with serde.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use super::format::{Format, RecordContext};
use super::frame::Framing;
use super::reader::ReadFile;
use crate::error::Result;
use crate::file::FileMetadata;

/// Reads JSON lines as `T` (default: [`serde_json::Value`]); see [`JsonLines`] for the rules.
///
/// ```
/// use sdf_connectors::ReadJsonLines;
/// #[derive(serde::Deserialize)]
/// struct Event { id: u64, text: String }
/// let typed = ReadJsonLines::<Event>::new();
/// let untyped = ReadJsonLines::<serde_json::Value>::new();
/// # let _ = (typed, untyped);
/// ```
pub type ReadJsonLines<T = serde_json::Value> = ReadFile<JsonLines<T>>;

/// The JSON-lines format: each line (`\n` or `\r\n`) holds one JSON value. Lines that are
/// empty or only whitespace are skipped; a line that is not a `T` fails with
/// [`Error::BadRecord`](crate::Error::BadRecord), naming the file and the line's offset.
#[derive(Debug, Clone)]
pub struct JsonLines<T> {
    value: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + Send + 'static> ReadFile<JsonLines<T>> {
    /// A JSON-lines reader.
    pub fn new() -> Self {
        ReadFile::with_format(JsonLines { value: PhantomData })
    }
}

impl<T: DeserializeOwned + Send + 'static> Default for ReadFile<JsonLines<T>> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: DeserializeOwned + Send + 'static> Format for JsonLines<T> {
    type Output = T;
    type State = ();

    fn framing(&self) -> &Framing {
        &Framing::Lines
    }

    fn start(&self, _: &FileMetadata, _: Vec<Vec<u8>>) -> Result<()> {
        Ok(())
    }

    /// JSON is UTF-8: the reader checks whole buffers, and a checked line is parsed as a
    /// `str`, which spares serde_json its own check of every string.
    fn utf8_records(&self) -> bool {
        true
    }

    #[inline]
    fn decode_str(&self, _: &mut (), cx: RecordContext<'_>, text: &str) -> Result<Option<T>> {
        if is_blank(text.as_bytes()) {
            return Ok(None);
        }
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| bad_json(cx, e))
    }

    #[inline]
    fn decode(&self, _: &mut (), cx: RecordContext<'_>, bytes: &[u8]) -> Result<Option<T>> {
        if is_blank(bytes) {
            return Ok(None);
        }
        serde_json::from_slice(bytes)
            .map(Some)
            .map_err(|e| bad_json(cx, e))
    }
}

/// Whether a line is empty or only whitespace: no value, in both JSON-lines formats.
#[inline]
pub(super) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

fn bad_json(cx: RecordContext<'_>, e: serde_json::Error) -> crate::Error {
    cx.bad_record(
        "JSON lines",
        format!(
            "{}; check the line against the type read",
            within_the_line(&e.to_string())
        ),
    )
}

/// A JSON parser's message about one line, placed in the line: a record is one line, so the
/// parser's "line 1" would mislead (the record's offset in the file says where the line is).
/// Only the message's first line is kept (sonic-rs adds an excerpt below it).
pub(super) fn within_the_line(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default().trim_end();
    match first.rsplit_once(" at line 1 column ") {
        Some((what, column)) => format!("{what} at column {column} of the line"),
        None => first.to_string(),
    }
}
