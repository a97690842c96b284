//! One file being read by a tail call: lines from a byte position, the skip to the first line
//! start, and what the path says at the end of the data (nothing new, truncated, rotated).

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::tracker::{FileId, LineCheck, MAX_LINE_START};
use crate::error::{Error, Result};

/// A file of one generation, read line by line.
pub(crate) struct Cursor {
    reader: BufReader<File>,
    /// Where the file was opened: the followed path, or the rotated file's name.
    pub path: PathBuf,
    pub id: FileId,
    pub generation: u32,
    /// The next line start; `None` while skipping the rest of a line that began before `from`.
    pos: Option<u64>,
    /// Where this cursor's lines begin: the first line starting at or after it is its first.
    from: u64,
    /// While skipping: the byte offset of the reader.
    skip_at: u64,
    buf: Vec<u8>,
    /// `buf` holds an incomplete last line that starts at `pos`.
    partial: bool,
}

/// What [`Cursor::next`] found.
pub(crate) enum Next {
    /// A complete line starting at byte `start`, with its fingerprint.
    Line {
        start: u64,
        text: String,
        check: LineCheck,
    },
    /// No complete line for now; see [`Cursor::partial`].
    End,
}

/// What the path says once a cursor has read all complete lines.
pub(crate) enum End {
    /// Still the same file, `size` bytes long.
    Quiet { size: u64 },
    /// The same file, now shorter than what was read.
    Truncated { size: u64 },
    /// The path names another file (opened, with its identity), or none.
    Rotated { next: Option<(File, FileId)> },
}

impl Cursor {
    /// A cursor on `file` whose first line is the first one starting at or after byte `from`.
    pub fn open(file: File, path: PathBuf, id: FileId, generation: u32, from: u64) -> Result<Self> {
        let mut reader = BufReader::with_capacity(64 * 1024, file);
        let at = from.saturating_sub(1);
        reader
            .seek(SeekFrom::Start(at))
            .map_err(|e| Error::io("seeking in", &path, Some(at), e))?;
        Ok(Cursor {
            reader,
            path,
            id,
            generation,
            pos: (from == 0).then_some(0),
            from,
            skip_at: at,
            buf: Vec::new(),
            partial: false,
        })
    }

    /// Reads from the start again as `generation` (the file was truncated).
    pub fn restart(&mut self, generation: u32) -> Result<()> {
        self.reader
            .seek(SeekFrom::Start(0))
            .map_err(|e| Error::io("seeking in", &self.path, Some(0), e))?;
        self.generation = generation;
        self.pos = Some(0);
        self.from = 0;
        self.partial = false;
        Ok(())
    }

    /// The byte the file must still have for this cursor to be valid: its next line start, or
    /// where its lines begin while it is still skipping.
    pub fn needed(&self) -> u64 {
        self.pos.unwrap_or(self.from)
    }

    /// Whether the file still holds the line `check` fingerprints (a file truncated and written
    /// again past it does not).
    pub fn still_holds(&self, check: &LineCheck) -> Result<bool> {
        let from = check.from();
        let mut bytes = vec![0; (check.end - from) as usize];
        if self.size()? < check.end {
            return Ok(false);
        }
        read_at(self.reader.get_ref(), &mut bytes, from)
            .map_err(|e| Error::io("reading", &self.path, Some(from), e))?;
        Ok(xxhash_rust::xxh64::xxh64(&bytes, 0) == check.hash)
    }

    /// The file's current size.
    pub fn size(&self) -> Result<u64> {
        let meta = self.reader.get_ref().metadata();
        meta.map(|m| m.len())
            .map_err(|e| Error::io("reading the size of", &self.path, None, e))
    }

    /// The incomplete last line seen by the last [`next`](Self::next) that returned `End`:
    /// its start and text.
    pub fn partial(&self) -> Option<(u64, String)> {
        match (self.partial, self.pos) {
            (true, Some(start)) => Some((start, decode(&self.buf))),
            _ => None,
        }
    }

    /// The next complete line, at most `max` bytes before its newline.
    pub fn next(&mut self, max: usize) -> Result<Next> {
        self.partial = false;
        let start = match self.pos {
            Some(start) => start,
            None => match self.skip()? {
                Some(start) => start,
                None => return Ok(Next::End),
            },
        };
        self.pos = Some(start);
        if start > MAX_LINE_START {
            return Err(Error::TailLimit {
                path: self.path.clone(),
                offset: start,
                reason: "lines past 1 TiB cannot be addressed; rotate the file sooner".into(),
            });
        }
        self.buf.clear();
        let read = (&mut self.reader)
            .take(max as u64 + 1)
            .read_until(b'\n', &mut self.buf);
        let n = read.map_err(|e| Error::io("reading", &self.path, Some(start), e))?;
        if self.buf.last() == Some(&b'\n') {
            self.pos = Some(start + n as u64);
            return Ok(Next::Line {
                start,
                text: decode(&self.buf),
                check: LineCheck::of(start, &self.buf),
            });
        }
        if n > max {
            return Err(Error::LineTooLong {
                path: self.path.clone(),
                offset: start,
                limit: max,
            });
        }
        // An incomplete line (or nothing): read it again next time, when it may be complete.
        self.partial = n > 0;
        self.reader
            .seek(SeekFrom::Start(start))
            .map_err(|e| Error::io("seeking in", &self.path, Some(start), e))?;
        Ok(Next::End)
    }

    /// Skips through the first newline at or after `from - 1`: the line containing that byte
    /// belongs to an earlier range. Returns the first line start after it, if there is one yet.
    fn skip(&mut self) -> Result<Option<u64>> {
        loop {
            let at = self.skip_at;
            let buf = (self.reader.fill_buf())
                .map_err(|e| Error::io("reading", &self.path, Some(at), e))?;
            if buf.is_empty() {
                return Ok(None);
            }
            let (used, found) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            self.reader.consume(used);
            self.skip_at += used as u64;
            if found {
                return Ok(Some(self.skip_at));
            }
        }
    }

    /// What the path says now that every complete line was read.
    pub fn check_end(&self, path: &Path) -> Result<End> {
        let size = self.size()?;
        if size < self.needed() {
            return Ok(End::Truncated { size });
        }
        match fs::metadata(path) {
            Ok(meta) if FileId::of(&meta) == self.id => return Ok(End::Quiet { size }),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("checking", path, None, e)),
        }
        match open_current(path)? {
            Some((_, id)) if id == self.id => Ok(End::Quiet { size }),
            next => Ok(End::Rotated { next }),
        }
    }
}

/// Reads exactly `buf.len()` bytes at `offset`, leaving the file's position alone.
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

/// Reads exactly `buf.len()` bytes at `offset` (moves the position of a cloned handle).
#[cfg(not(unix))]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    let mut file = file.try_clone()?;
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

/// A line's text: without its `\n` or `\r\n`; invalid UTF-8 replaced by U+FFFD.
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

/// Opens the file now at `path`, with its identity; `None` if there is none.
pub(crate) fn open_current(path: &Path) -> Result<Option<(File, FileId)>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("opening", path, None, e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| Error::io("reading the metadata of", path, None, e))?;
    Ok(Some((file, FileId::of(&meta))))
}

/// Opens the file `id`: at `path`, or, if `path` now names another file or none (it was
/// rotated), among the entries of `path`'s directory. `None` if it is gone.
pub(crate) fn locate(path: &Path, id: FileId) -> Result<Option<(File, PathBuf)>> {
    if let Some((file, found)) = open_current(path)?
        && found == id
    {
        return Ok(Some((file, path.to_path_buf())));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("listing", dir, None, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("listing", dir, None, e))?;
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() || FileId::of(&meta) != id {
            continue;
        }
        let candidate = entry.path();
        if let Some((file, found)) = open_current(&candidate)?
            && found == id
        {
            return Ok(Some((file, candidate)));
        }
    }
    Ok(None)
}
