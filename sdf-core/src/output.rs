//! [`Output`]: where `process` sends its records, each with an event timestamp.
//!
//! Records are buffered in a `Vec` that is reused from batch to batch and handed to the runner's
//! [`Emitter`] when full, so a hot loop pays neither an allocation nor a lock per record. The
//! emitter may wait before taking a batch: that is how backpressure reaches `process`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use futures::future::BoxFuture;

use crate::error::Result;
use crate::time::Timestamp;

/// A record and its event timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamped<T> {
    /// The record.
    pub value: T,
    /// Its event time.
    pub timestamp: Timestamp,
}

/// A callback that runs once everything emitted before it was registered has been durably
/// committed downstream, e.g. to acknowledge or delete source data.
pub type Finalizer = Box<dyn FnOnce() -> BoxFuture<'static, Result<()>> + Send>;

/// The runner's side of an [`Output`]: takes batches of records downstream.
#[async_trait]
pub trait Emitter<T: Send>: Send {
    /// Takes every record of `batch`, leaving it empty (its capacity is reused). May wait until
    /// downstream has room. An error ends the `process` call.
    async fn emit_batch(&mut self, batch: &mut Vec<Timestamped<T>>) -> Result<()>;

    /// Keeps `finalizer` to run after everything emitted so far is durably committed.
    fn register_finalizer(&mut self, finalizer: Finalizer);
}

/// Collects everything in memory, finalizers included; for tests and the conformance kit.
pub struct CollectEmitter<T> {
    /// The records emitted so far.
    pub records: Vec<Timestamped<T>>,
    /// The finalizers registered so far.
    pub finalizers: Vec<Finalizer>,
}

impl<T> Default for CollectEmitter<T> {
    fn default() -> Self {
        CollectEmitter {
            records: Vec::new(),
            finalizers: Vec::new(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for CollectEmitter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectEmitter")
            .field("records", &self.records)
            .field("finalizers", &self.finalizers.len())
            .finish()
    }
}

#[async_trait]
impl<T: Send> Emitter<T> for CollectEmitter<T> {
    async fn emit_batch(&mut self, batch: &mut Vec<Timestamped<T>>) -> Result<()> {
        self.records.append(batch);
        Ok(())
    }

    fn register_finalizer(&mut self, finalizer: Finalizer) {
        self.finalizers.push(finalizer);
    }
}

/// The future of [`Output::emit`] and [`Output::emit_at`]: ready at once unless the record
/// filled the buffer, which it then hands downstream.
#[must_use = "await it: it hands a full buffer downstream"]
pub struct Emit<'o>(Option<BoxFuture<'o, Result<()>>>);

impl Future for Emit<'_> {
    type Output = Result<()>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        match &mut self.0 {
            None => Poll::Ready(Ok(())),
            Some(flush) => flush.as_mut().poll(cx),
        }
    }
}

impl fmt::Debug for Emit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Emit").field(&self.0.is_some()).finish()
    }
}

/// The receiver `process` emits into.
///
/// ```
/// use sdf_core::{CollectEmitter, Output, Timestamp};
/// # futures::executor::block_on(async {
/// let mut sink = CollectEmitter::default();
/// let mut out = Output::new(&mut sink, Timestamp::from_millis(1), 2);
/// out.emit("a").await?;                                  // the input's timestamp
/// out.emit_at("b", Timestamp::from_millis(5)).await?;    // its own; the buffer is now full
/// out.flush().await?;
/// assert_eq!(out.emitted(), 2);
/// assert_eq!(out.max_timestamp(), Timestamp::from_millis(5));
/// # drop(out);
/// assert_eq!(sink.records.len(), 2);
/// # Ok::<(), sdf_core::Error>(()) }).unwrap();
/// ```
pub struct Output<'a, T: Send> {
    buffer: Vec<Timestamped<T>>,
    capacity: usize,
    default_timestamp: Timestamp,
    max_timestamp: Timestamp,
    emitted: u64,
    emitter: &'a mut dyn Emitter<T>,
}

impl<'a, T: Send> Output<'a, T> {
    /// An output that sends batches of up to `batch_size` records to `emitter`; records emitted
    /// without a timestamp get `default_timestamp` (the input element's).
    pub fn new(
        emitter: &'a mut dyn Emitter<T>,
        default_timestamp: Timestamp,
        batch_size: usize,
    ) -> Self {
        Self::with_buffer(emitter, default_timestamp, batch_size, Vec::new())
    }

    /// Like [`new`](Self::new), reusing `buffer`'s allocation (it is cleared first). A runner
    /// that makes many short calls passes the buffer the previous call returned from
    /// [`into_buffer`](Self::into_buffer), so that a call does not allocate a batch.
    pub fn with_buffer(
        emitter: &'a mut dyn Emitter<T>,
        default_timestamp: Timestamp,
        batch_size: usize,
        mut buffer: Vec<Timestamped<T>>,
    ) -> Self {
        buffer.clear();
        let capacity = batch_size.max(1);
        Output {
            buffer,
            capacity,
            default_timestamp,
            max_timestamp: Timestamp::MIN,
            emitted: 0,
            emitter,
        }
    }

    /// Emits `value` with the input element's timestamp.
    #[inline]
    pub fn emit(&mut self, value: T) -> Emit<'_> {
        let timestamp = self.default_timestamp;
        self.emit_at(value, timestamp)
    }

    /// Emits `value` with its own event timestamp.
    ///
    /// The record is buffered at once; the returned future hands the buffer downstream when
    /// it is full (and may then wait for room), and is ready at once otherwise, so that the
    /// common case costs a push and a comparison, not the poll of an `async fn`'s state
    /// machine. Await it before the next emit.
    #[inline]
    pub fn emit_at(&mut self, value: T, timestamp: Timestamp) -> Emit<'_> {
        self.buffer.push(Timestamped { value, timestamp });
        if timestamp > self.max_timestamp {
            self.max_timestamp = timestamp;
        }
        if self.buffer.len() >= self.capacity {
            Emit(Some(Box::pin(self.flush())))
        } else {
            Emit(None)
        }
    }

    /// Sends the buffered records downstream now. The runner flushes when `process` returns.
    pub async fn flush(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.emitted += self.buffer.len() as u64;
        self.emitter.emit_batch(&mut self.buffer).await
    }

    /// Runs `finalizer` after everything emitted so far (buffered records included) has been
    /// durably committed downstream: the place to acknowledge or delete source data. It never
    /// runs if the output is not committed (the work is then retried, and registers it again).
    ///
    /// "Committed downstream" includes what the next step makes of the records: the embedded
    /// runtime runs it after the checkpoint that follows the moment the next step has finished
    /// all its work for them (a reader has read the file the finalizer deletes), and never if
    /// that work went to a dead-letter output. Finalizers are best-effort across crashes, as
    /// Beam's bundle finalizers are: one pending when the process dies never runs.
    pub async fn after_commit(&mut self, finalizer: Finalizer) -> Result<()> {
        self.flush().await?;
        self.emitter.register_finalizer(finalizer);
        Ok(())
    }

    /// Records emitted so far (buffered ones included).
    pub fn emitted(&self) -> u64 {
        self.emitted + self.buffer.len() as u64
    }

    /// The largest event timestamp emitted so far, [`Timestamp::MIN`] before any output.
    pub fn max_timestamp(&self) -> Timestamp {
        self.max_timestamp
    }

    /// The records emitted but not yet flushed, in the output's buffer. A runner that takes
    /// them this way instead of with a last [`flush`](Self::flush) can coalesce the output of
    /// many short calls, and pass the emptied buffer to the next call's
    /// [`with_buffer`](Self::with_buffer).
    pub fn into_buffer(self) -> Vec<Timestamped<T>> {
        self.buffer
    }

    /// How many records are buffered before they go to the emitter: what the runner chose.
    pub fn batch_size(&self) -> usize {
        self.capacity
    }

    /// The timestamp given to records emitted with [`emit`](Self::emit).
    pub fn default_timestamp(&self) -> Timestamp {
        self.default_timestamp
    }
}

impl<T: Send> fmt::Debug for Output<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("buffered", &self.buffer.len())
            .field("emitted", &self.emitted())
            .finish_non_exhaustive()
    }
}
