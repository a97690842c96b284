//! Exactly-once across real crashes with `WriteFiles`: a child process runs a durable pipeline
//! into sharded CSV files and is killed (SIGKILL: no destructor, no flush, no last checkpoint)
//! as soon as it has published more than it found (read from the output, not a timer), then
//! restarted on the same state and output directories until a run completes. Every record must
//! be published exactly once, every published file whole (its header first), and no staged
//! file left.
//!
//! `SDF_WRITE_CRASH_ROUNDS` sets the number of kills (default 4), e.g.
//! `SDF_WRITE_CRASH_ROUNDS=200 cargo test -p sdf-connectors --test write_crash -- --nocapture`.

mod write_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use sdf_connectors::{Csv, WriteFiles};
use sdf_runtime::{DirectoryStore, Executor, Pipeline};
use write_support::*;

const KEYS: i64 = 4;
const PER_KEY: i64 = 2_000;

/// The child: runs the pipeline to completion on the state in `dir`.
fn run_child(dir: &Path) {
    let (inputs, _) = inputs(KEYS, PER_KEY);
    let mut p = Pipeline::new();
    let source = p.from_iter("inputs", inputs);
    let counted = p.apply(
        "count",
        source,
        SlowCount {
            spin: Duration::from_micros(100),
        },
    );
    let sink = WriteFiles::builder(dir.join("out"), Csv::with_header(["key", "n"]))
        .shards(3)
        .prefix("counts/part-")
        .build()
        .unwrap();
    p.sink("files", counted, sink);
    let store = Arc::new(DirectoryStore::new(dir.join("state")).unwrap());
    Executor::builder()
        .workers(2)
        .max_outputs_per_call(500)
        .checkpoint_store(store)
        .checkpoint_interval(Duration::from_millis(40))
        .build()
        .run_blocking(p)
        .unwrap();
}

#[test]
#[ignore = "the child process of killed_pipelines_publish_each_record_once"]
fn write_crash_child() {
    if let Ok(dir) = std::env::var("SDF_WRITE_CRASH_DIR") {
        run_child(Path::new(&dir));
    }
}

fn spawn_child(dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "write_crash_child",
            "--test-threads=1",
        ])
        .env("SDF_WRITE_CRASH_DIR", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn killed_pipelines_publish_each_record_once() {
    let rounds: u64 = std::env::var("SDF_WRITE_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(4);
    let dir = TempDir::new("write-crash");
    // Each run is killed as soon as it has published more than it found (decided from what
    // the pipeline did, not from a timer); a kill landed if the output is incomplete after it.
    let total = (KEYS * PER_KEY) as usize;
    let out = dir.join("out");
    let count = || {
        if out.exists() {
            published_lines(&out, Some("key,n")).len()
        } else {
            0
        }
    };
    let mut killed = 0;
    for _ in 0..rounds * 20 {
        if killed == rounds {
            break;
        }
        let found = count();
        let mut child = spawn_child(&dir.0);
        let finished = loop {
            if child.try_wait().unwrap().is_some() {
                break true;
            }
            if count() > found {
                break false;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        if finished {
            break;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        if count() < total {
            killed += 1;
        }
    }
    let saved = std::fs::read(dir.join("state").join("checkpoint.json"))
        .expect("no checkpoint was written");
    let saved: serde_json::Value = serde_json::from_slice(&saved).unwrap();
    assert!(saved["epoch"].as_u64().unwrap() > 1, "{saved}");
    let status = spawn_child(&dir.0).wait().unwrap();
    assert!(status.success(), "the last run failed: {status}");

    let out = dir.join("out");
    let (_, want) = inputs(KEYS, PER_KEY);
    assert_same_multiset(&published_lines(&out, Some("key,n")), &want);
    assert_eq!(staged(&out), 0, "a staged file was left behind");
    for name in published_files(&out) {
        assert!(
            name.starts_with("counts/part-") && name.ends_with(".csv"),
            "{name}"
        );
    }
    assert!(
        killed > 0,
        "no run was killed mid-way: the test proved nothing"
    );
}
