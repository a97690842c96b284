//! [`Executor`]: runs a [`Pipeline`] on tokio; [`PipelineHandle`]: watches and steers it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::checkpoint::coordinator::Coordinator;
use crate::checkpoint::store::CheckpointStore;
use crate::config::Config;
use crate::control::Control;
use crate::error::{Error, Result};
use crate::metrics::{Counters, StageMetrics};
use crate::pipeline::{Env, Pipeline};

/// Runs pipelines on the current tokio runtime (or on its own, with
/// [`run_blocking`](Executor::run_blocking)).
#[derive(Clone)]
pub struct Executor {
    config: Config,
    store: Option<Arc<dyn CheckpointStore>>,
    checkpoint_interval: Duration,
    identity: Option<serde_json::Value>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("config", &self.config)
            .field("durable", &self.store.is_some())
            .field("checkpoint_interval", &self.checkpoint_interval)
            .finish()
    }
}

impl Default for Executor {
    fn default() -> Self {
        ExecutorBuilder::default().build()
    }
}

/// Builds an [`Executor`]; every setting has a default that works.
#[derive(Clone)]
pub struct ExecutorBuilder {
    config: Config,
    store: Option<Arc<dyn CheckpointStore>>,
    checkpoint_interval: Duration,
    identity: Option<serde_json::Value>,
}

impl Default for ExecutorBuilder {
    fn default() -> Self {
        ExecutorBuilder {
            config: Config::default(),
            store: None,
            checkpoint_interval: Duration::from_secs(1),
            identity: None,
        }
    }
}

impl std::fmt::Debug for ExecutorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutorBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
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
        // What a call holds back stays a memory bound, whatever the checkpoint cadence.
        self.config.max_held_outputs = outputs.saturating_mul(4).clamp(40_000, 1_000_000);
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

    /// Makes the pipeline durable: a consistent checkpoint is saved in `store` every
    /// [`checkpoint_interval`](Self::checkpoint_interval), sinks commit with it, and a pipeline
    /// started on a store that holds a checkpoint resumes from it. Without a store, the pipeline
    /// commits its sinks once, at the end.
    pub fn checkpoint_store(mut self, store: Arc<dyn CheckpointStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// How often a durable pipeline checkpoints (default 1 s): the time from the end of one
    /// checkpoint to the start of the next, so a slow store never leaves the pipeline paused.
    pub fn checkpoint_interval(mut self, interval: Duration) -> Self {
        self.checkpoint_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// What this pipeline is, beyond the names of its steps: its inputs, formats, outputs —
    /// whatever would make a checkpoint of it wrong for another. Stored in every checkpoint; a
    /// pipeline started on a checkpoint that holds another identity is refused
    /// ([`CheckpointError::OtherPipeline`](crate::CheckpointError::OtherPipeline)) instead of
    /// resuming the wrong work. A checkpoint without one is accepted (and gets it).
    ///
    /// ```
    /// use sdf_runtime::Executor;
    /// let executor = Executor::builder()
    ///     .checkpoint_identity(serde_json::json!({ "patterns": ["in/*.txt"], "out": "out/" }))
    ///     .build();
    /// # let _ = executor;
    /// ```
    pub fn checkpoint_identity(mut self, identity: serde_json::Value) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The executor.
    pub fn build(self) -> Executor {
        Executor {
            config: self.config,
            store: self.store,
            checkpoint_interval: self.checkpoint_interval,
            identity: self.identity,
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

    /// Starts `pipeline` on the current tokio runtime. With a checkpoint store that holds a
    /// checkpoint of this pipeline, it resumes from there.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn run(&self, pipeline: Pipeline) -> PipelineHandle {
        let control = Arc::new(Control::default());
        let counters = pipeline.counters.clone();
        let supervisor = match self.start(pipeline, &control) {
            Ok(started) => tokio::spawn(supervise(started, self.checkpoint_interval)),
            Err(e) => tokio::spawn(async move { Err(e) }),
        };
        PipelineHandle {
            control,
            counters,
            supervisor,
        }
    }

    fn start(&self, pipeline: Pipeline, control: &Arc<Control>) -> Result<Started> {
        if let Some(name) = pipeline.duplicate {
            return Err(Error::Internal(format!(
                "two steps are named '{name}': step names identify state in checkpoints and must be distinct"
            )));
        }
        for link in pipeline.links {
            control.register_link(link);
        }
        let restored = match &self.store {
            Some(store) => {
                Coordinator::load(store.as_ref(), &pipeline.names, self.identity.as_ref())?
            }
            None => None,
        };
        let (epoch, mut state, mut commits) = match restored {
            Some(c) => {
                tracing::info!(epoch = c.epoch, "resuming from checkpoint");
                let commits = c
                    .commits
                    .into_iter()
                    .map(|(name, v)| (name, (c.epoch, v)))
                    .collect();
                (c.epoch + 1, c.state, commits)
            }
            None => (1, BTreeMap::new(), BTreeMap::new()),
        };
        // Steps the sinks take while they recover belong to the epoch the pipeline resumes with.
        sdf_core::crash::set_epoch(epoch);
        let mut tasks = JoinSet::new();
        for (name, task) in pipeline.tasks {
            let env = Env {
                config: self.config.clone(),
                control: Arc::clone(control),
                restored: state.remove(&name),
            };
            let future = task(env);
            tasks.spawn(async move { future.await.map_err(|e| (name, e)) });
        }
        let mut sinks = JoinSet::new();
        let mut ports = Vec::new();
        for (port, task) in pipeline.sinks {
            let future = task(commits.remove(&port.name));
            let name = port.name.clone();
            sinks.spawn(async move { future.await.map_err(|e| (name, e)) });
            ports.push(port);
        }
        let coordinator = Coordinator {
            store: self.store.clone(),
            control: Arc::clone(control),
            sinks: ports,
            steps: pipeline.names,
            epoch,
            identity: self.identity.clone(),
        };
        Ok(Started {
            tasks,
            sinks,
            coordinator,
        })
    }

    /// Runs `pipeline` to completion on a runtime of its own. `process` calls run on worker
    /// threads of each stage; the runtime's two threads move data and run timers.
    /// Returns the final metrics of every stage.
    pub fn run_blocking(&self, pipeline: Pipeline) -> Result<Vec<StageMetrics>> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start the tokio runtime: {e}")))?;
        runtime.block_on(async {
            let handle = self.run(pipeline);
            let counters = handle.counters.clone();
            handle.wait().await?;
            Ok(counters.iter().map(|c| c.snapshot()).collect())
        })
    }
}

type Joined = JoinSet<Result<(), (String, Error)>>;

struct Started {
    tasks: Joined,
    sinks: Joined,
    coordinator: Coordinator,
}

/// Waits for every source and stage, checkpointing every `interval` (with a store); on the first
/// failure stops everything. At the end takes the last checkpoint, which commits the sinks and
/// runs the remaining finalizers, and finishes the sinks.
async fn supervise(started: Started, interval: Duration) -> Result<()> {
    let Started {
        mut tasks,
        mut sinks,
        mut coordinator,
    } = started;
    let control = Arc::clone(&coordinator.control);
    let result = async {
        let periodic = coordinator.store.is_some();
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        loop {
            tokio::select! {
                joined = tasks.join_next() => match joined {
                    None => break,
                    Some(joined) => flatten(joined)?,
                },
                Some(joined) = sinks.join_next() => {
                    flatten(joined)?;
                    return Err(Error::Internal("a sink stopped before the end of its input".into()));
                }
                _ = control.cancelled() => return Err(Error::Cancelled),
                _ = control.stopping() => {
                    // Save what is pending, unbounded work included, publish what was
                    // committed, and stop: a restart on the same store resumes here.
                    {
                        let hold = coordinator.checkpoint_and_hold();
                        tokio::pin!(hold);
                        loop {
                            tokio::select! {
                                result = &mut hold => { result?; break; }
                                Some(joined) = tasks.join_next() => flatten(joined)?,
                            }
                        }
                    }
                    control.fail();
                    tasks.abort_all();
                    for port in &coordinator.sinks {
                        port.finish().await;
                    }
                    return Ok(());
                }
                _ = ticker.tick(), if periodic => {
                    checkpoint_watching(&mut coordinator, false, &mut tasks, &mut sinks).await?;
                    // The interval runs from the end of one checkpoint to the start of the
                    // next: a checkpoint slower than the interval must not make the next one
                    // start at once, leaving the pipeline paused nearly all the time (20,000
                    // records took 100 s instead of 2 s in `tests/backpressure.rs`).
                    ticker.reset();
                }
            }
        }
        checkpoint_watching(&mut coordinator, true, &mut tasks, &mut sinks).await?;
        for port in &coordinator.sinks {
            port.finish().await;
        }
        while let Some(joined) = sinks.join_next().await {
            flatten(joined)?;
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        control.fail();
        tasks.abort_all();
        sinks.abort_all();
        // An aborted task drops what it owns (a sink and its output directory's lock) only
        // when it is polled again: wait for that, so that a pipeline started after this one
        // returned finds its directories free (a restarted tail found its own output busy).
        while tasks.join_next().await.is_some() {}
        while sinks.join_next().await.is_some() {}
    }
    wait_for_workers(&control).await;
    result
}

/// How long a stopping pipeline waits for a worker thread to leave its `process` call.
const WORKER_EXIT_WAIT: Duration = Duration::from_secs(10);

/// Waits until every worker thread has exited, so that the pipeline never ends (nor its caller
/// shuts the runtime down) under a worker still using the runtime. A stopped worker exits at
/// its call's next await; one that computes without awaiting is waited for, within a bound.
async fn wait_for_workers(control: &Control) {
    if tokio::time::timeout(WORKER_EXIT_WAIT, control.workers_exited())
        .await
        .is_err()
    {
        tracing::warn!(
            "a worker thread is still inside a process call {} s after the pipeline stopped; \
             not waiting for it any longer",
            WORKER_EXIT_WAIT.as_secs()
        );
    }
}

/// Takes a checkpoint while still watching the steps: a step that fails meanwhile stops
/// reading its input, so the checkpoint would wait for that link to drain for ever. Its error
/// ends the checkpoint and the pipeline instead. Steps that finish normally meanwhile are fine.
async fn checkpoint_watching(
    coordinator: &mut Coordinator,
    complete: bool,
    tasks: &mut Joined,
    sinks: &mut Joined,
) -> Result<()> {
    let checkpoint = coordinator.checkpoint(complete);
    tokio::pin!(checkpoint);
    loop {
        tokio::select! {
            result = &mut checkpoint => return result,
            Some(joined) = tasks.join_next() => flatten(joined)?,
            Some(joined) = sinks.join_next() => {
                flatten(joined)?;
                return Err(Error::Internal("a sink stopped before the end of its input".into()));
            }
        }
    }
}

fn flatten(
    joined: std::result::Result<Result<(), (String, Error)>, tokio::task::JoinError>,
) -> Result<()> {
    match joined {
        Ok(Ok(())) => Ok(()),
        Ok(Err((_, e))) => Err(e),
        Err(e) if e.is_cancelled() => Err(Error::Cancelled),
        Err(e) => Err(Error::Internal(format!("a pipeline task panicked: {e}"))),
    }
}

/// Reads a pipeline's metrics; cheap to clone, valid after the pipeline ended.
#[derive(Debug, Clone)]
pub struct MetricsHandle {
    counters: Vec<Arc<Counters>>,
}

impl MetricsHandle {
    /// A snapshot of every stage's metrics, in the order the stages were added.
    pub fn snapshot(&self) -> Vec<StageMetrics> {
        self.counters.iter().map(|c| c.snapshot()).collect()
    }
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

    /// A handle that reads the metrics while [`wait`](Self::wait) runs, and after.
    pub fn metrics_handle(&self) -> MetricsHandle {
        MetricsHandle {
            counters: self.counters.clone(),
        }
    }

    /// Stops taking input, truncates unbounded work (`truncate_restriction`), finishes bounded
    /// work, and completes.
    pub fn drain(&self) {
        self.control.drain();
    }

    /// Takes a final checkpoint that keeps all pending work (unbounded work included), commits
    /// the sinks, and stops; [`wait`](Self::wait) returns `Ok`. With a checkpoint store, a
    /// pipeline started again on the same store resumes exactly there: what a streaming job
    /// wants on Ctrl-C. (A [`drain`](Self::drain) instead finishes bounded work and drops
    /// unbounded work.)
    pub fn stop(&self) {
        self.control.request_stop();
    }

    /// Stops everything now; [`wait`](Self::wait) returns [`Error::Cancelled`].
    ///
    /// A `process` call in progress is dropped at its next `.await` (its output is discarded, as
    /// in any stop without a checkpoint); one that computes without awaiting is waited for, up
    /// to 10 s. `wait` returns only once every worker thread has exited.
    pub fn cancel(&self) {
        self.control.cancel();
    }

    /// Waits for the pipeline to finish.
    pub async fn wait(mut self) -> Result<()> {
        self.completion().await
    }

    /// Waits for the pipeline to finish, keeping the handle: `select!` it against a signal,
    /// then [`stop`](Self::stop) and wait again.
    pub async fn completion(&mut self) -> Result<()> {
        match (&mut self.supervisor).await {
            Ok(result) => result,
            Err(e) if e.is_cancelled() => Err(Error::Cancelled),
            Err(e) => Err(Error::Internal(format!(
                "the pipeline supervisor panicked: {e}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::store::MemoryStore;

    /// Every source and stage is restored and registered for checkpoints when the pipeline
    /// starts, before any of its tasks runs: a checkpoint taken at once (a stop right after the
    /// start, a tick that comes before a busy runtime polls a stage) holds every step's state.
    /// (A stage registered itself when first polled; a restart whose first checkpoint came
    /// before that lost the stage's work for good, and a watch ended by itself.)
    #[test]
    fn every_step_is_registered_before_the_pipeline_runs() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let _guard = runtime.enter();
        let mut p = Pipeline::new();
        let input = p.from_iter("input", vec![("k".to_string(), 10)]);
        let counted = p.apply("count", input, sdf_core::testing::CountFn);
        let _ = p.collect("out", counted);
        let executor = Executor::builder()
            .checkpoint_store(Arc::new(MemoryStore::default()))
            .build();
        let control = Arc::new(Control::default());
        // Started, not polled: nothing has run on this current-thread runtime yet.
        let started = executor
            .start(p, &control)
            .map_err(|e| e.to_string())
            .unwrap();
        let names: Vec<String> = control
            .steps()
            .iter()
            .map(|s| s.name().to_string())
            .collect();
        assert_eq!(names, ["input", "count"]);
        drop(started);
    }
}
