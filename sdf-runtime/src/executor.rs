//! [`Executor`]: runs a [`Pipeline`] on tokio; [`PipelineHandle`]: watches and steers it.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::metrics::{Counters, StageMetrics};
use crate::pipeline::{Control, Pipeline};

/// Runs pipelines on the current tokio runtime (or on its own, with
/// [`run_blocking`](Executor::run_blocking)).
#[derive(Debug, Clone, Default)]
pub struct Executor {
    config: Config,
}

/// Builds an [`Executor`]; every setting has a default that works.
#[derive(Debug, Clone, Default)]
pub struct ExecutorBuilder {
    config: Config,
}

impl ExecutorBuilder {
    /// Concurrent `process` calls per stage (default: the number of cores).
    pub fn workers(mut self, workers: usize) -> Self {
        self.config.workers = workers.max(1);
        self
    }

    /// Checkpoint a call after this many outputs (default 10,000).
    pub fn max_outputs_per_call(mut self, outputs: u64) -> Self {
        self.config.max_outputs_per_call = outputs.max(1);
        self.config.max_held_outputs = self.config.max_held_outputs.max(outputs);
        self
    }

    /// Checkpoint a call after this long (default 1 s).
    pub fn max_call_duration(mut self, duration: Duration) -> Self {
        self.config.max_call_duration = duration;
        self
    }

    /// Records per batch between stages (default 1,024).
    pub fn batch_size(mut self, records: usize) -> Self {
        self.config.batch_size = records.max(1);
        self
    }

    /// Attempts of a failing call (default 3) and the first retry's wait (default 100 ms).
    pub fn retries(mut self, max_attempts: u32, backoff: Duration) -> Self {
        self.config.max_attempts = max_attempts.max(1);
        self.config.retry_backoff = backoff;
        self
    }

    /// Turns dynamic rebalancing on or off (default on).
    pub fn rebalance(mut self, on: bool) -> Self {
        self.config.rebalance = on;
        self
    }

    /// Restrictions a stage queues per worker before it stops taking input (default 64).
    pub fn queue_per_worker(mut self, restrictions: usize) -> Self {
        self.config.queue_per_worker = restrictions.max(1);
        self
    }

    /// Pieces per worker that an element's restriction is cut into up front (default 4).
    pub fn initial_pieces_per_worker(mut self, pieces: usize) -> Self {
        self.config.initial_pieces_per_worker = pieces.max(1);
        self
    }

    /// The executor.
    pub fn build(self) -> Executor {
        Executor {
            config: self.config,
        }
    }
}

impl Executor {
    /// A builder with defaults.
    pub fn builder() -> ExecutorBuilder {
        ExecutorBuilder::default()
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Starts `pipeline` on the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn run(&self, pipeline: Pipeline) -> PipelineHandle {
        let control = Arc::new(Control::default());
        let mut tasks = JoinSet::new();
        for (name, task) in pipeline.tasks {
            let future = task(self.config.clone(), Arc::clone(&control));
            tasks.spawn(async move { future.await.map_err(|e| (name, e)) });
        }
        let supervisor = tokio::spawn(supervise(tasks, Arc::clone(&control)));
        PipelineHandle {
            control,
            counters: pipeline.counters,
            supervisor,
        }
    }

    /// Runs `pipeline` to completion on a runtime of its own. `process` calls run on worker
    /// threads of each stage; the runtime's two threads move data and run timers.
    pub fn run_blocking(&self, pipeline: Pipeline) -> Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start the tokio runtime: {e}")))?;
        runtime.block_on(async { self.run(pipeline).wait().await })
    }
}

/// Waits for every step; on the first failure stops the others. After success, runs the
/// finalizers of the work that reached the sinks.
async fn supervise(
    mut tasks: JoinSet<Result<(), (String, Error)>>,
    control: Arc<Control>,
) -> Result<()> {
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        let result = match joined {
            Ok(Ok(())) => continue,
            Ok(Err((_, e))) => e,
            Err(e) if e.is_cancelled() => Error::Cancelled,
            Err(e) => Error::Internal(format!("a pipeline task panicked: {e}")),
        };
        if failure.is_none() {
            control.fail();
            tasks.abort_all();
            failure = Some(result);
        }
    }
    if let Some(error) = failure {
        return Err(error);
    }
    for finalizer in control.take_finalizers() {
        if let Err(error) = finalizer().await {
            tracing::warn!(%error, "a bundle finalizer failed after its output was committed");
        }
    }
    Ok(())
}

/// A running pipeline: metrics, drain, cancel, and its completion.
#[derive(Debug)]
pub struct PipelineHandle {
    control: Arc<Control>,
    counters: Vec<Arc<Counters>>,
    supervisor: tokio::task::JoinHandle<Result<()>>,
}

impl PipelineHandle {
    /// A snapshot of every stage's metrics, in the order the stages were added.
    pub fn metrics(&self) -> Vec<StageMetrics> {
        self.counters.iter().map(|c| c.snapshot()).collect()
    }

    /// Stops taking input, truncates unbounded work (`truncate_restriction`), finishes bounded
    /// work, and completes.
    pub fn drain(&self) {
        self.control.drain();
    }

    /// Stops everything now; [`wait`](Self::wait) returns [`Error::Cancelled`].
    ///
    /// A `process` call in progress is not interrupted: its worker thread stops after the call
    /// returns.
    pub fn cancel(&self) {
        self.control.fail();
        self.supervisor.abort();
    }

    /// Waits for the pipeline to finish.
    pub async fn wait(self) -> Result<()> {
        match self.supervisor.await {
            Ok(result) => result,
            Err(e) if e.is_cancelled() => Err(Error::Cancelled),
            Err(e) => Err(Error::Internal(format!(
                "the pipeline supervisor panicked: {e}"
            ))),
        }
    }
}
