//! [`Source`]: the bytes of one file as a reader sees them, plain or decoded, with the checks
//! that a file has not changed since it was listed.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sdf_core::Timestamp;
use serde::{Deserialize, Serialize};

use super::codec::{self, Codec};
use crate::error::{Error, Location, Result};
use crate::file::FileMetadata;
use crate::storage::{self, ObjectReader};

/// What a reader does when a file is not as it was listed (its [`FileMetadata`]).
///
/// Whatever the policy, a file shorter than its listed size, or one that ends early while it is
/// read, is an error ([`Error::FileChanged`]) naming the file and the offset: records are never
/// lost silently. A file that disappears after a call opened it is read to its end (the open
/// handle keeps its bytes); one that is gone when a call starts is an [`Error::Io`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum OnChange {
    /// A file whose size or modification time differs from its listing, when a call starts or
    /// when it ends, is an error. The call's output is then not committed (the runtime holds it
    /// until the call succeeds), so no record of a changed file passes as one of the listed file.
    #[default]
    Fail,
    /// Read the listed bytes `[0, size)` as long as the file is at least that long: bytes
    /// appended after the listing are ignored (follow growing files with a tailing reader). A
    /// last record that the listed size cuts (no delimiter at the listed end, and the file now
    /// continues) is never emitted as a record: it is [`Error::CutRecord`].
    ReadListed,
}

/// The bytes of one file, from some offset on.
pub(crate) struct Source {
    bytes: Bytes,
    meta: FileMetadata,
    on_change: OnChange,
    decoder: Option<(Box<dyn Read + Send>, Arc<AtomicU64>)>,
    /// Offset of the next byte `read` returns (decoded bytes for a compressed file).
    pos: u64,
}

/// Where the bytes come from: a local file, or an object read ahead on the IO runtime.
enum Bytes {
    Local(Arc<File>),
    Remote(ObjectReader),
}

impl Source {
    /// Opens `meta`'s file (or object) at offset 0, checking it against its listing.
    // Without the `object-store` feature no `ObjectReader` exists: its arm is unreachable.
    #[cfg_attr(not(feature = "object-store"), allow(unreachable_code))]
    pub(crate) fn open(
        meta: &FileMetadata,
        codec: Option<Codec>,
        on_change: OnChange,
        at: u64,
    ) -> Result<Self> {
        let remote = meta.path.to_str().filter(|p| storage::is_url(p));
        let bytes = match remote {
            Some(url) => Bytes::Remote(ObjectReader::open(url, meta, on_change)?),
            None => Bytes::Local(Arc::new(
                File::open(&meta.path)
                    .map_err(|e| Error::io("opening", &meta.path, Some(at), e))?,
            )),
        };
        let mut source = Source {
            bytes,
            meta: meta.clone(),
            on_change,
            decoder: None,
            pos: 0,
        };
        source.check(at)?;
        if let Some(codec) = codec {
            let consumed = Arc::new(AtomicU64::new(0));
            let raw: Box<dyn Read + Send> = match &source.bytes {
                Bytes::Local(file) => Box::new(Counted {
                    raw: Arc::clone(file),
                    consumed: Arc::clone(&consumed),
                }),
                Bytes::Remote(object) => Box::new(Counted {
                    raw: object.reopen(),
                    consumed: Arc::clone(&consumed),
                }),
            };
            source.decoder = Some((codec::decoder(codec, raw, &meta.path)?, consumed));
        }
        Ok(source)
    }

    /// The open local file (the one checked against the listing), or `None` for an object.
    #[cfg(feature = "parquet")]
    pub(crate) fn local_file(&self) -> Option<&File> {
        match &self.bytes {
            Bytes::Local(file) => Some(file),
            Bytes::Remote(_) => None,
        }
    }

    /// Whether offsets count decoded bytes.
    pub(crate) fn is_decoded(&self) -> bool {
        self.decoder.is_some()
    }

    /// A location in this file, for errors.
    pub(crate) fn at(&self, offset: u64) -> Location {
        Location {
            path: self.meta.path.clone(),
            offset,
            decoded: self.is_decoded(),
        }
    }

    /// Bytes of the file read so far: compressed bytes for a compressed file.
    #[inline]
    pub(crate) fn consumed(&self) -> u64 {
        match &self.decoder {
            Some((_, consumed)) => consumed.load(Ordering::Relaxed),
            None => self.pos,
        }
    }

    /// Moves to `offset` of a plain file (a compressed one cannot seek).
    pub(crate) fn seek(&mut self, offset: u64) -> Result<()> {
        debug_assert!(self.decoder.is_none());
        match &mut self.bytes {
            Bytes::Local(file) => {
                (&**file)
                    .seek(SeekFrom::Start(offset))
                    .map_err(|e| Error::io("seeking in", &self.meta.path, Some(offset), e))?;
            }
            Bytes::Remote(object) => object.seek(offset),
        }
        self.pos = offset;
        Ok(())
    }

    /// Reads into `buf`; `Ok(0)` at the end: the end of the stream of a compressed file, the
    /// listed size of a plain one. A plain file that ends before it is [`Error::FileChanged`].
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = match &mut self.decoder {
            Some((decoder, _)) => retry(|| decoder.read(buf))
                .map_err(|e| decoding_error(e, &self.meta.path, self.pos))?,
            None => {
                let left = self.meta.size.saturating_sub(self.pos);
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                if want == 0 {
                    return Ok(0);
                }
                let n = match &mut self.bytes {
                    Bytes::Local(file) => retry(|| (&**file).read(&mut buf[..want]))
                        .map_err(|e| Error::io("reading", &self.meta.path, Some(self.pos), e))?,
                    Bytes::Remote(object) => object.read(&mut buf[..want])?,
                };
                if n == 0 {
                    let what = format!(
                        "it ends at byte {} but was listed with {} bytes",
                        self.pos, self.meta.size
                    );
                    return Err(changed(self.on_change, self.at(self.pos), what));
                }
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }

    /// Refuses a record that starts at `record` and ends at the listed end of a file read as
    /// listed, when the file now holds more bytes: the record continues past the listing.
    pub(crate) fn check_last_record(&self, record: u64) -> Result<()> {
        if self.on_change != OnChange::ReadListed || self.decoder.is_some() {
            return Ok(());
        }
        let len = match &self.bytes {
            Bytes::Local(file) => file
                .metadata()
                .map_err(|e| Error::io("checking", &self.meta.path, Some(record), e))?
                .len(),
            Bytes::Remote(object) => object.head(record)?.0,
        };
        if len > self.meta.size {
            return Err(Error::CutRecord {
                at: self.at(record),
                listed: self.meta.size,
            });
        }
        Ok(())
    }

    /// Checks the open file against its listing (at the start and at the end of a call).
    pub(crate) fn check(&self, at: u64) -> Result<()> {
        let (len, modified) = match &self.bytes {
            Bytes::Local(file) => {
                let now = file
                    .metadata()
                    .map_err(|e| Error::io("checking", &self.meta.path, Some(at), e))?;
                (
                    now.len(),
                    now.modified().ok().map(Timestamp::from_system_time),
                )
            }
            Bytes::Remote(object) => {
                let (len, modified) = object.head(at)?;
                (len, Some(modified))
            }
        };
        let at = self.at(at);
        compare(&self.meta, self.on_change, len, modified, at)
    }
}

/// Compares what a file or object is now (`len`, `modified`) with its listing, under the
/// `on_change` policy; `at` is where the reader is, for the error.
pub(crate) fn compare(
    meta: &FileMetadata,
    on_change: OnChange,
    len: u64,
    modified: Option<Timestamp>,
    at: Location,
) -> Result<()> {
    if len < meta.size {
        let what = format!("it is {len} bytes, listed with {}", meta.size);
        return Err(changed(on_change, at, what));
    }
    if on_change == OnChange::Fail {
        if len != meta.size {
            let what = format!("it grew to {len} bytes, listed with {}", meta.size);
            return Err(changed(on_change, at, what));
        }
        if modified.is_some_and(|m| m != meta.modified) && meta.modified != Timestamp::MIN {
            let what = format!(
                "its modification time is {modified:?}, listed as {:?}",
                meta.modified
            );
            return Err(changed(on_change, at, what));
        }
    }
    Ok(())
}

/// The error of a file that is not as listed.
pub(crate) fn changed(on_change: OnChange, at: Location, what: String) -> Error {
    let hint = match on_change {
        OnChange::Fail => " (or read appended files with OnChange::ReadListed)",
        OnChange::ReadListed => "",
    };
    Error::FileChanged { at, what, hint }
}

/// The error of a decoder: an object's own error (changed, gone) that came through it as an
/// `io::Error` is unwrapped; anything else failed to decompress at `pos`.
fn decoding_error(e: io::Error, path: &std::path::Path, pos: u64) -> Error {
    if !e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        return Error::io("decompressing", path, Some(pos), e);
    }
    let kind = e.kind();
    match e.into_inner().map(|inner| inner.downcast::<Error>()) {
        Some(Ok(own)) => *own,
        Some(Err(other)) => Error::io(
            "decompressing",
            path,
            Some(pos),
            io::Error::new(kind, other),
        ),
        None => Error::io("decompressing", path, Some(pos), io::Error::from(kind)),
    }
}

/// Retries reads interrupted by a signal.
fn retry(mut read: impl FnMut() -> io::Result<usize>) -> io::Result<usize> {
    loop {
        match read() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The compressed bytes under a decoder, counted for progress.
struct Counted<R> {
    raw: R,
    consumed: Arc<AtomicU64>,
}

impl Read for Counted<Arc<File>> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (&*self.raw).read(buf)?;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Read for Counted<ObjectReader> {
    /// An object's error reaches the decoder as an `io::Error` wrapping the crate's error,
    /// which [`Source::read`] unwraps again.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.raw.read(buf).map_err(io::Error::other)?;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
