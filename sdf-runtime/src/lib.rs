//! # sdf-runtime: the embedded executor
//!
//! Runs pipelines of splittable DoFns on one machine, on tokio:
//!
//! - **Up-front splitting.** Each element is paired with its initial restriction and cut with
//!   `split_restriction` into pieces sized from what the stage has seen and its parallelism.
//! - **Dynamic rebalancing.** When a worker is idle and nothing is queued, it splits the running
//!   call with the most remaining work, so one big input never leaves a straggler. Never before
//!   a call's first claim.
//! - **Runner-initiated checkpoints.** Each call is checkpointed (`try_split(0.0)`) after
//!   10,000 outputs or 1 s (configurable); the residual is rescheduled, so unbounded work makes
//!   fair progress.
//! - **Resume delays on real timers.** `ProcessContinuation::Resume { delay }` reschedules the
//!   residual after exactly that delay; nothing polls in a loop.
//! - **Watermarks.** A stage's output watermark is the minimum of its input watermark and the
//!   holds of its queued, delayed and running work; +∞ when it is done.
//! - **Atomic calls, retries.** A call's output is held until the call succeeds; a failed call is
//!   retried with backoff on its (possibly split) primary, without duplicates. Panics in user
//!   code become errors. After the last attempt the pipeline fails, naming the stage, the
//!   element and the restriction.
//!   With [`Pipeline::apply_with_dead_letters`] such an element goes to a second output as a
//!   [`DeadLetter`] (element, the unfinished restriction, the error) instead.
//! - **Backpressure.** Bounded channels between steps and bounded stage queues: a slow sink slows
//!   the sources, and memory stays bounded whatever the input size.
//! - **Durable checkpoints, exactly-once sinks.** With a [`CheckpointStore`]
//!   ([`DirectoryStore`] by default) the pipeline takes a consistent checkpoint every second:
//!   queued work, source positions, and what each [`Sink`] prepared; sinks commit once it is
//!   durable. A pipeline restarted on the same store resumes from it, and a transactional sink
//!   publishes every record exactly once, across `kill -9`. See `docs/checkpoints.md`.
//! - **Metrics.** [`PipelineHandle::metrics`]: per stage, elements, outputs, claims, calls,
//!   dynamic splits, checkpoints, resumes, retries, dead letters, work completed (bytes for
//!   byte-range readers), pending residuals, backlog and watermark; `tracing` events for
//!   retries, dead letters, dynamic splits and checkpoints.
//!
//! ```
//! use sdf_core::testing::CountFn;
//! use sdf_runtime::{Executor, Pipeline};
//!
//! let mut p = Pipeline::new();
//! let inputs = p.from_iter("inputs", vec![("a".to_string(), 1_000)]);
//! let counted = p.apply("count", inputs, CountFn);
//! let out = p.collect("out", counted);
//! Executor::builder().workers(2).build().run_blocking(p)?;
//! assert_eq!(out.len(), 1_000);
//! # Ok::<(), sdf_runtime::Error>(())
//! ```

#[cfg(feature = "beam")]
mod beam;
mod checkpoint;
mod config;
mod control;
mod dead_letter;
mod error;
mod executor;
mod lineage;
mod link;
mod message;
mod metrics;
mod pipeline;
mod policy;
mod sink;
mod stage;

pub use checkpoint::store::{CheckpointError, CheckpointStore, DirectoryStore, MemoryStore};
pub use config::Config;
pub use dead_letter::DeadLetter;
pub use error::{Error, Result};
pub use executor::{Executor, ExecutorBuilder, MetricsHandle, PipelineHandle};
pub use metrics::StageMetrics;
pub use pipeline::{Collected, PCollection, Pipeline, SourceSender};
// The trait lives in `sdf-core`, so that connectors need no runner; `sdf_runtime::Sink` stays.
pub use sdf_core::Sink;
