//! [`on_commit`]: a side effect per element, applied once the runner committed the bundle
//! that processed it.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use sdf_core::{
    MonotonicWatermarkEstimator, OffsetRange, OffsetRangeTracker, Output, ProcessContinuation,
    SharedTracker, SplittableDoFn,
};

/// The DoFn of [`on_commit`].
pub struct OnCommit<T, F> {
    f: Arc<F>,
    _input: PhantomData<fn(T)>,
}

impl<T, F> fmt::Debug for OnCommit<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnCommit")
    }
}

/// A DoFn that calls `f` with each element after the runner committed the work that produced
/// it (a finalizer, `Output::after_commit`): on Beam when the runner sends `FinalizeBundle`,
/// on the embedded runtime after the next checkpoint. It emits nothing.
///
/// For side effects that acknowledge what was committed (an ack to a queue, a delete), not for
/// totals: finalization is best effort on Beam (a runner may never finalize a committed bundle
/// whose worker died), and Beam's FnApiRunner also finalizes the runs of a bundle it discards
/// under `bundle_repeat`. To count exactly, use
/// [`BeamPipeline::counters`](crate::translate::BeamPipeline::counters).
pub fn on_commit<T, F>(f: F) -> OnCommit<T, F>
where
    F: Fn(T) + Send + Sync + 'static,
{
    OnCommit {
        f: Arc::new(f),
        _input: PhantomData,
    }
}

#[async_trait]
impl<T, F> SplittableDoFn for OnCommit<T, F>
where
    T: Clone + fmt::Debug + Send + Sync + 'static,
    F: Fn(T) + Send + Sync + 'static,
{
    type Input = T;
    type Output = ();
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, _: &T) -> sdf_core::Result<OffsetRange> {
        Ok(OffsetRange::new(0, 1))
    }

    fn new_tracker(&self, _: &T, restriction: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(restriction)
    }

    async fn process(
        &self,
        input: &T,
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, ()>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> sdf_core::Result<ProcessContinuation> {
        let start = tracker.current_restriction().start();
        if tracker.try_claim(start)? {
            let (f, value) = (Arc::clone(&self.f), input.clone());
            output
                .after_commit(Box::new(move || {
                    Box::pin(async move {
                        f(value);
                        Ok(())
                    })
                }))
                .await?;
        }
        Ok(ProcessContinuation::Stop)
    }
}
