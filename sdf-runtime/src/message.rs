//! What flows between stages: batches of timestamped records and watermarks.

use sdf_core::{Timestamp, Timestamped};

/// One message on a channel between stages.
#[derive(Debug)]
pub(crate) enum Message<T> {
    /// Records, in the order they were emitted.
    Batch(Vec<Timestamped<T>>),
    /// No record with an earlier timestamp will follow. `Timestamp::MAX` ends the stream.
    Watermark(Timestamp),
}
