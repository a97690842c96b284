//! [`Format`]: what turns the framed bytes of a record into a value. The three readers are
//! formats; a connector of your own is one more. [`Record`] and [`WithMetadata`] add the file
//! and offset to each value.

use std::path::Path;
use std::sync::Arc;

use super::frame::Framing;
use crate::error::{Error, Location, Result};
use crate::file::FileMetadata;

/// Where a record was found, handed to [`Format::decode`].
#[derive(Debug, Clone, Copy)]
pub struct RecordContext<'a> {
    /// The file.
    pub file: &'a FileMetadata,
    /// Where the record starts: a file offset, or a decoded offset of a compressed file.
    pub offset: u64,
    /// Whether `offset` counts decoded bytes.
    pub decoded: bool,
}

impl RecordContext<'_> {
    /// The record's location, for errors.
    pub fn location(&self) -> Location {
        Location {
            path: self.file.path.clone(),
            offset: self.offset,
            decoded: self.decoded,
        }
    }

    /// An [`Error::BadRecord`] for this record: `format` names the format, `reason` says what
    /// is wrong and what to do.
    pub fn bad_record(&self, format: &'static str, reason: impl std::fmt::Display) -> Error {
        Error::BadRecord {
            at: self.location(),
            format,
            reason: reason.to_string(),
        }
    }
}

/// A record format: how records are framed, and how the bytes of one become a value.
///
/// The reader does everything else (ranges, seeking, buffers, compression, checkpoints, the
/// record-length limit, a UTF-8 byte-order mark at the start of a file); a format only decodes.
///
/// ```
/// use sdf_connectors::read::{Format, Framing, ReadFile, RecordContext};
/// use sdf_connectors::{FileMetadata, Result};
///
/// /// Lines as numbers; blank lines are skipped.
/// struct Numbers;
///
/// impl Format for Numbers {
///     type Output = i64;
///     type State = ();
///     fn framing(&self) -> &Framing { &Framing::Lines }
///     fn start(&self, _: &FileMetadata, _: Vec<Vec<u8>>) -> Result<()> { Ok(()) }
///     fn decode(&self, _: &mut (), cx: RecordContext<'_>, bytes: &[u8]) -> Result<Option<i64>> {
///         let text = std::str::from_utf8(bytes).map_err(|e| cx.bad_record("number", e))?;
///         if text.trim().is_empty() { return Ok(None); }
///         text.trim().parse().map(Some).map_err(|e| cx.bad_record("number", e))
///     }
/// }
///
/// let read_numbers = ReadFile::with_format(Numbers);
/// # let _ = read_numbers;
/// ```
pub trait Format: Send + Sync + 'static {
    /// The values read.
    type Output: Send + 'static;
    /// What a `process` call keeps between records: parsed headers, reused buffers.
    type State: Send + 'static;

    /// Where records end.
    fn framing(&self) -> &Framing;

    /// How many records at the start of every file are headers, not data. They are read by every
    /// call that needs them (passed to [`start`](Self::start)) and never emitted.
    fn header_records(&self) -> usize {
        0
    }

    /// The state of a call on `file`, given its header records (without a byte-order mark).
    fn start(&self, file: &FileMetadata, headers: Vec<Vec<u8>>) -> Result<Self::State>;

    /// The value of the record `bytes` (without its delimiter), or `None` to emit nothing for
    /// it (a blank line). An error fails the call, naming the record's location.
    fn decode(
        &self,
        state: &mut Self::State,
        cx: RecordContext<'_>,
        bytes: &[u8],
    ) -> Result<Option<Self::Output>>;

    /// Whether records are meant to be UTF-8 text (default: no). The reader then checks whole
    /// buffers for UTF-8 at once (one SIMD pass per read, instead of one per record), and hands
    /// each record it found valid to [`decode_str`](Self::decode_str) instead of
    /// [`decode`](Self::decode). Records in a buffer region that is not valid UTF-8 still go to
    /// `decode`, whose own check then reports the bad record exactly. Only framings whose
    /// delimiter is one ASCII byte (lines, CSV) are checked this way; others always use
    /// `decode`.
    fn utf8_records(&self) -> bool {
        false
    }

    /// The value of a record the reader has checked to be UTF-8 (see
    /// [`utf8_records`](Self::utf8_records)): the same as [`decode`](Self::decode) on its bytes,
    /// which is the default. Override it to skip the format's own UTF-8 check.
    fn decode_str(
        &self,
        state: &mut Self::State,
        cx: RecordContext<'_>,
        text: &str,
    ) -> Result<Option<Self::Output>> {
        self.decode(state, cx, text.as_bytes())
    }

    /// What the call holds of records already decoded, emitted as its last value: a batch
    /// format's partial batch. [`ReadFile`](super::ReadFile) calls this at the end of every
    /// call that does not fail (at the end of its range, and at a refused claim, before it
    /// parks its reader), so that records claimed by a call are emitted by that call, exactly
    /// once whatever the splits. `cx.offset` is where the call stopped: the start of the first
    /// record it did not read. The default holds nothing back.
    fn end_call(
        &self,
        _state: &mut Self::State,
        _cx: RecordContext<'_>,
    ) -> Result<Option<Self::Output>> {
        Ok(None)
    }
}

/// A value with the file it was read from and the offset where its record starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Record<T> {
    /// The file.
    pub path: Arc<Path>,
    /// Where the record starts: a file offset, or a decoded offset of a compressed file. For a
    /// value that holds several records (a batch), the offset of the record that completed it,
    /// or where the call stopped for the batch emitted at a call's end ([`Format::end_call`]).
    pub offset: u64,
    /// The value.
    pub value: T,
}

/// A format whose values carry their file and offset: [`Record`]s of `F`'s values. Made by
/// [`ReadFile::with_metadata`](super::ReadFile::with_metadata).
#[derive(Debug, Clone)]
pub struct WithMetadata<F> {
    inner: F,
}

impl<F> WithMetadata<F> {
    /// Wraps `inner`.
    pub fn new(inner: F) -> Self {
        WithMetadata { inner }
    }

    /// The wrapped format.
    pub fn get_ref(&self) -> &F {
        &self.inner
    }

    /// Unwraps it.
    pub fn into_inner(self) -> F {
        self.inner
    }
}

impl<F: Format> Format for WithMetadata<F> {
    type Output = Record<F::Output>;
    type State = (F::State, Arc<Path>);

    fn framing(&self) -> &Framing {
        self.inner.framing()
    }

    fn header_records(&self) -> usize {
        self.inner.header_records()
    }

    fn start(&self, file: &FileMetadata, headers: Vec<Vec<u8>>) -> Result<Self::State> {
        Ok((
            self.inner.start(file, headers)?,
            Arc::from(file.path.as_path()),
        ))
    }

    #[inline]
    fn decode(
        &self,
        (state, path): &mut Self::State,
        cx: RecordContext<'_>,
        bytes: &[u8],
    ) -> Result<Option<Self::Output>> {
        Ok(self.inner.decode(state, cx, bytes)?.map(|value| Record {
            path: Arc::clone(path),
            offset: cx.offset,
            value,
        }))
    }

    fn utf8_records(&self) -> bool {
        self.inner.utf8_records()
    }

    #[inline]
    fn decode_str(
        &self,
        (state, path): &mut Self::State,
        cx: RecordContext<'_>,
        text: &str,
    ) -> Result<Option<Self::Output>> {
        Ok(self.inner.decode_str(state, cx, text)?.map(|value| Record {
            path: Arc::clone(path),
            offset: cx.offset,
            value,
        }))
    }

    /// The inner format's held value, at the offset where the call stopped.
    fn end_call(
        &self,
        (state, path): &mut Self::State,
        cx: RecordContext<'_>,
    ) -> Result<Option<Self::Output>> {
        Ok(self.inner.end_call(state, cx)?.map(|value| Record {
            path: Arc::clone(path),
            offset: cx.offset,
            value,
        }))
    }
}
