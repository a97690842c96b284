//! [`BeamRunner`]: runs a [`BeamPipeline`] on a Beam runner through its job service, with this
//! process as the runner's worker pool, and returns what the job did.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::error::{BeamError, Result};
use crate::harness::{HarnessStats, PoolListener};
use crate::job::JobService;
use crate::metrics::{Counter, total};
use crate::translate::{BeamPipeline, external_environment};

/// How long connecting to the job service may take.
const CONNECT: Duration = Duration::from_secs(30);

/// Runs pipelines on the Beam runner behind a job service (Beam's Python job service, a
/// Flink or Spark job server, Prism), as [`Executor`] runs them in this process.
///
/// The runner starts its workers through a worker pool in this process (an EXTERNAL
/// environment at [`worker_address`](Self::worker_address)), so the runner must be able to
/// reach this process, and the DoFns run here, registered by name when the pipeline was built.
///
/// ```no_run
/// use sdf_beam::{BeamRunner, Create, translate::BeamPipeline};
/// use sdf_core::testing::CountFn;
///
/// # async fn run() -> sdf_beam::Result<()> {
/// let mut p = BeamPipeline::default();
/// let keys = p.root("keys", Create::new([("a".to_string(), 1000i64)]));
/// let counted = p.apply("count", &keys, CountFn);
/// p.counters("tally", &counted, |_: &(String, i64)| vec![("records", 1)]);
/// let run = BeamRunner::new("localhost:8099").run(p).await?;
/// assert_eq!(run.counter("records"), 1000);
/// # Ok(())
/// # }
/// ```
///
/// [`Executor`]: https://docs.rs/sdf-runtime/latest/sdf_runtime/struct.Executor.html
#[derive(Debug, Clone)]
pub struct BeamRunner {
    job_endpoint: String,
    worker_address: SocketAddr,
    options: BTreeMap<String, serde_json::Value>,
    job_name: String,
    timeout: Duration,
    /// Workers started elsewhere (a PROCESS environment, a worker pool of the runner's),
    /// instead of this process's pool.
    environment: Option<crate::proto::pipeline::Environment>,
}

/// What a job did, once it is DONE.
#[derive(Debug)]
pub struct BeamRun {
    /// The runner's id of the job.
    pub job_id: String,
    /// Every message the runner sent about the job, oldest first, with its importance.
    pub messages: Vec<(String, String)>,
    /// The user counters the runner committed ([`metrics`](crate::metrics)); empty where the
    /// job service reports no metrics (see [`counters_reported`](Self::counters_reported)).
    pub counters: Vec<Counter>,
    /// Whether the job service reports metrics at all.
    pub counters_reported: bool,
    /// What this process's workers did (nothing, with [`BeamRunner::environment`]).
    pub workers: WorkerCounts,
}

/// What a run's workers in this process did (including bundle runs the runner discarded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerCounts {
    /// Bundles processed to the end.
    pub bundles: u64,
    /// Runner splits answered inside a running element.
    pub element_splits: u64,
    /// Runner splits answered at an element boundary.
    pub channel_splits: u64,
    /// Residual roots returned with finished bundles.
    pub residuals: u64,
}

impl WorkerCounts {
    fn of(stats: &HarnessStats) -> WorkerCounts {
        WorkerCounts {
            bundles: HarnessStats::get(&stats.bundles),
            element_splits: HarnessStats::get(&stats.element_splits),
            channel_splits: HarnessStats::get(&stats.channel_splits),
            residuals: HarnessStats::get(&stats.bundle_residuals),
        }
    }
}

impl BeamRun {
    /// The total of this SDK's counter `name` over every step that reported it.
    pub fn counter(&self, name: &str) -> i128 {
        total(&self.counters, name)
    }
}

impl BeamRunner {
    /// A runner submitting to the job service at `job_endpoint` (`host:port` or a URL).
    pub fn new(job_endpoint: impl Into<String>) -> BeamRunner {
        BeamRunner {
            job_endpoint: job_endpoint.into(),
            worker_address: SocketAddr::from(([127, 0, 0, 1], 0)),
            options: BTreeMap::new(),
            job_name: "sdf".to_string(),
            timeout: Duration::from_secs(24 * 3600),
            environment: None,
        }
    }

    /// Runs the DoFns in `environment` instead of in this process: a PROCESS environment whose
    /// command is a program's boot entry point ([`harness::boot`](crate::harness::boot)), or
    /// an EXTERNAL one at a worker pool the runner's side runs. Those workers build the
    /// pipeline's DoFns themselves, from the pipeline options; counters still come back
    /// through the runner.
    pub fn environment(mut self, environment: crate::proto::pipeline::Environment) -> Self {
        self.environment = Some(environment);
        self
    }

    /// The address this process's worker pool listens on (default `127.0.0.1:0`, a free
    /// loopback port): one the runner can reach.
    pub fn worker_address(mut self, address: SocketAddr) -> Self {
        self.worker_address = address;
        self
    }

    /// A Beam pipeline option, by its name (`direct_num_workers`, `direct_test_splits`, …).
    pub fn option(mut self, name: impl Into<String>, value: serde_json::Value) -> Self {
        self.options.insert(name.into(), value);
        self
    }

    /// The job's name at the runner (default `sdf`).
    pub fn job_name(mut self, name: impl Into<String>) -> Self {
        self.job_name = name.into();
        self
    }

    /// How long to wait for the job to end (default a day); the job is not cancelled when the
    /// wait ends.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs `pipeline` to its end: starts the worker pool, submits, follows the job, and
    /// returns what it did if it ended DONE, or the runner's errors
    /// ([`BeamError::JobFailed`]) if not.
    pub async fn run(&self, mut pipeline: BeamPipeline) -> Result<BeamRun> {
        let pool = match &self.environment {
            Some(environment) => {
                pipeline.set_environment(environment.clone());
                None
            }
            None => Some(PoolListener::bind(self.worker_address).await?),
        };
        if let Some(listener) = &pool {
            pipeline.set_environment(external_environment(&listener.address().to_string()));
        }
        let (proto, registry) = pipeline.build();
        let pool = pool.map(|listener| listener.serve(registry));
        let service = JobService::connect(&self.job_endpoint, CONNECT).await?;
        let job = service.submit(&self.job_name, proto, &self.options).await?;
        tracing::info!(job = job.id(), endpoint = %self.job_endpoint, "submitted");
        let outcome = job.wait(self.timeout).await?;
        Ok(BeamRun {
            job_id: outcome.job_id,
            messages: outcome.messages,
            counters_reported: outcome.counters.is_some(),
            counters: outcome.counters.unwrap_or_default(),
            workers: pool
                .as_ref()
                .map(|p| WorkerCounts::of(p.stats()))
                .unwrap_or_default(),
        })
    }

    /// [`run`](Self::run) on a tokio runtime of its own, for programs that have none.
    pub fn run_blocking(&self, pipeline: BeamPipeline) -> Result<BeamRun> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| BeamError::Protocol(format!("cannot start a tokio runtime: {e}")))?;
        runtime.block_on(self.run(pipeline))
    }
}
