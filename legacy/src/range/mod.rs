//! The legacy [`RangeTracker`] and its implementations: [`OffsetRangeTracker`],
//! [`LexicographicKeyRangeTracker`] and [`UnsplittableRangeTracker`].
//!
//! These are Beam's *source* range trackers (Python `iobase.RangeTracker`), not sdf-core's
//! restriction trackers: a reader claims through them from its own thread while another thread
//! splits, so their methods take `&self` and lock inside.

mod lexicographic;
mod offset;
mod unsplittable;

pub use lexicographic::LexicographicKeyRangeTracker;
pub use offset::{OFFSET_INFINITY, OffsetRangeTracker, SplitPointsCallback};
pub use unsplittable::UnsplittableRangeTracker;

use crate::error::RangeError;
use crate::position::Position;

/// How many split points a reader has consumed and has left, where known.
///
/// As in Beam's Python SDK: `consumed` counts the split points *before* the one being read
/// (claims − 1), and `remaining` counts the one being read plus those not reached yet, so a
/// reader in its last block reports `(n − 1, 1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SplitPoints {
    /// Split points fully consumed, `None` if unknown.
    pub consumed: Option<u64>,
    /// Split points left, the current one included; `None` if unknown.
    pub remaining: Option<u64>,
}

impl SplitPoints {
    /// Nothing is known.
    pub const UNKNOWN: SplitPoints = SplitPoints {
        consumed: None,
        remaining: None,
    };
}

/// Tracks the range `[start, stop)` of positions that one reader of a source reads, and splits
/// off the part it has not consumed. Thread-safe: the reader claims from its thread while a
/// runner splits from another.
///
/// # Position-based sources
///
/// A source describes its data as records at positions, with *split points*: a record is a
/// split point if it is the first record returned when reading `[A, ∞)` for some `A`. In a
/// text file every line is one; in a file of compressed blocks only the first record of each
/// block is. The reader calls [`try_claim`](Self::try_claim) for a record at a split point and
/// [`set_current_position`](Self::set_current_position) for any other record, before returning
/// it. A position is *consumed* once a record at or after it was returned.
///
/// # Contract
///
/// Trackers enforce the rules of the reader, and keep their own:
///
/// 1. **Reading `[A, B)` means** from the first split point at or after `A` up to, not
///    including, the first split point at or after `B`. So ranges are associative: `[A, B)`
///    then `[B, C)` read exactly the records of `[A, C)`. `try_claim(p)` returns `false` for
///    `p >= stop`, and then the reader stops.
/// 2. **The first record is a split point**: `set_current_position` before any claim is
///    [`RangeError::FirstRecordNotSplitPoint`].
/// 3. **Split points have unique positions; other positions never decrease**
///    ([`RangeError::DuplicateSplitPoint`], [`RangeError::NotIncreasing`]). A record before
///    the start is [`RangeError::BeforeStart`]; a record after a refused claim is
///    [`RangeError::ClaimAfterDone`].
/// 4. **Splits happen only at unconsumed positions.** `try_split(p)` returns `None` if `p` is
///    at or before the last consumed position, or not strictly inside `(start, stop)`, or after
///    a claim was refused. Otherwise the range becomes `[start, p)` and it returns
///    `Some((p, fraction))`, `fraction` being the share of `[start, p)` in the range before
///    the split.
/// 5. **`position_at_fraction(f)`** maps `f` in `[0, 1]` to a position in `[start, stop]`
///    (`stop` only for `f = 1`), monotonically; other fractions are
///    [`RangeError::InvalidFraction`].
/// 6. **`fraction_consumed()`** is in `[0, 1]`, `0` before the first record, and never
///    decreases while reading a range that is not split.
pub trait RangeTracker: Send + Sync {
    /// What the range is made of.
    type Position: Position;

    /// The start of the range, inclusive.
    fn start_position(&self) -> Self::Position;

    /// The end of the range, exclusive. Shrinks when the range is split.
    fn stop_position(&self) -> Self::Position;

    /// Claims the record at `position`, which is at a split point. `Ok(true)`: the record is in
    /// the range; return it. `Ok(false)`: it is not; the range is done, stop reading.
    fn try_claim(&self, position: Self::Position) -> Result<bool, RangeError>;

    /// Reports a record that is not at a split point, at `position`, before returning it.
    fn set_current_position(&self, position: Self::Position) -> Result<(), RangeError>;

    /// The position at `fraction` of the range.
    fn position_at_fraction(&self, fraction: f64) -> Result<Self::Position, RangeError>;

    /// Splits the range at `position` if it is unconsumed: the range becomes `[start,
    /// position)`, and the result is `(position, fraction of the range before the split kept)`.
    fn try_split(&self, position: Self::Position) -> Option<(Self::Position, f64)>;

    /// The approximate fraction of the range consumed, in `[0, 1]`.
    fn fraction_consumed(&self) -> f64;

    /// The position of the last record returned (claimed or set), `None` before the first.
    /// Its [`successor`](Position::successor) is the earliest position a split may happen at.
    fn last_consumed_position(&self) -> Option<Self::Position>;

    /// Split points consumed and remaining; unknown by default.
    fn split_points(&self) -> SplitPoints {
        SplitPoints::UNKNOWN
    }
}

impl<T: RangeTracker + ?Sized> RangeTracker for std::sync::Arc<T> {
    type Position = T::Position;

    fn start_position(&self) -> Self::Position {
        (**self).start_position()
    }
    fn stop_position(&self) -> Self::Position {
        (**self).stop_position()
    }
    fn try_claim(&self, position: Self::Position) -> Result<bool, RangeError> {
        (**self).try_claim(position)
    }
    fn set_current_position(&self, position: Self::Position) -> Result<(), RangeError> {
        (**self).set_current_position(position)
    }
    fn position_at_fraction(&self, fraction: f64) -> Result<Self::Position, RangeError> {
        (**self).position_at_fraction(fraction)
    }
    fn try_split(&self, position: Self::Position) -> Option<(Self::Position, f64)> {
        (**self).try_split(position)
    }
    fn fraction_consumed(&self) -> f64 {
        (**self).fraction_consumed()
    }
    fn last_consumed_position(&self) -> Option<Self::Position> {
        (**self).last_consumed_position()
    }
    fn split_points(&self) -> SplitPoints {
        (**self).split_points()
    }
}

/// Validates a fraction: the shared policy of this crate's trackers (never clamped).
pub(crate) fn check_fraction(fraction: f64) -> Result<(), RangeError> {
    if (0.0..=1.0).contains(&fraction) {
        Ok(())
    } else {
        Err(RangeError::InvalidFraction { fraction })
    }
}

/// The record-order rules shared by the trackers: contract rules 2 and 3, checked before a
/// record at `position` is returned. `last` is the last record's position, `last_split` the
/// last split point's, `done` whether a claim was refused.
pub(crate) struct ReadState<P> {
    pub last: Option<P>,
    pub last_split: Option<P>,
    pub done: bool,
    pub split_points_seen: u64,
}

impl<P: Position> ReadState<P> {
    pub(crate) fn new() -> Self {
        ReadState {
            last: None,
            last_split: None,
            done: false,
            split_points_seen: 0,
        }
    }

    /// Checks a record at `position` against the rules; `split_point` says how it is reported.
    pub(crate) fn check(
        &self,
        position: &P,
        split_point: bool,
        start: &P,
        range: impl FnOnce() -> String,
    ) -> Result<(), RangeError> {
        if self.done {
            return Err(RangeError::ClaimAfterDone {
                position: format!("{position:?}"),
            });
        }
        if let Some(last) = &self.last
            && position < last
        {
            return Err(RangeError::NotIncreasing {
                position: format!("{position:?}"),
                last: format!("{last:?}"),
            });
        }
        if split_point && self.last_split.as_ref() == Some(position) {
            return Err(RangeError::DuplicateSplitPoint {
                position: format!("{position:?}"),
            });
        }
        if !split_point && self.last.is_none() {
            return Err(RangeError::FirstRecordNotSplitPoint {
                position: format!("{position:?}"),
            });
        }
        if position < start {
            return Err(RangeError::BeforeStart {
                position: format!("{position:?}"),
                range: range(),
            });
        }
        Ok(())
    }

    /// Records a claimed split point.
    pub(crate) fn claimed(&mut self, position: P) {
        self.last_split = Some(position.clone());
        self.last = Some(position);
        self.split_points_seen += 1;
    }

    /// Whether a split at `position` would cut consumed records off (contract rule 4).
    pub(crate) fn is_consumed(&self, position: &P) -> bool {
        self.done || self.last.as_ref().is_some_and(|last| position <= last)
    }
}
