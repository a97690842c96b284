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
    /// appended after the listing are ignored (follow growing files with a tailing reader), and a
    /// record cut by the listed size ends there.
    ReadListed,
}

/// The bytes of one file, from some offset on.
pub(crate) struct Source {
    file: Arc<File>,
    meta: FileMetadata,
    on_change: OnChange,
    decoder: Option<(Box<dyn Read + Send>, Arc<AtomicU64>)>,
    /// Offset of the next byte `read` returns (decoded bytes for a compressed file).
    pos: u64,
}

impl Source {
    /// Opens `meta`'s file at offset 0, checking it against its listing.
    pub(crate) fn open(
        meta: &FileMetadata,
        codec: Option<Codec>,
        on_change: OnChange,
        at: u64,
    ) -> Result<Self> {
        let file =
            File::open(&meta.path).map_err(|e| Error::io("opening", &meta.path, Some(at), e))?;
        let mut source = Source {
            file: Arc::new(file),
            meta: meta.clone(),
            on_change,
            decoder: None,
            pos: 0,
        };
        source.check(at)?;
        if let Some(codec) = codec {
            let consumed = Arc::new(AtomicU64::new(0));
            let raw = Counted {
                file: Arc::clone(&source.file),
                consumed: Arc::clone(&consumed),
            };
            source.decoder = Some((codec::decoder(codec, raw, &meta.path)?, consumed));
        }
        Ok(source)
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
        (&*self.file)
            .seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io("seeking in", &self.meta.path, Some(offset), e))?;
        self.pos = offset;
        Ok(())
    }

    /// Reads into `buf`; `Ok(0)` at the end: the end of the stream of a compressed file, the
    /// listed size of a plain one. A plain file that ends before it is [`Error::FileChanged`].
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = match &mut self.decoder {
            Some((decoder, _)) => retry(|| decoder.read(buf))
                .map_err(|e| Error::io("decompressing", &self.meta.path, Some(self.pos), e))?,
            None => {
                let left = self.meta.size.saturating_sub(self.pos);
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                if want == 0 {
                    return Ok(0);
                }
                let n = retry(|| (&*self.file).read(&mut buf[..want]))
                    .map_err(|e| Error::io("reading", &self.meta.path, Some(self.pos), e))?;
                if n == 0 {
                    return Err(self.changed(
                        self.pos,
                        format!(
                            "it ends at byte {} but was listed with {} bytes",
                            self.pos, self.meta.size
                        ),
                    ));
                }
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }

    /// Checks the open file against its listing (at the start and at the end of a call).
    pub(crate) fn check(&self, at: u64) -> Result<()> {
        let now = self
            .file
            .metadata()
            .map_err(|e| Error::io("checking", &self.meta.path, Some(at), e))?;
        if now.len() < self.meta.size {
            let what = format!("it is {} bytes, listed with {}", now.len(), self.meta.size);
            return Err(self.changed(at, what));
        }
        if self.on_change == OnChange::Fail {
            let modified = now.modified().ok().map(Timestamp::from_system_time);
            if now.len() != self.meta.size {
                let what = format!(
                    "it grew to {} bytes, listed with {}",
                    now.len(),
                    self.meta.size
                );
                return Err(self.changed(at, what));
            }
            if modified.is_some_and(|m| m != self.meta.modified)
                && self.meta.modified != Timestamp::MIN
            {
                let what = format!(
                    "its modification time is {modified:?}, listed as {:?}",
                    self.meta.modified
                );
                return Err(self.changed(at, what));
            }
        }
        Ok(())
    }

    fn changed(&self, offset: u64, what: String) -> Error {
        let hint = match self.on_change {
            OnChange::Fail => " (or read appended files with OnChange::ReadListed)",
            OnChange::ReadListed => "",
        };
        Error::FileChanged {
            at: self.at(offset),
            what,
            hint,
        }
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
struct Counted {
    file: Arc<File>,
    consumed: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (&*self.file).read(buf)?;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
