//! `ContinuousMatch` through the conformance kit, on the runtime with file-system
//! notifications, and with clean-up after the runtime's commits.

mod match_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use match_support::{TestDir, set_mtime};
use sdf_connectors::{FileMetadata, MatchAll, MatchFiles, Termination};
use sdf_core::testing::{
    ConcurrentOptions, check_concurrent_splits_with, check_sdf_exhaustive, run_to_completion,
};
use sdf_runtime::{Collected, Executor, MemoryStore, Pipeline};

fn watched_tree() -> TestDir {
    let dir = TestDir::new("watch-kit");
    for (i, rel) in ["a.log", "b/c.log", "b/d.log", "e.log", "f/g/h.log"]
        .iter()
        .enumerate()
    {
        let path = dir.file(rel, rel);
        set_mtime(&path, 1_700_000_000 + i as i64);
    }
    dir
}

#[test]
fn a_terminating_watch_through_the_kit() {
    let dir = watched_tree();
    let pattern = dir.pattern("**/*.log");
    // Two files per poll, so that the watch takes several rounds; it stops after two idle polls.
    let watch = MatchAll::new()
        .continuously(
            Duration::from_millis(1),
            Termination::AfterPollsWithoutNewFile(2),
        )
        .max_files_per_poll(2)
        .notifications(false)
        // The kit does not wait out resume delays: with a settle time it would spin until the
        // files held still on the wall clock. These files are whole.
        .settle(Duration::ZERO);
    let files = run_to_completion(&watch, &pattern).unwrap();
    assert_eq!(files.len(), 5);
    let report = check_sdf_exhaustive(&watch, &pattern).unwrap();
    assert_eq!(report.records, 5);
    assert!(report.checkpoints > 0, "{report:?}");
    let concurrent = ConcurrentOptions::default().repetitions(20);
    check_concurrent_splits_with(&watch, &pattern, &concurrent).unwrap();
}

#[test]
fn an_archive_the_pattern_would_match_again_is_refused() {
    let dir = watched_tree();
    let watch = MatchAll::new()
        .continuously(
            Duration::from_millis(1),
            Termination::AfterPollsWithoutNewFile(1),
        )
        .notifications(false)
        .archive_after_commit(dir.path().join("done"));
    let e = run_to_completion(&watch, &dir.pattern("**/*.log"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("would put it where pattern"), "{e}");
    assert!(
        e.contains(&dir.path().join("done").display().to_string()),
        "{e}"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Waits up to 20 s for `out` to hold `n` records.
async fn until(out: &Collected<FileMetadata>, n: usize) {
    for _ in 0..4_000 {
        if out.len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{} records arrived, expected {n}", out.len());
}

/// A file written while the watch runs is emitted once, whole, when its writer closes it: never
/// while it is open and growing, even though polls list it meanwhile (the settle time is an
/// hour, so only the close can make it complete).
#[test]
fn a_file_is_emitted_when_its_writer_closes_it_not_before() {
    use std::io::Write;
    let dir = TestDir::new("watch-close");
    let incoming = dir.path().join("incoming");
    std::fs::create_dir_all(&incoming).unwrap();
    let mut p = Pipeline::new();
    let (sender, patterns) = p.channel_source::<String>("patterns");
    let watch = MatchAll::new()
        .continuously(Duration::from_millis(5), Termination::Never)
        .settle(Duration::from_secs(3600));
    let files = p.apply("watch", patterns, watch);
    let out = p.collect("out", files);
    let path = incoming.join("big.txt");
    let rt = runtime();
    rt.block_on(async {
        let handle = Executor::builder().workers(2).build().run(p);
        sender
            .send(format!("{}/*.txt", incoming.display()))
            .await
            .unwrap();
        let mut writer = std::fs::File::create(&path).unwrap();
        let mut markers = 0;
        for round in 0..3 {
            writer.write_all(&[b'x'; 1000]).unwrap();
            // A file renamed in is complete at once: once one is out, the watch has listed the
            // directory (and `big.txt`, open) after the write. (Markers renamed in before the
            // watcher started wait for the settle time: a new one follows until one is out.)
            let seen = out.len();
            while out.len() == seen {
                assert!(markers < 400, "no marker arrived in 20 s");
                let marker = dir.file(&format!("incoming/.m{markers}"), "m");
                std::fs::rename(&marker, incoming.join(format!("m{markers}.txt"))).unwrap();
                markers += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert!(
                out.values().iter().all(|f| f.path != path),
                "emitted while still being written (round {round})"
            );
        }
        writer.write_all(b"end\n").unwrap();
        drop(writer); // IN_CLOSE_WRITE
        for _ in 0..4_000 {
            if out.values().iter().any(|f| f.path == path) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(sender);
        handle.drain();
        handle.wait().await.unwrap();
    });
    let big: Vec<_> = out
        .values()
        .into_iter()
        .filter(|f| f.path == path)
        .collect();
    assert_eq!(big.len(), 1);
    assert_eq!(big[0].size, 3004, "listed whole");
}

#[test]
fn notifications_wake_a_watch_long_before_its_poll_interval() {
    let dir = TestDir::new("watch-notify");
    let incoming = dir.path().join("incoming");
    std::fs::create_dir_all(&incoming).unwrap();
    let mut p = Pipeline::new();
    let (sender, patterns) = p.channel_source::<String>("patterns");
    // A poll interval of an hour: only a notification can explain a file seen in seconds.
    let watch = MatchAll::new().continuously(Duration::from_secs(3600), Termination::Never);
    let files = p.apply("watch", patterns, watch);
    let out = p.collect("out", files);
    let executor = Executor::builder().workers(2).build();
    let rt = runtime();
    let latencies = rt.block_on(async {
        let handle = executor.run(p);
        sender
            .send(format!("{}/*.txt", incoming.display()))
            .await
            .unwrap();
        // The first poll lists the empty directory and starts the watcher.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut latencies = Vec::new();
        for i in 0..20 {
            // Written under a hidden name, then renamed into place: the atomic way to publish.
            let tmp = dir.file(&format!("incoming/.{i}.tmp"), "data");
            let start = Instant::now();
            std::fs::rename(&tmp, incoming.join(format!("{i}.txt"))).unwrap();
            until(&out, i + 1).await;
            latencies.push(start.elapsed());
        }
        drop(sender);
        handle.drain();
        handle.wait().await.unwrap();
        latencies
    });
    let mut names: Vec<String> = out
        .values()
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort_by_key(|n| n.trim_end_matches(".txt").parse::<u32>().unwrap());
    let expected: Vec<String> = (0..20).map(|i| format!("{i}.txt")).collect();
    assert_eq!(names, expected, "each file once");
    let mut sorted = latencies.clone();
    sorted.sort();
    // Informative only (speed belongs to benchmarks): rename to the sink, through the runtime.
    eprintln!(
        "notified watch latency over {} files: p50 {:?}, max {:?}",
        sorted.len(),
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1]
    );
}

#[test]
fn without_notifications_a_watch_polls_at_its_interval() {
    let dir = TestDir::new("watch-poll");
    let mut p = Pipeline::new();
    let (sender, patterns) = p.channel_source::<String>("patterns");
    let watch = MatchAll::new()
        .continuously(Duration::from_millis(30), Termination::Never)
        .notifications(false);
    let files = p.apply("watch", patterns, watch);
    let out = p.collect("out", files);
    let executor = Executor::builder().workers(2).build();
    runtime().block_on(async {
        let handle = executor.run(p);
        sender.send(dir.pattern("*.txt")).await.unwrap();
        for i in 0..3 {
            dir.file(&format!("{i}.txt"), "x");
            until(&out, i + 1).await;
        }
        drop(sender);
        handle.drain();
        handle.wait().await.unwrap();
    });
    assert_eq!(out.len(), 3, "each file once");
}

#[test]
fn files_are_deleted_after_the_runtime_commits_them() {
    let dir = watched_tree();
    let mut p = Pipeline::new();
    let files = MatchFiles::new([dir.pattern("**/*.log")])
        .continuously(
            Duration::from_millis(20),
            Termination::AfterPollsWithoutNewFile(3),
        )
        .configure(|w| w.delete_after_commit())
        .apply(&mut p, "watch");
    let out = p.collect("out", files);
    let executor = Executor::builder()
        .workers(2)
        .checkpoint_store(Arc::new(MemoryStore::default()))
        .checkpoint_interval(Duration::from_millis(50))
        .build();
    executor.run_blocking(p).unwrap();
    assert_eq!(out.len(), 5);
    for file in out.values() {
        assert!(
            !file.path.exists(),
            "{} was not deleted",
            file.path.display()
        );
    }
    assert_eq!(out.watermark(), sdf_core::Timestamp::MAX);
}
