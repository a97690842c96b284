//! Failure injection: an I/O error at a write, at an `fsync` (prepare) or at a rename
//! (commit) fails the pipeline with an error naming the path; the pipeline restarted on the
//! same state publishes every record exactly once.
#![cfg(feature = "testing")]

mod write_support;

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sdf_connectors::{Csv, IoStep, WriteFiles};
use sdf_runtime::{DirectoryStore, Executor, Pipeline};
use write_support::*;

/// Runs the pipeline on the state in `dir`; with `fault`, the `nth` operation of that kind
/// fails.
fn run(dir: &Path, fault: Option<(IoStep, usize)>) -> sdf_runtime::Result<()> {
    let (inputs, _) = inputs(3, 400);
    let mut p = Pipeline::new();
    let source = p.from_iter("inputs", inputs);
    let counted = p.apply(
        "count",
        source,
        SlowCount {
            spin: Duration::from_micros(100),
        },
    );
    let mut sink = WriteFiles::builder(dir.join("out"), Csv::with_header(["key", "n"])).shards(2);
    if let Some((step, nth)) = fault {
        let seen = AtomicUsize::new(0);
        sink = sink.fault_injector(Arc::new(move |at, path| {
            if at == step && seen.fetch_add(1, Ordering::SeqCst) + 1 == nth {
                return Err(io::Error::other(format!(
                    "injected {at:?} failure at {}",
                    path.display()
                )));
            }
            Ok(())
        }));
    }
    p.sink("files", counted, sink.build().unwrap());
    let store = Arc::new(DirectoryStore::new(dir.join("state")).unwrap());
    Executor::builder()
        .workers(2)
        .max_outputs_per_call(100)
        .checkpoint_store(store)
        .checkpoint_interval(Duration::from_millis(15))
        .build()
        .run_blocking(p)
        .map(|_| ())
}

/// Fails the pipeline at the `nth` `step`, checks the error, restarts it, checks the output.
fn fail_then_recover(step: IoStep, nth: usize, names: &str) {
    let dir = TempDir::new(&format!("write-fault-{step:?}"));
    let error =
        run(&dir.0, Some((step, nth))).expect_err("the injected failure fails the pipeline");
    let message = error.to_string();
    assert!(
        message.contains(&format!("injected {step:?} failure")),
        "{message}"
    );
    assert!(
        message.contains(names),
        "the error names the path: {message}"
    );
    assert!(message.contains(&dir.0.display().to_string()), "{message}");

    run(&dir.0, None).expect("the restarted pipeline completes");
    let out = dir.join("out");
    let (_, want) = inputs(3, 400);
    assert_same_multiset(&published_lines(&out, Some("key,n")), &want);
    assert_eq!(staged(&out), 0, "no staged file is left behind");
}

#[test]
fn a_failed_write_loses_and_duplicates_nothing_after_restart() {
    fail_then_recover(IoStep::Write, 5, ".sdf-staging/part-");
}

#[test]
fn a_failed_fsync_at_prepare_loses_and_duplicates_nothing_after_restart() {
    fail_then_recover(IoStep::Sync, 1, ".sdf-staging/part-");
}

#[test]
fn a_failed_rename_at_commit_loses_and_duplicates_nothing_after_restart() {
    fail_then_recover(IoStep::Publish, 3, ".sdf-staging/part-");
}

#[test]
fn a_failure_to_create_a_file_loses_and_duplicates_nothing_after_restart() {
    fail_then_recover(IoStep::Create, 3, ".sdf-staging/part-");
}
