//! `sdf read … --runner beam`: the same read on a Beam runner, through its job service.
//!
//! The files are matched here, as for the embedded run; on the runner they are a root
//! `Create`, the read (counting or digesting inside each call, as the embedded run does) and
//! a step that totals each call's partial result once the runner committed it
//! (`sdf_beam::on_commit`), so the printed figures are the embedded run's.

use std::collections::BTreeMap;
use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sdf_beam::harness::PoolListener;
use sdf_beam::translate::{BeamPipeline, external_environment};
use sdf_beam::{Create, JobService, on_commit};
use sdf_connectors::FileMetadata;
use sdf_connectors::read::{LineDigest, ReadJsonValues, ReadLineDigests, TooLong};
use sdf_connectors::{ReadAvro, ReadCsv};
use sdf_core::{SplittableDoFn, precombine};

use crate::Format;
use crate::sinks::{CountRecords, Counted, DigestSum};

/// Where and how to run on Beam.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BeamArgs {
    /// The Beam job service (`HOST:PORT`) to submit to, with `--runner beam`.
    #[arg(long, value_name = "HOST:PORT")]
    job_endpoint: Option<String>,
    /// How the runner starts our workers: `external` (a worker pool in this process, reached
    /// at `--worker-address`).
    #[arg(long, value_name = "KIND", default_value = "external")]
    environment: String,
    /// The address this process's worker pool listens on, which the runner must reach.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    worker_address: SocketAddr,
    /// A Beam pipeline option, `KEY=VALUE` (VALUE as JSON when it parses as JSON), repeatable.
    #[arg(long = "beam-option", value_name = "KEY=VALUE")]
    beam_options: Vec<String>,
}

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

/// The read, counting: `Create(files)` → `read` (a partial result per call) → `total`.
fn pipeline<R, A>(
    environment: sdf_beam::proto::pipeline::Environment,
    files: Vec<FileMetadata>,
    read: R,
    total: impl Fn(A) + Send + Sync + 'static,
) -> BeamPipeline
where
    R: SplittableDoFn<Input = FileMetadata, Output = A>,
    A: Clone
        + std::fmt::Debug
        + Send
        + Sync
        + serde::Serialize
        + serde::de::DeserializeOwned
        + 'static,
{
    let mut p = BeamPipeline::new(environment);
    let files = p.root("files", Create::new(files));
    let partials = p.apply("read", &files, read);
    p.apply("total", &partials, on_commit(total));
    p
}

fn count<R>(
    environment: sdf_beam::proto::pipeline::Environment,
    files: Vec<FileMetadata>,
    read: R,
    counted: &Arc<AtomicU64>,
) -> BeamPipeline
where
    R: SplittableDoFn<Input = FileMetadata>,
    R::Output: Counted + Send + 'static,
{
    let counted = Arc::clone(counted);
    pipeline(
        environment,
        files,
        precombine(read, CountRecords),
        move |n: u64| {
            counted.fetch_add(n, Ordering::Relaxed);
        },
    )
}

/// Runs the read on the Beam runner at `--job-endpoint` and prints what the embedded run
/// prints for `--count` or `--checksum`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn read(
    args: &BeamArgs,
    format: Format,
    files: Vec<FileMetadata>,
    count_only: bool,
    checksum: bool,
    multiline: bool,
    limit: usize,
    quiet: bool,
) -> Result<(), Box<dyn Error>> {
    let endpoint = args.job_endpoint.as_deref().ok_or(
        "--runner beam needs --job-endpoint HOST:PORT, the address of a Beam job service \
         (docs/beam.md says how to start one)",
    )?;
    if args.environment != "external" {
        return Err(format!(
            "--environment {}: only `external` works yet (a worker pool in this process); the \
             PROCESS and DOCKER boot entry point is not built (docs/beam.md)",
            args.environment
        )
        .into());
    }
    if !count_only && !checksum {
        return Err(
            "with --runner beam, sdf read takes --count or --checksum (records are not \
                    yet written or printed from a Beam runner: docs/beam.md)"
                .into(),
        );
    }
    let options = options(args)?;
    let listener = PoolListener::bind(args.worker_address).await?;
    let environment = external_environment(&listener.address().to_string());
    let counted = Arc::new(AtomicU64::new(0));
    let sum = Arc::new(AtomicU64::new(0));
    let p = match format {
        Format::Text => {
            let digest = if checksum {
                LineDigest::Xxh64 { seed: 42 }
            } else {
                LineDigest::Length
            };
            let read = ReadLineDigests::new(digest)
                .require_utf8(true)
                .max_record_length(limit, TooLong::Fail);
            let (c, s) = (Arc::clone(&counted), Arc::clone(&sum));
            pipeline(
                environment,
                files,
                precombine(read, DigestSum),
                move |(n, digest): (u64, u64)| {
                    c.fetch_add(n, Ordering::Relaxed);
                    s.fetch_add(digest, Ordering::Relaxed);
                },
            )
        }
        Format::Csv => {
            let read = ReadCsv::<Vec<String>>::new()
                .multiline(multiline)
                .max_record_length(limit, TooLong::Fail);
            count(environment, files, read, &counted)
        }
        Format::Jsonl => count(
            environment,
            files,
            ReadJsonValues::new().max_record_length(limit, TooLong::Fail),
            &counted,
        ),
        Format::Avro => count(environment, files, ReadAvro::json(), &counted),
        #[cfg(feature = "parquet")]
        Format::Parquet => {
            return Err(
                "--format parquet with --runner beam is not built yet (docs/beam.md)".into(),
            );
        }
    };
    let (pipeline, registry) = p.build();
    let pool = listener.serve(registry);
    let service = JobService::connect(endpoint, Duration::from_secs(30)).await?;
    let job = service.submit("sdf-read", pipeline, &options).await?;
    if !quiet {
        eprintln!("sdf: job {} on the Beam runner at {endpoint}", job.id());
    }
    job.wait(JOB_WAIT).await?;
    if !quiet {
        let stats = pool.stats();
        let get = sdf_beam::harness::HarnessStats::get;
        eprintln!(
            "sdf: done on Beam: {} bundles; the runner split the work {} times ({} inside a running element)",
            get(&stats.bundles),
            get(&stats.element_splits) + get(&stats.channel_splits),
            get(&stats.element_splits),
        );
    }
    if checksum {
        println!(
            "{} {}",
            counted.load(Ordering::Relaxed),
            sum.load(Ordering::Relaxed)
        );
    } else {
        println!("{}", counted.load(Ordering::Relaxed));
    }
    Ok(())
}
