//! Tailing into the exactly-once file sink, stopped abruptly and restarted on the same state:
//! what `sdf watch` does. The tail's position (and its file's identity) comes back from the
//! checkpoint, the sink discards what was not durable, and each line is published once,
//! including lines appended while the pipeline was down.

mod tail_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sdf_connectors::{FileMetadata, Json, TailFile, TailLine, WriteFiles};
use sdf_runtime::{DirectoryStore, Executor, Pipeline, PipelineHandle, SourceSender};
use tail_support::*;

fn start(dir: &Path) -> (SourceSender<FileMetadata>, PipelineHandle) {
    let mut p = Pipeline::new();
    let (files, source) = p.channel_source::<FileMetadata>("files");
    let lines = p.apply(
        "tail",
        source,
        TailFile::new().poll_delay(Duration::from_millis(5)),
    );
    let sink = WriteFiles::builder(dir.join("out"), Json::lines())
        .shards(2)
        .build()
        .unwrap();
    p.sink("out", lines, sink);
    let store = Arc::new(DirectoryStore::new(dir.join("state")).unwrap());
    let handle = Executor::builder()
        .workers(2)
        .checkpoint_store(store)
        .checkpoint_interval(Duration::from_millis(20))
        .build()
        .run(p);
    (files, handle)
}

/// Every line published so far.
fn published(out: &Path) -> Vec<TailLine> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_file() {
            let text = std::fs::read_to_string(&path).unwrap();
            lines.extend(
                text.lines()
                    .map(|l| serde_json::from_str::<TailLine>(l).unwrap()),
            );
        }
    }
    lines
}

async fn until_published(out: &Path, n: usize) {
    for _ in 0..6_000 {
        if published(out).len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("only {} of {n} lines were published", published(out).len());
}

fn write_lines(path: &Path, range: std::ops::Range<u32>) {
    let text: String = range.map(|i| format!("event {i}\n")).collect();
    append(path, &text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tail_stopped_abruptly_resumes_from_its_checkpoint_exactly_once() {
    let dir = TempDir::new("tail-ingest");
    let log = dir.join("app.log");
    let out = dir.join("out");
    write_lines(&log, 0..100);

    let (files, handle) = start(&dir.0);
    files.send(metadata(&log)).await.unwrap();
    until_published(&out, 100).await;
    write_lines(&log, 100..150);
    tokio::time::sleep(Duration::from_millis(15)).await;
    handle.cancel(); // no last checkpoint, no drain: as a crash would leave it
    let _ = handle.wait().await;
    drop(files);

    write_lines(&log, 150..200); // while the pipeline is down
    let (files, handle) = start(&dir.0); // nothing is sent: the tail comes from the checkpoint
    until_published(&out, 200).await;
    handle.drain();
    handle.wait().await.unwrap();
    drop(files);

    let mut got: Vec<(u64, String)> = published(&out)
        .into_iter()
        .map(|l| (l.offset, l.line))
        .collect();
    got.sort();
    let mut offset = 0;
    let want: Vec<(u64, String)> = (0..200)
        .map(|i| {
            let line = format!("event {i}");
            let at = offset;
            offset += line.len() as u64 + 1;
            (at, line)
        })
        .collect();
    assert_eq!(got, want, "each line published once");
}
