//! The umbrella package of the workspace: re-exports [`sdf_core`] and holds the top-level
//! examples, integration tests and benchmarks. The README below is compiled as doc-tests, so
//! its examples stay true.
#![doc = include_str!("../README.md")]

pub use sdf_core as core;
