//! # sdf-runtime
//!
//! The embedded executor for splittable DoFns. Not implemented yet: this crate exists so that
//! the workspace has its final shape; the runtime issue fills it.
