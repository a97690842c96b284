//! No worker thread outlives its pipeline: however a pipeline ends (a stop with a final
//! checkpoint while work is delayed, a cancel while a call awaits, a stage that fails while
//! another computes), `wait` returns only once every worker thread has exited, so the caller can
//! shut its runtime down without a worker still using it ("A Tokio 1.x context was found, but
//! it is being shutdown").
//!
//! Checked by name: worker threads are called `sdf-<stage>-<n>`; after `wait` none is left in
//! this process (`/proc/self/task`). Each test runs its pipelines in a child process of its own
//! (this binary again), so that other tests' workers do not count.

#![cfg(target_os = "linux")]

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sdf_core::*;
use sdf_runtime::{Executor, MemoryStore, Pipeline};

/// The names of this process's threads that are pipeline workers.
fn worker_threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .filter(|name| name.starts_with("sdf-"))
        .collect()
}

/// Each element `n` → one record per call, resumed after `pause`, `n` times.
struct Slow {
    pause: Duration,
    fail_at: Option<i64>,
}

#[async_trait]
impl SplittableDoFn for Slow {
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
    async fn process(
        &self,
        _: &i64,
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, i64>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        let at = tracker.current_restriction().start();
        if !tracker.try_claim(at)? {
            return Ok(ProcessContinuation::Stop);
        }
        if self.fail_at == Some(at) {
            return Err(Error::permanent("processing", "a planted failure"));
        }
        output.emit(at).await?;
        Ok(ProcessContinuation::resume_after(self.pause))
    }
}

/// A call that sleeps for an hour inside `process` (awaiting a timer).
struct Sleeper;

#[async_trait]
impl SplittableDoFn for Sleeper {
    type Input = i64;
    type Output = i64;
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, _: &i64) -> Result<OffsetRange> {
        Ok(OffsetRange::new(0, 1))
    }
    fn new_tracker(&self, _: &i64, r: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(r)
    }
    async fn process(
        &self,
        _: &i64,
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        _: &mut Output<'_, i64>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        if tracker.try_claim(0)? {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Ok(ProcessContinuation::Stop)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Waits until `out` holds something (the pipeline is running), without a timer of its own.
async fn running(out: &sdf_runtime::Collected<i64>) {
    while out.is_empty() {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn stop_with_delayed_work() {
    let mut p = Pipeline::new();
    let input = p.from_iter("input", vec![1_000_000i64; 8]);
    // Resumed every millisecond: workers wake while the final checkpoint holds the pipeline
    // paused, and wait for it to resume when the stop comes.
    let slow = Slow {
        pause: Duration::from_millis(1),
        fail_at: None,
    };
    let counted = p.apply("slow", input, slow);
    let out = p.collect("out", counted);
    let executor = Executor::builder()
        .workers(2)
        .checkpoint_store(Arc::new(MemoryStore::default()))
        .checkpoint_interval(Duration::from_millis(5))
        .build();
    runtime().block_on(async {
        let handle = executor.run(p);
        running(&out).await;
        handle.stop();
        handle.wait().await.unwrap();
    });
}

fn cancel_while_a_call_awaits() {
    let mut p = Pipeline::new();
    let input = p.from_iter("input", vec![1i64, 2]);
    let slept = p.apply("sleep", input, Sleeper);
    let _ = p.collect("out", slept);
    runtime().block_on(async {
        let handle = Executor::builder().workers(2).build().run(p);
        // Both calls are inside `process` once two workers run: wait for the stage to say so.
        let metrics = handle.metrics_handle();
        while metrics.snapshot()[0].calls < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        handle.cancel();
        assert!(matches!(
            handle.wait().await,
            Err(sdf_runtime::Error::Cancelled)
        ));
    });
}

fn a_failure_while_another_stage_awaits() {
    let mut p = Pipeline::new();
    let input = p.from_iter("input", vec![1_000i64]);
    let slow = Slow {
        pause: Duration::from_millis(1),
        fail_at: Some(5),
    };
    let first = p.apply("fails", input, slow);
    let slept = p.apply("sleep", first, Sleeper);
    let _ = p.collect("out", slept);
    let executor = Executor::builder().workers(2).build();
    let result = runtime().block_on(async { executor.run(p).wait().await });
    assert!(
        matches!(result, Err(sdf_runtime::Error::StageFailed { .. })),
        "{result:?}"
    );
}

const CASE_ENV: &str = "SDF_SHUTDOWN_CASE";

#[test]
#[ignore = "the child process of the shutdown tests"]
fn shutdown_child() {
    let Ok(case) = std::env::var(CASE_ENV) else {
        return;
    };
    match case.as_str() {
        "stop" => stop_with_delayed_work(),
        "cancel" => cancel_while_a_call_awaits(),
        "failure" => a_failure_while_another_stage_awaits(),
        other => panic!("{other}"),
    }
    let left = worker_threads();
    assert!(left.is_empty(), "{case}: workers left after wait: {left:?}");
}

fn in_child(case: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "shutdown_child", "--nocapture"])
        .env(CASE_ENV, case)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{case}: {stderr}");
    assert!(!stderr.contains("panicked"), "{case}: {stderr}");
}

#[test]
fn a_stop_during_a_checkpoint_leaves_no_worker_running() {
    in_child("stop");
}

#[test]
fn a_cancel_while_calls_await_leaves_no_worker_running() {
    in_child("cancel");
}

#[test]
fn a_failure_leaves_no_worker_running() {
    in_child("failure");
}
