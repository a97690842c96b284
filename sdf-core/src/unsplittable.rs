//! [`UnsplittableTracker`]: a tracker that only checkpoints.

use crate::error::TrackerError;
use crate::tracker::{Progress, RestrictionTracker, SplitResult, check_fraction};

/// Wraps any tracker and allows only checkpoints (fraction 0); every other split is declined.
///
/// For work that must not run in two places at once (a consumer-group partition, a compressed
/// stream), but must still checkpoint and resume.
///
/// ```
/// use sdf_core::{OffsetRange, OffsetRangeTracker, RestrictionTracker, UnsplittableTracker};
/// let mut t = UnsplittableTracker::new(OffsetRangeTracker::new(OffsetRange::new(0, 10)));
/// assert!(t.try_claim(3)?);
/// assert_eq!(t.try_split(0.5)?, None); // declined
/// let checkpoint = t.try_split(0.0)?.unwrap();
/// assert_eq!(checkpoint.residual, OffsetRange::new(4, 10));
/// # Ok::<(), sdf_core::TrackerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct UnsplittableTracker<T> {
    inner: T,
}

impl<T> UnsplittableTracker<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        UnsplittableTracker { inner }
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

impl<T: RestrictionTracker> RestrictionTracker for UnsplittableTracker<T> {
    type Restriction = T::Restriction;
    type Position = T::Position;

    #[inline]
    fn try_claim(&mut self, position: T::Position) -> Result<bool, TrackerError> {
        self.inner.try_claim(position)
    }

    fn try_split(
        &mut self,
        fraction: f64,
    ) -> Result<Option<SplitResult<T::Restriction>>, TrackerError> {
        check_fraction(fraction)?;
        if fraction == 0.0 {
            self.inner.try_split(0.0)
        } else {
            Ok(None)
        }
    }

    fn current_restriction(&self) -> T::Restriction {
        self.inner.current_restriction()
    }

    fn check_done(&self) -> Result<(), TrackerError> {
        self.inner.check_done()
    }

    fn progress(&self) -> Progress {
        self.inner.progress()
    }

    fn is_bounded(&self) -> bool {
        self.inner.is_bounded()
    }
}
