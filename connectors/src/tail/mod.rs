//! Tailing growing files: [`TailFile`] (the guide is on it), its tracker [`TailTracker`] over
//! [`TailRange`]s, and the reading of one call (`read.rs`, over `cursor.rs`).

mod cursor;
mod dofn;
mod read;
mod tracker;

pub use dofn::{StartAt, TailFile, TailLine, Truncation};
pub use tracker::{FileId, LineCheck, SizeEstimate, TailPosition, TailRange, TailTracker};
