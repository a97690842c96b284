//! Watch latency, for the end-to-end benchmark (`benches/e2e/run.py`): the time from a file's
//! atomic rename into a watched directory to its first record at the sink of a pipeline
//! `MatchAll::continuously` → `ReadText` → sink, on the runtime with 2 workers.
//!
//! ```text
//! watch_latency --files 200 --notify            # file-system notifications (1 h poll)
//! watch_latency --files 100 --poll-ms 100       # polling only, every 100 ms
//! ```
//!
//! Each file is written under a hidden name (which the pattern does not match), then renamed
//! into place; the clock starts just before the rename. The sink stamps the arrival of each
//! file's record. Files are published one at a time, a random 5–25 ms after the previous one
//! arrived, so that polls and notifications meet files at every phase. Prints one JSON object:
//! `files`, `p50_ms`, `p99_ms`, `max_ms`, and checks each file arrived exactly once.

use std::collections::HashMap;
use std::path::PathBuf;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use sdf_connectors::{MatchAll, ReadText, Termination};
use sdf_core::Timestamped;
use sdf_runtime::{Executor, Pipeline, Sink};
use tokio::sync::mpsc;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Sends the arrival time of each record (`"file <i>"`) to the bench.
struct Arrivals(mpsc::UnboundedSender<(u64, Instant)>);

#[async_trait]
impl Sink<String> for Arrivals {
    type Commit = ();

    async fn write(&mut self, batch: Vec<Timestamped<String>>) -> sdf_core::Result<()> {
        let now = Instant::now();
        for record in batch {
            let index = record
                .value
                .strip_prefix("file ")
                .and_then(|i| i.parse().ok())
                .ok_or_else(|| {
                    sdf_core::Error::user("watch_latency", format!("stray {:?}", record.value))
                })?;
            // The bench may have stopped listening after its last file: nothing to report then.
            let _ = self.0.send((index, now));
        }
        Ok(())
    }
    async fn prepare(&mut self, _: u64) -> sdf_core::Result<()> {
        Ok(())
    }
    async fn commit(&mut self, _: u64, _: ()) -> sdf_core::Result<()> {
        Ok(())
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("watch_latency: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let usage = "usage: watch_latency --files N (--notify | --poll-ms MS) [--dir DIR]";
    let mut files = 100u64;
    let mut poll: Option<Duration> = None;
    let mut notify = false;
    let mut dir = std::env::temp_dir().join(format!("sdf-watch-latency-{}", std::process::id()));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--files" => files = args.next().and_then(|n| n.parse().ok()).ok_or(usage)?,
            "--notify" => notify = true,
            "--poll-ms" => {
                let ms: u64 = args.next().and_then(|n| n.parse().ok()).ok_or(usage)?;
                poll = Some(Duration::from_millis(ms));
            }
            "--dir" => dir = PathBuf::from(args.next().ok_or(usage)?),
            _ => return Err(usage.into()),
        }
    }
    if notify == poll.is_some() || files == 0 {
        return Err(usage.into());
    }
    let incoming = dir.join("incoming");
    std::fs::create_dir_all(&incoming)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(measure(&incoming, files, notify, poll));
    std::fs::remove_dir_all(&dir)?;
    let mut latencies = result?;
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| {
        latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    println!(
        "{{\"files\": {}, \"p50_ms\": {:.2}, \"p99_ms\": {:.2}, \"max_ms\": {:.2}}}",
        latencies.len(),
        ms(at(0.5)),
        ms(at(0.99)),
        ms(latencies[latencies.len() - 1])
    );
    Ok(())
}

async fn measure(
    incoming: &std::path::Path,
    files: u64,
    notify: bool,
    poll: Option<Duration>,
) -> Result<Vec<Duration>, Error> {
    let mut p = Pipeline::new();
    let (patterns, source) = p.channel_source::<String>("patterns");
    // With notifications, a poll interval of an hour: only a notification explains a file seen
    // within milliseconds.
    let interval = poll.unwrap_or(Duration::from_secs(3600));
    // Polled files are taken as complete at once (`settle` 0), as `sdf watch --settle 0` does:
    // the figure is the poll's latency for writers that rename whole files into place. With the
    // default settle time, a polled file waits that long before it is read; a notified rename
    // is read at once either way.
    let watch = MatchAll::new()
        .continuously(interval, Termination::Never)
        .notifications(notify)
        .settle(if notify {
            sdf_connectors::DEFAULT_SETTLE
        } else {
            Duration::ZERO
        });
    let found = p.apply("watch", source, watch);
    let lines = p.apply("read", found, ReadText::new());
    let (arrivals, mut arrived) = mpsc::unbounded_channel();
    p.sink("arrivals", lines, Arrivals(arrivals));
    let handle = Executor::builder().workers(2).build().run(p);
    patterns
        .send(format!("{}/*.txt", incoming.display()))
        .await
        .map_err(|_| "the pipeline stopped before its pattern was sent")?;
    // The first poll lists the empty directory (and starts the watcher).
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut seen: HashMap<u64, Instant> = HashMap::new();
    let mut latencies = Vec::with_capacity(files as usize);
    let mut jitter = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..files {
        let hidden = incoming.join(format!(".{i}.tmp"));
        std::fs::write(&hidden, format!("file {i}\n"))?;
        let start = Instant::now();
        std::fs::rename(&hidden, incoming.join(format!("{i}.txt")))?;
        let deadline = start + interval + Duration::from_secs(10);
        while !seen.contains_key(&i) {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, arrived.recv()).await {
                Ok(Some((index, at))) => {
                    if seen.insert(index, at).is_some() {
                        return Err(format!("file {index} arrived twice").into());
                    }
                }
                Ok(None) => return Err("the pipeline stopped".into()),
                Err(_) => return Err(format!("file {i} did not arrive within {left:?}").into()),
            }
        }
        latencies.push(seen[&i] - start);
        // xorshift: a pause of 5–25 ms, the same sequence every run.
        jitter ^= jitter << 13;
        jitter ^= jitter >> 7;
        jitter ^= jitter << 17;
        tokio::time::sleep(Duration::from_millis(5 + jitter % 21)).await;
    }
    drop(patterns);
    handle.drain();
    handle.wait().await?;
    while let Ok((index, _)) = arrived.try_recv() {
        if seen.insert(index, Instant::now()).is_some() {
            return Err(format!("file {index} arrived twice").into());
        }
    }
    if seen.len() as u64 != files {
        return Err(format!("{} files arrived, {files} published", seen.len()).into());
    }
    Ok(latencies)
}
