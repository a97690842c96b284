//! [`OpenFile`]: one file, opened for a [`FileFormat`](super::FileFormat), decompressed if it
//! must be, that knows its offset and names itself in its errors.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{Compression, FileMetadata};
use crate::error::{Error, FileError};

/// A file being read by a [`FileFormat`](super::FileFormat): a buffered [`Read`] +
/// [`BufRead`] of its bytes (decompressed, for a compressed file) that counts its
/// [`position`](Self::position) and can [`seek`](Self::seek).
///
/// Its I/O errors already name the path and the offset ([`FileError`] inside the
/// `io::Error`); turn them, or a format's own errors, into the crate's [`Error`] with
/// [`error`](Self::error).
pub struct OpenFile {
    path: PathBuf,
    compression: Compression,
    stream: Stream,
    position: u64,
}

enum Stream {
    Plain(BufReader<File>),
    Decoded(BufReader<Box<dyn Read + Send>>),
}

impl OpenFile {
    /// Opens `file`, checking that it still holds `[start, stop)` (the range in the file that
    /// is about to be read; the whole file if compressed).
    pub(crate) fn open(file: &FileMetadata, start: u64, stop: u64) -> Result<Self, FileError> {
        let io_error = |action, source| FileError::Io {
            path: file.path.clone(),
            action,
            offset: None,
            source,
        };
        let raw = File::open(&file.path).map_err(|e| io_error("open", e))?;
        let actual = raw
            .metadata()
            .map_err(|e| io_error("read the metadata of", e))?
            .len();
        let needed = if file.compression.is_compressed() {
            file.size
        } else {
            stop.min(file.size)
        };
        if actual < needed {
            return Err(FileError::Shrunk {
                path: file.path.clone(),
                expected: file.size,
                actual,
                start,
                stop: needed,
            });
        }
        let stream = match file.compression.decoder(raw) {
            Ok(decoded) => Stream::Decoded(BufReader::new(decoded)),
            Err(raw) => Stream::Plain(BufReader::new(raw)),
        };
        Ok(OpenFile {
            path: file.path.clone(),
            compression: file.compression,
            stream,
            position: 0,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the file is decoded ([`Compression::Uncompressed`] or a real compression).
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The offset of the next byte [`Read`] or [`BufRead`] returns, in the decompressed stream
    /// for a compressed file.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Moves to `offset`. An uncompressed file seeks, reading nothing before `offset`; a
    /// compressed one can only decompress and discard up to a later offset, and cannot go
    /// back.
    pub fn seek(&mut self, offset: u64) -> Result<(), Error> {
        match &mut self.stream {
            Stream::Plain(file) => {
                file.seek(SeekFrom::Start(offset))
                    .map_err(|source| FileError::Io {
                        path: self.path.clone(),
                        action: "seek in",
                        offset: Some(offset),
                        source,
                    })?;
                self.position = offset;
            }
            Stream::Decoded(_) if offset < self.position => {
                return Err(self.error(
                    offset,
                    format!(
                        "a compressed stream cannot seek back (from {} to {offset}); \
                         read it in one pass",
                        self.position
                    ),
                ));
            }
            Stream::Decoded(_) => {
                let skip = offset - self.position;
                let skipped = io::copy(&mut self.by_ref().take(skip), &mut io::sink());
                match skipped {
                    Ok(n) if n == skip => {}
                    Ok(_) => return Err(self.error(offset, "the stream ends before this offset")),
                    Err(e) => return Err(self.error(offset, e)),
                }
            }
        }
        Ok(())
    }

    /// The crate's error for a failure at `offset`: an I/O error of this file as it is (it
    /// names the path already), anything else as a [`FileError::Record`] at `offset`.
    pub fn error(
        &self,
        offset: u64,
        error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Error {
        let error = match error.into().downcast::<io::Error>() {
            // An error of this file's stream: it says everything already.
            Ok(io) if io.get_ref().is_some_and(|e| e.is::<FileError>()) => {
                match io.into_inner().map(|e| e.downcast::<FileError>()) {
                    Some(Ok(file_error)) => return Error::File(*file_error),
                    Some(Err(other)) => other,
                    None => "an I/O error without its inner error".into(),
                }
            }
            Ok(io) => io,
            Err(other) => other,
        };
        Error::File(FileError::Record {
            path: self.path.clone(),
            offset,
            source: error,
        })
    }

    /// Wraps an error of the underlying stream with the path and the offset.
    fn describe(&self, error: io::Error) -> io::Error {
        let kind = error.kind();
        let corrupt = matches!(
            kind,
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
        );
        let described = if self.compression.is_compressed() && corrupt {
            FileError::Corrupt {
                path: self.path.clone(),
                compression: self.compression,
                offset: self.position,
                source: error,
            }
        } else {
            FileError::Io {
                path: self.path.clone(),
                action: "read",
                offset: Some(self.position),
                source: error,
            }
        };
        io::Error::new(kind, described)
    }
}

impl Read for OpenFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = match &mut self.stream {
            Stream::Plain(file) => file.read(buf),
            Stream::Decoded(decoded) => decoded.read(buf),
        };
        let n = read.map_err(|e| self.describe(e))?;
        self.position += n as u64;
        Ok(n)
    }
}

impl BufRead for OpenFile {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        // Borrowing the buffer for the result and `self` for the error at once needs two
        // passes: fill, then return the filled buffer.
        let filled = match &mut self.stream {
            Stream::Plain(file) => file.fill_buf().map(|_| ()),
            Stream::Decoded(decoded) => decoded.fill_buf().map(|_| ()),
        };
        filled.map_err(|e| self.describe(e))?;
        Ok(match &mut self.stream {
            Stream::Plain(file) => file.buffer(),
            Stream::Decoded(decoded) => decoded.buffer(),
        })
    }

    fn consume(&mut self, amount: usize) {
        match &mut self.stream {
            Stream::Plain(file) => file.consume(amount),
            Stream::Decoded(decoded) => decoded.consume(amount),
        }
        self.position += amount as u64;
    }
}

impl fmt::Debug for OpenFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenFile")
            .field("path", &self.path)
            .field("compression", &self.compression)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}
