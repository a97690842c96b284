//! [`ReadText`] and [`ReadTextBytes`]: lines, or records ending with a delimiter of your own.

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use super::format::{Format, RecordContext};
use super::frame::Framing;
use super::reader::ReadFile;
use crate::error::Result;
use crate::file::FileMetadata;

/// Reads lines of UTF-8 text as `String`s: see [`Text`] for the rules.
///
/// ```
/// use sdf_connectors::ReadText;
/// use sdf_connectors::read::InvalidUtf8;
/// let read = ReadText::new().skip_header_lines(1).invalid_utf8(InvalidUtf8::Lossy);
/// # let _ = read;
/// ```
pub type ReadText = ReadFile<Text<String>>;

/// Reads lines as raw bytes (`Vec<u8>`), whatever their encoding.
pub type ReadTextBytes = ReadFile<Text<Vec<u8>>>;

/// What to do with a line that is not UTF-8. To keep such lines as they are, read raw bytes
/// with [`ReadTextBytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum InvalidUtf8 {
    /// Fail with [`Error::BadRecord`](crate::Error::BadRecord), naming the file and the line's
    /// offset.
    #[default]
    Fail,
    /// Replace each invalid sequence with U+FFFD.
    Lossy,
}

/// The text format: records are lines, or end with a custom delimiter.
///
/// - Lines end with `\n` or `\r\n`, which are not part of the record (nor is a `\r` at the very
///   end of the file). A lone `\r` is text. An empty line is a record (`""`); nothing after the
///   final delimiter is. The last line is a record even without a delimiter.
/// - A custom delimiter ([`ReadFile::delimiter`]) replaces all of that: records end with it,
///   and a `\r` before it is kept.
/// - A UTF-8 byte-order mark at the start of the file is dropped.
/// - The first `n` lines of each file ([`ReadFile::skip_header_lines`]) are not emitted.
#[derive(Debug, Clone)]
pub struct Text<T> {
    framing: Framing,
    header_lines: usize,
    invalid_utf8: InvalidUtf8,
    value: PhantomData<fn() -> T>,
}

impl<T> Default for Text<T> {
    fn default() -> Self {
        Text {
            framing: Framing::Lines,
            header_lines: 0,
            invalid_utf8: InvalidUtf8::Fail,
            value: PhantomData,
        }
    }
}

impl ReadFile<Text<String>> {
    /// A reader of UTF-8 lines.
    pub fn new() -> Self {
        ReadFile::with_format(Text::default())
    }

    /// What to do with a line that is not UTF-8 (default: fail).
    pub fn invalid_utf8(mut self, policy: InvalidUtf8) -> Self {
        self.format_mut().invalid_utf8 = policy;
        self
    }
}

impl Default for ReadFile<Text<String>> {
    fn default() -> Self {
        Self::new()
    }
}

impl ReadFile<Text<Vec<u8>>> {
    /// A reader of lines as raw bytes.
    pub fn new() -> Self {
        ReadFile::with_format(Text::default())
    }
}

impl Default for ReadFile<Text<Vec<u8>>> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: TextValue> ReadFile<Text<T>> {
    /// Records end with `delimiter` instead of `\n` / `\r\n`. It must be non-empty and must
    /// not overlap itself ([`Framing::delimiter`]).
    pub fn delimiter(mut self, delimiter: impl AsRef<[u8]>) -> Result<Self> {
        self.format_mut().framing = Framing::delimiter(delimiter)?;
        Ok(self)
    }

    /// Skips the first `n` lines of every file.
    ///
    /// Every range knows where the header ends: a range that starts inside the first `n` lines
    /// (or any range, if a split fell there) reads them from the start of the file, so a
    /// header line is never emitted, however the file was split. A range that starts after
    /// them never reads them.
    pub fn skip_header_lines(mut self, n: usize) -> Self {
        self.format_mut().header_lines = n;
        self
    }
}

/// The value of a line: `String` or `Vec<u8>`.
pub trait TextValue: Send + Sized + 'static {
    /// Whether lines are meant to be UTF-8 ([`Format::utf8_records`]; default: no).
    fn utf8() -> bool {
        false
    }

    /// The value of `bytes`.
    fn from_line(bytes: &[u8], policy: InvalidUtf8, cx: RecordContext<'_>) -> Result<Self>;

    /// The value of a line the reader found to be UTF-8 (default: [`from_line`](Self::from_line)).
    fn from_text(text: &str, policy: InvalidUtf8, cx: RecordContext<'_>) -> Result<Self> {
        Self::from_line(text.as_bytes(), policy, cx)
    }
}

impl TextValue for String {
    fn utf8() -> bool {
        true
    }

    #[inline]
    fn from_text(text: &str, _: InvalidUtf8, _: RecordContext<'_>) -> Result<Self> {
        Ok(text.to_owned())
    }

    #[inline]
    fn from_line(bytes: &[u8], policy: InvalidUtf8, cx: RecordContext<'_>) -> Result<Self> {
        // SIMD validation: several times std's speed on text with some multi-byte characters.
        match simdutf8::basic::from_utf8(bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(_) if policy == InvalidUtf8::Lossy => {
                Ok(String::from_utf8_lossy(bytes).into_owned())
            }
            Err(_) => {
                // The slow validator says where and why.
                let e = std::str::from_utf8(bytes).err();
                let why = e.map(|e| e.to_string()).unwrap_or_default();
                Err(cx.bad_record(
                    "text",
                    format!(
                        "not UTF-8 ({why}); read it with InvalidUtf8::Lossy, or as bytes with \
                         ReadTextBytes"
                    ),
                ))
            }
        }
    }
}

impl TextValue for Vec<u8> {
    #[inline]
    fn from_line(bytes: &[u8], _: InvalidUtf8, _: RecordContext<'_>) -> Result<Self> {
        Ok(bytes.to_vec())
    }
}

impl<T: TextValue> Format for Text<T> {
    type Output = T;
    type State = ();

    fn framing(&self) -> &Framing {
        &self.framing
    }

    fn header_records(&self) -> usize {
        self.header_lines
    }

    fn start(&self, _: &FileMetadata, _: Vec<Vec<u8>>) -> Result<()> {
        Ok(())
    }

    fn utf8_records(&self) -> bool {
        T::utf8()
    }

    #[inline]
    fn decode_str(&self, _: &mut (), cx: RecordContext<'_>, text: &str) -> Result<Option<T>> {
        T::from_text(text, self.invalid_utf8, cx).map(Some)
    }

    #[inline]
    fn decode(&self, _: &mut (), cx: RecordContext<'_>, bytes: &[u8]) -> Result<Option<T>> {
        T::from_line(bytes, self.invalid_utf8, cx).map(Some)
    }
}
