//! Exactly-once output across `kill -9`.
//!
//! The example runs itself as a child process: a durable pipeline (a checkpoint every 100 ms in
//! a state directory) counts six keys into `WriteFiles`, an exactly-once file sink. The parent
//! kills the child with SIGKILL (no clean shutdown) a few times, each time as soon as the
//! child has published more records than it found, starts it again on the same state
//! directory, lets the last run finish, and checks the output: every record exactly once. See
//! `docs/checkpoints.md` for why.
//!
//! Where to kill is decided from what the pipeline has done (its published output), never from
//! a timer: a kill "lands" when the output is still incomplete after it, and the parent goes
//! on until the kills it wants have landed.
//!
//! ```text
//! cargo run --example exactly_once_ingest
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use sdf_connectors::{Text, WriteFiles};
use sdf_core::testing::CountFn;
use sdf_runtime::{DirectoryStore, Executor, Pipeline};

const CHILD: &str = "SDF_INGEST_CHILD";
const KEYS: i64 = 6;
const PER_KEY: i64 = 25_000;

/// The child: runs the pipeline to the end (unless killed) on the state in `dir`.
fn child(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut p = Pipeline::new();
    let inputs = p.from_iter(
        "inputs",
        (0..KEYS)
            .map(|k| (format!("k{k}"), PER_KEY))
            .collect::<Vec<_>>(),
    );
    let counted = p.apply("count", inputs, CountFn);
    let lines = p.apply(
        "format",
        counted,
        sdf_core::map(|(k, i): &(String, i64)| format!("{k},{i}")),
    );
    p.sink(
        "out",
        lines,
        WriteFiles::builder(dir.join("out"), Text::new()).build::<String>()?,
    );
    Executor::builder()
        .workers(2)
        .max_outputs_per_call(2_000)
        .checkpoint_store(Arc::new(DirectoryStore::new(dir.join("state"))?))
        .checkpoint_interval(Duration::from_millis(100))
        .build()
        .run_blocking(p)?;
    Ok(())
}

/// Starts the child on `dir`, as this same program (or, under `cargo test`, this test binary).
fn spawn(dir: &Path) -> std::process::Child {
    let mut command = Command::new(std::env::current_exe().expect("the running program"));
    if cfg!(test) {
        command.args(["--ignored", "--exact", "tests::child", "--test-threads=1"]);
    }
    command
        .env(CHILD, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child")
}

/// Kills the child until `kills` kills have landed (the output incomplete after the kill),
/// each as soon as the child has published more than it found; then lets it finish. Returns
/// (records published, distinct records, kills that landed).
fn demo(dir: &Path, kills: u32) -> (usize, usize, u32) {
    let total = (KEYS * PER_KEY) as usize;
    let mut landed = 0;
    for _ in 0..kills * 20 {
        if landed == kills {
            break;
        }
        let found = published(dir).0;
        let mut running = spawn(dir);
        let finished = loop {
            if running.try_wait().unwrap().is_some() {
                break true;
            }
            if published(dir).0 > found {
                break false;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        if finished {
            break;
        }
        running.kill().unwrap(); // SIGKILL
        running.wait().unwrap();
        if published(dir).0 < total {
            landed += 1;
        }
    }
    let status = spawn(dir).wait().unwrap();
    assert!(status.success(), "the last run failed");
    let (published, distinct) = published(dir);
    (published, distinct, landed)
}

/// Lines published under `dir/out`, and how many are distinct.
fn published(dir: &Path) -> (usize, usize) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for entry in std::fs::read_dir(dir.join("out")).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_file() {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                *seen.entry(line.to_string()).or_default() += 1;
            }
        }
    }
    (seen.values().sum(), seen.len())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sdf-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Some(dir) = std::env::var_os(CHILD) {
        return child(Path::new(&dir));
    }
    let dir = scratch("exactly-once-ingest");
    let (published, distinct, hits) = demo(&dir, 4);
    std::fs::remove_dir_all(&dir)?;
    println!(
        "{} records expected; killed the pipeline {hits} times mid-run; published {published} lines, {distinct} distinct: {}",
        KEYS * PER_KEY,
        if published == distinct && distinct as i64 == KEYS * PER_KEY {
            "exactly once"
        } else {
            "WRONG"
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[ignore = "the child process of killed_runs_publish_every_record_once"]
    fn child() {
        if let Some(dir) = std::env::var_os(CHILD) {
            super::child(Path::new(&dir)).unwrap();
        }
    }

    #[test]
    fn killed_runs_publish_every_record_once() {
        let dir = scratch("exactly-once-ingest-test");
        let (published, distinct, hits) = demo(&dir, 2);
        // Kept on failure, for a look at what the runs left.
        let at = dir.display();
        assert_eq!(hits, 2, "kills that landed while the pipeline ran ({at})");
        assert_eq!(distinct as i64, KEYS * PER_KEY, "records lost ({at})");
        assert_eq!(published, distinct, "records duplicated ({at})");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
