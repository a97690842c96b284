//! Bundle finalizers (`Output::after_commit`) run after the checkpoint that commits what the
//! *next* step made of the call's records, never before, never for failed work, never for work
//! sent to a dead letter: a watch that deletes a file after commit must not delete it while the
//! reader of that file still has work queued in the checkpoint.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sdf_core::*;
use sdf_runtime::{Executor, MemoryStore, Pipeline};

type Log = Arc<Mutex<Vec<String>>>;

/// One element `n` → the tokens `0..n`, one per call (each call claims one position and asks to
/// be resumed), each call registering a finalizer that logs `finalized <token>`.
struct Emit {
    log: Log,
    /// Tokens whose call fails once, after emitting and registering its finalizer.
    fail_once: Arc<Mutex<HashSet<i64>>>,
}

#[async_trait]
impl SplittableDoFn for Emit {
    type Input = i64;
    type Output = i64;
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, n: &i64) -> Result<OffsetRange> {
        Ok(OffsetRange::new(0, *n))
    }
    fn new_tracker(&self, _: &i64, r: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(r)
    }
    fn split_restriction(&self, _: &i64, r: OffsetRange, _: f64) -> Result<Vec<OffsetRange>> {
        Ok(vec![r])
    }
    async fn process(
        &self,
        _: &i64,
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, i64>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        let token = tracker.current_restriction().start();
        if !tracker.try_claim(token)? {
            return Ok(ProcessContinuation::Stop);
        }
        output.emit(token).await?;
        let log = Arc::clone(&self.log);
        output
            .after_commit(Box::new(move || {
                log.lock().unwrap().push(format!("finalized {token}"));
                Box::pin(async { Ok(()) })
            }))
            .await?;
        if self.fail_once.lock().unwrap().remove(&token) {
            return Err(Error::message("a planted failure after the finalizer"));
        }
        Ok(ProcessContinuation::resume_after(Duration::from_millis(1)))
    }
}

/// Each token → its work `[0, 4)`, one position per call with a pause between calls, so that
/// several checkpoints pass while a token is being consumed; logs `consumed <token>` when done.
/// A token listed in `poison` always fails.
struct Consume {
    log: Log,
    poison: HashSet<i64>,
}

#[async_trait]
impl SplittableDoFn for Consume {
    type Input = i64;
    type Output = i64;
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, _: &i64) -> Result<OffsetRange> {
        Ok(OffsetRange::new(0, 4))
    }
    fn new_tracker(&self, _: &i64, r: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(r)
    }
    fn split_restriction(&self, _: &i64, r: OffsetRange, _: f64) -> Result<Vec<OffsetRange>> {
        Ok(vec![r])
    }
    async fn process(
        &self,
        token: &i64,
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, i64>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        if self.poison.contains(token) {
            return Err(Error::permanent("consuming", "a poison token"));
        }
        let at = tracker.current_restriction().start();
        if !tracker.try_claim(at)? {
            return Ok(ProcessContinuation::Stop);
        }
        if at == 3 {
            output.emit(*token).await?;
            self.log.lock().unwrap().push(format!("consumed {token}"));
            tracker.try_claim(4)?;
            return Ok(ProcessContinuation::Stop);
        }
        Ok(ProcessContinuation::resume_after(Duration::from_millis(8)))
    }
}

fn run(tokens: i64, fail_once: &[i64], poison: &[i64]) -> (Vec<String>, usize) {
    let log: Log = Arc::default();
    let mut p = Pipeline::new();
    let input = p.from_iter("input", vec![tokens]);
    let emitted = p.apply(
        "emit",
        input,
        Emit {
            log: Arc::clone(&log),
            fail_once: Arc::new(Mutex::new(fail_once.iter().copied().collect())),
        },
    );
    let consumer = Consume {
        log: Arc::clone(&log),
        poison: poison.iter().copied().collect(),
    };
    let (consumed, letters) = p.apply_with_dead_letters("consume", emitted, consumer);
    let out = p.collect("out", consumed);
    let dead = p.collect("dead", letters);
    Executor::builder()
        .workers(2)
        .retries(2, Duration::from_millis(1))
        .checkpoint_store(Arc::new(MemoryStore::default()))
        .checkpoint_interval(Duration::from_millis(2))
        .build()
        .run_blocking(p)
        .unwrap();
    assert_eq!(out.len() + dead.len(), tokens as usize);
    let log = log.lock().unwrap().clone();
    (log, dead.len())
}

/// Where each entry of the log is.
fn positions(log: &[String]) -> HashMap<&str, usize> {
    let mut at = HashMap::new();
    for (i, line) in log.iter().enumerate() {
        assert!(
            at.insert(line.as_str(), i).is_none(),
            "{line} logged twice: {log:?}"
        );
    }
    at
}

#[test]
fn a_finalizer_waits_until_the_next_step_is_done_with_the_records() {
    let tokens = 6;
    let (log, _) = run(tokens, &[], &[]);
    let at = positions(&log);
    for token in 0..tokens {
        let consumed = at[format!("consumed {token}").as_str()];
        let finalized = *at
            .get(format!("finalized {token}").as_str())
            .unwrap_or_else(|| panic!("token {token} was never finalized: {log:?}"));
        assert!(
            consumed < finalized,
            "token {token} was finalized while the next step still had work for it: {log:?}"
        );
    }
}

#[test]
fn failed_calls_and_dead_lettered_work_run_no_finalizer() {
    let (log, dead) = run(5, &[1], &[3]);
    assert_eq!(dead, 1);
    let at = positions(&log);
    // Token 1's first call failed after registering its finalizer: only the retry's runs.
    assert!(at.contains_key("finalized 1"), "{log:?}");
    assert!(
        !at.contains_key("finalized 3"),
        "token 3's work went to the dead-letter output: its source must be kept: {log:?}"
    );
    for token in [0, 2, 4] {
        assert!(
            at[format!("consumed {token}").as_str()] < at[format!("finalized {token}").as_str()]
        );
    }
}
