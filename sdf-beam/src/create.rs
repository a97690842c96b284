//! [`Create`]: a fixed list of elements as a root SDF, split by index, so that a runner can
//! spread even the first step of a pipeline.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use sdf_core::{
    MonotonicWatermarkEstimator, OffsetRange, OffsetRangeTracker, Output, ProcessContinuation,
    SharedTracker, SplittableDoFn,
};

/// Emits its elements, each once: the restriction is the range of their indices.
pub struct Create<T> {
    items: Arc<Vec<T>>,
}

impl<T> Create<T> {
    /// Emits `items`, in order within each piece.
    pub fn new(items: impl IntoIterator<Item = T>) -> Self {
        Create {
            items: Arc::new(items.into_iter().collect()),
        }
    }
}

impl<T> fmt::Debug for Create<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Create({} items)", self.items.len())
    }
}

#[async_trait]
impl<T: Clone + Send + Sync + 'static> SplittableDoFn for Create<T> {
    type Input = ();
    type Output = T;
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, _: &()) -> sdf_core::Result<OffsetRange> {
        Ok(OffsetRange::try_new(0, self.items.len() as i64)?)
    }

    fn split_restriction(
        &self,
        _: &(),
        restriction: OffsetRange,
        desired_size: f64,
    ) -> sdf_core::Result<Vec<OffsetRange>> {
        let size = if desired_size.is_finite() {
            desired_size.max(1.0) as u64
        } else {
            u64::MAX
        };
        Ok(restriction.split(size, 1))
    }

    fn new_tracker(&self, _: &(), restriction: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(restriction)
    }

    async fn process(
        &self,
        _: &(),
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, T>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> sdf_core::Result<ProcessContinuation> {
        let mut i = tracker.current_restriction().start();
        while tracker.try_claim(i)? {
            output.emit(self.items[i as usize].clone()).await?;
            i += 1;
        }
        Ok(ProcessContinuation::Stop)
    }
}
