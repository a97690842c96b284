//! [`OffsetRange`] and its tracker, [`OffsetRangeTracker`]: Beam's split rule, computed
//! exactly.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::TrackerError;
use crate::fraction;
use crate::tracker::{Progress, RestrictionTracker, SplitResult, check_fraction};

/// A half-open range of `i64` offsets, `[start, end)`.
///
/// Offsets are `i64` as in Beam, so restrictions translate to Beam's coders unchanged. Every
/// offset from `i64::MIN` to `i64::MAX - 1` can be claimed.
///
/// ```
/// use sdf_core::OffsetRange;
/// let r = OffsetRange::new(10, 90);
/// assert_eq!(r.len(), 80);
/// assert_eq!(format!("{r:?}"), "[10, 90)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawOffsetRange", into = "RawOffsetRange")]
pub struct OffsetRange {
    start: i64,
    end: i64,
}

#[derive(Serialize, Deserialize)]
struct RawOffsetRange {
    start: i64,
    end: i64,
}

impl TryFrom<RawOffsetRange> for OffsetRange {
    type Error = TrackerError;
    fn try_from(raw: RawOffsetRange) -> Result<Self, TrackerError> {
        OffsetRange::try_new(raw.start, raw.end)
    }
}

impl From<OffsetRange> for RawOffsetRange {
    fn from(r: OffsetRange) -> Self {
        RawOffsetRange {
            start: r.start,
            end: r.end,
        }
    }
}

impl OffsetRange {
    /// The range `[start, end)`.
    ///
    /// # Panics
    /// If `start > end`. Use [`try_new`](Self::try_new) for ranges computed from input.
    pub fn new(start: i64, end: i64) -> Self {
        match Self::try_new(start, end) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// The range `[start, end)`, or an error if `start > end`.
    pub fn try_new(start: i64, end: i64) -> Result<Self, TrackerError> {
        if start <= end {
            Ok(OffsetRange { start, end })
        } else {
            Err(TrackerError::InvalidRestriction {
                restriction: format!("[{start}, {end})"),
                reason: "start is after end".into(),
            })
        }
    }

    /// The first offset.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// The offset one past the last.
    pub fn end(&self) -> i64 {
        self.end
    }

    /// The number of offsets; up to `2^64 - 1`.
    pub fn len(&self) -> u64 {
        (i128::from(self.end) - i128::from(self.start)) as u64
    }

    /// Whether the range holds no offset.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether `offset` is in the range.
    pub fn contains(&self, offset: i64) -> bool {
        self.start <= offset && offset < self.end
    }

    /// Cuts the range into consecutive chunks of `desired_size` offsets, for an initial split.
    ///
    /// A last chunk smaller than `desired_size / 4` or than `min_size` is merged into the one
    /// before it, so no tiny tail is scheduled on its own (Beam's rule). An empty range gives
    /// no chunks.
    ///
    /// ```
    /// use sdf_core::OffsetRange;
    /// let chunks = OffsetRange::new(10, 90).split(25, 1);
    /// assert_eq!(chunks, vec![
    ///     OffsetRange::new(10, 35), OffsetRange::new(35, 60), OffsetRange::new(60, 90),
    /// ]);
    /// ```
    pub fn split(&self, desired_size: u64, min_size: u64) -> Vec<OffsetRange> {
        let desired = i128::from(desired_size.max(min_size).max(1));
        let min = i128::from(min_size).max(desired / 4);
        let end = i128::from(self.end);
        let mut chunks = Vec::new();
        let mut start = i128::from(self.start);
        while start < end {
            let mut stop = (start + desired).min(end);
            if end - stop < min {
                stop = end;
            }
            chunks.push(OffsetRange {
                start: start as i64,
                end: stop as i64,
            });
            start = stop;
        }
        chunks
    }
}

impl fmt::Debug for OffsetRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", self.start, self.end)
    }
}

/// Tracks claims of `i64` offsets in an [`OffsetRange`].
///
/// A DoFn claims each offset it processes, in increasing order, and stops at the first claim that
/// returns `false`. Splits keep everything up to the last *attempted* offset in the primary.
///
/// # Split arithmetic
///
/// `split = cur + max(1, floor((end - cur) × fraction))`, where `cur` is the last attempted
/// offset, or `start - 1` if nothing was attempted. If `split >= end` there is no split;
/// otherwise the primary is `[start, split)` and the residual `[split, end)`. The arithmetic is
/// exact (see the crate docs): `0.7` is seven tenths, and ranges near the `i64` limits do not
/// overflow.
///
/// The product is floored, as Beam Python does. Beam Java truncates the *sum* toward zero
/// instead, which gives the same split for non-negative offsets and a split one offset later
/// for negative ones (`[-10, 0)` after claiming −10 at 0.55: −5 here, −4 in Java). We keep one
/// rule for the whole `i64` range.
///
/// `[0, 10)` after claiming 5, split at 0.5: `5 + max(1, floor(5 × 0.5)) = 7`:
/// ```
/// use sdf_core::{OffsetRange, OffsetRangeTracker, RestrictionTracker};
/// let mut t = OffsetRangeTracker::new(OffsetRange::new(0, 10));
/// assert!(t.try_claim(5)?);
/// let split = t.try_split(0.5)?.unwrap();
/// assert_eq!((split.primary, split.residual), (OffsetRange::new(0, 7), OffsetRange::new(7, 10)));
/// # Ok::<(), sdf_core::TrackerError>(())
/// ```
///
/// `[100, 200)` processed up to 130, fraction 0.7: `130 + floor(70 × 0.7) = 179`:
/// ```
/// # use sdf_core::{OffsetRange, OffsetRangeTracker, RestrictionTracker};
/// let mut t = OffsetRangeTracker::new(OffsetRange::new(100, 200));
/// assert!(t.try_claim(130)?);
/// let split = t.try_split(0.7)?.unwrap();
/// assert_eq!(split.residual, OffsetRange::new(179, 200));
/// # Ok::<(), sdf_core::TrackerError>(())
/// ```
///
/// A checkpoint (fraction 0) keeps exactly what was claimed:
/// ```
/// # use sdf_core::{OffsetRange, OffsetRangeTracker, RestrictionTracker};
/// let mut t = OffsetRangeTracker::new(OffsetRange::new(100, 200));
/// assert!(t.try_claim(105)? && t.try_claim(110)?);
/// let split = t.try_split(0.0)?.unwrap();
/// assert_eq!((split.primary, split.residual), (OffsetRange::new(100, 111), OffsetRange::new(111, 200)));
/// assert!(!t.try_claim(111)?); // the residual is no longer ours
/// t.check_done()?;
/// # Ok::<(), sdf_core::TrackerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct OffsetRangeTracker {
    range: OffsetRange,
    last_attempted: Option<i64>,
    stopped: bool,
}

impl OffsetRangeTracker {
    /// A tracker for `range`, with nothing claimed.
    pub fn new(range: OffsetRange) -> Self {
        OffsetRangeTracker {
            range,
            last_attempted: None,
            stopped: false,
        }
    }

    /// The last offset passed to `try_claim`, successful or not.
    pub fn last_attempted(&self) -> Option<i64> {
        self.last_attempted
    }

    /// The last offset successfully claimed.
    pub fn last_claimed(&self) -> Option<i64> {
        self.last_attempted.filter(|&a| a < self.range.end)
    }

    /// Replaces the range by `primary`, the primary of a split computed elsewhere (by a tracker
    /// that wraps this one). It must start where the range starts and end after the last
    /// attempted offset.
    pub(crate) fn narrow_to(&mut self, primary: OffsetRange) {
        debug_assert_eq!(primary.start, self.range.start);
        debug_assert!(i128::from(primary.end) > self.cursor());
        self.range = primary;
    }

    /// `cur` of the split arithmetic: the last attempted offset, or `start - 1`.
    fn cursor(&self) -> i128 {
        self.last_attempted
            .map_or(i128::from(self.range.start) - 1, i128::from)
    }
}

impl RestrictionTracker for OffsetRangeTracker {
    type Restriction = OffsetRange;
    type Position = i64;

    #[inline]
    fn try_claim(&mut self, offset: i64) -> Result<bool, TrackerError> {
        if self.stopped {
            return Err(claim_after_stop(offset));
        }
        if let Some(last) = self.last_attempted
            && offset <= last
        {
            return Err(not_increasing(offset, last));
        }
        if offset < self.range.start {
            return Err(before_start(offset, self.range));
        }
        self.last_attempted = Some(offset);
        if offset >= self.range.end {
            self.stopped = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn try_split(
        &mut self,
        fraction: f64,
    ) -> Result<Option<SplitResult<OffsetRange>>, TrackerError> {
        check_fraction(fraction)?;
        let end = i128::from(self.range.end);
        let cur = self.cursor();
        if cur >= end {
            return Ok(None);
        }
        let split = cur + fraction::step((end - cur) as u128, fraction) as i128;
        if split >= end {
            return Ok(None);
        }
        // start - 1 <= cur < split < end, so split fits in i64.
        let split = split as i64;
        let primary = OffsetRange {
            start: self.range.start,
            end: split,
        };
        let residual = OffsetRange {
            start: split,
            end: self.range.end,
        };
        self.range = primary;
        Ok(Some(SplitResult { primary, residual }))
    }

    fn current_restriction(&self) -> OffsetRange {
        self.range
    }

    fn check_done(&self) -> Result<(), TrackerError> {
        let next = self.cursor() + 1;
        if self.stopped || next >= i128::from(self.range.end) {
            return Ok(());
        }
        Err(TrackerError::NotDone {
            restriction: format!("{:?}", self.range),
            unclaimed: format!("[{next}, {})", self.range.end),
        })
    }

    /// `completed` counts the offsets up to and including the last attempted one (the claimed
    /// position is being worked on, so it is no longer remaining); `remaining` the rest.
    fn progress(&self) -> Progress {
        let start = i128::from(self.range.start);
        let end = i128::from(self.range.end);
        let next = (self.cursor() + 1).clamp(start, end);
        Progress::new((next - start) as f64, (end - next) as f64)
    }

    fn is_bounded(&self) -> bool {
        true
    }
}

// The error paths of `try_claim`, kept out of line so that the claim itself inlines.

#[cold]
fn claim_after_stop(offset: i64) -> TrackerError {
    TrackerError::ClaimAfterStop {
        position: offset.to_string(),
    }
}

#[cold]
fn not_increasing(offset: i64, last: i64) -> TrackerError {
    TrackerError::ClaimNotIncreasing {
        position: offset.to_string(),
        last_attempted: last.to_string(),
    }
}

#[cold]
fn before_start(offset: i64, range: OffsetRange) -> TrackerError {
    TrackerError::ClaimBeforeStart {
        position: offset.to_string(),
        restriction: format!("{range:?}"),
    }
}

#[cfg(test)]
mod tests;
