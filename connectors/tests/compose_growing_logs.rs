//! "New records in new log files in a directory": continuous matching composed with tailing, on
//! the runtime, while files are created, appended to and rotated. Every line arrives once.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use sdf_connectors::{MatchAll, TailFile, Termination};
use sdf_runtime::{Executor, Pipeline};

fn append(path: &Path, lines: &[String]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for line in lines {
        writeln!(f, "{line}").unwrap();
    }
    f.sync_all().unwrap();
}

fn lines(prefix: &str, range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("{prefix} line {i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_of_growing_rotating_logs_is_read_exactly_once() {
    let dir = std::env::temp_dir().join(format!("sdf-compose-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let app = dir.join("app.log");
    let db = dir.join("db.log");
    append(&app, &lines("app-a", 0..3));

    let mut p = Pipeline::new();
    let patterns = p.from_iter("patterns", vec![format!("{}/*.log", dir.display())]);
    let files = p.apply(
        "watch",
        patterns,
        MatchAll::new().continuously(Duration::from_millis(20), Termination::Never),
    );
    let tailed = p.apply(
        "tail",
        files,
        TailFile::new().poll_delay(Duration::from_millis(10)),
    );
    let out = p.collect("lines", tailed);
    let handle = Executor::builder().workers(2).build().run(p);

    let mut want: Vec<String> = lines("app-a", 0..3);
    let wait_for = |n: usize| {
        let out = out.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            while out.len() < n {
                assert!(
                    Instant::now() < deadline,
                    "only {} of {n} lines arrived",
                    out.len()
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    wait_for(want.len()).await;

    // Growth of a file being tailed.
    append(&app, &lines("app-a", 3..10));
    want.extend(lines("app-a", 3..10));
    // A new file in the directory.
    append(&db, &lines("db", 0..5));
    want.extend(lines("db", 0..5));
    wait_for(want.len()).await;

    // Rotation: the file is renamed out of the pattern and a new one takes its name. Lines
    // written to the old file just before the rename are still read.
    append(&app, &lines("app-a", 10..12));
    want.extend(lines("app-a", 10..12));
    fs::rename(&app, dir.join("app.log.1")).unwrap();
    append(&app, &lines("app-b", 0..4));
    want.extend(lines("app-b", 0..4));
    append(&db, &lines("db", 5..8));
    want.extend(lines("db", 5..8));
    wait_for(want.len()).await;

    handle.drain();
    handle.wait().await.unwrap();

    let mut got: HashMap<String, usize> = HashMap::new();
    for line in out.values() {
        *got.entry(line.line).or_default() += 1;
    }
    let mut expected: HashMap<String, usize> = HashMap::new();
    for line in want {
        *expected.entry(line).or_default() += 1;
    }
    assert_eq!(got, expected, "every line exactly once");
    fs::remove_dir_all(&dir).unwrap();
}
