//! [`FileRange`], the restriction of every reader, and its tracker, [`FileRangeTracker`].

use sdf_core::TrackerError;
use sdf_core::{OffsetRange, OffsetRangeTracker, Progress, RestrictionTracker, SplitResult};
use serde::{Deserialize, Serialize};

use super::codec::Codec;

/// How the records of a file are reached, decided once per file by `initial_restriction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Access {
    /// Plain bytes: a range seeks to its start and finds the first record there, so the file
    /// splits at any byte.
    Seek,
    /// Plain bytes whose record boundaries can only be found by reading from the start (CSV
    /// whose quoted fields hold newlines). One range; it checkpoints but never splits.
    FromStart,
    /// Compressed with this codec: offsets count *decoded* bytes. One range; it checkpoints
    /// but never splits, and a resumed call decodes from the file's start to its offset
    /// (unless it continues a parked reader: see the module docs).
    Decode(Codec),
}

impl Access {
    /// Whether a range of this file can be split anywhere, not only checkpointed.
    pub fn is_splittable(self) -> bool {
        matches!(self, Access::Seek)
    }
}

/// The work of reading one file: the records that **start** in `range`, reached as `access`
/// says. Offsets are file bytes, or decoded bytes of a compressed file, whose range ends at
/// `i64::MAX` (its decoded size is not known before it is read).
///
/// ```
/// use sdf_connectors::read::{Access, FileRange};
/// use sdf_core::OffsetRange;
/// let r = FileRange::new(OffsetRange::new(0, 1000), Access::Seek);
/// assert_eq!(format!("{r:?}"), "[0, 1000) Seek");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileRange {
    /// The offsets at which the records of this range start.
    pub range: OffsetRange,
    /// How they are reached.
    pub access: Access,
}

impl FileRange {
    /// A range of `access`.
    pub fn new(range: OffsetRange, access: Access) -> Self {
        FileRange { range, access }
    }
}

impl std::fmt::Debug for FileRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} {:?}", self.range, self.access)
    }
}

/// What a reader claims: the offset at which a record starts, and how many bytes of the file
/// were read to get there (the compressed bytes, for a compressed file; it only feeds progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilePosition {
    /// Where the record starts: a file offset, or a decoded offset of a compressed file.
    pub offset: i64,
    /// Bytes of the file consumed so far (compressed files: what the decoder has read).
    pub consumed: u64,
}

/// Tracks a [`FileRange`]: an [`OffsetRangeTracker`] over the record offsets that splits only
/// if the file is [splittable](Access::is_splittable) (otherwise only checkpoints, fraction 0),
/// and reports progress in bytes of the file, compressed bytes included.
///
/// A plain file's progress is its offsets (the offset tracker's). A compressed file's is the
/// compressed bytes consumed out of `file_size`, since its decoded size is unknown; its
/// remaining work stays at least 1 until the range is done.
///
/// ```
/// use sdf_connectors::read::{Access, Codec, FilePosition, FileRange, FileRangeTracker};
/// use sdf_core::{OffsetRange, RestrictionTracker};
/// let gz = FileRange::new(OffsetRange::new(0, i64::MAX), Access::Decode(Codec::Gzip));
/// let mut t = FileRangeTracker::new(gz, 400);
/// assert!(t.try_claim(FilePosition { offset: 0, consumed: 100 })?);
/// assert_eq!((t.progress().completed, t.progress().remaining), (100.0, 300.0));
/// assert_eq!(t.try_split(0.5)?, None); // compressed: checkpoints only
/// let checkpoint = t.try_split(0.0)?.unwrap();
/// assert_eq!(checkpoint.residual.range, OffsetRange::new(1, i64::MAX));
/// # Ok::<(), sdf_core::TrackerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct FileRangeTracker {
    inner: OffsetRangeTracker,
    access: Access,
    file_size: u64,
    consumed: u64,
}

impl FileRangeTracker {
    /// A tracker of `range` over a file of `file_size` bytes (as listed).
    pub fn new(range: FileRange, file_size: u64) -> Self {
        FileRangeTracker {
            inner: OffsetRangeTracker::new(range.range),
            access: range.access,
            file_size,
            consumed: 0,
        }
    }

    /// The offset tracker inside.
    pub fn get_ref(&self) -> &OffsetRangeTracker {
        &self.inner
    }

    fn wrap(&self, split: SplitResult<OffsetRange>) -> SplitResult<FileRange> {
        SplitResult {
            primary: FileRange::new(split.primary, self.access),
            residual: FileRange::new(split.residual, self.access),
        }
    }
}

impl RestrictionTracker for FileRangeTracker {
    type Restriction = FileRange;
    type Position = FilePosition;

    #[inline]
    fn try_claim(&mut self, position: FilePosition) -> Result<bool, TrackerError> {
        let claimed = self.inner.try_claim(position.offset)?;
        self.consumed = self.consumed.max(position.consumed);
        Ok(claimed)
    }

    fn try_split(&mut self, fraction: f64) -> Result<Option<SplitResult<FileRange>>, TrackerError> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(TrackerError::InvalidFraction { fraction });
        }
        if fraction > 0.0 && !self.access.is_splittable() {
            return Ok(None);
        }
        Ok(self.inner.try_split(fraction)?.map(|s| self.wrap(s)))
    }

    fn current_restriction(&self) -> FileRange {
        FileRange::new(self.inner.current_restriction(), self.access)
    }

    fn check_done(&self) -> Result<(), TrackerError> {
        self.inner.check_done()
    }

    fn progress(&self) -> Progress {
        match self.access {
            Access::Seek | Access::FromStart => self.inner.progress(),
            Access::Decode(_) => {
                let remaining = if self.inner.check_done().is_ok() {
                    0
                } else {
                    self.file_size.saturating_sub(self.consumed).max(1)
                };
                Progress::new(self.consumed as f64, remaining as f64)
            }
        }
    }

    fn is_bounded(&self) -> bool {
        true
    }
}
