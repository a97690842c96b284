//! [`Sink`]: the end of a pipeline, with a two-phase commit the runner drives.

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::output::Timestamped;
use crate::time::Timestamp;

/// Makes the sink of one bundle attempt from its key: see [`Sink::attempts`].
pub type AttemptSinks<S> = Box<dyn Fn(&str) -> Result<S> + Send + Sync>;

/// A destination for records, transactional if it wants exactly-once output.
///
/// # Protocol
/// Records arrive through [`write`](Self::write), the input watermark through
/// [`on_watermark`](Self::on_watermark). The runner groups what was written into **epochs** and
/// ends each with [`prepare`](Self::prepare) (phase one: make what was written since the last
/// prepare durable but not visible, and return what `commit` needs). Once the runner has made
/// the epoch's progress durable, it calls [`commit`](Self::commit) (phase two: make the epoch
/// visible). When the runner calls them:
///
/// - The embedded runtime (`sdf-runtime`) calls `prepare` at each checkpoint, stores the commit
///   message in the checkpoint, and calls `commit` once that checkpoint is durable. A pipeline
///   restarted on the same store calls [`recover`](Self::recover) with the last durable
///   checkpoint's epoch and message: the sink publishes that epoch (if the crash came before
///   `commit`) and discards everything written after it, which the pipeline produces again.
/// - A runner that retries bundles (Beam) needs a sink of its own for each bundle attempt:
///   [`attempts`](Self::attempts) makes them. An attempt's sink takes its records, `prepare(1)`
///   when the attempt's input ends, and its commit message travels with the attempt's output;
///   once the runner committed that output, a sink for the same attempt key is made again (in
///   another bundle, maybe another process) and `commit(1, message)` publishes it. `recover`
///   is not called there.
///
/// An epoch that was prepared but is never committed (a retried bundle, a crash before the
/// checkpoint was durable) must never become visible: a retried bundle's prepared output is
/// never committed, and its records arrive again, in another epoch or bundle. So nothing may be
/// visible before `commit`; `commit` must be idempotent (it may run again after a restart); and
/// the commit message must hold all that `commit` needs, names rather than data (the embedded
/// runtime stores it in every checkpoint).
///
/// A sink that makes records visible in `write` (like the embedded runtime's
/// `Pipeline::collect`) is at-least-once across crashes; one that follows the protocol is
/// exactly-once.
#[async_trait]
pub trait Sink<T: Send>: Send + 'static {
    /// What `commit` needs to publish one epoch (e.g. the names of temporary files).
    type Commit: Serialize + DeserializeOwned + Send + 'static;

    /// Takes a batch of records. May wait: the pipeline slows down to the sink's pace.
    async fn write(&mut self, batch: Vec<Timestamped<T>>) -> Result<()>;

    /// Called when the input watermark advances.
    async fn on_watermark(&mut self, _watermark: Timestamp) -> Result<()> {
        Ok(())
    }

    /// Phase one of `epoch`: makes everything written since the last `prepare` durable, not yet
    /// visible, and says what `commit` needs.
    async fn prepare(&mut self, epoch: u64) -> Result<Self::Commit>;

    /// Phase two: makes `epoch` visible. Runs once the runner has made the epoch's progress
    /// durable, and again after a restart if the crash came first: it must be idempotent.
    async fn commit(&mut self, epoch: u64, commit: Self::Commit) -> Result<()>;

    /// Sinks of their own for each bundle attempt of a runner that retries bundles (see the
    /// protocol above), keyed by the attempt (lowercase hex): each stages into a place of its
    /// own, and the one made again for a key publishes what that attempt staged. `None`, the
    /// default: this sink runs on the embedded runtime only.
    fn attempts(&self) -> Option<AttemptSinks<Self>>
    where
        Self: Sized,
    {
        None
    }

    /// After a restart: publishes the last durable epoch (`Some`, if any) and discards what was
    /// written after it. The default commits it and discards nothing.
    async fn recover(&mut self, last: Option<(u64, Self::Commit)>) -> Result<()> {
        match last {
            Some((epoch, commit)) => self.commit(epoch, commit).await,
            None => Ok(()),
        }
    }
}
