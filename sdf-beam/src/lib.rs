//! sdf on Apache Beam's portable runners.
//!
//! This crate is being built in steps (see `ARCHITECTURE.md`). What stands:
//! - [`proto`]: Beam's model (Runner, Fn, Job, Provision APIs), generated from Beam 2.77.0's own
//!   descriptors without `protoc`.
//! - [`coder`]: Beam's standard coders, exact to the byte against Beam's `standard_coders.yaml`.

pub mod coder;
mod create;
mod error;
pub mod harness;
pub mod job;
pub mod model;
pub mod proto;
pub mod translate;

pub use create::Create;
pub use error::{BeamError, Result};
pub use job::{Job, JobOutcome, JobService};
