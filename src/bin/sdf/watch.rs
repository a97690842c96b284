//! `sdf watch`: streaming, exactly-once ingest of a growing set of files.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clap::{Args, ValueEnum};
use sdf_connectors::read::{OnChange, ReadJsonValues};
use sdf_connectors::{
    Csv, FileFormat, FileMetadata, Json, MatchAll, Pattern, ReadAvro, ReadCsv, ReadText,
    Termination, Text, WriteCommit, WriteFiles,
};
use sdf_core::{SplittableDoFn, Timestamp, Timestamped};
use sdf_runtime::{
    DeadLetter, DirectoryStore, Executor, MetricsHandle, PCollection, Pipeline, Sink,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::exit::{Code, Fatal};
use crate::report::{find, human};
use crate::{Format, parse_duration};

#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// File patterns to watch, quoted (e.g. 'inbox/*.jsonl').
    #[arg(required = true, value_name = "PATTERN")]
    patterns: Vec<String>,
    /// Where the records go: files appear there whole, once each checkpoint commits.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Where the pipeline keeps its checkpoint (and a lock: one watch per --state). Run again
    /// with the same --state to resume.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// How often the patterns are listed again; new files in local directories are noticed
    /// within milliseconds through file-system notifications anyway.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    poll: Duration,
    /// How long a file's size and modification time must hold still before it is read, when
    /// no notification says it is complete (renamed into place, or closed after writing).
    /// 0 reads every file as soon as it is listed.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    settle: Duration,
    /// How the files' records are framed.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// What a file that cannot be read (bad bytes, bad JSON, corrupt compression, no
    /// permission) does: `fail` stops the watch, `dead-letter` lists it in --dead-letter and
    /// goes on. Either way the file is set aside: a restart goes on without it [default:
    /// dead-letter with --dead-letter, fail without].
    #[arg(long, value_enum)]
    on_error: Option<OnError>,
    /// Where files that cannot be read are listed (JSON lines: the file, the error, the byte
    /// range not ingested), exactly once, as output is [default: --state's failed/].
    #[arg(long, value_name = "DIR")]
    dead_letter: Option<PathBuf>,
    /// Start over: forget the checkpoint in --state (every file is read again, so use an
    /// empty --out).
    #[arg(long)]
    reset_state: bool,
    /// How often a checkpoint is taken (and output committed).
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    checkpoint: Duration,
    /// How often a status line is printed on stderr (0 for never).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    status: Duration,
    /// Parallel workers [default: the number of cores].
    #[arg(long)]
    workers: Option<usize>,
}

/// What a file that cannot be read does to the watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OnError {
    /// Stop the watch (the file is set aside: a restart goes on without it).
    Fail,
    /// List the file in --dead-letter and go on.
    DeadLetter,
}

impl WatchArgs {
    fn on_error(&self) -> OnError {
        self.on_error.unwrap_or(if self.dead_letter.is_some() {
            OnError::DeadLetter
        } else {
            OnError::Fail
        })
    }

    /// Where failed files are listed.
    fn failed_dir(&self) -> PathBuf {
        self.dead_letter
            .clone()
            .unwrap_or_else(|| self.state.join("failed"))
    }

    /// What makes a checkpoint this job's: resuming it for other patterns, another format or
    /// another output would read the wrong files or publish into the wrong place.
    fn identity(&self) -> serde_json::Value {
        let absolute = |p: &Path| {
            std::path::absolute(p)
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        };
        serde_json::json!({
            "command": "watch",
            "patterns": self.patterns,
            "format": format!("{:?}", self.format).to_lowercase(),
            "out": absolute(&self.out),
            "failed": absolute(&self.failed_dir()),
        })
    }
}

/// One failed file, as the watch reports it.
struct SetAside {
    path: PathBuf,
    error: String,
}

pub(crate) async fn run(args: WatchArgs) -> Result<(), Box<dyn Error>> {
    // Listen for the stop signals before anything starts, so that none is lost.
    let signal = stop_signal()?;
    tokio::pin!(signal);
    if args.on_error == Some(OnError::DeadLetter) && args.dead_letter.is_none() {
        return Err(Fatal::boxed(
            Code::Usage,
            "--on-error dead-letter needs --dead-letter DIR: where to list the files set aside",
        ));
    }
    refuse_feeding_on_itself(&args)?;
    let store = DirectoryStore::new(&args.state)?;
    if args.reset_state {
        let removed = store.clear()?;
        eprintln!(
            "sdf: --reset-state: {} checkpoint(s) removed from {}; every file is read again",
            removed,
            args.state.display()
        );
    }
    let (failures, mut failed) = mpsc::unbounded_channel();
    let mut p = Pipeline::new();
    let patterns = p.from_iter("patterns", args.patterns.clone());
    let files = p.apply(
        "watch",
        patterns,
        MatchAll::new()
            .continuously(args.poll, Termination::Never)
            .settle(args.settle),
    );
    // A watched file is read as it was listed: bytes appended later are not part of it.
    match args.format {
        Format::Text => {
            let read = ReadText::new().on_change(OnChange::ReadListed);
            wire(&mut p, files, read, &args, Text::new(), failures)?;
        }
        Format::Csv => {
            let read = ReadCsv::<Vec<String>>::new().on_change(OnChange::ReadListed);
            wire(&mut p, files, read, &args, Csv::new(), failures)?;
        }
        Format::Jsonl => {
            let read = ReadJsonValues::new().on_change(OnChange::ReadListed);
            wire(&mut p, files, read, &args, Json::lines(), failures)?;
        }
        #[cfg(feature = "parquet")]
        Format::Parquet => {
            let read = sdf_connectors::ReadParquet::new();
            let parquet = sdf_connectors::Parquet::new();
            wire(&mut p, files, read, &args, parquet, failures)?;
        }
        Format::Avro => {
            let read = ReadAvro::json().on_change(OnChange::ReadListed);
            wire(&mut p, files, read, &args, Json::lines(), failures)?;
        }
    }
    let mut builder = Executor::builder()
        .checkpoint_store(Arc::new(store))
        .checkpoint_identity(args.identity())
        .checkpoint_interval(args.checkpoint);
    if let Some(workers) = args.workers {
        builder = builder.workers(workers);
    }
    let mut handle = builder.build().run(p);
    let metrics = handle.metrics_handle();
    let status = (!args.status.is_zero()).then(|| tokio::spawn(status_lines(metrics, args.status)));
    let fail_on_error = args.on_error() == OnError::Fail;
    let outcome = loop {
        tokio::select! {
            // A watch never ends by itself: this is a failure.
            result = handle.completion() => break Some(result),
            _ = &mut signal => break None,
            Some(file) = failed.recv() => {
                if fail_on_error {
                    // Stop with the checkpoint that sets the file aside: a restart goes on
                    // without it.
                    handle.stop();
                    handle.completion().await?;
                    return Err(Fatal::boxed(Code::BadData, format!(
                        "stopped: {} cannot be read: {}. It is set aside (listed in {}): the \
                         watch goes on without it when run again. To ingest it, fix it and put \
                         it back under a new name; to list such files and go on, run with \
                         --dead-letter DIR",
                        file.path.display(),
                        file.error,
                        args.failed_dir().display()
                    )));
                }
                eprintln!(
                    "sdf: {} cannot be read, listed in {}: {}",
                    file.path.display(),
                    args.failed_dir().display(),
                    file.error
                );
            }
        }
    };
    if let Some(task) = status {
        task.abort();
    }
    if let Some(result) = outcome {
        result?;
        // The watch's work is unbounded: a pipeline that completes lost it somewhere.
        return Err(Fatal::boxed(
            Code::Failed,
            format!(
                "the watch ended by itself, which it never should (its state in {} says it is \
                 complete): please report it",
                args.state.display()
            ),
        ));
    }
    eprintln!(
        "sdf: stopping: saving a checkpoint in {} (run again to resume)",
        args.state.display()
    );
    handle.stop();
    handle.wait().await?;
    Ok(())
}

/// Refuses an --out, --state or --dead-letter directory whose files the patterns would match:
/// the watch would read its own output (or state) and feed on itself.
fn refuse_feeding_on_itself(args: &WatchArgs) -> Result<(), Box<dyn Error>> {
    let suffix = match args.format {
        Format::Text => ".txt",
        Format::Csv => ".csv",
        Format::Jsonl | Format::Avro => ".jsonl",
        #[cfg(feature = "parquet")]
        Format::Parquet => ".parquet",
    };
    let out_files = [
        format!("part-000001-000{suffix}"),
        ".sdf-staging/part-1-1-00000001.tmp".into(),
    ];
    let state_files = [
        DirectoryStore::FILE,
        DirectoryStore::PREVIOUS,
        DirectoryStore::LOCK,
        "checkpoint.json.tmp",
    ];
    let failed_files = ["part-000001-000.jsonl"];
    let places = [
        ("--out", args.out.clone(), &out_files[..]),
        (
            "--state",
            args.state.clone(),
            &state_files.map(String::from)[..],
        ),
        (
            "--dead-letter",
            args.failed_dir(),
            &failed_files.map(String::from)[..],
        ),
    ];
    for text in &args.patterns {
        let pattern = Pattern::parse(text)?;
        for (flag, dir, names) in &places {
            if let Some(name) = names.iter().find(|n| pattern.is_match(&dir.join(n))) {
                return Err(Fatal::boxed(
                    Code::Usage,
                    format!(
                        "the pattern '{text}' matches {} (in {flag} {}): the watch would read \
                         its own files. Put {flag} outside what the patterns match",
                        dir.join(name).display(),
                        dir.display()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Installs the handlers of Ctrl-C (SIGINT) and SIGTERM now; the future resolves on either.
#[cfg(unix)]
pub(crate) fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Installs the handler of Ctrl-C now; the future resolves on it.
#[cfg(not(unix))]
pub(crate) fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Reads `files` with `read` into --out with `format`; files that cannot be read go to the
/// failed-files sink, which tells `failures`.
fn wire<R, F>(
    p: &mut Pipeline,
    files: PCollection<FileMetadata>,
    read: R,
    args: &WatchArgs,
    format: F,
    failures: mpsc::UnboundedSender<SetAside>,
) -> Result<(), Box<dyn Error>>
where
    R: SplittableDoFn<Input = FileMetadata>,
    R::Restriction: Serialize + DeserializeOwned,
    F: FileFormat<R::Output>,
{
    let (records, letters) = p.apply_with_dead_letters("read", files, read);
    let sink = WriteFiles::builder(&args.out, format).build::<R::Output>()?;
    p.sink("out", records, sink);
    let listed = WriteFiles::builder(args.failed_dir(), Json::lines())
        .build::<DeadLetter<FileMetadata, R::Restriction>>()?;
    p.sink(
        "failed",
        letters,
        Failed {
            inner: listed,
            failures,
        },
    );
    Ok(())
}

/// The failed-files sink: the dead letters, written exactly once as JSON lines, and each one
/// told to the command.
struct Failed<S> {
    inner: S,
    failures: mpsc::UnboundedSender<SetAside>,
}

#[async_trait]
impl<R, S> Sink<DeadLetter<FileMetadata, R>> for Failed<S>
where
    R: Send + 'static,
    S: Sink<DeadLetter<FileMetadata, R>, Commit = WriteCommit>,
{
    type Commit = WriteCommit;

    async fn write(
        &mut self,
        batch: Vec<Timestamped<DeadLetter<FileMetadata, R>>>,
    ) -> sdf_core::Result<()> {
        let told: Vec<SetAside> = batch
            .iter()
            .map(|letter| SetAside {
                path: letter.value.element.path.clone(),
                error: letter.value.error.clone(),
            })
            .collect();
        self.inner.write(batch).await?;
        for file in told {
            let _ = self.failures.send(file);
        }
        Ok(())
    }

    async fn on_watermark(&mut self, watermark: Timestamp) -> sdf_core::Result<()> {
        self.inner.on_watermark(watermark).await
    }

    async fn prepare(&mut self, epoch: u64) -> sdf_core::Result<WriteCommit> {
        self.inner.prepare(epoch).await
    }

    async fn commit(&mut self, epoch: u64, commit: WriteCommit) -> sdf_core::Result<()> {
        self.inner.commit(epoch, commit).await
    }

    async fn recover(&mut self, last: Option<(u64, WriteCommit)>) -> sdf_core::Result<()> {
        self.inner.recover(last).await
    }
}

/// Prints a status line every `every`: files seen, records written, backlog, watermark, lag.
async fn status_lines(metrics: MetricsHandle, every: Duration) {
    let started = Instant::now();
    loop {
        tokio::time::sleep(every).await;
        let m = metrics.snapshot();
        let (Some(watch), Some(read)) = (find(&m, "watch"), find(&m, "read")) else {
            continue;
        };
        let watermark = watch.watermark;
        let lag = if watermark == Timestamp::MIN {
            "unknown".to_string()
        } else {
            let micros = Timestamp::now()
                .as_micros()
                .saturating_sub(watermark.as_micros())
                .max(0);
            format!("{:.1} s", micros as f64 / 1e6)
        };
        eprintln!(
            "sdf: {} files seen, {} records ({}/s), backlog {} restrictions, lag {lag}, {} set aside",
            watch.outputs,
            read.outputs,
            human(read.outputs as f64 / started.elapsed().as_secs_f64().max(1e-9)),
            read.residuals_pending,
            read.dead_letters,
        );
    }
}
