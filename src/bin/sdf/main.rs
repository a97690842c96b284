//! `sdf`: read, watch and tail files with splittable DoFns, on the embedded runtime.
//!
//! ```text
//! sdf read 'samples/logs/*.log' --count          # how many records
//! sdf read 'data/**/*.csv' --format csv --out out/
//! sdf read 'data/*.parquet' --format parquet --columns id,kind
//! sdf watch 'inbox/*.jsonl' --format jsonl --out out/ --state state/
//! sdf tail 'logs/*.log'
//! ```

/// Records are often freed on another worker than the one that allocated them, which halves
/// glibc malloc's throughput; see BENCHMARKS.md.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod beam;
mod exit;
mod read;
mod report;
mod sinks;
mod tail;
mod watch;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

/// Read, watch and tail files as splittable DoFns: work is split while it runs, so one big file
/// never leaves a straggler, and streaming ingest resumes after a crash with nothing lost or
/// duplicated.
///
/// Patterns: `*` and `?` within a name, `[abc]`, `{a,b}`, `**` for any depth. Quote them, so the
/// shell does not expand them first. Set RUST_LOG=info (or debug) to see what the runtime does.
#[derive(Debug, Parser)]
#[command(name = "sdf", version, propagate_version = true, after_help = exit::EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read every record of the files matching the patterns, once.
    ///
    /// Prints the records on stdout, or writes them to --out, or only counts them with
    /// --count. On a terminal a progress bar shows bytes read; a summary follows on stderr.
    #[command(after_help = exit::EXIT_CODES)]
    Read(read::ReadArgs),
    /// Ingest files that keep arriving: read each new file once, into --out, exactly once.
    ///
    /// State is kept in --state: after Ctrl-C, SIGTERM or a crash (even kill -9), run the same
    /// command again and it resumes where it stopped, with no record lost or written twice.
    /// A file is read once it is complete: renamed into place or closed after writing, or
    /// unchanged for --settle. A file that cannot be read stops the watch (--on-error fail) or
    /// is listed in --dead-letter; either way a restart goes on without it.
    #[command(after_help = exit::EXIT_CODES)]
    Watch(watch::WatchArgs),
    /// Follow growing files (and new ones) and print their new lines, like `tail -F`.
    #[command(after_help = exit::EXIT_CODES)]
    Tail(tail::TailArgs),
    /// The worker a Beam runner starts for `sdf read --runner beam` (a PROCESS or DOCKER
    /// environment, or Beam's worker pool): Beam's boot flags, `--id=… --control_endpoint=…
    /// --provision_endpoint=… --logging_endpoint=… --artifact_endpoint=…`. Run with these
    /// flags and no command (`sdf --id=…`), as runners start a boot program, it is this too.
    #[command(name = "beam-worker")]
    BeamWorker {
        /// The boot flags, as the runner passes them.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "FLAGS"
        )]
        flags: Vec<String>,
    },
}

/// Whether the command line is the boot flags alone, as a Beam runner starts a worker.
fn is_boot_command_line(args: &[String]) -> bool {
    args.get(1).is_some_and(|first| {
        let flag = first.trim_start_matches('-');
        first.starts_with('-') && (flag == "id" || flag.starts_with("id="))
    })
}

/// Record formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
pub(crate) enum Format {
    /// Lines ending in `\n` or `\r\n`.
    Text,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON value per line.
    Jsonl,
    /// Parquet files, read by row group; records print as JSON lines, --out writes Parquet.
    #[cfg(feature = "parquet")]
    Parquet,
    /// Avro object container files (any codec but xz); records are printed and written as
    /// JSON lines.
    Avro,
}

/// `500ms`, `2s`, `1m`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(text.len()),
    );
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration: write e.g. 500ms, 2s, 1m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" => value * 60.0,
        _ => return Err(format!("'{text}': the unit must be ms, s or m")),
    };
    Ok(Duration::from_secs_f64(seconds))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let cli = if is_boot_command_line(&args) {
        Cli {
            command: Command::BeamWorker {
                flags: args[1..].to_vec(),
            },
        }
    } else {
        Cli::parse()
    };
    // The worker sends its events to the runner's logging service, with a subscriber of its
    // own (`sdf_beam::harness::boot`).
    if !matches!(cli.command, Command::BeamWorker { .. }) {
        init_tracing();
    }
    run(cli)
}

fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
}

fn run(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("sdf: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Read(args) => read::run(args).await,
            Command::Watch(args) => watch::run(args).await,
            Command::Tail(args) => tail::run(args).await,
            Command::BeamWorker { flags } => beam::worker(flags).await,
        }
    });
    // Every worker has stopped when a command returns (the executor waits for them), so the
    // runtime is never torn down under one.
    drop(runtime);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let (code, message) = exit::report(&*e);
            eprintln!("sdf: {message}");
            code.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("fast").unwrap_err().contains("500ms"));
        assert!(parse_duration("2h").unwrap_err().contains("unit"));
    }
}
