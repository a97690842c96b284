//! `sdf read`: a bounded read of file patterns.

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Args;
use sdf_connectors::read::{LineDigest, ReadJsonValues, ReadLineDigests, TooLong};
use sdf_connectors::{
    CsvRows, EmptyMatch, FileFormat, FileMetadata, Json, MatchOptions, ReadAvro, ReadCsv, ReadText,
    Text, WriteFiles, match_pattern,
};
use sdf_core::{SplittableDoFn, precombine};
use sdf_runtime::{Executor, PCollection, Pipeline};

use crate::Format;
use crate::report::{Progress, bytes, find, human};
use crate::sinks::{ChecksumSink, CountRecords, CountSink, Counted, DigestSum, PrintSink};

#[derive(Debug, Args)]
pub(crate) struct ReadArgs {
    /// File patterns, quoted (e.g. 'data/**/*.csv').
    #[arg(required_unless_present = "patterns_from", value_name = "PATTERN")]
    patterns: Vec<String>,
    /// Also read the patterns written, one per line, to FILE (`-`: standard input) while the
    /// read runs: each new pattern is matched and its files read once (a repeated pattern, or a
    /// file two patterns match, is read once); a bad pattern is reported with its line and the
    /// others go on (the command then exits with an error). The read ends once the input has
    /// ended and everything is read.
    #[arg(long, value_name = "FILE|-")]
    patterns_from: Option<String>,
    /// How the files' records are framed.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the records into this directory (files appear whole when the read ends) instead
    /// of printing them.
    #[arg(long, value_name = "DIR", conflicts_with = "count")]
    out: Option<PathBuf>,
    /// Print only the number of records, on stdout.
    #[arg(long)]
    count: bool,
    /// Print the number of records and the sum (mod 2^64) of the XXH64 (seed 42) of each
    /// record's bytes, on stdout: a figure that changes if any record is lost or delivered
    /// twice, whatever the order (text only; the benchmark data's manifests hold it).
    #[arg(long, conflicts_with_all = ["count", "out"])]
    checksum: bool,
    /// The longest record allowed, in bytes (`16MiB`, `64KiB`, `1000`); a longer one is an
    /// error naming its file and offset [default: 64MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_record_length: Option<usize>,
    /// Parallel workers [default: the number of cores].
    #[arg(long)]
    workers: Option<usize>,
    /// Accepted for older scripts: quoted CSV fields may always hold newlines, and files are
    /// still split across workers.
    #[arg(long, hide = true)]
    multiline: bool,
    /// CSV: the first record is data, not a header; rows print as arrays.
    #[arg(long)]
    no_header: bool,
    /// CSV: print rows as arrays of their fields instead of objects keyed by the header (the
    /// header is still skipped).
    #[arg(long)]
    arrays: bool,
    /// CSV: accept rows with another number of fields than the header (otherwise an error
    /// naming the row).
    #[arg(long)]
    flexible: bool,
    /// No progress and no summary on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// A pattern that matches no file is fine (otherwise it is an error).
    #[arg(long)]
    allow_empty: bool,
    /// Parquet: read only these top-level columns, in this order (e.g. --columns id,kind).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    columns: Vec<String>,
    /// Where the read runs: `embedded` (this process) or `beam` (a Beam runner, through the
    /// job service at --job-endpoint; --count and --checksum).
    #[arg(long, value_enum, default_value_t = Runner::Embedded)]
    runner: Runner,
    #[command(flatten)]
    beam: crate::beam::BeamArgs,
}

/// Where a read runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Runner {
    /// The embedded runtime, in this process.
    Embedded,
    /// A Beam portable runner.
    Beam,
}

/// Every file the patterns match, each once, in pattern order. A pattern that matches nothing
/// is an error unless `allow_empty`.
pub(crate) fn expand(
    patterns: &[String],
    allow_empty: bool,
) -> Result<Vec<FileMetadata>, Box<dyn Error>> {
    let mut files = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let options = MatchOptions {
        empty_match: EmptyMatch::Allow,
        ..MatchOptions::default()
    };
    for pattern in patterns {
        let matched = match_pattern(pattern, options)?;
        if matched.is_empty() && !allow_empty {
            return Err(format!(
                "no file matches '{pattern}': check the path (quote the pattern so the shell does not expand it), \
                 or pass --allow-empty"
            )
            .into());
        }
        for file in matched {
            if seen.insert(file.path.clone()) {
                files.push(file);
            }
        }
    }
    Ok(files)
}

pub(crate) async fn run(args: ReadArgs) -> Result<(), Box<dyn Error>> {
    #[cfg(feature = "parquet")]
    let columnar = args.format == Format::Parquet;
    #[cfg(not(feature = "parquet"))]
    let columnar = false;
    if !args.columns.is_empty() && !columnar {
        return Err(
            "--columns selects columns of Parquet files: use it with --format parquet".into(),
        );
    }
    if args.patterns_from.is_some() && args.runner == Runner::Beam {
        return Err(
            "--patterns-from reads patterns while the read runs, which --runner beam \
                    cannot (its job is fixed when it is submitted): pass the patterns as \
                    arguments"
                .into(),
        );
    }
    let files = expand(&args.patterns, args.allow_empty)?;
    let limit = args.max_record_length.unwrap_or(64 << 20);
    if args.checksum && args.format != Format::Text {
        return Err("--checksum hashes lines: use it with --format text (the default)".into());
    }
    if args.runner == Runner::Beam {
        let ending = match (&args.out, args.count, args.checksum) {
            (Some(dir), _, _) => crate::beam::Ending::Out(dir.clone()),
            (None, true, _) => crate::beam::Ending::Count,
            (None, _, true) => crate::beam::Ending::Checksum,
            (None, false, false) => {
                return Err(
                    "with --runner beam, sdf read takes --count, --checksum or --out \
                            DIR (records are not printed from a Beam runner's workers: a \
                            retried bundle would print them twice)"
                        .into(),
                );
            }
        };
        let plan = crate::beam::ReadPlan {
            format: args.format,
            ending,
            no_header: args.no_header,
            flexible: args.flexible,
            limit,
            files,
        };
        return crate::beam::read(&args.beam, plan, args.quiet).await;
    }
    let mut total: u64 = files.iter().map(|f| f.size).sum();
    let mut p = Pipeline::new();
    // With --patterns-from, the files arrive while the read runs: those of the arguments
    // first, then each new pattern's.
    let (feed, source) = match &args.patterns_from {
        Some(from) => {
            let (sender, source) = p.channel_source("files");
            (Some((from.clone(), sender)), source)
        }
        None => (None, p.from_iter("files", files.clone())),
    };
    let counted = Arc::new(AtomicU64::new(0));
    let checksum = Arc::new(AtomicU64::new(0));
    match args.format {
        // Counting or checksumming needs no `String` per line: each line is reduced to a u64
        // (its length, or its XXH64) in the reader, and each call of the reader counts and
        // sums those; the sink adds up one partial result per call.
        Format::Text if args.count || args.checksum => {
            let digest = if args.checksum {
                LineDigest::Xxh64 { seed: 42 }
            } else {
                LineDigest::Length
            };
            let read = ReadLineDigests::new(digest)
                .require_utf8(true)
                .max_record_length(limit, TooLong::Fail);
            let partials = p.apply("read", source, precombine(read, DigestSum));
            p.sink(
                "count",
                partials,
                ChecksumSink {
                    count: Arc::clone(&counted),
                    sum: Arc::clone(&checksum),
                },
            );
        }
        Format::Text => {
            end(
                &mut p,
                source,
                ReadText::new().max_record_length(limit, TooLong::Fail),
                &args,
                &counted,
                |line: &String, out| {
                    out.extend_from_slice(line.as_bytes());
                    Ok(())
                },
                Text::new(),
            )?;
        }
        Format::Csv => {
            let read = ReadCsv::rows()
                .has_headers(!args.no_header)
                .flexible(args.flexible)
                .max_record_length(limit, TooLong::Fail);
            let render = if args.arrays {
                crate::sinks::csv_fields
            } else {
                json
            };
            end(
                &mut p,
                source,
                read,
                &args,
                &counted,
                render,
                CsvRows::new(),
            )?;
        }
        Format::Jsonl => {
            let read = ReadJsonValues::new().max_record_length(limit, TooLong::Fail);
            end(&mut p, source, read, &args, &counted, json, Json::lines())?;
        }
        #[cfg(feature = "parquet")]
        Format::Parquet => {
            let mut read = sdf_connectors::ReadParquet::new();
            if !args.columns.is_empty() {
                read = read.columns(args.columns.iter().cloned());
            }
            end(
                &mut p,
                source,
                read,
                &args,
                &counted,
                crate::sinks::batch_rows,
                sdf_connectors::Parquet::new(),
            )?;
        }
        Format::Avro => {
            // Blocks are the split points; each record becomes a line of JSON.
            end(
                &mut p,
                source,
                ReadAvro::json(),
                &args,
                &counted,
                json,
                Json::lines(),
            )?;
        }
    }
    let mut builder = Executor::builder();
    if let Some(workers) = args.workers {
        builder = builder.workers(workers);
    }
    let handle = builder.build().run(p);
    let metrics = handle.metrics_handle();
    // The total is not known while patterns arrive: no bar then, only the summary.
    let progress = Progress::start(metrics.clone(), "read", total, args.quiet || feed.is_some());
    let fed = feed.map(|(from, sender)| {
        let (seen, allow_empty) = (files.clone(), args.allow_empty);
        tokio::spawn(feed_patterns(from, sender, seen, allow_empty))
    });
    let result = handle.wait().await;
    let wall = progress.finish();
    result?;
    let mut files = files;
    if let Some(fed) = fed {
        let fed = fed
            .await
            .map_err(|e| format!("--patterns-from: the reader of patterns failed: {e}"))?;
        files = fed.files;
        total = files.iter().map(|f| f.size).sum();
        if let Some(error) = fed.error {
            // Everything the good patterns matched was read; the bad lines fail the command.
            finish_summary(
                &args, &counted, &checksum, &metrics, &files, total, wall, columnar,
            );
            return Err(error.into());
        }
    }
    finish_summary(
        &args, &counted, &checksum, &metrics, &files, total, wall, columnar,
    );
    Ok(())
}

/// Prints the figures (`--count`, `--checksum`) on stdout and the summary on stderr.
#[allow(clippy::too_many_arguments)]
fn finish_summary(
    args: &ReadArgs,
    counted: &AtomicU64,
    checksum: &AtomicU64,
    metrics: &sdf_runtime::MetricsHandle,
    files: &[FileMetadata],
    total: u64,
    wall: std::time::Duration,
    columnar: bool,
) {
    let m = metrics.snapshot();
    let read = find(&m, "read").cloned().unwrap_or_default();
    if args.checksum {
        println!(
            "{} {}",
            counted.load(Ordering::Relaxed),
            checksum.load(Ordering::Relaxed)
        );
    } else if args.count {
        println!("{}", counted.load(Ordering::Relaxed));
    }
    // A Parquet read emits batches of rows; the others one value per record. A count or a
    // checksum is taken inside the read's calls, which then emit one partial result each.
    let (records, emitted) = if args.count || args.checksum {
        ("records", counted.load(Ordering::Relaxed))
    } else if columnar {
        ("batches", read.outputs)
    } else {
        ("records", read.outputs)
    };
    if !args.quiet {
        let seconds = wall.as_secs_f64().max(1e-9);
        eprintln!(
            "sdf: read {} file{}, {} {records}, {} in {:.2} s ({}/s, {} {records}/s); {} dynamic splits",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            emitted,
            bytes(total),
            seconds,
            bytes((total as f64 / seconds) as u64),
            human(emitted as f64 / seconds),
            read.dynamic_splits,
        );
    }
}

/// What `--patterns-from` read: every file sent (the arguments' first), and the first bad line.
struct Fed {
    files: Vec<FileMetadata>,
    error: Option<String>,
}

/// Reads patterns from `from` (a file, or `-` for standard input) until it ends, and sends
/// each new file the new patterns match, once, after those of the arguments (`files`).
async fn feed_patterns(
    from: String,
    sender: sdf_runtime::SourceSender<FileMetadata>,
    files: Vec<FileMetadata>,
    allow_empty: bool,
) -> Fed {
    let (lines_tx, mut lines) = tokio::sync::mpsc::channel::<std::io::Result<String>>(16);
    let source = from.clone();
    // Reading lines blocks (a terminal, a pipe): on a thread of its own.
    std::thread::spawn(move || {
        use std::io::BufRead;
        let reader: Box<dyn BufRead> = if source == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            match std::fs::File::open(&source) {
                Ok(f) => Box::new(std::io::BufReader::new(f)),
                Err(e) => {
                    let _ = lines_tx.blocking_send(Err(e));
                    return;
                }
            }
        };
        for line in reader.lines() {
            if lines_tx.blocking_send(line).is_err() {
                return;
            }
        }
    });
    let mut seen_files: std::collections::HashSet<_> =
        files.iter().map(|f| f.path.clone()).collect();
    let mut seen_patterns = std::collections::HashSet::new();
    let mut fed = Fed { files, error: None };
    for file in &fed.files {
        if sender.send(file.clone()).await.is_err() {
            return fed;
        }
    }
    let mut number = 0u64;
    let mut errors = Vec::new();
    while let Some(line) = lines.recv().await {
        number += 1;
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                errors.push(format!("--patterns-from {from}: cannot read it: {e}"));
                break;
            }
        };
        let pattern = line.trim();
        if pattern.is_empty() || !seen_patterns.insert(pattern.to_string()) {
            continue;
        }
        let matched = match expand(&[pattern.to_string()], allow_empty) {
            Ok(matched) => matched,
            Err(e) => {
                let message = format!("--patterns-from {from}: line {number}: {e}");
                eprintln!("sdf: {message}");
                errors.push(message);
                continue;
            }
        };
        for file in matched {
            if seen_files.insert(file.path.clone()) {
                if sender.send(file.clone()).await.is_err() {
                    return fed;
                }
                fed.files.push(file);
            }
        }
    }
    fed.error = match errors.len() {
        0 => None,
        1 => errors.pop(),
        n => Some(format!(
            "{n} lines of --patterns-from failed; the first: {}",
            errors[0]
        )),
    };
    fed
}

/// Applies `read` to the files and ends its records in the sink the arguments ask for: a count,
/// a directory, or stdout. A count is taken inside each call of the read, where the records
/// are made ([`precombine`]), and only one number per call reaches the sink.
fn end<R, T, F>(
    p: &mut Pipeline,
    files: PCollection<FileMetadata>,
    read: R,
    args: &ReadArgs,
    counted: &Arc<AtomicU64>,
    render: crate::sinks::Render<T>,
    format: F,
) -> Result<(), Box<dyn Error>>
where
    R: SplittableDoFn<Input = FileMetadata, Output = T>,
    T: Counted + Send + 'static,
    F: FileFormat<T>,
{
    if args.count {
        let partials = p.apply("read", files, precombine(read, CountRecords));
        p.sink("count", partials, CountSink(Arc::clone(counted)));
        return Ok(());
    }
    let records = p.apply("read", files, read);
    if let Some(dir) = &args.out {
        if dir.exists() && !dir.is_dir() {
            return Err(format!(
                "--out {}: it is a file; --out names a directory (made if missing)",
                dir.display()
            )
            .into());
        }
        let files = WriteFiles::builder(dir, format).build::<T>()?;
        p.sink("out", records, files);
    } else {
        p.sink(
            "print",
            records,
            PrintSink {
                render,
                count: Arc::clone(counted),
                buffer: Vec::new(),
            },
        );
    }
    Ok(())
}

/// `16MiB`, `64KiB`, `1GiB`, `1000` (bytes; `MB`, `KB`, `GB` are read as powers of 1024 too).
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    if unit.starts_with(['.', ',']) {
        return Err(format!(
            "'{text}': a size is a whole number of its unit: write e.g. 1536KiB for 1.5MiB"
        ));
    }
    let number: usize = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size: write e.g. 16MiB, 64KiB or 1000"))?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("'{text}': the unit must be B, KiB, MiB or GiB")),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// A record as one line of JSON; a value JSON cannot hold is an error, never a stand-in.
fn json<T: serde::Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), String> {
    let start = out.len();
    serde_json::to_writer(&mut *out, value).map_err(|e| {
        out.truncate(start);
        format!("a record cannot be printed as JSON: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("16mb"), Ok(16 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("big").unwrap_err().contains("16MiB"));
        assert!(parse_size("3TiB").unwrap_err().contains("unit"));
        assert!(parse_size("1.5MiB").unwrap_err().contains("whole number"));
    }
}
