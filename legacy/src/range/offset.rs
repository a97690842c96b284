//! The legacy [`OffsetRangeTracker`]: Beam Python's `range_trackers.OffsetRangeTracker`, with
//! split-point accounting.

use std::fmt;
use std::sync::{Mutex, MutexGuard};

use super::{RangeTracker, ReadState, SplitPoints, check_fraction};
use crate::error::RangeError;
use crate::position::floor_mul;

/// The stop of a range that runs to the end of the data, wherever that is. Such a range cannot
/// be split, and has no position at a fraction (Python's `OFFSET_INFINITY`).
pub const OFFSET_INFINITY: i64 = i64::MAX;

/// Counts the split points after the one being read that lie before the given stop offset;
/// `None` if unknown. Set by a reader that knows (Python's
/// `set_split_points_unclaimed_callback`).
pub type SplitPointsCallback = Box<dyn Fn(i64) -> Option<u64> + Send + Sync>;

/// A [`RangeTracker`] over `i64` offsets: byte offsets in a file, record numbers.
///
/// Beam Python's semantics (its checks, refusals and split-point counts), with two
/// deliberate differences: splits are allowed before the first record (nothing is consumed
/// yet, so any position strictly inside the range is safe; Python's ordered-position trackers
/// allow it too, its offset tracker does not), and a record after a refused claim is an error.
///
/// # Rounding
///
/// `position_at_fraction(f) = start + floor((stop − start) × f)`, computed exactly (`f` read
/// as its shortest decimal, products in 128-bit integers). Beam's SDKs disagree here: Python
/// rounds up (`ceil`), Java down. Floor is the one rule that keeps every `f < 1` inside
/// `[start, stop)`, as the contract says (Python's `ceil` maps `0.95` of `[0, 1)` to `1`, the
/// stop), and it is the rule of sdf-core's trackers.
///
/// `[0, 100)` at 0.7 is 70; at 0.999 it is 99, never the stop:
/// ```
/// use sdf_legacy::range::OffsetRangeTracker;
/// use sdf_legacy::RangeTracker;
/// let t = OffsetRangeTracker::new(0, 100)?;
/// assert_eq!(t.position_at_fraction(0.7)?, 70);
/// assert_eq!(t.position_at_fraction(0.999)?, 99);
/// assert_eq!(OffsetRangeTracker::new(0, 3)?.position_at_fraction(0.5)?, 1); // Python: 2
/// # Ok::<(), sdf_legacy::RangeError>(())
/// ```
///
/// # Splitting
///
/// `[0, 100)` after reading the records at 0 to 41: 42 is the earliest split, at 50 the
/// primary keeps half:
/// ```
/// # use sdf_legacy::range::OffsetRangeTracker;
/// # use sdf_legacy::RangeTracker;
/// let t = OffsetRangeTracker::new(0, 100)?;
/// for i in 0..=41 {
///     assert!(t.try_claim(i)?);
/// }
/// assert_eq!(t.try_split(41), None); // consumed
/// assert_eq!(t.try_split(50), Some((50, 0.5)));
/// assert_eq!(t.stop_position(), 50);
/// assert!(!t.try_claim(50)?); // the residual's first record
/// # Ok::<(), sdf_legacy::RangeError>(())
/// ```
pub struct OffsetRangeTracker {
    state: Mutex<State>,
    unclaimed: Mutex<Option<SplitPointsCallback>>,
}

struct State {
    start: i64,
    stop: i64,
    read: ReadState<i64>,
}

impl State {
    fn range(&self) -> String {
        if self.stop == OFFSET_INFINITY {
            format!("[{}, inf)", self.start)
        } else {
            format!("[{}, {})", self.start, self.stop)
        }
    }
}

impl OffsetRangeTracker {
    /// A tracker for `[start, stop)`; `stop` may be [`OFFSET_INFINITY`].
    pub fn new(start: i64, stop: i64) -> Result<Self, RangeError> {
        if start > stop {
            return Err(RangeError::InvalidRange {
                start: start.to_string(),
                stop: stop.to_string(),
            });
        }
        Ok(OffsetRangeTracker {
            state: Mutex::new(State {
                start,
                stop,
                read: ReadState::new(),
            }),
            unclaimed: Mutex::new(None),
        })
    }

    /// Lets the tracker report remaining split points: `callback(stop)` counts the split points
    /// after the current one and before `stop`. It runs without the tracker's lock held.
    pub fn set_split_points_unclaimed_callback(&self, callback: SplitPointsCallback) {
        *lock(&self.unclaimed) = Some(callback);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

/// Locks, ignoring poisoning: every update of the state is a single assignment, so a panic
/// elsewhere cannot leave it half-written.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl RangeTracker for OffsetRangeTracker {
    type Position = i64;

    fn start_position(&self) -> i64 {
        self.state().start
    }

    fn stop_position(&self) -> i64 {
        self.state().stop
    }

    fn try_claim(&self, offset: i64) -> Result<bool, RangeError> {
        let mut s = self.state();
        s.read.check(&offset, true, &s.start, || s.range())?;
        if offset >= s.stop {
            s.read.done = true;
            return Ok(false);
        }
        s.read.claimed(offset);
        Ok(true)
    }

    fn set_current_position(&self, offset: i64) -> Result<(), RangeError> {
        let mut s = self.state();
        s.read.check(&offset, false, &s.start, || s.range())?;
        s.read.last = Some(offset);
        Ok(())
    }

    fn position_at_fraction(&self, fraction: f64) -> Result<i64, RangeError> {
        check_fraction(fraction)?;
        let s = self.state();
        if s.stop == OFFSET_INFINITY {
            return Err(RangeError::Unbounded { range: s.range() });
        }
        let span = (i128::from(s.stop) - i128::from(s.start)) as u128;
        // start <= start + floor(span × f) <= stop, so the sum fits in i64.
        Ok((i128::from(s.start) + floor_mul(span, fraction) as i128) as i64)
    }

    fn try_split(&self, offset: i64) -> Option<(i64, f64)> {
        let mut s = self.state();
        if s.stop == OFFSET_INFINITY
            || s.read.is_consumed(&offset)
            || offset <= s.start
            || offset >= s.stop
        {
            return None;
        }
        let fraction = ratio(offset, s.start, s.stop);
        s.stop = offset;
        Some((offset, fraction))
    }

    fn fraction_consumed(&self) -> f64 {
        let s = self.state();
        if s.read.done {
            return 1.0;
        }
        match s.read.last {
            None => 0.0,
            Some(_) if s.stop == OFFSET_INFINITY || s.stop == s.start => 0.0,
            // A non-split-point record may lie past the stop: clamp.
            Some(last) => ratio(last, s.start, s.stop).clamp(0.0, 1.0),
        }
    }

    fn last_consumed_position(&self) -> Option<i64> {
        self.state().read.last
    }

    /// `consumed` is the split points claimed before the current one; `remaining` is known
    /// only with a [callback](Self::set_split_points_unclaimed_callback).
    fn split_points(&self) -> SplitPoints {
        let (stop, seen) = {
            let s = self.state();
            (s.stop, s.read.split_points_seen)
        };
        let remaining = lock(&self.unclaimed)
            .as_ref()
            .and_then(|callback| callback(stop))
            .map(|unclaimed| unclaimed + 1);
        SplitPoints {
            consumed: Some(seen.saturating_sub(1)),
            remaining,
        }
    }
}

/// `(offset − start) / (stop − start)` for `start < stop`, without overflow.
fn ratio(offset: i64, start: i64, stop: i64) -> f64 {
    (i128::from(offset) - i128::from(start)) as f64 / (i128::from(stop) - i128::from(start)) as f64
}

impl fmt::Debug for OffsetRangeTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state();
        write!(f, "OffsetRangeTracker({}", s.range())?;
        if let Some(last) = s.read.last {
            write!(f, ", last record at {last}")?;
        }
        if s.read.done {
            f.write_str(", done")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests;
