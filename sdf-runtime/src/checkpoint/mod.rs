//! Durable checkpoints: the store, the persisted format, and the coordinator that takes
//! consistent cuts and drives the sinks' two-phase commit. Design: `docs/checkpoints.md`.

pub(crate) mod coordinator;
pub(crate) mod format;
pub mod store;
