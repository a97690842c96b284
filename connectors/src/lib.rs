//! # sdf-connectors
//!
//! File connectors as splittable DoFns. Not implemented yet: this crate exists so that the
//! workspace has its final shape; the connectors issue fills it.
