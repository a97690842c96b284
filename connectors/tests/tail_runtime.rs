//! `TailFile` in running pipelines: files given through a channel while they are written to,
//! rotated and left with an incomplete last line; `drain` ends the unbounded pipeline.
//!
//! Real time: the writers are other threads appending to real files. Waits are bounded and
//! assert what arrived, never how fast.

mod tail_support;

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use sdf_connectors::{FileMetadata, TailFile, TailLine};
use sdf_runtime::{Collected, Executor, Pipeline, PipelineHandle, SourceSender};
use tail_support::*;

fn start() -> (
    SourceSender<FileMetadata>,
    Collected<TailLine>,
    PipelineHandle,
) {
    let mut p = Pipeline::new();
    let (files, source) = p.channel_source::<FileMetadata>("files");
    let tail = TailFile::new().poll_delay(Duration::from_millis(5));
    let lines = p.apply("tail", source, tail);
    let out = p.collect("out", lines);
    let handle = Executor::builder().workers(2).build().run(p);
    (files, out, handle)
}

/// Waits (at most 60 s) until `out` holds `n` records.
async fn until_collected(out: &Collected<TailLine>, n: usize) {
    for _ in 0..6_000 {
        if out.len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("only {} of {n} lines arrived", out.len());
}

/// Every line exactly once: no `(path, generation, offset)` twice, and the texts expected.
fn assert_each_once(got: &[TailLine], want: &[String]) {
    let keys: HashSet<_> = got
        .iter()
        .map(|l| (l.path.clone(), l.generation, l.offset))
        .collect();
    assert_eq!(keys.len(), got.len(), "a line was emitted twice");
    let mut texts: Vec<&str> = got.iter().map(|l| l.line.as_str()).collect();
    let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
    texts.sort_unstable();
    want.sort_unstable();
    assert_eq!(texts, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_appended_to_while_the_pipeline_runs_are_read_once() {
    let dir = TempDir::new("tail-rt-growth");
    let (files, out, handle) = start();
    let paths: Vec<PathBuf> = (0..3).map(|i| dir.join(&format!("f{i}.log"))).collect();
    for path in &paths {
        fs::write(path, "").unwrap();
        files.send(metadata(path)).await.unwrap();
    }
    let writer = {
        let paths = paths.clone();
        std::thread::spawn(move || {
            for i in 0..60 {
                for path in &paths {
                    append(path, &format!("{} line {i}\n", path.display()));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    writer.join().unwrap();
    until_collected(&out, 180).await;
    handle.drain();
    handle.wait().await.unwrap();
    let want: Vec<String> = (0..60)
        .flat_map(|i| {
            paths
                .iter()
                .map(move |p| format!("{} line {i}", p.display()))
        })
        .collect();
    assert_each_once(&out.values(), &want);
    drop(files);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_rotated_while_the_pipeline_runs_is_followed_into_the_new_file() {
    let dir = TempDir::new("tail-rt-rotate");
    let log = dir.join("app.log");
    let (files, out, handle) = start();
    let mut want = Vec::new();
    for i in 0..20 {
        append(&log, &format!("old {i}\n"));
        want.push(format!("old {i}"));
    }
    files.send(metadata(&log)).await.unwrap();
    until_collected(&out, 10).await;
    // logrotate's `create`: rename, late writes to the old file, a new file under the name.
    fs::rename(&log, dir.join("app.log.1")).unwrap();
    append(&dir.join("app.log.1"), "late\n");
    want.push("late".into());
    for i in 0..20 {
        append(&log, &format!("new {i}\n"));
        want.push(format!("new {i}"));
    }
    until_collected(&out, want.len()).await;
    handle.drain();
    handle.wait().await.unwrap();
    let got = out.values();
    assert_each_once(&got, &want);
    for line in &got {
        let generation = if line.line.starts_with("new") { 1 } else { 0 };
        assert_eq!(line.generation, generation, "{line:?}");
    }
    drop(files);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_reads_to_the_end_including_an_incomplete_last_line() {
    let dir = TempDir::new("tail-rt-drain");
    let log = dir.join("app.log");
    fs::write(&log, "complete\nincomplete").unwrap();
    let (files, out, handle) = start();
    files.send(metadata(&log)).await.unwrap();
    until_collected(&out, 1).await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(
        out.len(),
        1,
        "the incomplete line waits while the file may grow"
    );
    handle.drain();
    handle.wait().await.unwrap();
    let lines: Vec<String> = out.values().into_iter().map(|l| l.line).collect();
    assert_eq!(lines, ["complete", "incomplete"]);
    drop(files);
}
