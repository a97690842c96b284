//! What flows between stages: batches of timestamped records and watermarks.

use sdf_core::{Timestamp, Timestamped};

use crate::lineage::Lineage;

/// One message on a channel between stages.
#[derive(Debug)]
pub(crate) enum Message<T> {
    /// Records, in the order they were emitted, and the finalizers that wait for what the
    /// next step does with them.
    Batch(Vec<Timestamped<T>>, Lineage),
    /// No record with an earlier timestamp will follow. `Timestamp::MAX` ends the stream.
    Watermark(Timestamp),
}
