//! # sdf
//!
//! The umbrella package of the workspace: re-exports [`sdf_core`] and holds the top-level
//! examples, integration tests and benchmarks.

pub use sdf_core as core;
