//! sdf's splittable DoFns on Apache Beam's portable runners: the runner pairs, splits, sizes
//! and schedules restrictions, and its split requests are answered by our own trackers.
//!
//! - [`translate::BeamPipeline`] builds a Beam pipeline of SDFs (a root after an impulse,
//!   then DoFns applied, [`BundleSink`] writes and counters), with the [`harness::Registry`]
//!   its workers run it with; [`BeamRunner`] runs it through a job service and returns what
//!   the job did.
//! - [`harness`] is the worker: the EXTERNAL [`harness::WorkerPool`], the control and data
//!   streams, the expanded SDF transforms, runner splits, residuals, finalizers; the
//!   provision and logging services; [`harness::boot`], the entry point of a worker process a
//!   runner starts with Beam's container flags.
//! - [`JobService`] submits through the Job API and follows the job to its end.
//! - [`coder`] holds Beam's standard coders, exact to the byte against the release's
//!   `standard_coders.yaml`; [`proto`] Beam 2.77.0's model, generated without `protoc`.
//! - [`metrics`]: counters the runner sums over the bundles it commits, exact however
//!   bundles are retried; [`BundleSink`]: sinks written per bundle attempt and published only
//!   for committed attempts.
//! - [`on_commit`] applies a side effect per element once the runner committed it (an
//!   acknowledgement; finalization is best effort, so not for totals).
//! - [`local`] starts Beam's Python job service and Beam's worker pool on this machine.
//!
//! What works and what is missing: `docs/beam.md`.

pub mod coder;
mod create;
mod error;
pub mod harness;
pub mod job;
pub mod local;
pub mod metrics;
pub mod model;
mod on_commit;
pub mod proto;
mod runner;
pub mod translate;
mod write;

pub use create::Create;
pub use error::{BeamError, Result};
pub use job::{Job, JobOutcome, JobService};
pub use metrics::{COUNTER_NAMESPACE, Counter};
pub use on_commit::{OnCommit, on_commit};
pub use runner::{BeamRun, BeamRunner, WorkerCounts};
pub use write::BundleSink;
