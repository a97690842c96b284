//! A dynamic split's residual holds the watermark while it is in flight.
//!
//! An idle worker splits a running call, then takes a moment to queue the residual (here: a
//! slow `restriction_size`). If the call finishes meanwhile, the stage has no work queued or
//! running, its input is at +∞ — and it used to announce +∞ downstream. The next stage stops
//! reading at +∞, so the residual's records, sent afterwards, were lost without a word: a
//! restarted `exactly_once_ingest` lost the last records of its last key about 1 run in 12.

mod common;

use std::time::Duration;

use async_trait::async_trait;
use common::*;
use sdf_core::*;
use sdf_runtime::{Executor, Pipeline};

/// `n` → `0..n`, one claim every millisecond. Sizing a restriction that does not start at 0
/// (a residual) takes 100 ms: long enough for the split call to finish first.
struct SlowToSize;

#[async_trait]
impl SplittableDoFn for SlowToSize {
    type Input = i64;
    type Output = i64;
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, n: &i64) -> Result<OffsetRange> {
        Ok(OffsetRange::new(0, *n))
    }

    fn split_restriction(&self, _: &i64, r: OffsetRange, _: f64) -> Result<Vec<OffsetRange>> {
        Ok(vec![r])
    }

    fn new_tracker(&self, _: &i64, r: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(r)
    }

    fn restriction_size(&self, _: &i64, r: &OffsetRange) -> f64 {
        if r.start() > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        (r.end() - r.start()) as f64
    }

    async fn process(
        &self,
        _: &i64,
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, i64>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        let mut i = tracker.current_restriction().start();
        while tracker.try_claim(i)? {
            output.emit(i).await?;
            tokio::time::sleep(Duration::from_millis(1)).await;
            i += 1;
        }
        Ok(ProcessContinuation::Stop)
    }
}

#[test]
fn a_residual_being_queued_holds_the_watermark() {
    for round in 0..3 {
        let mut p = Pipeline::new();
        let source = p.from_iter("inputs", vec![40_i64]);
        let produced = p.apply("produce", source, SlowToSize);
        // A stage after it: a stage's intake stops at +∞ (a sink would keep reading).
        let passed = p.apply("pass", produced, sdf_core::map(|i: &i64| *i));
        let out = p.collect("out", passed);
        Executor::builder()
            .workers(2)
            .build()
            .run_blocking(p)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_same_multiset(&out.values(), &(0..40).collect::<Vec<_>>());
    }
}
