//! Continuous matching over an object store (an `InMemory` store under a `memory:///`
//! prefix): polled on a current-thread runtime, restarted from its serialized restriction, and
//! cleaning up objects after the runtime commits them.
#![cfg(feature = "object-store")]

mod store_support;

use std::sync::Arc;
use std::time::Duration;

use sdf_connectors::{
    ContinuousMatch, MatchAll, MatchFiles, Termination, WatchRestriction, WatchState,
};
use sdf_core::{
    CollectEmitter, ManualWatermarkEstimator, Output, ProcessContinuation, RestrictionTracker,
    SharedTracker, SplittableDoFn, Timestamp, WatermarkEstimator,
};
use sdf_runtime::{Executor, MemoryStore, Pipeline};
use store_support::Bucket;

fn watch() -> ContinuousMatch {
    MatchAll::new().continuously(Duration::from_millis(1), Termination::Never)
}

/// A watch's restriction and watermark between calls, as a runner keeps them.
struct Watch {
    pattern: String,
    restriction: WatchRestriction,
    watermark: Timestamp,
}

impl Watch {
    /// One `process` call on a current-thread runtime: the URLs it emits, in order.
    fn poll(&mut self, dofn: &ContinuousMatch) -> Vec<String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut tracker =
            SharedTracker::new(dofn.new_tracker(&self.pattern, self.restriction.clone()));
        let mut estimator = ManualWatermarkEstimator::from_state(self.watermark);
        let mut emitter = CollectEmitter::default();
        let continuation = runtime.block_on(async {
            let mut output = Output::new(&mut emitter, Timestamp::MIN, 16);
            let c = dofn
                .process(&self.pattern, &mut tracker, &mut output, &mut estimator)
                .await
                .unwrap();
            output.flush().await.unwrap();
            c
        });
        let (mut tracker, _) = tracker.finish();
        assert!(matches!(continuation, ProcessContinuation::Resume { .. }));
        self.restriction = tracker.try_split(0.0).unwrap().unwrap().residual;
        self.watermark = estimator.state();
        emitter
            .records
            .iter()
            .map(|r| {
                assert_eq!(r.timestamp, r.value.modified, "objects carry their time");
                r.value.path.display().to_string()
            })
            .collect()
    }

    /// A restart: the restriction and the watermark through their serialized form.
    fn restart(&mut self) {
        let restriction = serde_json::to_string(&self.restriction).unwrap();
        self.restriction = serde_json::from_str(&restriction).unwrap();
        let watermark = serde_json::to_string(&self.watermark).unwrap();
        self.watermark = serde_json::from_str(&watermark).unwrap();
    }
}

#[test]
fn new_objects_are_emitted_once_across_polls_and_a_restart() {
    let bucket = Bucket::new("watch");
    bucket.put("in/a.log", "a");
    bucket.put("in/b.log", "b");
    bucket.put("in/skip.txt", "x");
    let mut w = Watch {
        pattern: bucket.url("in/*.log"),
        restriction: WatchRestriction::Polling(WatchState::new()),
        watermark: Timestamp::MIN,
    };
    let dofn = watch();
    assert_eq!(
        w.poll(&dofn),
        [bucket.url("in/a.log"), bucket.url("in/b.log")]
    );
    assert!(w.poll(&dofn).is_empty(), "nothing new");
    bucket.put("in/c.log", "c");
    assert_eq!(w.poll(&dofn), [bucket.url("in/c.log")]);
    w.restart();
    let dofn = watch();
    assert!(w.poll(&dofn).is_empty(), "nothing again after the restart");
    bucket.put("in/d.log", "d");
    assert_eq!(w.poll(&dofn), [bucket.url("in/d.log")]);
    assert!(w.watermark > Timestamp::MIN);
}

/// A terminating watch of `pattern` in a pipeline with checkpoints, so that clean-up runs.
fn run_watch(pattern: String, configure: impl FnOnce(ContinuousMatch) -> ContinuousMatch) -> usize {
    let mut p = Pipeline::new();
    let files = MatchFiles::new([pattern])
        .continuously(
            Duration::from_millis(20),
            Termination::AfterPollsWithoutNewFile(3),
        )
        .configure(configure)
        .apply(&mut p, "watch");
    let out = p.collect("out", files);
    Executor::builder()
        .workers(2)
        .checkpoint_store(Arc::new(MemoryStore::default()))
        .checkpoint_interval(Duration::from_millis(50))
        .build()
        .run_blocking(p)
        .unwrap();
    out.len()
}

#[test]
fn objects_are_deleted_after_the_runtime_commits_them() {
    let bucket = Bucket::new("watch-delete");
    for name in ["a", "b", "c"] {
        bucket.put(&format!("in/{name}.log"), name);
    }
    bucket.put("in/keep.txt", "k");
    assert_eq!(
        run_watch(bucket.url("in/*.log"), |w| w.delete_after_commit()),
        3
    );
    for name in ["a", "b", "c"] {
        assert!(
            !bucket.exists(&format!("in/{name}.log")),
            "{name} was not deleted"
        );
    }
    assert!(bucket.exists("in/keep.txt"));
}

#[test]
fn objects_are_archived_in_the_same_store_after_commit() {
    let bucket = Bucket::new("watch-archive");
    bucket.put("in/x/a.log", "a");
    bucket.put("in/b.log", "b");
    let archive = bucket.url("done");
    assert_eq!(
        run_watch(bucket.url("in/**/*.log"), |w| w
            .archive_after_commit(archive)),
        2
    );
    assert!(!bucket.exists("in/x/a.log") && !bucket.exists("in/b.log"));
    assert!(bucket.exists("done/x/a.log") && bucket.exists("done/b.log"));
}

#[test]
fn archiving_objects_into_a_local_directory_is_refused() {
    let bucket = Bucket::new("watch-archive-local");
    bucket.put("in/a.log", "a");
    let dofn = watch().archive_after_commit(std::env::temp_dir().join("sdf-archive"));
    let e = sdf_core::testing::run_to_completion(&dofn.clone(), &bucket.url("in/*.log"));
    // The watch never terminates on its own; its first poll fails.
    let e = e.unwrap_err().to_string();
    assert!(e.contains("archived in the same storage"), "{e}");
    assert!(e.contains(&bucket.url("in/*.log")), "{e}");
}
