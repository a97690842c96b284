//! `sdf read … --runner beam`: the same read on a Beam runner, through its job service; and
//! `sdf beam-worker`, the boot entry point a runner starts workers with.
//!
//! The files are matched here, as for the embedded run; on the runner they are a root
//! `Create` and the read. Counting or digesting is done inside each call, as the embedded run
//! does, and each call's partial result is added to counters that the runner commits with the
//! bundle (`sdf_beam::metrics`), so the printed figures are the embedded run's however the
//! runner retries. `--out` writes through `sdf_beam::BundleSink`: files staged per bundle
//! attempt, published only for the attempts the runner committed.

use std::collections::BTreeMap;
use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sdf_beam::harness::boot;
use sdf_beam::translate::{
    BeamPipeline, Collection, docker_environment, external_environment, process_environment,
};
use sdf_beam::{BeamError, BeamRunner, Create};
use sdf_connectors::read::{LineDigest, ReadJsonValues, ReadLineDigests, TooLong};
use sdf_connectors::{
    CsvRows, FileFormat, FileMetadata, Json, ReadAvro, ReadCsv, ReadText, Text, WriteFiles,
};
use sdf_core::{SplittableDoFn, map_output, precombine};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Format;
use crate::sinks::{CountRecords, Counted, DigestSum};

/// Where and how to run on Beam.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BeamArgs {
    /// The Beam job service (`HOST:PORT`) to submit to, with `--runner beam`.
    #[arg(long, value_name = "HOST:PORT")]
    job_endpoint: Option<String>,
    /// How the runner starts our workers: `external` (a worker pool in this process, reached
    /// at --worker-address, or the one at --worker-pool), `process` (the runner runs this
    /// program's boot entry point, `sdf beam-worker`, on its workers' machines) or `docker`
    /// (a container of --container-image whose entry point is `sdf beam-worker`).
    #[arg(long, value_name = "KIND", value_enum, default_value_t = EnvironmentKind::External)]
    environment: EnvironmentKind,
    /// With `--environment external`: a worker pool that is already running (Beam's
    /// `worker_pool_main` starting `sdf beam-worker`, a Flink task manager's sidecar), instead
    /// of one in this process.
    #[arg(long, value_name = "HOST:PORT")]
    worker_pool: Option<String>,
    /// With `--environment docker`: the image the runner starts workers from.
    #[arg(long, value_name = "IMAGE")]
    container_image: Option<String>,
    /// The address this process's worker pool listens on, which the runner must reach.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    worker_address: SocketAddr,
    /// A Beam pipeline option, `KEY=VALUE` (VALUE as JSON when it parses as JSON), repeatable.
    #[arg(long = "beam-option", value_name = "KEY=VALUE")]
    beam_options: Vec<String>,
}

/// How the runner starts the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EnvironmentKind {
    /// Through a worker pool (`BeamFnExternalWorkerPool`).
    External,
    /// By running `sdf beam-worker` itself.
    Process,
    /// By starting a container whose entry point is `sdf beam-worker`.
    Docker,
}

/// The pipeline option that carries the read to the workers: all `sdf beam-worker` needs to
/// build the same DoFns as the command that submitted it.
const PLAN_OPTION: &str = "sdf_read_plan";

/// How long a job may take before the command gives up waiting (the job keeps running).
const JOB_WAIT: Duration = Duration::from_secs(24 * 3600);

fn options(args: &BeamArgs) -> Result<BTreeMap<String, serde_json::Value>, Box<dyn Error>> {
    let mut options = BTreeMap::new();
    for option in &args.beam_options {
        let (key, value) = option.split_once('=').ok_or_else(|| {
            format!(
                "--beam-option {option}: write KEY=VALUE, e.g. --beam-option direct_num_workers=2"
            )
        })?;
        let value = serde_json::from_str(value)
            .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
        options.insert(key.trim_start_matches("--").to_string(), value);
    }
    Ok(options)
}

/// What the read ends in on the runner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Ending {
    /// The number of records, as the committed counter `records`.
    Count,
    /// The number of records and the sum of their XXH64s (as two counters of 32-bit halves,
    /// so no counter can overflow an i64).
    Checksum,
    /// Files in this directory, published once per committed bundle.
    Out(PathBuf),
}

/// A read as the runner's workers build it: the same files, format and ending as the
/// command that submitted it (which sends it as the pipeline option [`PLAN_OPTION`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReadPlan {
    pub format: Format,
    pub ending: Ending,
    /// CSV: the first record is data (`--no-header`).
    #[serde(default)]
    pub no_header: bool,
    /// CSV: rows of any length (`--flexible`).
    #[serde(default)]
    pub flexible: bool,
    pub limit: usize,
    pub files: Vec<FileMetadata>,
}

/// `Create(files)` → `read`: the root of every read.
fn files_then<R>(files: Vec<FileMetadata>, read: R) -> (BeamPipeline, Collection)
where
    R: SplittableDoFn<Input = FileMetadata>,
    R::Output: Serialize + DeserializeOwned,
{
    let mut p = BeamPipeline::default();
    let files = p.root("files", Create::new(files));
    let records = p.apply("read", &files, read);
    (p, records)
}

fn as_counter(n: u64) -> i64 {
    // A count per call of the read; no call reads 2^63 records.
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The read of `R`'s records, counted: each call's count is added to the counter `records`.
fn count_records<R>(files: Vec<FileMetadata>, read: R) -> BeamPipeline
where
    R: SplittableDoFn<Input = FileMetadata>,
    R::Output: Counted + Send + 'static,
{
    let (mut p, partials) = files_then(files, precombine(read, CountRecords));
    p.counters("total", &partials, |n: &u64| {
        vec![("records", as_counter(*n))]
    });
    p
}

/// The read of `R`'s records into files in `dir`, encoded with `format()`, named with its
/// suffix or `suffix`.
fn write_records<R, F>(
    files: Vec<FileMetadata>,
    read: R,
    dir: &Path,
    format: fn() -> F,
    suffix: Option<&str>,
) -> BeamPipeline
where
    R: SplittableDoFn<Input = FileMetadata>,
    R::Output: Serialize + DeserializeOwned + Send + 'static,
    F: FileFormat<R::Output> + 'static,
{
    let (mut p, records) = files_then(files, read);
    let dir = dir.to_path_buf();
    let suffix = suffix.map_or_else(|| format().suffix().to_string(), str::to_string);
    p.write("out", &records, move |key: &str| {
        WriteFiles::builder(&dir, format())
            .staging_dir(format!("{STAGING}{key}"))
            .naming(format!("part-{key}-{{epoch:06}}-{{shard:03}}{suffix}"))
            .build::<R::Output>()
            .map_err(|e| sdf_core::Error::user("opening the output directory", e))
    });
    p
}

/// The read of `R`'s records, counted or written to `--out`.
fn records<R, F>(
    files: Vec<FileMetadata>,
    read: R,
    ending: &Ending,
    format: fn() -> F,
) -> BeamPipeline
where
    R: SplittableDoFn<Input = FileMetadata>,
    R::Output: Counted + Serialize + DeserializeOwned + Send + 'static,
    F: FileFormat<R::Output> + 'static,
{
    match ending {
        Ending::Out(dir) => write_records(files, read, dir, format, None),
        Ending::Count | Ending::Checksum => count_records(files, read),
    }
}

/// A `sonic_rs::Value` as the line the embedded run's `--out` writes for it: serde_json's
/// text of it (sonic's values do not come back through serde_json, so they cannot cross the
/// runner as values).
fn json_line(value: sdf_connectors::sonic_rs::Value) -> sdf_core::Result<String> {
    serde_json::to_string(&value)
        .map_err(|e| sdf_core::Error::message(format!("a JSON record does not serialize: {e}")))
}

/// Each attempt's staging directory in `--out` is this and the attempt's key.
const STAGING: &str = ".sdf-staging-";

/// What the staging directories of `--out` held when the job was done.
#[derive(Debug, Default)]
struct Leftover {
    /// Staging directories removed.
    dirs: usize,
    /// Staged files among them: written by attempts the runner discarded, never published.
    discarded_files: usize,
}

/// Removes the attempts' staging directories from `dir` once the job is done: those of
/// committed attempts are empty (their files were published), the others hold what attempts
/// the runner discarded wrote.
fn remove_staging(dir: &Path) -> Result<Leftover, Box<dyn Error>> {
    let listing = |d: &Path| {
        std::fs::read_dir(d).map_err(|e| format!("--out: cannot list {}: {e}", d.display()))
    };
    let mut leftover = Leftover::default();
    for entry in listing(dir)? {
        let entry = entry.map_err(|e| format!("--out: cannot list {}: {e}", dir.display()))?;
        let name = entry.file_name();
        let is_staging = name.to_str().is_some_and(|n| {
            n.strip_prefix(STAGING)
                .is_some_and(|key| !key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit()))
        });
        if !is_staging || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path();
        for staged in listing(&path)? {
            let staged =
                staged.map_err(|e| format!("--out: cannot list {}: {e}", path.display()))?;
            // The sink's lock and its record of what it published are not staged records.
            if !matches!(staged.file_name().to_str(), Some("LOCK" | "published")) {
                leftover.discarded_files += 1;
            }
        }
        std::fs::remove_dir_all(&path)
            .map_err(|e| format!("--out: cannot remove {}: {e}", path.display()))?;
        leftover.dirs += 1;
    }
    Ok(leftover)
}

impl ReadPlan {
    /// The read as a Beam pipeline, with the DoFns its workers run.
    pub fn pipeline(&self) -> Result<BeamPipeline, String> {
        let (files, limit, ending) = (self.files.clone(), self.limit, &self.ending);
        Ok(match self.format {
            Format::Text if *ending == Ending::Checksum => {
                let read = ReadLineDigests::new(LineDigest::Xxh64 { seed: 42 })
                    .require_utf8(true)
                    .max_record_length(limit, TooLong::Fail);
                let (mut p, partials) = files_then(files, precombine(read, DigestSum));
                p.counters("total", &partials, |&(n, digest): &(u64, u64)| {
                    vec![
                        ("records", as_counter(n)),
                        ("digest_lo", (digest & 0xffff_ffff) as i64),
                        ("digest_hi", (digest >> 32) as i64),
                    ]
                });
                p
            }
            Format::Text if *ending == Ending::Count => {
                let read = ReadLineDigests::new(LineDigest::Length)
                    .require_utf8(true)
                    .max_record_length(limit, TooLong::Fail);
                let (mut p, partials) = files_then(files, precombine(read, DigestSum));
                p.counters("total", &partials, |&(n, _): &(u64, u64)| {
                    vec![("records", as_counter(n))]
                });
                p
            }
            Format::Text => {
                let read = ReadText::new().max_record_length(limit, TooLong::Fail);
                records(files, read, ending, Text::new)
            }
            Format::Csv => {
                let read = ReadCsv::rows()
                    .has_headers(!self.no_header)
                    .flexible(self.flexible)
                    .max_record_length(limit, TooLong::Fail);
                records(files, read, ending, CsvRows::new)
            }
            Format::Jsonl => {
                let read = ReadJsonValues::new().max_record_length(limit, TooLong::Fail);
                match ending {
                    Ending::Out(dir) => write_records(
                        files,
                        map_output(read, json_line),
                        dir,
                        Text::new,
                        Some(".jsonl"),
                    ),
                    _ => count_records(files, read),
                }
            }
            Format::Avro => records(files, ReadAvro::json(), ending, Json::lines),
            #[cfg(feature = "parquet")]
            Format::Parquet => {
                return Err(
                    "--format parquet with --runner beam is not built yet: its record batches \
                     have no Beam coder (docs/beam.md); use --runner embedded"
                        .into(),
                );
            }
        })
    }
}

/// Runs the read on the Beam runner at `--job-endpoint` and prints what the embedded run
/// prints for `--count` or `--checksum`, or writes `--out`.
///
/// Counts come back as counters the runner commits with each bundle it keeps (not through
/// this process), so they are exact however the runner retries or repeats bundles, and in
/// any environment.
pub(crate) async fn read(
    args: &BeamArgs,
    plan: ReadPlan,
    quiet: bool,
) -> Result<(), Box<dyn Error>> {
    let endpoint = args.job_endpoint.as_deref().ok_or(
        "--runner beam needs --job-endpoint HOST:PORT, the address of a Beam job service \
         (docs/beam.md says how to start one)",
    )?;
    if let Ending::Out(dir) = &plan.ending {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("--out {}: cannot create it: {e}", dir.display()))?;
    }
    let pipeline = plan.pipeline()?;
    let mut runner = BeamRunner::new(endpoint)
        .job_name("sdf-read")
        .timeout(JOB_WAIT)
        .worker_address(args.worker_address);
    for (key, value) in options(args)? {
        runner = runner.option(key, value);
    }
    if args.worker_pool.is_some() && args.environment != EnvironmentKind::External {
        return Err(
            "--worker-pool is for --environment external; with --environment process \
                    or docker the runner starts the workers itself"
                .into(),
        );
    }
    if args.container_image.is_some() != (args.environment == EnvironmentKind::Docker) {
        return Err("--environment docker needs --container-image IMAGE, and \
                    --container-image goes with --environment docker"
            .into());
    }
    let elsewhere = match (args.environment, &args.worker_pool, &args.container_image) {
        (EnvironmentKind::External, None, _) => false,
        (EnvironmentKind::External, Some(pool), _) => {
            runner = runner.environment(external_environment(pool));
            true
        }
        (EnvironmentKind::Process, _, _) => {
            let exe = std::env::current_exe()
                .map_err(|e| format!("--environment process: cannot find this program: {e}"))?;
            runner = runner.environment(process_environment(&exe.display().to_string()));
            true
        }
        (EnvironmentKind::Docker, _, image) => {
            let image = image.as_deref().unwrap_or_default();
            runner = runner.environment(docker_environment(image));
            true
        }
    };
    if elsewhere {
        // Workers in other processes build the read from this option.
        runner = runner.option(PLAN_OPTION, serde_json::to_value(&plan)?);
    }
    if !quiet {
        eprintln!("sdf: submitting to the Beam job service at {endpoint}");
    }
    let run = runner.run(pipeline).await?;
    if !run.counters_reported {
        return Err(format!(
            "the job service at {endpoint} reports no metrics (GetJobMetrics is \
             unimplemented), and sdf takes its counts from them: use a runner whose job \
             service reports metrics (docs/beam.md)"
        )
        .into());
    }
    if !quiet {
        let w = run.workers;
        eprintln!(
            "sdf: job {} done on Beam: {} bundles in this process; the runner split the work \
             {} times ({} inside a running element)",
            run.job_id,
            w.bundles,
            w.element_splits + w.channel_splits,
            w.element_splits,
        );
    }
    match &plan.ending {
        Ending::Count => println!("{}", run.counter("records")),
        Ending::Checksum => {
            // The halves' sums put together again, mod 2^64 as the embedded run sums.
            let sum = (run.counter("digest_hi") << 32).wrapping_add(run.counter("digest_lo"));
            println!("{} {}", run.counter("records"), sum as u64);
        }
        Ending::Out(dir) => {
            let leftover = remove_staging(dir)?;
            if !quiet {
                eprintln!(
                    "sdf: wrote {} records into {}; removed {} staging directories, with {} \
                     files of attempts the runner discarded",
                    run.counter("written"),
                    dir.display(),
                    leftover.dirs,
                    leftover.discarded_files,
                );
            }
        }
    }
    Ok(())
}

/// `sdf beam-worker FLAGS…` (or `sdf FLAGS…` as a runner starts it): the worker a Beam runner
/// started with the boot flags; it builds the read from the pipeline option [`PLAN_OPTION`]
/// and runs until the runner closes its control stream.
pub(crate) async fn worker(flags: Vec<String>) -> Result<(), Box<dyn Error>> {
    let args = boot::BootArgs::parse(flags)?;
    boot::run(args, |options| {
        let plan = options.get(PLAN_OPTION).ok_or_else(|| {
            BeamError::Protocol(format!(
                "the pipeline options have no {PLAN_OPTION}: this worker runs the reads that \
                 `sdf read --runner beam` submits with --environment process or --worker-pool"
            ))
        })?;
        let plan: ReadPlan = serde_json::from_value(plan.clone()).map_err(|e| {
            BeamError::Protocol(format!(
                "the pipeline option {PLAN_OPTION} is not a read of this version of sdf: {e}"
            ))
        })?;
        let pipeline = plan.pipeline().map_err(BeamError::Protocol)?;
        Ok(pipeline.build().1)
    })
    .await?;
    Ok(())
}
