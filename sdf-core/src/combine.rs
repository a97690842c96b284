//! [`CombineFn`] (Beam's combine function) and [`Precombine`]: an SDF whose records are
//! combined inside each `process` call, in the worker that made them (Beam's *combiner
//! lifting*).
//!
//! A count, a sum or a checksum of a read does not need its records to travel: each call folds
//! its records into one accumulator and emits that, and downstream merges the accumulators. The
//! records are dropped where they were made, while they are still in the cache, and nothing but
//! one accumulator per call crosses a thread.
//!
//! The exactly-once rules of the runner are unchanged: the accumulator is a call's only output,
//! so it is held, retried and committed as any output is. A call that fails emits nothing, and
//! its retry folds its records again from scratch.

use std::fmt;
use std::marker::PhantomData;

use async_trait::async_trait;

use crate::dofn::{ProcessContinuation, SplittableDoFn, WatermarkState};
use crate::error::Result;
use crate::output::{Emitter, Finalizer, Output, Timestamped};
use crate::shared::SharedTracker;
use crate::time::Timestamp;
use crate::watermark::WatermarkEstimator;

/// Combines inputs of type `I` into an accumulator, and accumulators into one output: Beam's
/// `CombineFn`.
///
/// # Contract
/// Inputs are added to accumulators and accumulators merged in whatever grouping and order the
/// work was split and scheduled in, so the result must not depend on either:
/// - merging is associative and commutative, and [`create_accumulator`](Self::create_accumulator)
///   is its identity;
/// - adding inputs one by one to an accumulator and merging it is the same as adding them to the
///   accumulator merged into.
pub trait CombineFn<I>: Send + Sync + 'static {
    /// The partial result.
    type Accumulator: Send + 'static;
    /// The final result.
    type Output;

    /// The accumulator of no input.
    fn create_accumulator(&self) -> Self::Accumulator;

    /// Adds one input.
    fn add_input(&self, accumulator: &mut Self::Accumulator, input: I);

    /// Merges `other` into `accumulator`.
    fn merge_accumulators(&self, accumulator: &mut Self::Accumulator, other: Self::Accumulator);

    /// The result of an accumulator.
    fn extract_output(&self, accumulator: Self::Accumulator) -> Self::Output;

    /// The result of every input added to any of `accumulators`.
    fn merge_all(&self, accumulators: impl IntoIterator<Item = Self::Accumulator>) -> Self::Output
    where
        Self: Sized,
    {
        let mut total = self.create_accumulator();
        for accumulator in accumulators {
            self.merge_accumulators(&mut total, accumulator);
        }
        self.extract_output(total)
    }
}

/// Counts its inputs, whatever they are.
///
/// ```
/// use sdf_core::{CombineFn, Count};
/// let mut a = CombineFn::<&str>::create_accumulator(&Count);
/// Count.add_input(&mut a, "x");
/// Count.add_input(&mut a, "y");
/// assert_eq!(CombineFn::<&str>::merge_all(&Count, [a, 3]), 5);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Count;

impl<I> CombineFn<I> for Count {
    type Accumulator = u64;
    type Output = u64;

    fn create_accumulator(&self) -> u64 {
        0
    }
    #[inline]
    fn add_input(&self, accumulator: &mut u64, _input: I) {
        *accumulator += 1;
    }
    fn merge_accumulators(&self, accumulator: &mut u64, other: u64) {
        *accumulator += other;
    }
    fn extract_output(&self, accumulator: u64) -> u64 {
        accumulator
    }
}

/// How many records the output of the wrapped DoFn is folded in at a time: small enough that
/// they are folded while still in the L1 cache, large enough that handing them over is rare.
const FOLD_BATCH: usize = 256;

/// `dofn` with each `process` call's records combined by `combine` into one accumulator, which
/// is the call's only output. Downstream merges the accumulators
/// ([`CombineFn::merge_all`]).
///
/// ```
/// use sdf_core::{Count, CombineFn, precombine, testing::{run_to_completion, CountFn}};
/// let counted = precombine(CountFn, Count);
/// let partials = run_to_completion(&counted, &("k".to_string(), 1000)).unwrap();
/// assert_eq!(CombineFn::<(String, i64)>::merge_all(&Count, partials), 1000);
/// ```
///
/// Everything but `process` is `dofn`'s: the restriction, its splitting, the tracker and the
/// watermark estimator. So the records are exactly `dofn`'s, each delivered to `combine` once
/// when the runner delivers `dofn`'s output once. What depends on the splitting is only how the
/// records are grouped into accumulators, which the [`CombineFn`] contract makes invisible.
///
/// The accumulator has the earliest timestamp of its records (no call emits one before its
/// first record, so the watermark holds the accumulator back as it would the records). A call
/// that emits no record emits no accumulator. Finalizers registered by `dofn` run once the
/// accumulator holding the records emitted before them is committed.
///
/// Since a call emits one output, the runner's checkpoint by output count never applies; the
/// time bound of calls still does, and memory is the accumulator's.
pub fn precombine<F, C>(dofn: F, combine: C) -> Precombine<F, C>
where
    F: SplittableDoFn,
    C: CombineFn<F::Output>,
{
    Precombine { dofn, combine }
}

/// An SDF whose calls emit their records combined: see [`precombine`].
pub struct Precombine<F, C> {
    dofn: F,
    combine: C,
}

impl<F: fmt::Debug, C: fmt::Debug> fmt::Debug for Precombine<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Precombine")
            .field("dofn", &self.dofn)
            .field("combine", &self.combine)
            .finish()
    }
}

impl<F, C> Precombine<F, C> {
    /// The wrapped DoFn.
    pub fn dofn(&self) -> &F {
        &self.dofn
    }

    /// The combine function.
    pub fn combine(&self) -> &C {
        &self.combine
    }
}

/// The emitter of the wrapped call's output: folds each batch into the accumulator.
struct Fold<'c, I, C: CombineFn<I>> {
    combine: &'c C,
    accumulator: C::Accumulator,
    records: u64,
    earliest: Timestamp,
    finalizers: Vec<Finalizer>,
    _input: PhantomData<fn(I)>,
}

#[async_trait]
impl<I: Send, C: CombineFn<I>> Emitter<I> for Fold<'_, I, C> {
    async fn emit_batch(&mut self, batch: &mut Vec<Timestamped<I>>) -> Result<()> {
        self.records += batch.len() as u64;
        for record in batch.drain(..) {
            self.earliest = self.earliest.min(record.timestamp);
            self.combine.add_input(&mut self.accumulator, record.value);
        }
        Ok(())
    }

    fn register_finalizer(&mut self, finalizer: Finalizer) {
        self.finalizers.push(finalizer);
    }
}

#[async_trait]
impl<F, C> SplittableDoFn for Precombine<F, C>
where
    F: SplittableDoFn,
    C: CombineFn<F::Output>,
{
    type Input = F::Input;
    type Output = C::Accumulator;
    type Restriction = F::Restriction;
    type Tracker = F::Tracker;
    type WatermarkEstimator = F::WatermarkEstimator;

    fn initial_restriction(&self, input: &F::Input) -> Result<F::Restriction> {
        self.dofn.initial_restriction(input)
    }

    fn split_restriction(
        &self,
        input: &F::Input,
        restriction: F::Restriction,
        desired_size: f64,
    ) -> Result<Vec<F::Restriction>> {
        self.dofn
            .split_restriction(input, restriction, desired_size)
    }

    fn new_tracker(&self, input: &F::Input, restriction: F::Restriction) -> F::Tracker {
        self.dofn.new_tracker(input, restriction)
    }

    fn restriction_size(&self, input: &F::Input, restriction: &F::Restriction) -> f64 {
        self.dofn.restriction_size(input, restriction)
    }

    fn truncate_restriction(
        &self,
        input: &F::Input,
        restriction: F::Restriction,
    ) -> Option<F::Restriction> {
        self.dofn.truncate_restriction(input, restriction)
    }

    fn initial_watermark_state(
        &self,
        input: &F::Input,
        restriction: &F::Restriction,
    ) -> WatermarkState<F> {
        self.dofn.initial_watermark_state(input, restriction)
    }

    fn new_watermark_estimator(&self, state: WatermarkState<F>) -> F::WatermarkEstimator {
        self.dofn.new_watermark_estimator(state)
    }

    async fn setup(&self) -> Result<()> {
        self.dofn.setup().await
    }

    async fn start_bundle(&self) -> Result<()> {
        self.dofn.start_bundle().await
    }

    async fn finish_bundle(&self) -> Result<()> {
        self.dofn.finish_bundle().await
    }

    async fn teardown(&self) -> Result<()> {
        self.dofn.teardown().await
    }

    async fn process(
        &self,
        input: &F::Input,
        tracker: &mut SharedTracker<F::Tracker>,
        output: &mut Output<'_, C::Accumulator>,
        watermark: &mut F::WatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        let mut fold = Fold {
            combine: &self.combine,
            accumulator: self.combine.create_accumulator(),
            records: 0,
            earliest: Timestamp::MAX,
            finalizers: Vec::new(),
            _input: PhantomData,
        };
        let (continuation, latest) = {
            let mut records = Output::new(&mut fold, output.default_timestamp(), FOLD_BATCH);
            let continuation = self
                .dofn
                .process(input, tracker, &mut records, watermark)
                .await?;
            records.flush().await?;
            (continuation, records.max_timestamp())
        };
        // The runner shows a call's latest output timestamp to the estimator when the call
        // returns; the records' is the one that counts, not the accumulator's (their earliest).
        watermark.observe_timestamp(latest);
        if fold.records > 0 {
            output.emit_at(fold.accumulator, fold.earliest).await?;
        }
        for finalizer in fold.finalizers {
            output.after_commit(finalizer).await?;
        }
        Ok(continuation)
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::driver::{CallSpec, Leniency, Pending, call, drain, initial};
    use crate::testing::{CountAndSumOffsets, CountFn};

    fn expected(n: i64) -> (u64, i64) {
        (n as u64, n * (n - 1) / 2)
    }

    #[test]
    fn every_split_point_and_fraction_merges_to_the_unsplit_result() {
        let dofn = precombine(CountFn, CountAndSumOffsets);
        for n in [0i64, 1, 2, 7, 300, 1000] {
            let input = ("k".to_string(), n);
            for claims in 0..=(n as u64).min(40) {
                for fraction in [0.0, 0.1, 0.5, 0.75, 1.0] {
                    let first = call(
                        &dofn,
                        &input,
                        initial(&dofn, &input).unwrap(),
                        CallSpec {
                            schedule: vec![(claims, fraction)],
                            ..CallSpec::plain()
                        },
                        &Leniency::default(),
                    )
                    .unwrap_or_else(|e| panic!("n={n} claims={claims} f={fraction}: {e}"));
                    assert!(first.outputs.len() <= 1, "one accumulator per call");
                    let mut partials: Vec<_> = first.outputs;
                    for residual in first.residuals {
                        drain(&dofn, &input, residual, &mut partials, &Leniency::default())
                            .unwrap_or_else(|e| panic!("n={n} claims={claims} f={fraction}: {e}"));
                    }
                    let merged =
                        CountAndSumOffsets.merge_all(partials.into_iter().map(|r| r.value));
                    assert_eq!(
                        merged,
                        expected(n),
                        "n={n} claims={claims} fraction={fraction}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_call_without_records_emits_no_accumulator() {
        let dofn = precombine(CountFn, Count);
        let input = ("k".to_string(), 5);
        let pending = Pending::<Precombine<CountFn, Count>> {
            restriction: crate::OffsetRange::new(5, 5),
            watermark: Default::default(),
            floor: crate::Timestamp::MIN,
        };
        let outcome = call(
            &dofn,
            &input,
            pending,
            CallSpec::plain(),
            &Leniency::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(outcome.outputs.is_empty());
    }

    /// Emits offsets 0..3 stamped 20, 10, 30 ms (neither the first nor the last is the earliest
    /// or the latest), registers a finalizer after 1, and fails after 2 while `fail` is set.
    struct Three {
        fail: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl SplittableDoFn for Three {
        type Input = ();
        type Output = i64;
        type Restriction = crate::OffsetRange;
        type Tracker = crate::OffsetRangeTracker;
        type WatermarkEstimator = crate::MonotonicWatermarkEstimator;
        fn initial_restriction(&self, _: &()) -> Result<crate::OffsetRange> {
            Ok(crate::OffsetRange::new(0, 3))
        }
        fn new_tracker(&self, _: &(), r: crate::OffsetRange) -> crate::OffsetRangeTracker {
            crate::OffsetRangeTracker::new(r)
        }
        async fn process(
            &self,
            _: &(),
            tracker: &mut SharedTracker<crate::OffsetRangeTracker>,
            output: &mut Output<'_, i64>,
            _: &mut crate::MonotonicWatermarkEstimator,
        ) -> Result<ProcessContinuation> {
            let mut i = tracker.current_restriction().start();
            while tracker.try_claim(i)? {
                let at = [20, 10, 30][i as usize];
                output.emit_at(i, Timestamp::from_millis(at)).await?;
                if i == 1 {
                    output
                        .after_commit(Box::new(|| Box::pin(async { Ok(()) })))
                        .await?;
                }
                if i == 2 && self.fail.load(std::sync::atomic::Ordering::Relaxed) {
                    return Err(crate::Error::message("failed after emitting"));
                }
                i += 1;
            }
            Ok(ProcessContinuation::Stop)
        }
    }

    /// One call of `precombine(Three, Count)` over `[0, 3)`: its result, what it emitted, and
    /// the estimator's watermark after it.
    fn call_three(
        dofn: &Precombine<Three, Count>,
    ) -> (
        Result<ProcessContinuation>,
        crate::CollectEmitter<u64>,
        Timestamp,
    ) {
        let mut emitter = crate::CollectEmitter::default();
        let mut tracker = SharedTracker::new(crate::OffsetRangeTracker::new(
            crate::OffsetRange::new(0, 3),
        ));
        let mut estimator = crate::MonotonicWatermarkEstimator::from_state(Timestamp::MIN);
        let result = futures::executor::block_on(async {
            let mut output = Output::new(&mut emitter, Timestamp::MIN, 4);
            let result = dofn
                .process(&(), &mut tracker, &mut output, &mut estimator)
                .await;
            output.flush().await.unwrap();
            result
        });
        (result, emitter, estimator.current_watermark())
    }

    #[test]
    fn the_accumulator_has_the_earliest_timestamp_and_the_estimator_sees_the_latest() {
        let dofn = precombine(Three { fail: false.into() }, Count);
        let (result, emitter, watermark) = call_three(&dofn);
        result.unwrap();
        assert_eq!(emitter.records.len(), 1);
        assert_eq!(emitter.records[0].value, 3);
        assert_eq!(emitter.records[0].timestamp, Timestamp::from_millis(10));
        assert_eq!(watermark, Timestamp::from_millis(30));
    }

    #[test]
    fn a_failed_call_emits_nothing_and_finalizers_follow_the_accumulator() {
        let dofn = precombine(Three { fail: true.into() }, Count);
        let (result, emitter, _) = call_three(&dofn);
        assert!(result.is_err());
        assert!(
            emitter.records.is_empty(),
            "a failed call's records are not emitted"
        );
        assert!(emitter.finalizers.is_empty(), "nor its finalizers");

        dofn.dofn()
            .fail
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let (result, emitter, _) = call_three(&dofn);
        assert!(result.is_ok());
        let values: Vec<u64> = emitter.records.iter().map(|r| r.value).collect();
        assert_eq!(values, [3]);
        assert_eq!(emitter.finalizers.len(), 1);
    }
}
