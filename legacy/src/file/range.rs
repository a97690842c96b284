//! [`FileRangeTracker`], the range tracker of a file-based source, and [`FileRange`], the view
//! of it that a [`FileFormat`](super::FileFormat) claims through, in the offsets of one file.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::FileMetadata;
use crate::error::RangeError;
use crate::range::{OffsetRangeTracker, RangeTracker, SplitPoints, UnsplittableRangeTracker};

/// The [`RangeTracker`] of a [`FileBasedSource`](super::FileBasedSource): byte offsets, split
/// wherever a record starts, except for a source of one compressed file, which one reader reads
/// whole: `[0, OFFSET_INFINITY)`, never split (Beam's `UnsplittableRangeTracker`).
#[derive(Debug)]
pub enum FileRangeTracker {
    /// Uncompressed files, or several files: offsets into their concatenation.
    Offset(OffsetRangeTracker),
    /// One compressed file.
    Unsplittable(UnsplittableRangeTracker<OffsetRangeTracker>),
}

impl FileRangeTracker {
    fn inner(&self) -> &dyn RangeTracker<Position = i64> {
        match self {
            FileRangeTracker::Offset(tracker) => tracker,
            FileRangeTracker::Unsplittable(tracker) => tracker,
        }
    }
}

impl RangeTracker for FileRangeTracker {
    type Position = i64;

    fn start_position(&self) -> i64 {
        self.inner().start_position()
    }
    fn stop_position(&self) -> i64 {
        self.inner().stop_position()
    }
    fn try_claim(&self, position: i64) -> Result<bool, RangeError> {
        self.inner().try_claim(position)
    }
    fn set_current_position(&self, position: i64) -> Result<(), RangeError> {
        self.inner().set_current_position(position)
    }
    fn position_at_fraction(&self, fraction: f64) -> Result<i64, RangeError> {
        self.inner().position_at_fraction(fraction)
    }
    fn try_split(&self, position: i64) -> Option<(i64, f64)> {
        self.inner().try_split(position)
    }
    fn fraction_consumed(&self) -> f64 {
        self.inner().fraction_consumed()
    }
    fn last_consumed_position(&self) -> Option<i64> {
        self.inner().last_consumed_position()
    }
    fn split_points(&self) -> SplitPoints {
        self.inner().split_points()
    }
}

/// The part of a source's range that lies in one file, in that file's offsets: what a
/// [`FileFormat`](super::FileFormat) reads and claims through.
///
/// A source's positions are offsets into the concatenation of its files (for a source of one
/// file, that file's offsets); this view adds the file's first position to each claim. It also
/// keeps two rules of files:
///
/// - a record at or past the file's size when its pattern was expanded belongs to no range
///   (the file grew since): [`try_claim`](Self::try_claim) returns `false`, and the source
///   goes on with its next file;
/// - in a compressed file only the first record is a split point (Beam's compressed reader):
///   the first claim claims the file's position, later claims and
///   [`set_current_position`](Self::set_current_position) report the same position.
pub struct FileRange {
    tracker: Arc<FileRangeTracker>,
    /// The position of the file's first byte.
    base: i64,
    size: u64,
    compressed: bool,
    start: u64,
    state: Arc<Mutex<FileRangeState>>,
}

/// How reading one file ended, shared with the source's reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum FileRangeState {
    /// Nothing claimed yet.
    #[default]
    Unclaimed,
    /// At least one record claimed.
    Reading,
    /// A claim past the file's size: the source goes on with its next file.
    FileEnded,
    /// A claim refused by the source's tracker: the whole read is over.
    RangeEnded,
}

impl FileRange {
    /// The view of `tracker` on `file`, whose first byte is at position `base`; reading starts
    /// at `start` in the file.
    pub(crate) fn new(
        tracker: Arc<FileRangeTracker>,
        base: i64,
        file: &FileMetadata,
        start: u64,
    ) -> Self {
        FileRange {
            tracker,
            base,
            size: file.size,
            compressed: file.compression.is_compressed(),
            start,
            state: Arc::default(),
        }
    }

    pub(crate) fn state(&self) -> Arc<Mutex<FileRangeState>> {
        Arc::clone(&self.state)
    }

    /// Where to start: the first record at or after this offset is the first one to read
    /// (0 for a compressed file, which is read from its start).
    pub fn start_position(&self) -> u64 {
        self.start
    }

    /// Where the range stops in this file now (it shrinks when the range is split): records
    /// starting at or after it belong to another range. `None` for a compressed file, which is
    /// read to its end. A hint, for read-ahead; [`try_claim`](Self::try_claim) decides.
    pub fn stop_position(&self) -> Option<u64> {
        if self.compressed {
            return None;
        }
        let stop = self
            .tracker
            .stop_position()
            .saturating_sub(self.base)
            .max(0) as u64;
        Some(stop.min(self.size))
    }

    /// Claims the record starting at `offset`, a split point: `true` if it is in the range and
    /// must be returned, `false` if reading this file must stop (and not return it).
    pub fn try_claim(&self, offset: u64) -> Result<bool, RangeError> {
        let mut state = lock(&self.state);
        let position = match *state {
            FileRangeState::FileEnded | FileRangeState::RangeEnded => {
                return Err(RangeError::ClaimAfterDone {
                    position: offset.to_string(),
                });
            }
            FileRangeState::Reading if self.compressed => {
                self.tracker.set_current_position(self.base)?;
                return Ok(true);
            }
            _ if self.compressed => self.base,
            _ if offset >= self.size => {
                *state = FileRangeState::FileEnded;
                return Ok(false);
            }
            _ => self.position(offset),
        };
        if self.tracker.try_claim(position)? {
            *state = FileRangeState::Reading;
            Ok(true)
        } else {
            *state = FileRangeState::RangeEnded;
            Ok(false)
        }
    }

    /// Reports a record at `offset` that is not a split point (a record of a block after the
    /// block's first).
    pub fn set_current_position(&self, offset: u64) -> Result<(), RangeError> {
        match *lock(&self.state) {
            FileRangeState::Unclaimed => Err(RangeError::FirstRecordNotSplitPoint {
                position: offset.to_string(),
            }),
            FileRangeState::FileEnded | FileRangeState::RangeEnded => {
                Err(RangeError::ClaimAfterDone {
                    position: offset.to_string(),
                })
            }
            FileRangeState::Reading if self.compressed => {
                self.tracker.set_current_position(self.base)
            }
            // A record past the recorded size (the file grew) stays inside the file's span.
            FileRangeState::Reading => self
                .tracker
                .set_current_position(self.position(offset.min(self.size.saturating_sub(1)))),
        }
    }

    /// The source position of `offset`, which is below the file's size.
    fn position(&self, offset: u64) -> i64 {
        self.base.saturating_add(offset as i64)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl fmt::Debug for FileRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileRange")
            .field("start", &self.start)
            .field("stop", &self.stop_position())
            .field("base", &self.base)
            .field("compressed", &self.compressed)
            .field("state", &*lock(&self.state))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::file::Compression;

    fn view(stop: i64, base: i64, size: u64, compression: Compression) -> FileRange {
        let tracker = FileRangeTracker::Offset(OffsetRangeTracker::new(0, stop).unwrap());
        let file = FileMetadata {
            path: PathBuf::from("/f"),
            size,
            compression,
        };
        FileRange::new(Arc::new(tracker), base, &file, 0)
    }

    fn state(range: &FileRange) -> FileRangeState {
        *lock(&range.state)
    }

    #[test]
    fn claims_are_shifted_by_the_files_base() {
        let range = view(100, 10, 20, Compression::Uncompressed);
        assert_eq!(range.stop_position(), Some(20));
        assert!(range.try_claim(0).unwrap());
        range.set_current_position(5).unwrap();
        assert_eq!(range.tracker.last_consumed_position(), Some(15));
        // Past the file's size: this file is done, the source's range is not.
        assert!(!range.try_claim(20).unwrap());
        assert_eq!(state(&range), FileRangeState::FileEnded);
        assert!(range.tracker.try_claim(30).unwrap());
    }

    #[test]
    fn a_claim_past_the_ranges_stop_ends_the_read() {
        let range = view(12, 10, 20, Compression::Uncompressed);
        assert_eq!(range.stop_position(), Some(2));
        assert!(range.try_claim(1).unwrap());
        assert!(!range.try_claim(3).unwrap());
        assert_eq!(state(&range), FileRangeState::RangeEnded);
        let again = range.try_claim(4).unwrap_err();
        assert!(
            matches!(again, RangeError::ClaimAfterDone { .. }),
            "{again}"
        );
    }

    #[test]
    fn a_compressed_file_has_one_split_point() {
        let range = view(100, 30, 5, Compression::Gzip);
        assert_eq!(range.stop_position(), None);
        let first = range.set_current_position(0).unwrap_err();
        assert!(
            matches!(first, RangeError::FirstRecordNotSplitPoint { .. }),
            "{first}"
        );
        assert!(range.try_claim(0).unwrap());
        // Decompressed offsets past the compressed size are fine: all at the file's position.
        assert!(range.try_claim(500).unwrap());
        range.set_current_position(900).unwrap();
        assert_eq!(range.tracker.last_consumed_position(), Some(30));
        assert_eq!(range.tracker.try_split(31), Some((31, 0.31)));
    }
}
