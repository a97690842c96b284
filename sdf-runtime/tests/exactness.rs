//! Outputs are exact whatever the runtime does to the work: up-front splits, dynamic splits,
//! checkpoints every few outputs, retries after failures and panics.

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use common::*;
use sdf_core::testing::{CountAndSumOffsets, CountFn};
use sdf_runtime::{Error, Executor, Pipeline};

fn expected(inputs: &[(String, i64)]) -> Vec<(String, i64)> {
    inputs
        .iter()
        .flat_map(|(k, n)| (0..*n).map(move |i| (k.clone(), i)))
        .collect()
}

#[test]
fn count_fn_is_exact_with_checkpoints_and_rebalancing() {
    let inputs: Vec<(String, i64)> = (0..20)
        .map(|k| (format!("k{k}"), (k * 37 % 500) as i64))
        .chain([("big".to_string(), 20_000)])
        .collect();
    // (name, workers, outputs per call, rebalance)
    let settings = [
        ("defaults", 2, 10_000, true),
        ("tiny calls", 3, 7, true),
        ("no rebalancing", 2, 100, false),
        ("one worker", 1, 50, true),
    ];
    for (name, workers, outputs, rebalance) in settings {
        let mut p = Pipeline::new();
        let source = p.from_iter("inputs", inputs.clone());
        let counted = p.apply("count", source, CountFn);
        let out = p.collect("out", counted);
        let executor = Executor::builder()
            .workers(workers)
            .max_outputs_per_call(outputs)
            .batch_size(64)
            .rebalance(rebalance)
            .build();
        executor
            .run_blocking(p)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_same_multiset(&out.values(), &expected(&inputs));
        assert_eq!(
            out.watermark(),
            sdf_core::Timestamp::MAX,
            "{name}: the sink saw the end"
        );
    }
}

#[test]
fn checkpoints_split_long_calls_and_metrics_count_them() {
    let inputs = vec![("a".to_string(), 5_000)];
    let mut p = Pipeline::new();
    let source = p.from_iter("inputs", inputs.clone());
    let counted = p.apply("count", source, CountFn);
    let out = p.collect("out", counted);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let metrics = runtime.block_on(async {
        let handle = Executor::builder()
            .workers(1)
            .max_outputs_per_call(100)
            .initial_pieces_per_worker(1)
            .build()
            .run(p);
        let metrics_before_end = handle.metrics();
        assert_eq!(metrics_before_end[0].name, "count");
        // Wait for the end, then read the final metrics from a fresh handle-less snapshot.
        let counters = handle.metrics();
        handle.wait().await.unwrap();
        counters
    });
    assert_eq!(metrics.len(), 1);
    assert_same_multiset(&out.values(), &expected(&inputs));
}

#[test]
fn a_skewed_input_is_split_while_running() {
    let inputs = vec![("slow".to_string(), 400), ("fast".to_string(), 10)];
    let mut p = Pipeline::new();
    let source = p.from_iter("inputs", inputs.clone());
    let counted = p.apply(
        "count",
        source,
        CostlyCount {
            expensive_key: "slow",
            spin: Duration::from_micros(200),
        },
    );
    let out = p.collect("out", counted);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let splits = runtime.block_on(async {
        let handle = Executor::builder()
            .workers(2)
            .initial_pieces_per_worker(1)
            .build()
            .run(p);
        let mut splits = 0;
        // Poll the metrics while it runs: the idle worker must take work from the busy one.
        while out.len() < 410 {
            splits = handle.metrics()[0].dynamic_splits;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        handle.wait().await.unwrap();
        splits
    });
    assert_same_multiset(&out.values(), &expected(&inputs));
    assert!(splits > 0, "the idle worker never split the slow element");
}

#[test]
fn failed_calls_are_retried_without_duplicates() {
    for panic in [false, true] {
        let seen = Arc::new(AtomicU64::new(0));
        let mut p = Pipeline::new();
        let source = p.from_iter("inputs", vec![100i64]);
        let out = p.apply(
            "flaky",
            source,
            Flaky {
                poison: 42,
                failures: 2,
                panic,
                seen: seen.clone(),
            },
        );
        let out = p.collect("out", out);
        Executor::builder()
            .workers(2)
            .retries(3, Duration::from_millis(1))
            .build()
            .run_blocking(p)
            .unwrap();
        assert_same_multiset(&out.values(), &(0..100).collect::<Vec<_>>());
    }
}

#[test]
fn a_call_failing_every_attempt_fails_the_pipeline_naming_what_failed() {
    let seen = Arc::new(AtomicU64::new(0));
    let mut p = Pipeline::new();
    let source = p.from_iter("inputs", vec![100i64]);
    let out = p.apply(
        "flaky",
        source,
        Flaky {
            poison: 42,
            failures: u64::MAX,
            panic: true,
            seen: seen.clone(),
        },
    );
    let _out = p.collect("out", out);
    let err = Executor::builder()
        .workers(2)
        .retries(3, Duration::from_millis(1))
        .build()
        .run_blocking(p)
        .unwrap_err();
    let Error::StageFailed {
        stage,
        element,
        restriction,
        attempts,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(
        (stage.as_str(), element.as_str(), *attempts),
        ("flaky", "100", 3)
    );
    assert!(restriction.starts_with('['), "{restriction}");
    let message = err.to_string();
    assert!(
        message.contains("process panicked: poisoned offset 42"),
        "{message}"
    );
    assert!(
        message.contains("dead-letter") && message.contains("Pipeline::apply_with_dead_letters"),
        "says what to do: {message}"
    );
}

/// Counts like CountFn, but fails every call for the element `poisoned` once it reaches
/// offset 5, with an error worth a retry or a permanent one.
struct FailsOn {
    poisoned: i64,
    permanent: bool,
}

#[async_trait::async_trait]
impl sdf_core::SplittableDoFn for FailsOn {
    type Input = i64;
    type Output = (i64, i64);
    type Restriction = sdf_core::OffsetRange;
    type Tracker = sdf_core::OffsetRangeTracker;
    type WatermarkEstimator = sdf_core::MonotonicWatermarkEstimator;

    fn initial_restriction(&self, n: &i64) -> sdf_core::Result<sdf_core::OffsetRange> {
        Ok(sdf_core::OffsetRange::new(0, *n))
    }
    fn new_tracker(&self, _: &i64, r: sdf_core::OffsetRange) -> sdf_core::OffsetRangeTracker {
        sdf_core::OffsetRangeTracker::new(r)
    }
    async fn process(
        &self,
        n: &i64,
        tracker: &mut sdf_core::SharedTracker<sdf_core::OffsetRangeTracker>,
        output: &mut sdf_core::Output<'_, (i64, i64)>,
        _: &mut sdf_core::MonotonicWatermarkEstimator,
    ) -> sdf_core::Result<sdf_core::ProcessContinuation> {
        let mut i = tracker.current_restriction().start();
        while tracker.try_claim(i)? {
            if *n == self.poisoned && i >= 5 {
                let message = format!("record {i} of {n} is corrupt");
                return Err(if self.permanent {
                    sdf_core::Error::permanent("parsing", message)
                } else {
                    sdf_core::Error::message(message)
                });
            }
            output.emit((*n, i)).await?;
            i += 1;
        }
        Ok(sdf_core::ProcessContinuation::Stop)
    }
}

#[test]
fn elements_that_keep_failing_go_to_the_dead_letter_output() {
    let mut p = Pipeline::new();
    let source = p.from_iter("inputs", vec![10i64, 20, 30]);
    let (good, letters) = p.apply_with_dead_letters(
        "count",
        source,
        FailsOn {
            poisoned: 20,
            permanent: false,
        },
    );
    let good = p.collect("good", good);
    let letters = p.collect("letters", letters);
    Executor::builder()
        .workers(2)
        .initial_pieces_per_worker(1)
        .retries(2, Duration::from_millis(1))
        .build()
        .run_blocking(p)
        .unwrap();
    let mut want: Vec<(i64, i64)> = (0..10)
        .map(|i| (10, i))
        .chain((0..30).map(|i| (30, i)))
        .collect();
    // The poisoned element's records before the bad one were produced by failed calls, whose
    // output is discarded: nothing of it reaches the main output.
    want.sort();
    let mut got = good.values();
    got.sort();
    assert_eq!(got, want);
    let letters = letters.values();
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!((letter.element, letter.attempts), (20, 2));
    assert_eq!(
        letter.restriction,
        sdf_core::OffsetRange::new(0, 20),
        "the work that was not done"
    );
    assert!(
        letter.error.contains("record 5 of 20 is corrupt"),
        "{}",
        letter.error
    );
}

/// Claims every offset but emits only every 1,000th, spinning in between: a CPU-bound call that
/// never yields and reaches no output bound. Only the time bound can checkpoint it.
struct SelectiveScan;

#[async_trait::async_trait]
impl sdf_core::SplittableDoFn for SelectiveScan {
    type Input = i64;
    type Output = i64;
    type Restriction = sdf_core::OffsetRange;
    type Tracker = sdf_core::OffsetRangeTracker;
    type WatermarkEstimator = sdf_core::MonotonicWatermarkEstimator;

    fn initial_restriction(&self, n: &i64) -> sdf_core::Result<sdf_core::OffsetRange> {
        Ok(sdf_core::OffsetRange::new(0, *n))
    }
    fn new_tracker(&self, _: &i64, r: sdf_core::OffsetRange) -> sdf_core::OffsetRangeTracker {
        sdf_core::OffsetRangeTracker::new(r)
    }
    async fn process(
        &self,
        _: &i64,
        tracker: &mut sdf_core::SharedTracker<sdf_core::OffsetRangeTracker>,
        output: &mut sdf_core::Output<'_, i64>,
        _: &mut sdf_core::MonotonicWatermarkEstimator,
    ) -> sdf_core::Result<sdf_core::ProcessContinuation> {
        let mut i = tracker.current_restriction().start();
        while tracker.try_claim(i)? {
            let until = std::time::Instant::now() + Duration::from_micros(20);
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
            if i % 1_000 == 0 {
                output.emit(i).await?;
            }
            i += 1;
        }
        Ok(sdf_core::ProcessContinuation::Stop)
    }
}

#[test]
fn a_cpu_bound_call_is_checkpointed_by_the_time_bound() {
    let mut p = Pipeline::new();
    let source = p.from_iter("inputs", vec![20_000i64]);
    let out = p.apply("scan", source, SelectiveScan);
    let out = p.collect("out", out);
    // ~0.4 s of work in one call, a 50 ms bound: several checkpoints, though the call never
    // yields and emits only 20 records.
    let metrics = Executor::builder()
        .workers(1)
        .max_call_duration(Duration::from_millis(50))
        .build()
        .run_blocking(p)
        .unwrap();
    assert_same_multiset(
        &out.values(),
        &(0..20).map(|k| k * 1_000).collect::<Vec<_>>(),
    );
    assert!(metrics[0].checkpoints >= 3, "{:?}", metrics[0]);
    assert!(metrics[0].calls >= 4, "{:?}", metrics[0]);
}

/// An offset tracker that refuses dynamic splits when `splittable` is false (a compressed
/// file, say), but still checkpoints.
struct MaybeSplittable {
    inner: sdf_core::OffsetRangeTracker,
    splittable: bool,
}

impl sdf_core::RestrictionTracker for MaybeSplittable {
    type Restriction = sdf_core::OffsetRange;
    type Position = i64;
    fn try_claim(&mut self, p: i64) -> std::result::Result<bool, sdf_core::TrackerError> {
        self.inner.try_claim(p)
    }
    fn try_split(
        &mut self,
        f: f64,
    ) -> std::result::Result<
        Option<sdf_core::SplitResult<sdf_core::OffsetRange>>,
        sdf_core::TrackerError,
    > {
        if self.splittable || f == 0.0 {
            self.inner.try_split(f)
        } else {
            Ok(None)
        }
    }
    fn current_restriction(&self) -> sdf_core::OffsetRange {
        self.inner.current_restriction()
    }
    fn check_done(&self) -> std::result::Result<(), sdf_core::TrackerError> {
        self.inner.check_done()
    }
    fn progress(&self) -> sdf_core::Progress {
        self.inner.progress()
    }
    fn is_bounded(&self) -> bool {
        true
    }
}

/// Counts slowly; the element "big" cannot be split, the others can.
struct PartlyUnsplittable;

#[async_trait::async_trait]
impl sdf_core::SplittableDoFn for PartlyUnsplittable {
    type Input = (String, i64);
    type Output = (String, i64);
    type Restriction = sdf_core::OffsetRange;
    type Tracker = MaybeSplittable;
    type WatermarkEstimator = sdf_core::MonotonicWatermarkEstimator;

    fn initial_restriction(
        &self,
        (_, n): &(String, i64),
    ) -> sdf_core::Result<sdf_core::OffsetRange> {
        Ok(sdf_core::OffsetRange::new(0, *n))
    }
    fn new_tracker(&self, (key, _): &(String, i64), r: sdf_core::OffsetRange) -> MaybeSplittable {
        MaybeSplittable {
            inner: sdf_core::OffsetRangeTracker::new(r),
            splittable: key != "big",
        }
    }
    async fn process(
        &self,
        (key, _): &(String, i64),
        tracker: &mut sdf_core::SharedTracker<MaybeSplittable>,
        output: &mut sdf_core::Output<'_, (String, i64)>,
        _: &mut sdf_core::MonotonicWatermarkEstimator,
    ) -> sdf_core::Result<sdf_core::ProcessContinuation> {
        let mut i = tracker.current_restriction().start();
        while tracker.try_claim(i)? {
            let until = std::time::Instant::now() + Duration::from_micros(200);
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
            output.emit((key.clone(), i)).await?;
            i += 1;
        }
        Ok(sdf_core::ProcessContinuation::Stop)
    }
}

#[test]
fn a_call_that_refuses_to_split_does_not_block_rebalancing() {
    // Three workers: "big" (unsplittable, the most work left) and "medium" run while the third
    // worker, done with "tiny", goes idle. It must not keep asking "big": after the refusal it
    // splits "medium".
    let inputs = vec![
        ("big".to_string(), 2_000),
        ("medium".to_string(), 800),
        ("tiny".to_string(), 1),
    ];
    let mut p = Pipeline::new();
    let source = p.from_iter("inputs", inputs.clone());
    let counted = p.apply("count", source, PartlyUnsplittable);
    let out = p.collect("out", counted);
    let metrics = Executor::builder()
        .workers(3)
        .initial_pieces_per_worker(1)
        .max_outputs_per_call(1 << 40)
        .build()
        .run_blocking(p)
        .unwrap();
    assert_same_multiset(&out.values(), &expected(&inputs));
    assert!(
        metrics[0].dynamic_splits > 0,
        "the idle worker never split the splittable call: {:?}",
        metrics[0]
    );
}

#[test]
fn a_permanent_error_is_not_retried() {
    for (permanent, attempts) in [(false, 3), (true, 1)] {
        let mut p = Pipeline::new();
        let source = p.from_iter("inputs", vec![10i64, 20]);
        let (good, letters) = p.apply_with_dead_letters(
            "count",
            source,
            FailsOn {
                poisoned: 20,
                permanent,
            },
        );
        let good = p.collect("good", good);
        let letters = p.collect("letters", letters);
        let metrics = Executor::builder()
            .workers(1)
            .retries(3, Duration::from_millis(1))
            .build()
            .run_blocking(p)
            .unwrap();
        assert_eq!(good.values().len(), 10);
        let letters = letters.values();
        assert_eq!(letters.len(), 1, "{letters:?}");
        assert_eq!(letters[0].attempts, attempts, "permanent: {permanent}");
        let retries: u64 = metrics.iter().map(|m| m.retries).sum();
        assert_eq!(retries, u64::from(attempts - 1), "permanent: {permanent}");
    }
}

#[test]
fn precombined_output_is_exact_with_checkpoints_rebalancing_and_time_bounds() {
    use sdf_core::{CombineFn, precombine};
    let inputs: Vec<(String, i64)> = (0..20)
        .map(|k| (format!("k{k}"), (k * 37 % 500) as i64))
        .chain([("big".to_string(), 200_000)])
        .collect();
    let want = CountAndSumOffsets.merge_all(expected(&inputs).into_iter().map(|(_, i)| (1, i)));
    // (name, workers, rebalance, time bound of a call)
    let settings = [
        ("defaults", 2, true, Duration::from_secs(10)),
        ("short calls", 3, true, Duration::from_micros(200)),
        ("no rebalancing", 2, false, Duration::from_millis(1)),
    ];
    for (name, workers, rebalance, bound) in settings {
        let mut p = Pipeline::new();
        let source = p.from_iter("inputs", inputs.clone());
        let partials = p.apply("count", source, precombine(CountFn, CountAndSumOffsets));
        let out = p.collect("out", partials);
        let executor = Executor::builder()
            .workers(workers)
            .rebalance(rebalance)
            .max_call_duration(bound)
            .build();
        let metrics = executor
            .run_blocking(p)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let partials = out.values();
        assert_eq!(
            CountAndSumOffsets.merge_all(partials.clone()),
            want,
            "{name}"
        );
        let stage = metrics.iter().find(|m| m.name == "count").unwrap();
        let calls = stage.calls;
        if bound < Duration::from_millis(5) {
            assert!(
                stage.checkpoints > 0,
                "{name}: the time bound checkpointed calls"
            );
        }
        assert!(
            partials.len() as u64 <= calls,
            "{name}: at most one accumulator per call ({} for {calls} calls)",
            partials.len()
        );
    }
}

#[test]
fn a_precombined_call_that_fails_is_retried_without_counting_its_records_twice() {
    use sdf_core::{CombineFn, Count, precombine};
    for panic in [false, true] {
        let seen = Arc::new(AtomicU64::new(0));
        let mut p = Pipeline::new();
        let source = p.from_iter("inputs", vec![100i64]);
        let flaky = Flaky {
            poison: 42,
            failures: 2,
            panic,
            seen: seen.clone(),
        };
        let partials = p.apply("flaky", source, precombine(flaky, Count));
        let out = p.collect("out", partials);
        Executor::builder()
            .workers(2)
            .retries(3, Duration::from_millis(1))
            .build()
            .run_blocking(p)
            .unwrap();
        assert_eq!(CombineFn::<i64>::merge_all(&Count, out.values()), 100);
        assert_eq!(
            seen.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "two failures, one success"
        );
    }
}
