//! [`UnboundedSource`]: a stream read by resumable readers with [`CheckpointMark`]s, and
//! [`UnboundedSourceSdf`], which runs any of them as a splittable DoFn.

mod restriction;
mod sdf;
mod tracker;

pub use restriction::{SeenIds, UnboundedSourceRestriction};
pub use sdf::UnboundedSourceSdf;
pub use tracker::UnboundedSourceTracker;

use std::fmt::Debug;

use async_trait::async_trait;
use sdf_core::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;

/// An endless data set, read by [`UnboundedReader`]s that resume from [`CheckpointMark`]s:
/// Beam's `UnboundedSource` (a queue subscription, the partitions of a log).
///
/// # Contract
///
/// 1. **`split` divides the stream**: the sources it returns read, together, what this one
///    reads, each record once (a source per partition, say). It is applied to fresh sources
///    only, never to one that has checkpointed.
/// 2. **A reader resumes after its mark**: `create_reader(Some(mark))` reads what follows the
///    records read before `mark` was taken. A source that may deliver a record again (a queue
///    redelivers what was not acknowledged) says so with
///    [`requires_deduping`](Self::requires_deduping) and gives records ids.
/// 3. **Sources and marks are values**, serializable: the runtime persists them in
///    restrictions, and resumes from them after a restart.
pub trait UnboundedSource:
    Clone + Debug + Send + Sync + Serialize + DeserializeOwned + 'static
{
    /// The records.
    type Output: Send + 'static;
    /// What a reader's position is saved as.
    type CheckpointMark: CheckpointMark;
    /// The reader.
    type Reader: UnboundedReader<Output = Self::Output, CheckpointMark = Self::CheckpointMark>
        + 'static;

    /// Up to `desired_num_splits` sources that read this one's records between them.
    fn split(&self, desired_num_splits: usize) -> Result<Vec<Self>>;

    /// A reader from the start, or resuming after `checkpoint`.
    fn create_reader(&self, checkpoint: Option<Self::CheckpointMark>) -> Result<Self::Reader>;

    /// Whether a record may be read twice, so that records must be de-duplicated by
    /// [id](UnboundedRecord::id). Default: no.
    fn requires_deduping(&self) -> bool {
        false
    }
}

/// Reads an [`UnboundedSource`], one record at a time.
pub trait UnboundedReader: Send {
    /// The records.
    type Output: Send + 'static;
    /// What the reader's position is saved as.
    type CheckpointMark: CheckpointMark;

    /// The next record, or `Ok(None)` if none is available now (the SDF resumes later). The
    /// first call starts the reader.
    fn advance(&mut self) -> Result<Option<UnboundedRecord<Self::Output>>>;

    /// A lower bound on the timestamps of the records not read yet;
    /// [`Timestamp::MAX`] once the stream is complete.
    fn watermark(&self) -> Timestamp;

    /// The position after every record read so far. Called once per `process` call, when the
    /// call ends or is checkpointed; the reader is not advanced after it.
    fn checkpoint_mark(&mut self) -> Self::CheckpointMark;

    /// Bytes (or records) not read yet, if known: the remaining work a runner sees.
    fn backlog(&self) -> Option<u64> {
        None
    }
}

/// A saved reader position, and what to do once the records read before it are safe.
///
/// [`finalize`](Self::finalize) runs only after the runtime durably committed everything the
/// reader emitted before the mark was taken (sdf-core's `Output::after_commit`): the moment to
/// acknowledge messages or commit offsets upstream. It may never run (a crash before the
/// commit); the records are then read again from the previous mark, so finalizing must be
/// safe to skip and to repeat.
#[async_trait]
pub trait CheckpointMark:
    Clone + Debug + Send + Sync + Serialize + DeserializeOwned + 'static
{
    /// Acknowledges the records read before this mark. Default: nothing to do.
    async fn finalize(self) -> Result<()> {
        Ok(())
    }
}

/// A record of an unbounded source: its value, its event time, and an id for de-duplication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnboundedRecord<T> {
    /// The record.
    pub value: T,
    /// Its event time.
    pub timestamp: Timestamp,
    /// A unique id, for sources that [redeliver](UnboundedSource::requires_deduping).
    pub id: Option<Vec<u8>>,
}

impl<T> UnboundedRecord<T> {
    /// A record without id.
    pub fn new(value: T, timestamp: Timestamp) -> Self {
        UnboundedRecord {
            value,
            timestamp,
            id: None,
        }
    }

    /// With a de-duplication id.
    pub fn with_id(mut self, id: impl Into<Vec<u8>>) -> Self {
        self.id = Some(id.into());
        self
    }
}
