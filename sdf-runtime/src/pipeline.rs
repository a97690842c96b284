//! [`Pipeline`]: a typed chain of sources, SDF stages and sinks, built before it runs.

use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::future::BoxFuture;
use sdf_core::{Finalizer, SplittableDoFn, Timestamp, Timestamped};
use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::message::Message;
use crate::metrics::Counters;
use crate::stage::Stage;

/// A collection of records flowing between two steps of a [`Pipeline`]. Consumed by the step
/// that reads it.
#[must_use = "a collection nobody reads blocks its producer once the channel is full"]
pub struct PCollection<T> {
    rx: mpsc::Receiver<Message<T>>,
}

impl<T> Debug for PCollection<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PCollection")
    }
}

/// A destination for records: the end of a pipeline.
#[async_trait]
pub trait Sink<T: Send>: Send + 'static {
    /// Takes a batch of records. May wait: the pipeline slows down to the sink's pace.
    async fn write(&mut self, batch: Vec<Timestamped<T>>) -> sdf_core::Result<()>;

    /// Called when the input watermark advances.
    async fn on_watermark(&mut self, _watermark: Timestamp) -> sdf_core::Result<()> {
        Ok(())
    }

    /// Called once after the last record.
    async fn finish(&mut self) -> sdf_core::Result<()> {
        Ok(())
    }
}

/// The records a [`Pipeline::collect`] sink received, readable while and after the pipeline runs.
#[derive(Debug)]
pub struct Collected<T> {
    records: Arc<Mutex<Vec<Timestamped<T>>>>,
    watermark: Arc<std::sync::atomic::AtomicI64>,
}

impl<T> Clone for Collected<T> {
    fn clone(&self) -> Self {
        Collected {
            records: Arc::clone(&self.records),
            watermark: Arc::clone(&self.watermark),
        }
    }
}

impl<T: Clone> Collected<T> {
    /// A copy of the records received so far, in arrival order.
    pub fn records(&self) -> Vec<Timestamped<T>> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The values received so far, in arrival order.
    pub fn values(&self) -> Vec<T> {
        self.records().into_iter().map(|r| r.value).collect()
    }
}

impl<T> Collected<T> {
    /// How many records arrived so far.
    pub fn len(&self) -> usize {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none arrived yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The watermark the sink has seen.
    pub fn watermark(&self) -> Timestamp {
        Timestamp::from_micros(self.watermark.load(Ordering::Relaxed))
    }
}

struct CollectSink<T> {
    into: Collected<T>,
}

#[async_trait]
impl<T: Send + 'static> Sink<T> for CollectSink<T> {
    async fn write(&mut self, mut batch: Vec<Timestamped<T>>) -> sdf_core::Result<()> {
        self.into
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .append(&mut batch);
        Ok(())
    }
    async fn on_watermark(&mut self, watermark: Timestamp) -> sdf_core::Result<()> {
        self.into
            .watermark
            .fetch_max(watermark.as_micros(), Ordering::Relaxed);
        Ok(())
    }
}

/// Sends elements into a pipeline built with [`Pipeline::channel_source`]: a source that stays open
/// while the pipeline runs. Dropping every sender ends the input.
#[derive(Debug)]
pub struct SourceSender<T> {
    tx: mpsc::Sender<Message<T>>,
}

impl<T> Clone for SourceSender<T> {
    fn clone(&self) -> Self {
        SourceSender {
            tx: self.tx.clone(),
        }
    }
}

impl<T: Send> SourceSender<T> {
    /// Sends one element with timestamp [`Timestamp::MIN`]; waits while the pipeline is busy.
    pub async fn send(&self, value: T) -> Result<()> {
        self.send_at(value, Timestamp::MIN).await
    }

    /// Sends one element with its event timestamp.
    pub async fn send_at(&self, value: T, timestamp: Timestamp) -> Result<()> {
        self.tx
            .send(Message::Batch(vec![Timestamped { value, timestamp }]))
            .await
            .map_err(|_| Error::Cancelled)
    }

    /// Promises that no element with an earlier timestamp will be sent.
    pub async fn advance_watermark(&self, watermark: Timestamp) -> Result<()> {
        self.tx
            .send(Message::Watermark(watermark))
            .await
            .map_err(|_| Error::Cancelled)
    }
}

/// What running steps share: drain and stop signals, and the finalizers of committed work.
pub(crate) struct Control {
    drain: watch::Sender<bool>,
    stopped: AtomicBool,
    finalizers: Mutex<Vec<Finalizer>>,
}

impl Default for Control {
    fn default() -> Self {
        Control {
            drain: watch::Sender::new(false),
            stopped: AtomicBool::new(false),
            finalizers: Mutex::new(Vec::new()),
        }
    }
}

impl Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("draining", &self.is_draining())
            .field("stopped", &self.is_stopped())
            .finish_non_exhaustive()
    }
}

impl Control {
    pub fn drain(&self) {
        self.drain.send_replace(true);
    }

    pub fn is_draining(&self) -> bool {
        *self.drain.borrow()
    }

    /// Resolves once a drain is requested.
    pub async fn draining(&self) {
        let mut rx = self.drain.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }

    /// Stops every step: a stage failed or the pipeline was cancelled.
    pub fn fail(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    pub fn add_finalizers(&self, finalizers: Vec<Finalizer>) {
        if !finalizers.is_empty() {
            self.finalizers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(finalizers);
        }
    }

    pub fn take_finalizers(&self) -> Vec<Finalizer> {
        std::mem::take(&mut *self.finalizers.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

type Task = Box<dyn FnOnce(Config, Arc<Control>) -> BoxFuture<'static, Result<()>> + Send>;

/// A pipeline under construction: sources, SDF stages and sinks, connected by [`PCollection`]s.
///
/// ```
/// use sdf_core::testing::CountFn;
/// use sdf_runtime::{Executor, Pipeline};
///
/// let mut p = Pipeline::new();
/// let inputs = p.from_iter("inputs", vec![("a".to_string(), 3), ("b".to_string(), 2)]);
/// let counted = p.apply("count", inputs, CountFn);
/// let out = p.collect("out", counted);
/// Executor::builder().workers(2).build().run_blocking(p).unwrap();
/// let mut values = out.values();
/// values.sort();
/// assert_eq!(values.len(), 5);
/// assert_eq!(values[0], ("a".to_string(), 0));
/// ```
pub struct Pipeline {
    pub(crate) tasks: Vec<(String, Task)>,
    pub(crate) counters: Vec<Arc<Counters>>,
    channel_capacity: usize,
}

impl Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let steps: Vec<_> = self.tasks.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Pipeline").field("steps", &steps).finish()
    }
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::new()
    }
}

impl Pipeline {
    /// An empty pipeline whose channels hold 16 batches each.
    pub fn new() -> Self {
        Pipeline {
            tasks: Vec::new(),
            counters: Vec::new(),
            channel_capacity: 16,
        }
    }

    /// Sets how many batches each channel between steps holds before its sender waits.
    pub fn with_channel_capacity(mut self, batches: usize) -> Self {
        self.channel_capacity = batches.max(1);
        self
    }

    fn channel<T>(&self) -> (mpsc::Sender<Message<T>>, PCollection<T>) {
        let (tx, rx) = mpsc::channel(self.channel_capacity);
        (tx, PCollection { rx })
    }

    fn task(&mut self, name: &str, task: Task) {
        self.tasks.push((name.to_string(), task));
    }

    /// A bounded source: the items, with timestamp [`Timestamp::MIN`], then watermark +∞.
    pub fn from_iter<T, I>(&mut self, name: &str, items: I) -> PCollection<T>
    where
        T: Send + 'static,
        I: IntoIterator<Item = T> + Send + 'static,
        I::IntoIter: Send,
    {
        self.from_timestamped_iter(
            name,
            items.into_iter().map(|value| Timestamped {
                value,
                timestamp: Timestamp::MIN,
            }),
        )
    }

    /// A bounded source of timestamped items, then watermark +∞.
    pub fn from_timestamped_iter<T, I>(&mut self, name: &str, items: I) -> PCollection<T>
    where
        T: Send + 'static,
        I: IntoIterator<Item = Timestamped<T>> + Send + 'static,
        I::IntoIter: Send,
    {
        let (tx, out) = self.channel();
        self.task(
            name,
            Box::new(move |config, control| {
                Box::pin(async move {
                    let mut items = items.into_iter();
                    loop {
                        if control.is_draining() || control.is_stopped() {
                            return Ok(());
                        }
                        let batch: Vec<_> = items.by_ref().take(config.batch_size).collect();
                        if batch.is_empty() {
                            break;
                        }
                        if tx.send(Message::Batch(batch)).await.is_err() {
                            return Ok(());
                        }
                    }
                    let _ = tx.send(Message::Watermark(Timestamp::MAX)).await;
                    Ok(())
                })
            }),
        );
        out
    }

    /// An open source: elements arrive through the returned sender while the pipeline runs.
    pub fn channel_source<T: Send + 'static>(
        &mut self,
        _name: &str,
    ) -> (SourceSender<T>, PCollection<T>) {
        let (tx, out) = self.channel();
        (SourceSender { tx }, out)
    }

    /// Applies a splittable DoFn to every element of `input`.
    pub fn apply<F>(
        &mut self,
        name: &str,
        input: PCollection<F::Input>,
        dofn: F,
    ) -> PCollection<F::Output>
    where
        F: SplittableDoFn,
    {
        let (tx, out) = self.channel();
        let counters = Arc::new(Counters::new(name));
        self.counters.push(Arc::clone(&counters));
        let stage_name = name.to_string();
        self.task(
            name,
            Box::new(move |config, control| {
                let stage = Stage::new(stage_name, dofn, config, tx, control, counters);
                Box::pin(stage.run(input.rx))
            }),
        );
        out
    }

    /// Ends `input` in `sink`.
    pub fn sink<T: Send + 'static>(
        &mut self,
        name: &str,
        input: PCollection<T>,
        mut sink: impl Sink<T>,
    ) {
        let sink_name = name.to_string();
        self.task(
            name,
            Box::new(move |_config, _control| {
                Box::pin(async move {
                    let mut rx = input.rx;
                    let fail = |source: sdf_core::Error| Error::Sink {
                        sink: sink_name.clone(),
                        source: Box::new(source),
                    };
                    while let Some(message) = rx.recv().await {
                        match message {
                            Message::Batch(batch) => sink.write(batch).await.map_err(fail)?,
                            Message::Watermark(w) => sink.on_watermark(w).await.map_err(fail)?,
                        }
                    }
                    sink.finish().await.map_err(fail)
                })
            }),
        );
    }

    /// Collects `input` in memory; for tests and small results.
    pub fn collect<T: Send + 'static>(
        &mut self,
        name: &str,
        input: PCollection<T>,
    ) -> Collected<T> {
        let collected = Collected {
            records: Arc::new(Mutex::new(Vec::new())),
            watermark: Arc::new(std::sync::atomic::AtomicI64::new(
                Timestamp::MIN.as_micros(),
            )),
        };
        self.sink(
            name,
            input,
            CollectSink {
                into: collected.clone(),
            },
        );
        collected
    }
}
