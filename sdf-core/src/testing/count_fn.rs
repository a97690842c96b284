//! `CountFn`, the SDF of the design doc: the reference example every check runs on.

use async_trait::async_trait;

use crate::dofn::{ProcessContinuation, SplittableDoFn};
use crate::error::Result;
use crate::offset_range::{OffsetRange, OffsetRangeTracker};
use crate::output::Output;
use crate::shared::SharedTracker;
use crate::watermark::MonotonicWatermarkEstimator;

/// `(key, n)` → `(key, 0), (key, 1), …, (key, n − 1)`: one offset per record.
///
/// The SDF design doc's first example, and the smallest complete SDF: it subsumes a counting
/// source, and works for a whole collection of `(key, n)` elements, each splittable.
/// `split_restriction` cuts the range into chunks of the desired size.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountFn;

#[async_trait]
impl SplittableDoFn for CountFn {
    type Input = (String, i64);
    type Output = (String, i64);
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, (_, n): &(String, i64)) -> Result<OffsetRange> {
        Ok(OffsetRange::try_new(0, *n)?)
    }

    fn split_restriction(
        &self,
        _input: &(String, i64),
        restriction: OffsetRange,
        desired_size: f64,
    ) -> Result<Vec<OffsetRange>> {
        Ok(restriction.split(desired_size.max(1.0) as u64, 1))
    }

    fn new_tracker(&self, _input: &(String, i64), restriction: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(restriction)
    }

    async fn process(
        &self,
        (key, _): &(String, i64),
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, (String, i64)>,
        _watermark: &mut MonotonicWatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        let mut i = tracker.current_restriction().start();
        while tracker.try_claim(i)? {
            output.emit((key.clone(), i)).await?;
            i += 1;
        }
        Ok(ProcessContinuation::Stop)
    }
}

/// Counts the records [`CountFn`] emits and sums their offsets: a
/// [`CombineFn`](crate::CombineFn) whose merged result changes if one record is lost,
/// duplicated, or folded into an accumulator that is also retried. For checking
/// [`precombine`](crate::precombine)d reads: `(n, n(n − 1)/2)` for one `(key, n)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountAndSumOffsets;

impl crate::combine::CombineFn<(String, i64)> for CountAndSumOffsets {
    type Accumulator = (u64, i64);
    type Output = (u64, i64);
    fn create_accumulator(&self) -> (u64, i64) {
        (0, 0)
    }
    fn add_input(&self, acc: &mut (u64, i64), (_, i): (String, i64)) {
        acc.0 += 1;
        acc.1 += i;
    }
    fn merge_accumulators(&self, acc: &mut (u64, i64), other: (u64, i64)) {
        acc.0 += other.0;
        acc.1 += other.1;
    }
    fn extract_output(&self, acc: (u64, i64)) -> (u64, i64) {
        acc
    }
}
