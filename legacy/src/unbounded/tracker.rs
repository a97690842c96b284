//! [`UnboundedSourceTracker`]: the SDF tracker of an [`UnboundedSourceRestriction`], and the
//! reader cell it shares with `process`.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use sdf_core::{Progress, RestrictionTracker, SplitResult, Timestamp, TrackerError};

use super::{UnboundedReader, UnboundedRecord, UnboundedSource, UnboundedSourceRestriction};
use crate::error::Result;
use crate::step::ReadStep;

/// The reader of one `process` call, shared by `process` (which advances it) and the tracker
/// (which takes its checkpoint mark when it splits). Both run on the `process` thread: a split
/// is served inside a claim, never while `process` holds the lock.
pub(crate) struct ReaderCell<S: UnboundedSource> {
    reader: Option<S::Reader>,
    /// The mark taken for this call's residual: at most once per call, since taking a mark
    /// may hand acknowledgement state over to it.
    mark: Option<S::CheckpointMark>,
    seen_ids: super::SeenIds,
    watermark: Timestamp,
    /// Records the reader returned in this call, duplicates included.
    pub(crate) read: u64,
    /// The reader reported the end of the stream.
    pub(crate) finished: bool,
}

/// What one pull from the reader gave.
pub(crate) enum Pulled<T> {
    Record(UnboundedRecord<T>),
    /// A record whose id is in the de-duplication window: not emitted.
    Duplicate,
    /// Nothing available now.
    Idle,
    /// The stream is complete.
    Finished,
}

impl<S: UnboundedSource> ReaderCell<S> {
    /// Pulls the next record, creating the reader on first use. With `dedup_window`, drops
    /// records whose id was seen (and remembers up to that many ids).
    pub(crate) fn pull(
        &mut self,
        restriction: &UnboundedSourceRestriction<S>,
        dedup_window: Option<usize>,
    ) -> Result<Pulled<S::Output>> {
        let reader = match &mut self.reader {
            Some(reader) => reader,
            None => self.reader.insert(
                restriction
                    .source
                    .create_reader(restriction.checkpoint.clone())?,
            ),
        };
        let next = reader.advance()?;
        self.watermark = self.watermark.max(reader.watermark());
        let Some(record) = next else {
            if reader.watermark() == Timestamp::MAX {
                self.finished = true;
                return Ok(Pulled::Finished);
            }
            return Ok(Pulled::Idle);
        };
        self.read += 1;
        if let (Some(capacity), Some(id)) = (dedup_window, &record.id)
            && !self.seen_ids.insert(id.clone(), capacity)
        {
            return Ok(Pulled::Duplicate);
        }
        Ok(Pulled::Record(record))
    }

    /// The mark after everything read in this call (taken once, then reused); `None` if no
    /// reader was created.
    pub(crate) fn mark(&mut self) -> Option<S::CheckpointMark> {
        if self.mark.is_none() {
            self.mark = self.reader.as_mut().map(|r| r.checkpoint_mark());
        }
        self.mark.clone()
    }

    /// The watermark the reader reached.
    pub(crate) fn watermark(&self) -> Timestamp {
        self.watermark
    }
}

pub(crate) type SharedCell<S> = Arc<Mutex<ReaderCell<S>>>;

/// Locks the cell, ignoring poisoning: a panic inside the reader leaves a reader the call
/// abandons anyway.
pub(crate) fn lock<S: UnboundedSource>(cell: &SharedCell<S>) -> MutexGuard<'_, ReaderCell<S>> {
    cell.lock().unwrap_or_else(|e| e.into_inner())
}

/// The [`RestrictionTracker`] of [`UnboundedSourceSdf`](crate::UnboundedSourceSdf).
///
/// Every split is a checkpoint, whatever the fraction (below 1), as in Beam: a reader of an
/// unbounded source cannot hand half of its stream to another. The primary is done; the
/// residual is the source with the reader's [mark](super::UnboundedReader::checkpoint_mark),
/// watermark and de-duplication window. Before the first claim no reader exists, and the
/// residual is the restriction unchanged.
///
/// Progress is `(0, backlog)`, the backlog being the reader's if it knows it, else 1 (unknown
/// work is never reported as none).
pub struct UnboundedSourceTracker<S: UnboundedSource> {
    restriction: UnboundedSourceRestriction<S>,
    cell: SharedCell<S>,
    claimed: bool,
    stopped: bool,
}

impl<S: UnboundedSource> UnboundedSourceTracker<S> {
    /// A tracker for `restriction`; the reader is created by `process`, at its first claim.
    pub fn new(restriction: UnboundedSourceRestriction<S>) -> Self {
        let cell = ReaderCell {
            reader: None,
            mark: None,
            seen_ids: restriction.seen_ids.clone(),
            watermark: restriction.watermark,
            read: 0,
            finished: false,
        };
        UnboundedSourceTracker {
            restriction,
            cell: Arc::new(Mutex::new(cell)),
            claimed: false,
            stopped: false,
        }
    }

    /// The reader cell, for `process`.
    pub(crate) fn cell(&self) -> SharedCell<S> {
        Arc::clone(&self.cell)
    }
}

impl<S: UnboundedSource> RestrictionTracker for UnboundedSourceTracker<S> {
    type Restriction = UnboundedSourceRestriction<S>;
    type Position = ReadStep;

    fn try_claim(&mut self, step: ReadStep) -> Result<bool, TrackerError> {
        if self.stopped {
            return Err(TrackerError::ClaimAfterStop {
                position: format!("{step:?}"),
            });
        }
        if step == ReadStep::End || self.restriction.done {
            self.stopped = true;
            return Ok(false);
        }
        self.claimed = true;
        Ok(true)
    }

    fn try_split(
        &mut self,
        fraction: f64,
    ) -> Result<Option<SplitResult<UnboundedSourceRestriction<S>>>, TrackerError> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(TrackerError::InvalidFraction { fraction });
        }
        if fraction == 1.0 || self.stopped || self.restriction.done {
            return Ok(None);
        }
        let residual = if self.claimed {
            let mut cell = lock(&self.cell);
            if cell.finished {
                return Ok(None);
            }
            let mark = cell.mark();
            UnboundedSourceRestriction {
                source: self.restriction.source.clone(),
                checkpoint: mark.or_else(|| self.restriction.checkpoint.clone()),
                watermark: cell.watermark(),
                seen_ids: cell.seen_ids.clone(),
                done: false,
            }
        } else {
            self.restriction.clone()
        };
        let primary = self.restriction.to_done();
        self.restriction = primary.clone();
        Ok(Some(SplitResult { primary, residual }))
    }

    fn current_restriction(&self) -> UnboundedSourceRestriction<S> {
        self.restriction.clone()
    }

    fn check_done(&self) -> Result<(), TrackerError> {
        if self.stopped || self.restriction.done {
            return Ok(());
        }
        Err(TrackerError::NotDone {
            restriction: format!("{:?}", self.restriction),
            unclaimed: "the rest of the stream: return Resume so that the runner checkpoints it, \
                        or read until the reader's watermark reaches the end"
                .to_string(),
        })
    }

    fn progress(&self) -> Progress {
        if self.stopped || self.restriction.done {
            return Progress::new(0.0, 0.0);
        }
        let backlog = lock(&self.cell).reader.as_ref().and_then(|r| r.backlog());
        Progress::new(0.0, backlog.map_or(1.0, |b| b as f64))
    }

    fn is_bounded(&self) -> bool {
        false
    }
}

impl<S: UnboundedSource> fmt::Debug for UnboundedSourceTracker<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedSourceTracker")
            .field("restriction", &self.restriction)
            .field("claimed", &self.claimed)
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}
