//! `sdf watch`: streaming, exactly-once ingest of a growing set of files.

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use sdf_connectors::read::{OnChange, ReadJsonValues};
use sdf_connectors::{
    Csv, FileFormat, Json, MatchAll, ReadAvro, ReadCsv, ReadText, Termination, Text, WriteFiles,
};
use sdf_core::Timestamp;
use sdf_runtime::{DirectoryStore, Executor, MetricsHandle, PCollection, Pipeline};

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
    /// Where the pipeline keeps its checkpoint. Run again with the same --state to resume.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// How often the patterns are listed again; new files in local directories are noticed
    /// within milliseconds through file-system notifications anyway.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    poll: Duration,
    /// How the files' records are framed.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
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

pub(crate) async fn run(args: WatchArgs) -> Result<(), Box<dyn Error>> {
    // Listen for the stop signals before anything starts, so that none is lost.
    let signal = stop_signal()?;
    tokio::pin!(signal);
    let mut p = Pipeline::new();
    let patterns = p.from_iter("patterns", args.patterns.clone());
    let files = p.apply(
        "watch",
        patterns,
        MatchAll::new().continuously(args.poll, Termination::Never),
    );
    // A watched file is read as it was listed: bytes appended later are not part of it.
    match args.format {
        Format::Text => {
            let lines = p.apply(
                "read",
                files,
                ReadText::new().on_change(OnChange::ReadListed),
            );
            write(&mut p, lines, &args, Text::new())?;
        }
        Format::Csv => {
            let rows = p.apply(
                "read",
                files,
                ReadCsv::<Vec<String>>::new().on_change(OnChange::ReadListed),
            );
            write(&mut p, rows, &args, Csv::new())?;
        }
        Format::Jsonl => {
            let values = p.apply(
                "read",
                files,
                ReadJsonValues::new().on_change(OnChange::ReadListed),
            );
            write(&mut p, values, &args, Json::lines())?;
        }
        #[cfg(feature = "parquet")]
        Format::Parquet => {
            let batches = p.apply("read", files, sdf_connectors::ReadParquet::new());
            write(&mut p, batches, &args, sdf_connectors::Parquet::new())?;
        }
        Format::Avro => {
            let values = p.apply(
                "read",
                files,
                ReadAvro::json().on_change(OnChange::ReadListed),
            );
            write(&mut p, values, &args, Json::lines())?;
        }
    }
    let mut builder = Executor::builder()
        .checkpoint_store(Arc::new(DirectoryStore::new(&args.state)?))
        .checkpoint_interval(args.checkpoint);
    if let Some(workers) = args.workers {
        builder = builder.workers(workers);
    }
    let mut handle = builder.build().run(p);
    let metrics = handle.metrics_handle();
    let status = (!args.status.is_zero()).then(|| tokio::spawn(status_lines(metrics, args.status)));
    let outcome = tokio::select! {
        // A watch never ends by itself: this is a failure.
        result = handle.completion() => Some(result),
        _ = &mut signal => None,
    };
    if let Some(task) = status {
        task.abort();
    }
    if let Some(result) = outcome {
        return Ok(result?);
    }
    eprintln!(
        "sdf: stopping: saving a checkpoint in {} (run again to resume)",
        args.state.display()
    );
    handle.stop();
    handle.wait().await?;
    Ok(())
}

/// Installs the handlers of Ctrl-C (SIGINT) and SIGTERM now; the future resolves on either.
#[cfg(unix)]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
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
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

fn write<T, F>(
    p: &mut Pipeline,
    records: PCollection<T>,
    args: &WatchArgs,
    format: F,
) -> Result<(), Box<dyn Error>>
where
    T: Send + 'static,
    F: FileFormat<T>,
{
    let sink = WriteFiles::builder(&args.out, format).build::<T>()?;
    p.sink("out", records, sink);
    Ok(())
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
            "sdf: {} files seen, {} records ({}/s), backlog {} restrictions, lag {lag}",
            watch.outputs,
            read.outputs,
            human(read.outputs as f64 / started.elapsed().as_secs_f64().max(1e-9)),
            read.residuals_pending,
        );
    }
}
