//! SDFs on Beam's real Python job service (the FnApiRunner), over gRPC to this crate's
//! harness, with runner-initiated splits forced by `--direct_test_splits`.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sdf_beam::harness::{HarnessStats, PoolListener};
use sdf_beam::translate::{BeamPipeline, external_environment};
use sdf_beam::{Create, JobService};
use sdf_core::{
    MonotonicWatermarkEstimator, OffsetRange, OffsetRangeTracker, Output, ProcessContinuation,
    SharedTracker, SplittableDoFn, flat_map,
};

/// Counts `0..n` for a key, pausing 5 ms every 50 claims, so that the run lasts seconds and
/// the runner's timed splits land while it runs (the pace decides how many land, never what
/// is emitted).
struct PacedCount;

#[async_trait]
impl SplittableDoFn for PacedCount {
    type Input = (String, i64);
    type Output = (String, i64);
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, (_, n): &(String, i64)) -> sdf_core::Result<OffsetRange> {
        Ok(OffsetRange::try_new(0, *n)?)
    }

    fn split_restriction(
        &self,
        _: &(String, i64),
        r: OffsetRange,
        desired: f64,
    ) -> sdf_core::Result<Vec<OffsetRange>> {
        Ok(r.split(desired.max(1.0) as u64, 1))
    }

    fn new_tracker(&self, _: &(String, i64), r: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(r)
    }

    async fn process(
        &self,
        (key, _): &(String, i64),
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, (String, i64)>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> sdf_core::Result<ProcessContinuation> {
        let mut i = tracker.current_restriction().start();
        while tracker.try_claim(i)? {
            output.emit((key.clone(), i)).await?;
            i += 1;
            if i % 50 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Ok(ProcessContinuation::Stop)
    }
}

fn options(splits: serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    [("direct_test_splits".to_string(), splits)].into()
}

/// Appends a step to `input` that collects every element into `seen` (this process is the
/// worker, EXTERNAL environment).
fn collect<T>(
    p: &mut BeamPipeline,
    input: &sdf_beam::translate::Collection,
    seen: &Arc<Mutex<Vec<i64>>>,
    key: fn(&T) -> i64,
) where
    T: Clone
        + std::fmt::Debug
        + Send
        + Sync
        + serde::Serialize
        + serde::de::DeserializeOwned
        + 'static,
{
    let sink = Arc::clone(seen);
    p.apply(
        "Collect",
        input,
        flat_map(move |x: &T| {
            sink.lock().unwrap().push(key(x));
            Vec::<i64>::new()
        }),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100k_record_sdf_split_by_the_runner_delivers_every_record_once() {
    let server = support::JobServer::start();
    let listener = PoolListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let mut p = BeamPipeline::new(external_environment(&listener.address().to_string()));
    let seen: Arc<Mutex<Vec<i64>>> = Arc::default();
    let keys = p.root("Create", Create::new([("k".to_string(), 100_000i64)]));
    let counted = p.apply("Count", &keys, PacedCount);
    collect(&mut p, &counted, &seen, |(_, i): &(String, i64)| *i);
    let (pipeline, registry) = p.build();
    let pool = listener.serve(registry);
    let service = JobService::connect(&server.endpoint, Duration::from_secs(30))
        .await
        .unwrap();
    // The restriction reaches the runner as 8 pieces: 0.5 of them cuts the channel at an
    // element boundary, then 0.1 of what is left falls inside the running element (primary
    // and residual roots), then 0.0 checkpoints it.
    let splits = serde_json::json!({
        "Count": {"timings": [0.2, 0.5, 0.9], "fractions": [0.5, 0.1, 0.0]}
    });
    let job = service
        .submit("splits", pipeline, &options(splits))
        .await
        .unwrap();
    job.wait(Duration::from_secs(300))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    let mut seen = seen.lock().unwrap().clone();
    let stats = pool.stats();
    println!("{stats:?}");
    seen.sort_unstable();
    let n = seen.len();
    seen.dedup();
    assert_eq!(n, seen.len(), "{} records twice", n - seen.len());
    let missing = (0..100_000).find(|i| seen.binary_search(i).is_err());
    assert_eq!(
        (seen.len(), missing),
        (100_000, None),
        "every record once: {} seen",
        seen.len()
    );
    assert!(HarnessStats::get(&stats.element_splits) > 0, "{stats:?}");
}

/// Emits `0..n` ten at a time: each call returns `Resume` after ten claims (a source with no
/// more data for now), and registers an acknowledgement of what it emitted.
struct Polling {
    acked: Arc<Mutex<Vec<(i64, i64)>>>,
    /// The calls that returned, by their first position.
    returned: Arc<Mutex<Vec<i64>>>,
    early: Arc<std::sync::atomic::AtomicU64>,
}

#[async_trait]
impl SplittableDoFn for Polling {
    type Input = ();
    type Output = i64;
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, _: &()) -> sdf_core::Result<OffsetRange> {
        Ok(OffsetRange::try_new(0, 95)?)
    }

    fn new_tracker(&self, _: &(), r: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(r)
    }

    async fn process(
        &self,
        _: &(),
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, i64>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> sdf_core::Result<ProcessContinuation> {
        use std::sync::atomic::Ordering;
        let start = tracker.current_restriction().start();
        let mut i = start;
        while i < start + 10 {
            if !tracker.try_claim(i)? {
                return Ok(ProcessContinuation::Stop);
            }
            output.emit(i).await?;
            i += 1;
        }
        // An acknowledgement of [start, i): it must run only after the runner committed the
        // output, so never while this call is still running.
        let (acked, returned, early) = (
            Arc::clone(&self.acked),
            Arc::clone(&self.returned),
            Arc::clone(&self.early),
        );
        output
            .after_commit(Box::new(move || {
                Box::pin(async move {
                    if !returned.lock().unwrap().contains(&start) {
                        early.fetch_add(1, Ordering::SeqCst);
                    }
                    acked.lock().unwrap().push((start, i));
                    Ok(())
                })
            }))
            .await?;
        // The call is over once it returns.
        self.returned.lock().unwrap().push(start);
        Ok(ProcessContinuation::resume_after(Duration::from_millis(20)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumed_residuals_are_rescheduled_and_finalizers_run_after_commit_once() {
    let server = support::JobServer::start();
    let listener = PoolListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let mut p = BeamPipeline::new(external_environment(&listener.address().to_string()));
    let seen: Arc<Mutex<Vec<i64>>> = Arc::default();
    let polling = Polling {
        acked: Arc::default(),
        returned: Arc::default(),
        early: Arc::default(),
    };
    let (acked, early) = (Arc::clone(&polling.acked), Arc::clone(&polling.early));
    let numbers = p.root("Poll", polling);
    collect(&mut p, &numbers, &seen, |i: &i64| *i);
    let (pipeline, registry) = p.build();
    let pool = listener.serve(registry);
    let service = JobService::connect(&server.endpoint, Duration::from_secs(30))
        .await
        .unwrap();
    let job = service
        .submit("resume", pipeline, &BTreeMap::new())
        .await
        .unwrap();
    job.wait(Duration::from_secs(300))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    let stats = pool.stats();
    println!("{stats:?}");
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..95).collect::<Vec<_>>(),
        "every record once, across 10 resumptions"
    );
    // 9 calls resumed (the 10th found the end), each residual returned with its bundle.
    assert!(HarnessStats::get(&stats.bundle_residuals) >= 9, "{stats:?}");
    let mut acked = acked.lock().unwrap().clone();
    acked.sort_unstable();
    let want: Vec<(i64, i64)> = (0..9).map(|k| (10 * k, 10 * k + 10)).collect();
    assert_eq!(acked, want, "each acknowledgement once");
    assert_eq!(
        early.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a finalizer ran before its call returned"
    );
    assert!(HarnessStats::get(&stats.finalized) >= 9, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_without_the_pipelines_dofn_fails_the_job_naming_it() {
    let server = support::JobServer::start();
    let listener = PoolListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let mut p = BeamPipeline::new(external_environment(&listener.address().to_string()));
    p.root("Create", Create::new([1i64, 2, 3]));
    let (pipeline, _registry) = p.build();
    // A worker built from another program: it has none of this pipeline's DoFns.
    let _pool = listener.serve(sdf_beam::harness::Registry::new());
    let service = JobService::connect(&server.endpoint, Duration::from_secs(30))
        .await
        .unwrap();
    let job = service
        .submit("unregistered", pipeline, &BTreeMap::new())
        .await
        .unwrap();
    let err = job.wait(Duration::from_secs(120)).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("no DoFn is registered as \"Create\"") && text.contains("same pipeline"),
        "{text}"
    );
}
