//! [`BoundedSourceTracker`]: the SDF tracker of a [`SourceBundle`], which splits through the
//! bundle's legacy [`RangeTracker`].

use std::fmt;
use std::sync::Arc;

use sdf_core::{Progress, RestrictionTracker, SplitResult, TrackerError};

use super::{BoundedSource, SourceBundle};
use crate::position::Position;
use crate::range::RangeTracker;
use crate::step::ReadStep;

/// The [`RestrictionTracker`] of [`BoundedSourceSdf`](crate::BoundedSourceSdf): it owns the
/// legacy [`RangeTracker`] that the source's reader claims through, and maps the runtime's
/// splits onto it.
///
/// # Split mapping
///
/// A runtime split keeps `f` of the *remaining* work; the legacy tracker splits at positions.
/// With `c = fraction_consumed()`, the split is proposed at
/// `position_at_fraction(c + (1 − c) × f)`, raised to the earliest unconsumed position (the
/// [successor](Position::successor) of the last consumed one) if it falls below it, and handed
/// to [`RangeTracker::try_split`], which has the last word. The primary weighs
/// `weight × split_fraction`, the residual the rest of the weight.
///
/// A checkpoint (`f = 0`) therefore splits at the earliest unconsumed position: the residual
/// resumes at the next unread split point, not at the range's start. Before the first claim
/// nothing was read, so a checkpoint keeps nothing (an empty primary) and hands the whole
/// bundle back, and any other split is proposed at `position_at_fraction(f)`.
///
/// `process` claims [`ReadStep::Next`] before pulling each record, so a split waiting in the
/// [`SharedTracker`](sdf_core::SharedTracker)'s mailbox is served between two records.
///
/// # Progress
///
/// `fraction_consumed × weight` completed, the rest remaining, in the bundle's weight unit
/// (the source's size unit). A bundle whose weight is unknown (0) reports fractions of 1, so
/// that a runner never mistakes unknown work for no work.
pub struct BoundedSourceTracker<S: BoundedSource> {
    bundle: SourceBundle<S>,
    /// The legacy tracker, or why the source could not make one.
    range: Result<Arc<S::RangeTracker>, String>,
    phase: Phase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No claim yet: the reader has not been created.
    Fresh,
    /// At least one `Next` was claimed.
    Reading,
    /// Checkpointed before the first claim: the primary is empty.
    Emptied,
    /// A claim returned `false`.
    Stopped,
}

impl<S: BoundedSource> BoundedSourceTracker<S> {
    /// A tracker for `bundle`. Creating the legacy tracker does no I/O; if the source refuses
    /// the bundle's range, the first claim reports why.
    pub fn new(bundle: SourceBundle<S>) -> Self {
        let range = bundle
            .range_tracker()
            .map(Arc::new)
            .map_err(|e| e.to_string());
        BoundedSourceTracker {
            bundle,
            range,
            phase: Phase::Fresh,
        }
    }

    /// The legacy tracker the reader claims through (for split-point metrics); `None` if the
    /// source could not make one.
    pub fn range_tracker(&self) -> Option<&S::RangeTracker> {
        self.range.as_deref().ok()
    }

    /// A handle on the legacy tracker, for the reader.
    pub(crate) fn shared_range_tracker(&self) -> Option<Arc<S::RangeTracker>> {
        self.range.as_ref().ok().cloned()
    }

    /// Splits the legacy tracker at `position`; on success the bundle becomes the primary.
    fn split_at(
        &mut self,
        range: &S::RangeTracker,
        position: S::Position,
    ) -> Option<SplitResult<SourceBundle<S>>> {
        let (at, fraction) = range.try_split(position)?;
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let b = &self.bundle;
        let primary_weight = b.weight * fraction;
        let primary = SourceBundle::new(
            primary_weight,
            b.source.clone(),
            b.start.clone(),
            Some(at.clone()),
        );
        let residual = SourceBundle::new(
            (b.weight - primary_weight).max(0.0),
            b.source.clone(),
            Some(at),
            b.stop.clone(),
        );
        self.bundle = primary.clone();
        Some(SplitResult { primary, residual })
    }

    /// A checkpoint before the first claim: nothing is kept. The empty primary is `[e, e)` with
    /// `e` after the start, never the empty key (an empty stop key means "unbounded").
    fn checkpoint_unstarted(&mut self, range: &S::RangeTracker) -> SplitResult<SourceBundle<S>> {
        let start = range.start_position();
        let empty_at = start.successor().unwrap_or(start);
        let primary = SourceBundle::new(
            0.0,
            self.bundle.source.clone(),
            Some(empty_at.clone()),
            Some(empty_at),
        );
        let residual = std::mem::replace(&mut self.bundle, primary.clone());
        self.phase = Phase::Emptied;
        SplitResult { primary, residual }
    }
}

impl<S: BoundedSource> RestrictionTracker for BoundedSourceTracker<S> {
    type Restriction = SourceBundle<S>;
    type Position = ReadStep;

    fn try_claim(&mut self, step: ReadStep) -> Result<bool, TrackerError> {
        if self.phase == Phase::Stopped {
            return Err(TrackerError::ClaimAfterStop {
                position: format!("{step:?}"),
            });
        }
        if let Err(reason) = &self.range {
            return Err(TrackerError::InvalidRestriction {
                restriction: format!("{:?}", self.bundle),
                reason: format!("the source cannot make a range tracker for it: {reason}"),
            });
        }
        match (self.phase, step) {
            (Phase::Fresh | Phase::Reading, ReadStep::Next) => {
                self.phase = Phase::Reading;
                Ok(true)
            }
            _ => {
                self.phase = Phase::Stopped;
                Ok(false)
            }
        }
    }

    fn try_split(
        &mut self,
        fraction: f64,
    ) -> Result<Option<SplitResult<SourceBundle<S>>>, TrackerError> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(TrackerError::InvalidFraction { fraction });
        }
        if fraction == 1.0 || matches!(self.phase, Phase::Stopped | Phase::Emptied) {
            return Ok(None);
        }
        let Some(range) = self.shared_range_tracker() else {
            return Ok(None);
        };
        if self.phase == Phase::Fresh {
            if fraction == 0.0 {
                return Ok(Some(self.checkpoint_unstarted(&range)));
            }
            return Ok(range
                .position_at_fraction(fraction)
                .ok()
                .and_then(|at| self.split_at(&range, at)));
        }
        let consumed = range.fraction_consumed().clamp(0.0, 1.0);
        let target = (consumed + (1.0 - consumed) * fraction).clamp(0.0, 1.0);
        let proposed = range.position_at_fraction(target).ok();
        let earliest = range
            .last_consumed_position()
            .and_then(|last| last.successor());
        // `None < Some(_)`: the larger proposal, or whichever exists.
        Ok(proposed
            .max(earliest)
            .and_then(|at| self.split_at(&range, at)))
    }

    fn current_restriction(&self) -> SourceBundle<S> {
        self.bundle.clone()
    }

    fn check_done(&self) -> Result<(), TrackerError> {
        if matches!(self.phase, Phase::Stopped | Phase::Emptied) {
            return Ok(());
        }
        let after = self
            .range_tracker()
            .and_then(|r| r.last_consumed_position())
            .map_or_else(|| "from its start".to_string(), |p| format!("after {p:?}"));
        Err(TrackerError::NotDone {
            restriction: format!("{:?}", self.bundle),
            unclaimed: format!(
                "the range {after} (the reader did not report its end with ReadStep::End)"
            ),
        })
    }

    fn progress(&self) -> Progress {
        let weight = self.bundle.weight;
        let unit = if weight > 0.0 && weight.is_finite() {
            weight
        } else {
            1.0
        };
        let consumed = match self.phase {
            Phase::Fresh => 0.0,
            Phase::Emptied | Phase::Stopped => 1.0,
            Phase::Reading => self
                .range_tracker()
                .map_or(0.0, |r| r.fraction_consumed().clamp(0.0, 1.0)),
        };
        Progress::new(consumed * unit, (1.0 - consumed) * unit)
    }

    fn is_bounded(&self) -> bool {
        true
    }
}

impl<S: BoundedSource> fmt::Debug for BoundedSourceTracker<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSourceTracker")
            .field("bundle", &self.bundle)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
