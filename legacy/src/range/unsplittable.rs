//! [`UnsplittableRangeTracker`]: any range tracker, with splitting turned off.

use super::{RangeTracker, SplitPoints};
use crate::error::RangeError;

/// Wraps a [`RangeTracker`] and declines every split; everything else is delegated.
///
/// For ranges that one reader must read whole: a compressed file, whose records cannot be
/// reached without decompressing from the start. It reports one split point, `(0, 1)`, as
/// Beam does.
///
/// ```
/// use sdf_legacy::range::{OffsetRangeTracker, UnsplittableRangeTracker};
/// use sdf_legacy::RangeTracker;
/// let t = UnsplittableRangeTracker::new(OffsetRangeTracker::new(0, 100)?);
/// assert!(t.try_claim(0)?);
/// assert_eq!(t.try_split(50), None);
/// assert_eq!(t.stop_position(), 100);
/// # Ok::<(), sdf_legacy::RangeError>(())
/// ```
#[derive(Debug)]
pub struct UnsplittableRangeTracker<T> {
    inner: T,
}

impl<T> UnsplittableRangeTracker<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        UnsplittableRangeTracker { inner }
    }

    /// The wrapped tracker.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// Unwraps it.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: RangeTracker> RangeTracker for UnsplittableRangeTracker<T> {
    type Position = T::Position;

    fn start_position(&self) -> T::Position {
        self.inner.start_position()
    }

    fn stop_position(&self) -> T::Position {
        self.inner.stop_position()
    }

    fn try_claim(&self, position: T::Position) -> Result<bool, RangeError> {
        self.inner.try_claim(position)
    }

    fn set_current_position(&self, position: T::Position) -> Result<(), RangeError> {
        self.inner.set_current_position(position)
    }

    fn position_at_fraction(&self, fraction: f64) -> Result<T::Position, RangeError> {
        self.inner.position_at_fraction(fraction)
    }

    /// Always `None`.
    fn try_split(&self, _position: T::Position) -> Option<(T::Position, f64)> {
        None
    }

    fn fraction_consumed(&self) -> f64 {
        self.inner.fraction_consumed()
    }

    fn last_consumed_position(&self) -> Option<T::Position> {
        self.inner.last_consumed_position()
    }

    /// `(0, 1)`: the whole range is one split point.
    fn split_points(&self) -> SplitPoints {
        SplitPoints {
            consumed: Some(0),
            remaining: Some(1),
        }
    }
}
