//! [`GrowableOffsetRangeTracker`]: offsets whose end is not known yet (a growing file, a stream
//! partition), with a [`RangeEndEstimator`] for progress and splits.

use std::fmt;

use crate::error::TrackerError;
use crate::fraction;
use crate::offset_range::{OffsetRange, OffsetRangeTracker};
use crate::tracker::{Progress, RestrictionTracker, SplitResult, check_fraction};

/// Estimates the current end of a growing range: the *exclusive* end, i.e. the next offset that
/// will be written (a file's size, a partition's next offset). `None` when unknown.
///
/// Called on every split and progress request, from the claiming thread: memoize inside if it
/// is expensive. Estimates may go up and down; they are hints, not promises.
///
/// Any `Fn() -> Option<i64>` is an estimator:
/// ```
/// use std::sync::{Arc, atomic::{AtomicI64, Ordering}};
/// use sdf_core::RangeEndEstimator;
/// let size = Arc::new(AtomicI64::new(100));
/// let estimator = { let size = size.clone(); move || Some(size.load(Ordering::Relaxed)) };
/// size.store(250, Ordering::Relaxed);
/// assert_eq!(estimator.estimate(), Some(250));
/// ```
pub trait RangeEndEstimator: Send {
    /// The estimated exclusive end, or `None` if unknown.
    fn estimate(&self) -> Option<i64>;
}

impl<F: Fn() -> Option<i64> + Send> RangeEndEstimator for F {
    fn estimate(&self) -> Option<i64> {
        self()
    }
}

/// Tracks claims in `[start, i64::MAX)`, a range whose real end is discovered while reading.
///
/// The restriction is an ordinary [`OffsetRange`]; an end of `i64::MAX` means "unbounded, still
/// growing". A DoFn claims each offset it reads and says it has reached the true end by claiming
/// `i64::MAX` (which returns `false`).
///
/// # Splits and progress use the estimate, always
///
/// With `cur` the last attempted offset (or `start - 1`), the split arithmetic of
/// [`OffsetRangeTracker`] runs over an *effective end*:
/// - estimate known: `min(end, max(estimate, cur + 1))`;
/// - estimate unknown: `end` for a finite range, `cur + 1` for an unbounded one (so any split of
///   an unbounded range with no estimate is a checkpoint).
///
/// Unlike Beam Java (issue #20227), the estimator keeps being used after the first split has made
/// the range finite: a primary whose end lies beyond the data that exists yet is divided by
/// the work that exists, and its progress does not count offsets that were never written.
///
/// Progress: `completed = next - start` and `remaining = effective_end - next`, where `next` is
/// the offset after the last attempted one. A reader that has claimed the last written offset
/// reports `remaining = 0` exactly (Beam PR #40016 reported 1 forever). With no estimate on an
/// unbounded range, `remaining` is `1` (unknown, but not done: Beam PR #39285 reported 0).
///
/// [0, MAX) with estimate 16, claimed 0, split 0.5 → `0 + floor(16 × 0.5) = 8`:
/// ```
/// use sdf_core::{GrowableOffsetRangeTracker, OffsetRange, RestrictionTracker};
/// let mut t = GrowableOffsetRangeTracker::new(0, || Some(16));
/// assert!(t.try_claim(0)?);
/// let split = t.try_split(0.5)?.unwrap();
/// assert_eq!(split.primary, OffsetRange::new(0, 8));
/// assert_eq!(split.residual, OffsetRange::new(8, i64::MAX)); // the residual keeps growing
/// assert!(t.is_bounded());
/// # Ok::<(), sdf_core::TrackerError>(())
/// ```
///
/// A checkpoint keeps what was claimed and hands the unbounded rest back:
/// ```
/// # use sdf_core::{GrowableOffsetRangeTracker, OffsetRange, RestrictionTracker};
/// let mut t = GrowableOffsetRangeTracker::new(0, || None);
/// assert!(t.try_claim(5)?);
/// let split = t.try_split(0.0)?.unwrap();
/// assert_eq!((split.primary, split.residual), (OffsetRange::new(0, 6), OffsetRange::new(6, i64::MAX)));
/// # Ok::<(), sdf_core::TrackerError>(())
/// ```
pub struct GrowableOffsetRangeTracker<E> {
    inner: OffsetRangeTracker,
    estimator: E,
}

impl<E: RangeEndEstimator> GrowableOffsetRangeTracker<E> {
    /// A tracker for `[start, i64::MAX)`.
    pub fn new(start: i64, estimator: E) -> Self {
        Self::with_range(OffsetRange::new(start, i64::MAX), estimator)
    }

    /// A tracker for `range`, growing if its end is `i64::MAX` (a residual of an earlier split).
    pub fn with_range(range: OffsetRange, estimator: E) -> Self {
        GrowableOffsetRangeTracker {
            inner: OffsetRangeTracker::new(range),
            estimator,
        }
    }

    /// The estimator.
    pub fn estimator(&self) -> &E {
        &self.estimator
    }

    /// The offset after the last attempted one (`start` before any claim), as i128.
    fn next(&self) -> i128 {
        let start = i128::from(self.inner.current_restriction().start());
        self.inner
            .last_attempted()
            .map_or(start, |a| i128::from(a) + 1)
    }

    /// The end that splits and progress compute with (see the type docs).
    fn effective_end(&self, next: i128) -> i128 {
        let end = i128::from(self.inner.current_restriction().end());
        match self.estimator.estimate() {
            Some(estimate) => end.min(i128::from(estimate).max(next)),
            None if end == i128::from(i64::MAX) => next,
            None => end,
        }
    }
}

impl<E: RangeEndEstimator> RestrictionTracker for GrowableOffsetRangeTracker<E> {
    type Restriction = OffsetRange;
    type Position = i64;

    #[inline]
    fn try_claim(&mut self, offset: i64) -> Result<bool, TrackerError> {
        self.inner.try_claim(offset)
    }

    fn try_split(
        &mut self,
        fraction: f64,
    ) -> Result<Option<SplitResult<OffsetRange>>, TrackerError> {
        check_fraction(fraction)?;
        let range = self.inner.current_restriction();
        let next = self.next();
        let end = i128::from(range.end());
        if fraction == 1.0 || next >= end {
            return Ok(None);
        }
        let cur = next - 1;
        let effective_end = self.effective_end(next);
        let split = cur + fraction::step((effective_end - cur) as u128, fraction) as i128;
        if split >= end {
            return Ok(None);
        }
        // start - 1 <= cur < split < end <= i64::MAX.
        let split = split as i64;
        let primary = OffsetRange::new(range.start(), split);
        let residual = OffsetRange::new(split, range.end());
        self.inner.narrow_to(primary);
        Ok(Some(SplitResult { primary, residual }))
    }

    fn current_restriction(&self) -> OffsetRange {
        self.inner.current_restriction()
    }

    fn check_done(&self) -> Result<(), TrackerError> {
        self.inner.check_done()
    }

    fn progress(&self) -> Progress {
        let start = i128::from(self.inner.current_restriction().start());
        let end = i128::from(self.inner.current_restriction().end());
        let next = self.next().min(end);
        let completed = (next - start) as f64;
        if self.inner.check_done().is_ok() {
            return Progress::new(completed, 0.0);
        }
        let remaining = match self.estimator.estimate() {
            None if end == i128::from(i64::MAX) => 1.0,
            _ => (self.effective_end(next) - next) as f64,
        };
        Progress::new(completed, remaining)
    }

    fn is_bounded(&self) -> bool {
        self.inner.current_restriction().end() != i64::MAX || self.inner.check_done().is_ok()
    }
}

impl<E> fmt::Debug for GrowableOffsetRangeTracker<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrowableOffsetRangeTracker")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
