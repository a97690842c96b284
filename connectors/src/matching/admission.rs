//! [`Admission`]: at most N files or B bytes per poll, oldest or newest first; the rest waits
//! for the next poll.

use std::collections::BinaryHeap;

use sdf_core::Timestamp;

use super::relpath::RelPath;
use crate::file::FileMetadata;

/// Which new files a poll emits first when it cannot emit them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdmissionOrder {
    /// Oldest modification time first (then by path): the stream follows the files' order.
    #[default]
    OldestFirst,
    /// Newest modification time first (then by path): fresh data first, a backlog later.
    NewestFirst,
}

/// Limits on the new files one poll emits (Spark's `maxFilesPerTrigger`, `maxBytesPerTrigger`).
///
/// Files beyond the limits are not forgotten: the next poll offers them again, and the watch's
/// horizon is held at the oldest of them so that they stay eligible. A poll always emits at
/// least one file if there is one, even if that file alone is larger than `max_bytes`.
///
/// The default emits at most 10,000 files per poll: the round of a poll is held in memory and
/// in the checkpoint of a running call, so an unlimited first poll of a huge directory would
/// be as large as the directory.
///
/// ```
/// use sdf_connectors::{Admission, AdmissionOrder};
/// let a = Admission::default().max_files(100).max_bytes(1 << 30).order(AdmissionOrder::NewestFirst);
/// assert_eq!(a.max_files, Some(100));
/// assert_eq!(Admission::unlimited().max_files, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// At most this many files per poll.
    pub max_files: Option<usize>,
    /// At most this many bytes per poll (sum of the files' sizes).
    pub max_bytes: Option<u64>,
    /// Which files go first.
    pub order: AdmissionOrder,
}

impl Default for Admission {
    fn default() -> Self {
        Admission {
            max_files: Some(10_000),
            max_bytes: None,
            order: AdmissionOrder::OldestFirst,
        }
    }
}

impl Admission {
    /// No limit: every new file is emitted by the poll that finds it.
    pub fn unlimited() -> Self {
        Admission {
            max_files: None,
            max_bytes: None,
            order: AdmissionOrder::OldestFirst,
        }
    }

    /// At most `files` files per poll (at least one).
    pub fn max_files(mut self, files: usize) -> Self {
        self.max_files = Some(files.max(1));
        self
    }

    /// At most `bytes` bytes per poll.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// Which files go first.
    pub fn order(mut self, order: AdmissionOrder) -> Self {
        self.order = order;
        self
    }
}

/// A candidate, ordered by rank (time, then path): the best first.
struct Candidate {
    /// The modification time, bit-inverted for newest-first (no overflow at the bounds).
    time_rank: i64,
    rel: RelPath,
    file: FileMetadata,
}

impl Candidate {
    fn rank(&self) -> (i64, &RelPath) {
        (self.time_rank, &self.rel)
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.rank() == other.rank()
    }
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

/// Keeps the best `max_files` candidates of a listing as it streams by; remembers the oldest
/// time of those it drops.
pub(crate) struct Selection {
    admission: Admission,
    best: BinaryHeap<Candidate>,
    floor: Option<Timestamp>,
}

impl Selection {
    pub(crate) fn new(admission: Admission) -> Self {
        Selection {
            admission,
            best: BinaryHeap::new(),
            floor: None,
        }
    }

    pub(crate) fn offer(&mut self, rel: RelPath, file: FileMetadata) {
        let micros = file.modified.as_micros();
        let time_rank = match self.admission.order {
            AdmissionOrder::OldestFirst => micros,
            AdmissionOrder::NewestFirst => !micros,
        };
        self.best.push(Candidate {
            time_rank,
            rel,
            file,
        });
        if self
            .admission
            .max_files
            .is_some_and(|max| self.best.len() > max)
            && let Some(worst) = self.best.pop()
        {
            self.defer(worst.file.modified);
        }
    }

    /// The admitted files in rank order, and the floor: the oldest time of the files deferred.
    pub(crate) fn finish(mut self) -> (Vec<(RelPath, FileMetadata)>, Option<Timestamp>) {
        let ranked = std::mem::take(&mut self.best).into_sorted_vec();
        let mut admitted = Vec::with_capacity(ranked.len());
        let mut bytes = 0u64;
        let mut full = false;
        for c in ranked {
            let size = c.file.size;
            // Admission is a prefix of the ranking: after the first file that does not fit,
            // the rest waits too.
            full = full
                || self
                    .admission
                    .max_bytes
                    .is_some_and(|max| bytes.saturating_add(size) > max);
            if admitted.is_empty() || !full {
                bytes = bytes.saturating_add(size);
                admitted.push((c.rel, c.file));
            } else {
                self.defer(c.file.modified);
            }
        }
        (admitted, self.floor)
    }

    fn defer(&mut self, modified: Timestamp) {
        self.floor = Some(self.floor.map_or(modified, |f| f.min(modified)));
    }
}
