//! `sdf tail`: follow growing files and print their new lines.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use clap::Args;
use sdf_connectors::{MatchAll, StartAt, TailFile, TailLine, Termination};
use sdf_runtime::{Executor, Pipeline};

use crate::parse_duration;
use crate::sinks::PrintSink;

#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    /// File patterns to follow, quoted (e.g. 'logs/*.log'). Files that appear later are
    /// followed too.
    #[arg(required = true, value_name = "PATTERN")]
    patterns: Vec<String>,
    /// How often a file that has no new data is looked at again.
    #[arg(long, value_parser = parse_duration, default_value = "200ms")]
    poll: Duration,
    /// Start at the end of the files that exist already (new files are always read whole).
    #[arg(long)]
    from_end: bool,
    /// Put the file's path before each line.
    #[arg(long)]
    with_path: bool,
}

pub(crate) async fn run(args: TailArgs) -> Result<(), Box<dyn Error>> {
    let signal = crate::watch::stop_signal()?;
    let mut p = Pipeline::new();
    let patterns = p.from_iter("patterns", args.patterns.clone());
    let files = p.apply(
        "watch",
        patterns,
        MatchAll::new().continuously(args.poll, Termination::Never),
    );
    let start = if args.from_end {
        StartAt::End
    } else {
        StartAt::Beginning
    };
    let lines = p.apply(
        "tail",
        files,
        TailFile::new().poll_delay(args.poll).start_at(start),
    );
    let render: crate::sinks::Render<TailLine> = if args.with_path {
        |l, out| {
            out.extend_from_slice(l.path.to_string_lossy().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(l.line.as_bytes());
            Ok(())
        }
    } else {
        |l, out| {
            out.extend_from_slice(l.line.as_bytes());
            Ok(())
        }
    };
    p.sink(
        "print",
        lines,
        PrintSink {
            render,
            count: Arc::new(AtomicU64::new(0)),
            buffer: Vec::new(),
        },
    );
    // Small batches: a followed line is printed when it arrives, not when a batch fills.
    let mut handle = Executor::builder().batch_size(1).build().run(p);
    tokio::select! {
        // A tail never ends by itself: this is a failure.
        result = handle.completion() => Ok(result?),
        _ = signal => {
            // Nothing to save (a tail keeps no state): stop now, and wait for the workers.
            handle.cancel();
            match handle.completion().await {
                Ok(()) | Err(sdf_runtime::Error::Cancelled) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
    }
}
