//! [`Blob`]: a listed Parquet file's bytes as the `parquet` crate reads them (its
//! [`ChunkReader`]): a local file, or an object read through the crate's [`Source`] (ranged
//! `GET`s on the IO runtime, checked against the listing).

use std::fs::File;
use std::io::{self, Read};

use bytes::Bytes;
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

use crate::error::{Error, Result};
use crate::file::FileMetadata;
use crate::read::OnChange;
use crate::read::source::Source;

/// The bytes of one listed file, for the `parquet` crate's readers.
pub(crate) enum Blob {
    /// A local file: the `parquet` crate reads it directly (`File` is a `ChunkReader`).
    Local(File),
    /// An object: each read opens a [`Source`] at its offset, so a read sees exactly the listed
    /// bytes and an object changed since its listing fails as any reader's would.
    Object(FileMetadata),
}

impl Blob {
    /// Opens `file` and checks it against its listing (size, modification time: an
    /// [`Error::FileChanged`] otherwise). A local file stays open; an object is read on demand.
    pub(crate) fn open(file: &FileMetadata) -> Result<Blob> {
        let source = Source::open(file, None, OnChange::Fail, 0)?;
        // Keep the very file that was checked, not a second open of its path.
        match source.local_file() {
            Some(local) => local
                .try_clone()
                .map(Blob::Local)
                .map_err(|e| Error::io("opening", &file.path, Some(0), e)),
            None => Ok(Blob::Object(file.clone())),
        }
    }

    /// Another handle on the same bytes (for a reader that takes its own).
    pub(crate) fn try_clone(&self, file: &FileMetadata) -> Result<Blob> {
        match self {
            Blob::Local(f) => f
                .try_clone()
                .map(Blob::Local)
                .map_err(|e| Error::io("opening", &file.path, None, e)),
            Blob::Object(meta) => Ok(Blob::Object(meta.clone())),
        }
    }

    /// Reads the `len` bytes at `offset`.
    pub(crate) fn read_at(&self, file: &FileMetadata, offset: u64, len: usize) -> Result<Vec<u8>> {
        let bytes = self.get_bytes(offset, len).map_err(|e| match e {
            ParquetError::External(e) => match e.downcast::<Error>() {
                Ok(e) => *e,
                Err(e) => Error::io("reading", &file.path, Some(offset), io::Error::other(e)),
            },
            e => Error::io("reading", &file.path, Some(offset), io::Error::other(e)),
        })?;
        Ok(bytes.to_vec())
    }
}

impl Length for Blob {
    fn len(&self) -> u64 {
        match self {
            Blob::Local(file) => file.len(),
            Blob::Object(meta) => meta.size,
        }
    }
}

impl ChunkReader for Blob {
    type T = Box<dyn Read + Send>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        match self {
            Blob::Local(file) => Ok(Box::new(file.get_read(start)?)),
            Blob::Object(meta) => Ok(Box::new(SourceRead(open_at(meta, start)?))),
        }
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        match self {
            Blob::Local(file) => file.get_bytes(start, length),
            Blob::Object(meta) => {
                let mut source = open_at(meta, start)?;
                let mut buf = vec![0; length];
                let mut filled = 0;
                while filled < length {
                    let n = source.read(&mut buf[filled..]).map_err(external)?;
                    if n == 0 {
                        return Err(ParquetError::EOF(format!(
                            "{} ends at byte {} before the {length} bytes at {start}",
                            meta.path.display(),
                            start + filled as u64
                        )));
                    }
                    filled += n;
                }
                Ok(Bytes::from(buf))
            }
        }
    }
}

/// A [`Source`] of `meta`'s object at `start`. The listing was checked when the blob was
/// opened; each response of the object is compared with it again as it arrives.
fn open_at(meta: &FileMetadata, start: u64) -> parquet::errors::Result<Source> {
    let mut source = Source::open(meta, None, OnChange::Fail, start).map_err(external)?;
    source.seek(start).map_err(external)?;
    Ok(source)
}

fn external(e: Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

/// A [`Source`] as an [`io::Read`], its errors kept whole inside the `io::Error`.
struct SourceRead(Source);

impl Read for SourceRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(io::Error::other)
    }
}
