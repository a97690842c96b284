//! The [`RestrictionTracker`] trait and the values it returns.

use std::fmt::Debug;

use serde::{Serialize, de::DeserializeOwned};

use crate::error::TrackerError;

/// The two halves of a successful split: together exactly the restriction before the split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SplitResult<R> {
    /// The part that stays with the tracker (and the running `process` call). It contains every
    /// position claimed so far.
    pub primary: R,
    /// The part handed back to the runner, to be processed later or elsewhere.
    pub residual: R,
}

/// How much work a tracker has done and has left, in one unit chosen by the tracker (offsets,
/// bytes, records; a key-range tracker uses fractions of its range).
///
/// Both values are finite and `>= 0`, except `remaining`, which is `f64::INFINITY` for a
/// restriction that never ends (an unbounded stream with no end estimate).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, serde::Deserialize)]
pub struct Progress {
    /// Work completed, including the position being processed.
    pub completed: f64,
    /// Work remaining.
    pub remaining: f64,
}

impl Progress {
    /// A progress value; negative inputs are clamped to zero.
    pub fn new(completed: f64, remaining: f64) -> Self {
        Progress {
            completed: completed.max(0.0),
            remaining: remaining.max(0.0),
        }
    }

    /// The fraction of the work completed, in `[0, 1]`; `0` when there is no work at all.
    ///
    /// ```
    /// use sdf_core::Progress;
    /// assert_eq!(Progress::new(25.0, 75.0).fraction(), 0.25);
    /// assert_eq!(Progress::new(0.0, 0.0).fraction(), 0.0);
    /// ```
    pub fn fraction(&self) -> f64 {
        let total = self.completed + self.remaining;
        if total > 0.0 && total.is_finite() {
            self.completed / total
        } else {
            0.0
        }
    }
}

/// Tracks the positions of one restriction that a `process` call claims, and splits off the
/// part it has not reached.
///
/// A tracker is a small synchronous state machine: it does no I/O and never blocks. The runner
/// creates one per `process` call from the restriction, and reaches it through a
/// [`SharedTracker`](crate::SharedTracker) so that it can split while `process` claims.
///
/// # Contract
///
/// The [conformance kit](crate::testing) checks each of these laws on every implementation.
///
/// 1. **Split halves are exact.** After `try_split` returns `Some(SplitResult { primary,
///    residual })`, the two are disjoint and together exactly the restriction before the split;
///    `current_restriction()` becomes `primary`. The residual is never empty: no split is
///    `None`.
/// 2. **Claimed work stays in the primary.** Every position claimed before a split is in the
///    primary; the first position of the residual is after the last *attempted* position.
/// 3. **Claims strictly increase.** A claim at or below the last attempted position is
///    [`TrackerError::ClaimNotIncreasing`]; a claim before the start is
///    [`TrackerError::ClaimBeforeStart`].
/// 4. **Fraction 0 is a checkpoint.** Before any claim, the primary is empty and the residual is
///    everything. After the last position was claimed, or after a claim returned `false`, there is
///    nothing left, and `try_split(0.0)` returns `None`.
/// 5. **Fraction 1 never splits**: `try_split(1.0)` returns `None`.
/// 6. **Fractions are validated, never clamped**: a fraction outside `[0, 1]` or NaN is
///    [`TrackerError::InvalidFraction`] and leaves the tracker unchanged.
/// 7. **A false claim ends the call**: after `try_claim` returned `false`, any further claim is
///    [`TrackerError::ClaimAfterStop`].
/// 8. **`check_done` tells the truth**: it fails, naming the unclaimed work, while a position of
///    the current restriction is unclaimed; it passes after a claim returned `false`.
/// 9. **Progress is sane**: both values are `>= 0`; for a bounded tracker whose end is fixed,
///    `completed` never decreases and `remaining` never increases while claiming. (A growable
///    tracker's `remaining` follows its end estimate, which may grow.)
/// 10. **Boundedness only settles**: `is_bounded()` may change from `false` to `true`, never back.
pub trait RestrictionTracker: Send {
    /// The description of the work: serializable, so that checkpoints can persist it.
    type Restriction: Clone + Debug + Send + Sync + Serialize + DeserializeOwned + 'static;
    /// A point in the restriction that a DoFn claims before doing the work at it.
    type Position: Debug;

    /// Claims `position`. `Ok(true)`: the DoFn must do all the work at `position`. `Ok(false)`:
    /// the position is outside the (possibly split) restriction; the DoFn must stop at once,
    /// without further output.
    fn try_claim(&mut self, position: Self::Position) -> Result<bool, TrackerError>;

    /// Splits off part of the work not yet attempted. `fraction_of_remainder` is the share of
    /// the *remaining* work that stays in the primary: `0.0` is a checkpoint (keep only what was
    /// claimed), `0.5` halves what is left. `Ok(None)` when no split is possible.
    fn try_split(
        &mut self,
        fraction_of_remainder: f64,
    ) -> Result<Option<SplitResult<Self::Restriction>>, TrackerError>;

    /// The whole restriction of this call, including work already done. Shrinks after a split.
    fn current_restriction(&self) -> Self::Restriction;

    /// `Ok(())` when every position of the current restriction was claimed or a claim returned
    /// `false`; otherwise [`TrackerError::NotDone`] naming the unclaimed work.
    fn check_done(&self) -> Result<(), TrackerError>;

    /// Work completed and remaining, in one unit.
    fn progress(&self) -> Progress;

    /// Whether the restriction has a known end.
    fn is_bounded(&self) -> bool;
}

/// Validates a split fraction: `Ok` for `[0, 1]`, [`TrackerError::InvalidFraction`] for
/// anything else (negative, above 1, NaN, infinite). The policy of every tracker in this crate
/// (law 6 of the contract: fractions are validated, never clamped); call it first in a
/// tracker of your own.
///
/// ```
/// use sdf_core::check_fraction;
/// assert!(check_fraction(0.5).is_ok());
/// assert!(check_fraction(f64::NAN).is_err());
/// ```
pub fn check_fraction(fraction: f64) -> Result<(), TrackerError> {
    if (0.0..=1.0).contains(&fraction) {
        Ok(())
    } else {
        Err(TrackerError::InvalidFraction { fraction })
    }
}

impl<T: RestrictionTracker + ?Sized> RestrictionTracker for Box<T> {
    type Restriction = T::Restriction;
    type Position = T::Position;

    fn try_claim(&mut self, position: Self::Position) -> Result<bool, TrackerError> {
        (**self).try_claim(position)
    }
    fn try_split(
        &mut self,
        fraction_of_remainder: f64,
    ) -> Result<Option<SplitResult<Self::Restriction>>, TrackerError> {
        (**self).try_split(fraction_of_remainder)
    }
    fn current_restriction(&self) -> Self::Restriction {
        (**self).current_restriction()
    }
    fn check_done(&self) -> Result<(), TrackerError> {
        (**self).check_done()
    }
    fn progress(&self) -> Progress {
        (**self).progress()
    }
    fn is_bounded(&self) -> bool {
        (**self).is_bounded()
    }
}
