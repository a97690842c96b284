//! [`TailTracker`]: a [`GrowableOffsetRangeTracker`] whose claims also say which file they are in,
//! so that a residual knows the file it continues, across rotations and restarts.
//!
//! # Positions
//!
//! A tail reads a sequence of *generations* of one path: generation 0 is the file first read;
//! each rotation (a new file under the name) or truncation starts the next. Positions are `i64`
//! offsets in one space, generation `g` owning `[g << 40, (g + 1) << 40)`:
//!
//! - `g << 40` is the generation's **marker**, claimed when the tail starts reading it (no
//!   output): the claim records which file the generation is;
//! - `(g << 40) + b + 1` is the line that starts at byte `b` of that file.
//!
//! ```
//! use sdf_connectors::TailPosition;
//! assert_eq!(TailPosition::line_offset(0, 0), 1);
//! assert_eq!(TailPosition::line_offset(2, 10), (2 << 40) + 11);
//! assert_eq!(TailPosition::generation_of((2 << 40) + 11), 2);
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sdf_core::{
    GrowableOffsetRangeTracker, OffsetRange, Progress, RangeEndEstimator, RestrictionTracker,
    SplitResult, TrackerError,
};
use serde::{Deserialize, Serialize};

/// Bits of a position that hold the byte offset; the rest hold the generation.
const OFFSET_BITS: u32 = 40;
/// The largest byte offset a line may start at (positions stay below the next marker and
/// below `i64::MAX`, the end claim).
pub(crate) const MAX_LINE_START: u64 = (1 << OFFSET_BITS) - 3;
/// The largest generation.
pub(crate) const MAX_GENERATION: u32 = (i64::MAX >> OFFSET_BITS) as u32;

/// The identity of a file, which survives renames: device, inode and creation time (where the
/// file system records it; Linux ext4, XFS, Btrfs and tmpfs do). The creation time tells a new
/// file from a deleted one whose inode it reuses; without it, such a file looks like the old
/// one, truncated or grown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct FileId {
    /// The device (0 where there is none).
    pub dev: u64,
    /// The inode (0 where there is none).
    pub ino: u64,
    /// The creation time in nanoseconds since the Unix epoch, 0 if unknown.
    pub born: u64,
}

impl FileId {
    /// The identity of the file `meta` describes.
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        let born = meta
            .created()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let (dev, ino) = device_and_inode(meta);
        FileId { dev, ino, born }
    }
}

#[cfg(unix)]
fn device_and_inode(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn device_and_inode(_meta: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// A claim of a [`TailTracker`]: a position and the file it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TailPosition {
    /// The position (see the module docs).
    pub offset: i64,
    /// The file holding it.
    pub file: FileId,
    /// For a line: its fingerprint, which a residual starting after it carries.
    pub check: Option<LineCheck>,
}

/// The fingerprint of a line already read: where it starts and ends, and a hash of its last
/// bytes (at most [`LineCheck::MAX_BYTES`]). A tail that resumes after the line reads them again
/// and compares: a file truncated and written again past the old position (`: > log; echo x >>
/// log` within one poll) no longer holds them, and is followed from its start again instead of
/// losing the new lines before the old position (Vector fingerprints files the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineCheck {
    /// The byte the line starts at.
    pub start: u64,
    /// The byte after its newline.
    pub end: u64,
    /// XXH64 of the bytes `[max(start, end − MAX_BYTES), end)`.
    pub hash: u64,
}

impl LineCheck {
    /// At most this many bytes of a line are fingerprinted (the end of it, newline included).
    pub const MAX_BYTES: u64 = 256;

    /// The fingerprint of `line` (newline included), which starts at byte `start`.
    pub fn of(start: u64, line: &[u8]) -> LineCheck {
        let keep = line.len().min(Self::MAX_BYTES as usize);
        LineCheck {
            start,
            end: start + line.len() as u64,
            hash: xxhash_rust::xxh64::xxh64(&line[line.len() - keep..], 0),
        }
    }

    /// Where the fingerprinted bytes start.
    pub fn from(&self) -> u64 {
        self.start.max(self.end.saturating_sub(Self::MAX_BYTES))
    }
}

impl TailPosition {
    /// The claim that says the tail has reached its end: it always returns `false`.
    pub const END: TailPosition = TailPosition {
        offset: i64::MAX,
        file: FileId {
            dev: 0,
            ino: 0,
            born: 0,
        },
        check: None,
    };

    /// The marker position of `generation`.
    pub const fn marker(generation: u32) -> i64 {
        (generation as i64) << OFFSET_BITS
    }

    /// The position of the line starting at byte `byte` of `generation`'s file (`byte` at most
    /// 2⁴⁰ − 3).
    pub const fn line_offset(generation: u32, byte: u64) -> i64 {
        Self::marker(generation) + byte as i64 + 1
    }

    /// The generation a position belongs to.
    pub const fn generation_of(offset: i64) -> u32 {
        (offset >> OFFSET_BITS) as u32
    }

    /// The byte a position stands for within its generation: `None` for a marker.
    pub const fn byte_of(offset: i64) -> Option<u64> {
        let low = (offset & ((1 << OFFSET_BITS) - 1)) as u64;
        if low == 0 { None } else { Some(low - 1) }
    }
}

/// The restriction of a tail: positions (see the module docs), the file of the first one, and
/// whether to stop at the end of the data instead of waiting for more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TailRange {
    /// The positions; an end of `i64::MAX` means "follow forever".
    pub range: OffsetRange,
    /// The file holding `range.start()`, when known; `None`: the file now at the path.
    pub file: Option<FileId>,
    /// Read what exists and stop (a finished file, or a draining pipeline), instead of
    /// waiting for more.
    pub until_eof: bool,
    /// The fingerprint of the line just before `range.start()`, when the range resumes after
    /// a line already read (a checkpoint's residual): checked before reading on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<LineCheck>,
}

/// The end estimate of a tail: the position after the last byte of the current file, set by
/// the reading DoFn whenever it learns the file's size.
#[derive(Debug, Clone, Default)]
pub struct SizeEstimate(Arc<AtomicI64>);

impl SizeEstimate {
    /// Sets the estimate: `generation`'s file holds `size` bytes.
    pub fn set(&self, generation: u32, size: u64) {
        let size = size.min(MAX_LINE_START + 1);
        self.0.store(
            TailPosition::line_offset(generation, size),
            Ordering::Relaxed,
        );
    }
}

impl RangeEndEstimator for SizeEstimate {
    fn estimate(&self) -> Option<i64> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            end => Some(end),
        }
    }
}

/// Tracks a [`TailRange`]: a [`GrowableOffsetRangeTracker`] for the positions, plus the file of
/// the last claim, which a residual inherits when it starts in the same generation.
///
/// [0, MAX) of file A, claimed the marker and the line at byte 0, checkpoint → the residual
/// continues file A:
/// ```
/// use sdf_connectors::{FileId, LineCheck, SizeEstimate, TailPosition, TailRange, TailTracker};
/// use sdf_core::{OffsetRange, RestrictionTracker};
/// let a = FileId { dev: 1, ino: 7, born: 0 };
/// let range = TailRange { range: OffsetRange::new(0, i64::MAX), file: None, until_eof: false, before: None };
/// let mut t = TailTracker::new(range, SizeEstimate::default());
/// assert!(t.try_claim(TailPosition { offset: TailPosition::marker(0), file: a, check: None })?);
/// let line = LineCheck::of(0, b"hello\n");
/// assert!(t.try_claim(TailPosition { offset: TailPosition::line_offset(0, 0), file: a, check: Some(line) })?);
/// let split = t.try_split(0.0)?.unwrap();
/// assert_eq!(split.residual.range, OffsetRange::new(2, i64::MAX));
/// assert_eq!(split.residual.file, Some(a));
/// assert_eq!(split.residual.before, Some(line), "checked when the residual resumes");
/// assert_eq!(split.primary.file, None);
/// # Ok::<(), sdf_core::TrackerError>(())
/// ```
#[derive(Debug)]
pub struct TailTracker<E = SizeEstimate> {
    inner: GrowableOffsetRangeTracker<E>,
    start_file: Option<FileId>,
    until_eof: bool,
    before: Option<LineCheck>,
    last: Option<TailPosition>,
}

impl<E: RangeEndEstimator> TailTracker<E> {
    /// A tracker for `range`.
    pub fn new(range: TailRange, estimator: E) -> Self {
        TailTracker {
            inner: GrowableOffsetRangeTracker::with_range(range.range, estimator),
            start_file: range.file,
            until_eof: range.until_eof,
            before: range.before,
            last: None,
        }
    }

    /// The end estimator.
    pub fn estimator(&self) -> &E {
        self.inner.estimator()
    }

    /// The file of `offset` as far as this tracker knows: that of the last claim (or of the
    /// start), if `offset` is in the same generation.
    fn file_at(&self, offset: i64) -> Option<FileId> {
        let start = self.inner.current_restriction().start();
        let (known, file) = match self.last {
            Some(last) => (last.offset, Some(last.file)),
            None => (start, self.start_file),
        };
        let same = TailPosition::generation_of(known) == TailPosition::generation_of(offset);
        if same { file } else { None }
    }

    /// The fingerprint of the line just before `offset`, if the last claim (or the start) is
    /// that line.
    fn check_before(&self, offset: i64) -> Option<LineCheck> {
        let (at, check) = match self.last {
            Some(last) => (last.offset, last.check),
            None => (self.inner.current_restriction().start(), self.before),
        };
        match self.last {
            // Resuming right after the last line claimed.
            Some(_) => (offset == at + 1).then_some(check).flatten(),
            // Nothing claimed: the start's own fingerprint, if the split keeps the start.
            None => (offset == at).then_some(check).flatten(),
        }
    }

    fn restriction(
        &self,
        range: OffsetRange,
        file: Option<FileId>,
        before: Option<LineCheck>,
    ) -> TailRange {
        TailRange {
            range,
            file,
            until_eof: self.until_eof,
            before,
        }
    }
}

impl<E: RangeEndEstimator> RestrictionTracker for TailTracker<E> {
    type Restriction = TailRange;
    type Position = TailPosition;

    #[inline]
    fn try_claim(&mut self, position: TailPosition) -> Result<bool, TrackerError> {
        let claimed = self.inner.try_claim(position.offset)?;
        if claimed {
            self.last = Some(position);
        }
        Ok(claimed)
    }

    fn try_split(&mut self, fraction: f64) -> Result<Option<SplitResult<TailRange>>, TrackerError> {
        let Some(split) = self.inner.try_split(fraction)? else {
            return Ok(None);
        };
        let residual_file = self.file_at(split.residual.start());
        let residual_before = self.check_before(split.residual.start());
        Ok(Some(SplitResult {
            primary: self.restriction(split.primary, self.start_file, self.before),
            residual: self.restriction(split.residual, residual_file, residual_before),
        }))
    }

    fn current_restriction(&self) -> TailRange {
        self.restriction(
            self.inner.current_restriction(),
            self.start_file,
            self.before,
        )
    }

    fn check_done(&self) -> Result<(), TrackerError> {
        self.inner.check_done()
    }

    fn progress(&self) -> Progress {
        self.inner.progress()
    }

    fn is_bounded(&self) -> bool {
        self.inner.is_bounded()
    }
}

#[cfg(test)]
mod tests;
