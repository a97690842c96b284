//! The SDK harness: the worker side of Beam's Fn API, running this crate's DoFns for a Beam
//! runner.
//!
//! A runner with an EXTERNAL environment calls the [`WorkerPool`] to start a worker; a PROCESS
//! or DOCKER environment (or a worker pool such as Beam's `worker_pool_main
//! --container_executable`) starts a program with the container contract's flags, which calls
//! [`boot::run`]: it fetches the job's [`ProvisionInfo`] (the pipeline options), builds the
//! [`Registry`] from them and runs the worker. A worker's `tracing` events go to the runner's
//! logging service through [`BeamLogLayer`] (only those of the worker's own tasks). A worker
//! opens the runner's control stream and answers its instructions:
//!
//! - `Register`: keeps the bundle descriptors.
//! - `ProcessBundle`: builds the descriptor's transforms as operators (`bundle.rs`), feeds
//!   them the bundle's elements from the data stream, sends their output back, and answers
//!   with the residuals its calls left (self-checkpoints with their delay, splits made after
//!   their requester stopped waiting) and whether it needs finalization.
//! - `ProcessBundleSplit`: splits the running bundle where the runner asks (`split.rs`): in
//!   the element being processed through its tracker's split handle, or between elements.
//! - `ProcessBundleProgress`: the data channel's read index.
//! - `FinalizeBundle`: runs the finalizers the bundle's calls registered
//!   (`Output::after_commit`), once the runner committed its output; never before.
//!
//! Which Rust DoFn runs a transform is found by name in the [`Registry`].

pub mod boot;
mod bundle;
mod data;
mod logging;
mod ops;
mod plain;
mod pool;
mod provision;
mod registry;
mod short_ids;
mod split;
mod step;
mod worker;

pub use bundle::run_bundle_in_memory;
pub use logging::{BeamLogLayer, with_worker_log};
pub use ops::Encoded;
pub(crate) use ops::{Encoder, json_encoder};
pub use pool::{PoolListener, WorkerPool};
pub use provision::ProvisionInfo;
pub use registry::{Registry, SDF_DOFN_URN};
pub use step::{ImpulseBytes, InputCoder};
pub use worker::{HarnessStats, WorkerEndpoints, run_worker, run_worker_with};
