//! [`Input`]: the listed bytes of one Avro file, buffered, with what the container format reads
//! from them (varint longs, byte strings, sync markers) and the checks that the file is still
//! as it was listed.

use memchr::memmem;

use crate::error::{Error, Location, Result};
use crate::file::FileMetadata;
use crate::read::OnChange;
use crate::read::source::Source;

/// The name of the format in errors.
pub(super) const FORMAT: &str = "Avro";

/// The listed bytes `[0, size)` of a file, read through one buffer. Offsets are file offsets.
pub(super) struct Input {
    /// The file or object, read with the listing checks every reader shares.
    source: Source,
    meta: FileMetadata,
    buf: Box<[u8]>,
    /// `buf[lo..hi]` holds the bytes at `pos..pos + (hi - lo)`.
    lo: usize,
    hi: usize,
    pos: u64,
}

impl Input {
    /// Opens `meta`'s file (or object) at offset 0 with a buffer of `buffer_size` bytes (at
    /// least 64), checking it against its listing.
    pub(super) fn open(
        meta: &FileMetadata,
        on_change: OnChange,
        buffer_size: usize,
    ) -> Result<Self> {
        Ok(Input {
            source: Source::open(meta, None, on_change, 0)?,
            meta: meta.clone(),
            buf: vec![0; buffer_size.max(64)].into_boxed_slice(),
            lo: 0,
            hi: 0,
            pos: 0,
        })
    }

    /// The offset of the next byte read.
    #[inline]
    pub(super) fn offset(&self) -> u64 {
        self.pos
    }

    /// The file's listed size.
    pub(super) fn size(&self) -> u64 {
        self.meta.size
    }

    /// A location in this file, for errors.
    pub(super) fn at(&self, offset: u64) -> Location {
        Location {
            path: self.meta.path.clone(),
            offset,
            decoded: false,
        }
    }

    /// An [`Error::BadFile`] at `offset`.
    pub(super) fn bad(&self, offset: u64, reason: impl Into<String>) -> Error {
        Error::BadFile {
            at: self.at(offset),
            format: FORMAT,
            reason: reason.into(),
        }
    }

    /// Moves to `offset` (at most the listed size).
    pub(super) fn seek(&mut self, offset: u64) -> Result<()> {
        let buffered = self.pos..self.pos + (self.hi - self.lo) as u64;
        if buffered.contains(&offset) {
            self.lo += (offset - self.pos) as usize;
        } else {
            self.source.seek(offset)?;
            self.lo = 0;
            self.hi = 0;
        }
        self.pos = offset;
        Ok(())
    }

    /// Whether every listed byte has been read.
    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.meta.size
    }

    /// Makes at least one byte available unless at the listed end; `false` at the end.
    fn fill(&mut self) -> Result<bool> {
        if self.lo < self.hi {
            return Ok(true);
        }
        let n = self.read_file(self.pos, 0)?;
        self.lo = 0;
        self.hi = n;
        Ok(n > 0)
    }

    /// Reads the file at `offset` (where the source is) into `buf[at..]`, never past the listed
    /// size; 0 only at the listed end. A file that ends earlier is [`Error::FileChanged`].
    fn read_file(&mut self, offset: u64, at: usize) -> Result<usize> {
        debug_assert_eq!(offset, self.source.consumed());
        self.source.read(&mut self.buf[at..])
    }

    /// One byte, or `None` at the listed end.
    #[inline]
    pub(super) fn byte(&mut self) -> Result<Option<u8>> {
        if !self.fill()? {
            return Ok(None);
        }
        let b = self.buf[self.lo];
        self.lo += 1;
        self.pos += 1;
        Ok(Some(b))
    }

    /// Appends the next `n` bytes to `out`; `what` names them in the error if the file ends
    /// first. Large reads go straight from the file into `out`.
    pub(super) fn read_into(&mut self, out: &mut Vec<u8>, n: u64, what: &str) -> Result<()> {
        let start = self.pos;
        if self.meta.size.saturating_sub(start) < n {
            return Err(self.bad(
                start,
                format!(
                    "{what} needs {n} bytes but the file ends {} bytes later: the file is \
                     truncated or corrupt",
                    self.meta.size - start
                ),
            ));
        }
        let n = usize::try_from(n).map_err(|_| self.bad(start, format!("{what} is too large")))?;
        out.reserve(n);
        let buffered = (self.hi - self.lo).min(n);
        out.extend_from_slice(&self.buf[self.lo..self.lo + buffered]);
        self.lo += buffered;
        self.pos += buffered as u64;
        let mut rest = n - buffered;
        if rest > 0 {
            // The buffer is empty: read the rest directly.
            let old = out.len();
            out.resize(old + rest, 0);
            let mut filled = old;
            while rest > 0 {
                // Never 0: the listed size holds `rest` more bytes (checked above), and a file
                // that ends before its listed size is an error of `Source::read`.
                let got = self.source.read(&mut out[filled..filled + rest])?;
                if got == 0 {
                    return Err(self.bad(self.pos, format!("{what} ends early")));
                }
                filled += got;
                rest -= got;
                self.pos += got as u64;
            }
        }
        Ok(())
    }

    /// Exactly `N` bytes; `what` names them in the error if the file ends first.
    pub(super) fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut out = [0; N];
        let start = self.pos;
        for slot in &mut out {
            *slot = self.byte()?.ok_or_else(|| {
                self.bad(
                    start,
                    format!("the file ends inside {what}: it is truncated or corrupt"),
                )
            })?;
        }
        Ok(out)
    }

    /// A zig-zag varint `long`; `what` names it in errors.
    pub(super) fn long(&mut self, what: &str) -> Result<i64> {
        let start = self.pos;
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            let Some(b) = self.byte()? else {
                return Err(self.bad(
                    start,
                    format!("the file ends inside {what}: it is truncated or corrupt"),
                ));
            };
            if shift == 63 && b > 1 {
                break;
            }
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        Err(self.bad(
            start,
            format!("{what} is not a valid varint (longer than 64 bits): the file is corrupt"),
        ))
    }

    /// Moves to the first occurrence of `marker` that starts in `[offset, before)` and returns
    /// its offset, leaving the input just after it; `None` if there is none.
    pub(super) fn find(&mut self, marker: &[u8; 16], before: u64) -> Result<Option<u64>> {
        let finder = memmem::Finder::new(marker);
        loop {
            if self.pos >= before {
                return Ok(None);
            }
            if let Some(i) = finder.find(&self.buf[self.lo..self.hi]) {
                let found = self.pos + i as u64;
                if found >= before {
                    return Ok(None);
                }
                self.lo += i + marker.len();
                self.pos = found + marker.len() as u64;
                return Ok(Some(found));
            }
            // Keep the last 15 bytes: a marker may straddle the end of the buffer.
            let keep = (self.hi - self.lo).min(marker.len() - 1);
            let skip = self.hi - self.lo - keep;
            self.buf.copy_within(self.hi - keep..self.hi, 0);
            self.pos += skip as u64;
            self.lo = 0;
            self.hi = keep;
            let n = self.read_file(self.pos + keep as u64, keep)?;
            if n == 0 {
                return Ok(None);
            }
            self.hi += n;
        }
    }

    /// Checks the open file against its listing (when a call starts and ends).
    pub(super) fn check(&self, at: u64) -> Result<()> {
        self.source.check(at)
    }
}
