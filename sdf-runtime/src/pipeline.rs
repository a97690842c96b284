//! [`Pipeline`]: a typed chain of sources, SDF stages and sinks, built before it runs.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::future::BoxFuture;
use sdf_core::{Sink, SplittableDoFn, Timestamp, Timestamped};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::control::{Checkpointed, Control};
use crate::error::{Error, Result};
use crate::lineage::Lineage;
use crate::link::{LinkReceiver, LinkSender, link};
use crate::message::Message;
use crate::metrics::Counters;
use crate::sink::{SinkPort, run_sink};
use crate::stage::Stage;

/// A collection of records flowing between two steps of a [`Pipeline`]. Consumed by the step
/// that reads it.
#[must_use = "a collection nobody reads blocks its producer once the channel is full"]
pub struct PCollection<T> {
    pub(crate) rx: LinkReceiver<T>,
    /// Which output of the pipeline it is (a Beam translation finds its collection by it).
    #[cfg_attr(not(feature = "beam"), allow(dead_code))]
    pub(crate) slot: usize,
}

impl<T> Debug for PCollection<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PCollection")
    }
}

/// The records a [`Pipeline::collect`] sink received, readable while and after the pipeline runs.
#[derive(Debug)]
pub struct Collected<T> {
    pub(crate) records: Arc<Mutex<Vec<Timestamped<T>>>>,
    pub(crate) watermark: Arc<std::sync::atomic::AtomicI64>,
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

/// Records are visible as soon as they are written: not transactional.
struct CollectSink<T> {
    into: Collected<T>,
}

#[async_trait]
impl<T: Send + 'static> Sink<T> for CollectSink<T> {
    type Commit = ();

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
    async fn prepare(&mut self, _epoch: u64) -> sdf_core::Result<()> {
        Ok(())
    }
    async fn commit(&mut self, _epoch: u64, _commit: ()) -> sdf_core::Result<()> {
        Ok(())
    }
}

/// Sends elements into a pipeline built with [`Pipeline::channel_source`]: a source that stays
/// open while the pipeline runs. Dropping every sender ends the input.
///
/// Not replayable: after a crash, elements sent after the last checkpoint are not sent again.
/// For exactly-once ingestion, read from a source that can resume (an SDF over files or a log).
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
            .send(Message::Batch(
                vec![Timestamped { value, timestamp }],
                Lineage::default(),
            ))
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

/// What a step is given when the pipeline starts.
pub(crate) struct Env {
    pub config: Config,
    pub control: Arc<Control>,
    /// The step's state from the checkpoint the pipeline resumes from.
    pub restored: Option<serde_json::Value>,
}

pub(crate) type Task = Box<dyn FnOnce(Env) -> BoxFuture<'static, Result<()>> + Send>;
pub(crate) type SinkTask =
    Box<dyn FnOnce(Option<(u64, serde_json::Value)>) -> BoxFuture<'static, Result<()>> + Send>;

/// A pipeline under construction: sources, SDF stages and sinks, connected by [`PCollection`]s.
///
/// Step names identify state in checkpoints: give every step a distinct name, and keep names
/// stable across restarts.
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
    pub(crate) sinks: Vec<(SinkPort, SinkTask)>,
    pub(crate) counters: Vec<Arc<Counters>>,
    pub(crate) links: Vec<Arc<crate::link::LinkCounters>>,
    pub(crate) names: Vec<String>,
    pub(crate) duplicate: Option<String>,
    channel_capacity: usize,
    /// The next output's slot.
    next_slot: usize,
    /// The steps as a Beam translation replays them (feature `beam`).
    #[cfg(feature = "beam")]
    pub(crate) beam: Vec<crate::beam::Step>,
}

impl Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("steps", &self.names)
            .finish()
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
            sinks: Vec::new(),
            counters: Vec::new(),
            links: Vec::new(),
            names: Vec::new(),
            duplicate: None,
            channel_capacity: 16,
            next_slot: 0,
            #[cfg(feature = "beam")]
            beam: Vec::new(),
        }
    }

    /// Sets how many batches each channel between steps holds before its sender waits.
    pub fn with_channel_capacity(mut self, batches: usize) -> Self {
        self.channel_capacity = batches.max(1);
        self
    }

    fn channel<T>(&mut self) -> (LinkSender<T>, PCollection<T>) {
        let (tx, rx) = link(self.channel_capacity);
        self.links.push(rx.counters());
        let slot = self.next_slot;
        self.next_slot += 1;
        (tx, PCollection { rx, slot })
    }

    fn name(&mut self, name: &str) {
        if self.names.iter().any(|n| n == name) && self.duplicate.is_none() {
            self.duplicate = Some(name.to_string());
        }
        self.names.push(name.to_string());
    }

    /// A bounded source: the items, with timestamp [`Timestamp::MIN`], then watermark +∞.
    /// Checkpoints record how many items were read; a restarted pipeline skips them.
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
        self.name(name);
        let (tx, out) = self.channel();
        let source = Arc::new(IterSource {
            name: name.to_string(),
            read: AtomicU64::new(0),
        });
        // The items go to whichever runs the pipeline: this runtime, or a Beam translation.
        let items = Arc::new(Mutex::new(Some(items)));
        #[cfg(feature = "beam")]
        self.beam
            .push(crate::beam::source(name, out.slot, Arc::clone(&items)));
        self.tasks.push((
            name.to_string(),
            Box::new(move |env| {
                let Some(items) = items.lock().unwrap_or_else(|e| e.into_inner()).take() else {
                    return Box::pin(async {
                        Err(Error::Internal(
                            "a source's items were taken by a Beam translation".to_string(),
                        ))
                    });
                };
                // Restored and registered now, before the pipeline runs: a checkpoint taken
                // before this task is first polled must still hold the source's position.
                match source.restore(&env) {
                    Ok(()) => Box::pin(source.run(env, items, tx)),
                    Err(e) => Box::pin(async move { Err(e) }),
                }
            }),
        ));
        out
    }

    /// An open source: elements arrive through the returned sender while the pipeline runs.
    pub fn channel_source<T: Send + 'static>(
        &mut self,
        name: &str,
    ) -> (SourceSender<T>, PCollection<T>) {
        self.name(name);
        let (link, out) = self.channel();
        #[cfg(feature = "beam")]
        self.beam.push(crate::beam::unsupported(
            name,
            "a channel source is fed by this process while it runs; on Beam, read from a \
             source the runner can replay (from_iter, or an SDF over files)",
        ));
        let (tx, mut rx) = mpsc::channel(self.channel_capacity);
        // Forwards what the user sends until the senders are dropped or the pipeline drains: a
        // drain stops taking input here, at the source, and the stages finish what they have.
        self.tasks.push((
            name.to_string(),
            Box::new(move |env: Env| {
                Box::pin(async move {
                    loop {
                        // Nothing more is taken from the user while the next stage is full.
                        tokio::select! {
                            _ = link.room() => {}
                            _ = env.control.draining() => return Ok(()),
                        }
                        let message = tokio::select! {
                            m = rx.recv() => m,
                            _ = env.control.draining() => None,
                        };
                        let Some(message) = message else {
                            return Ok(());
                        };
                        if link.send(message).await.is_err() {
                            return Ok(());
                        }
                    }
                })
            }),
        ));
        (SourceSender { tx }, out)
    }

    /// Applies a splittable DoFn to every element of `input`. Elements are serializable so that
    /// checkpoints can hold the work still to do for them.
    pub fn apply<F>(
        &mut self,
        name: &str,
        input: PCollection<F::Input>,
        dofn: F,
    ) -> PCollection<F::Output>
    where
        F: SplittableDoFn,
        F::Input: Serialize + DeserializeOwned,
    {
        self.stage(name, input, dofn, None)
    }

    /// Like [`apply`](Self::apply), but an element whose work fails on every attempt goes to
    /// the second output as a [`DeadLetter`](crate::DeadLetter) instead of failing the pipeline.
    #[allow(clippy::type_complexity)]
    pub fn apply_with_dead_letters<F>(
        &mut self,
        name: &str,
        input: PCollection<F::Input>,
        dofn: F,
    ) -> (
        PCollection<F::Output>,
        PCollection<crate::DeadLetter<F::Input, F::Restriction>>,
    )
    where
        F: SplittableDoFn,
        F::Input: Serialize + DeserializeOwned + Clone,
    {
        let (tx, letters) = self.channel();
        let sender: Arc<dyn crate::dead_letter::DeadLetters<F>> =
            Arc::new(crate::dead_letter::DeadLetterLink::<F> { tx });
        let out = self.stage(name, input, dofn, Some(sender));
        #[cfg(feature = "beam")]
        {
            // `stage` recorded the step; a translation must refuse it instead.
            self.beam.pop();
            self.beam.push(crate::beam::unsupported(
                name,
                "dead-letter outputs are not translated to Beam yet (the runner retries a \
                 failed bundle, then fails the job); use apply",
            ));
        }
        (out, letters)
    }

    /// Adds a stage: its output channel, its metrics, and the task that restores, registers and
    /// runs it.
    fn stage<F>(
        &mut self,
        name: &str,
        input: PCollection<F::Input>,
        dofn: F,
        dead_letters: crate::dead_letter::DeadLetterOutput<F>,
    ) -> PCollection<F::Output>
    where
        F: SplittableDoFn,
        F::Input: Serialize + DeserializeOwned,
    {
        self.name(name);
        let (tx, out) = self.channel();
        let counters = Arc::new(Counters::new(name));
        self.counters.push(Arc::clone(&counters));
        let stage_name = name.to_string();
        let dofn = Arc::new(dofn);
        #[cfg(feature = "beam")]
        self.beam.push(crate::beam::apply(
            name,
            input.slot,
            out.slot,
            Arc::clone(&dofn),
        ));
        self.tasks.push((
            name.to_string(),
            Box::new(move |env| {
                // Restored and registered now, before the pipeline runs: a checkpoint taken
                // before this task is first polled must still hold the stage's work (it once
                // did not, and a restart from such a checkpoint had lost it for good).
                let control = Arc::clone(&env.control);
                let stage = Stage::new(
                    stage_name,
                    dofn,
                    env.config,
                    tx,
                    Arc::clone(&control),
                    counters,
                    dead_letters,
                );
                if let Err(e) = stage.restore(env.restored) {
                    return Box::pin(async move { Err(e) });
                }
                control.register(Arc::clone(&stage) as Arc<dyn Checkpointed>);
                Box::pin(stage.run(input.rx))
            }),
        ));
        out
    }

    /// Ends `input` in `sink`. A transactional sink gets exactly-once output with a checkpoint
    /// store; see [`Sink`].
    pub fn sink<T: Send + 'static, S: Sink<T>>(
        &mut self,
        name: &str,
        input: PCollection<T>,
        sink: S,
    ) {
        #[cfg(feature = "beam")]
        self.beam
            .push(crate::beam::sink(name, input.slot, sink.attempts()));
        self.sink_port(name, input, sink);
    }

    fn sink_port<T: Send + 'static, S: Sink<T>>(
        &mut self,
        name: &str,
        input: PCollection<T>,
        sink: S,
    ) {
        self.name(name);
        let (tx, requests) = mpsc::channel(4);
        let port = SinkPort {
            name: name.to_string(),
            tx,
        };
        let sink_name = name.to_string();
        self.sinks.push((
            port,
            Box::new(move |restored| {
                Box::pin(run_sink(sink_name, sink, input.rx, requests, restored))
            }),
        ));
    }

    /// Collects `input` in memory; for tests and small results. Not transactional.
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
        #[cfg(feature = "beam")]
        self.beam
            .push(crate::beam::collect(name, input.slot, collected.clone()));
        self.sink_port(
            name,
            input,
            CollectSink {
                into: collected.clone(),
            },
        );
        collected
    }
}

/// For composite transforms written against [`sdf_core::PipelineBuilder`] (such as
/// `MatchFiles::apply` in `sdf-connectors`): the inherent [`from_iter`](Pipeline::from_iter) and
/// [`apply`](Pipeline::apply), with the same bounds.
impl sdf_core::PipelineBuilder for Pipeline {
    type Collection<T> = PCollection<T>;

    fn from_iter<T, I>(&mut self, name: &str, items: I) -> PCollection<T>
    where
        T: Send + 'static,
        I: IntoIterator<Item = T> + Send + 'static,
        I::IntoIter: Send,
    {
        Pipeline::from_iter(self, name, items)
    }

    fn apply<F>(
        &mut self,
        name: &str,
        input: PCollection<F::Input>,
        dofn: F,
    ) -> PCollection<F::Output>
    where
        F: SplittableDoFn,
        F::Input: Serialize + DeserializeOwned,
    {
        Pipeline::apply(self, name, input, dofn)
    }
}

/// A bounded source over an iterator; its checkpointed state is how many items it has sent.
struct IterSource {
    name: String,
    read: AtomicU64,
}

impl Checkpointed for IterSource {
    fn name(&self) -> &str {
        &self.name
    }
    fn snapshot(&self) -> Result<serde_json::Value> {
        Ok(serde_json::json!({ "read": self.read.load(Ordering::Acquire) }))
    }
}

impl IterSource {
    /// Puts back the read position of a checkpoint and registers the source for checkpoints.
    fn restore(self: &Arc<Self>, env: &Env) -> Result<()> {
        let skip = match &env.restored {
            Some(state) => state.get("read").and_then(|r| r.as_u64()).ok_or_else(|| {
                Error::Internal(format!(
                    "source '{}': the checkpoint has no read position: {state}",
                    self.name
                ))
            })?,
            None => 0,
        };
        self.read.store(skip, Ordering::Release);
        env.control
            .register(Arc::clone(self) as Arc<dyn Checkpointed>);
        Ok(())
    }

    async fn run<T, I>(self: Arc<Self>, env: Env, items: I, tx: LinkSender<T>) -> Result<()>
    where
        I: IntoIterator<Item = Timestamped<T>>,
    {
        let control = &env.control;
        let skip = self.read.load(Ordering::Acquire);
        let mut items = items.into_iter().skip(skip as usize);
        loop {
            // Nothing more is read while the next stage is full (see `link::Room`).
            tokio::select! {
                _ = tx.room() => {}
                _ = control.stopped() => return Ok(()),
                _ = control.draining() => return Ok(()),
            }
            control.wait_while_pausing().await;
            if control.is_draining() || control.is_stopped() {
                return Ok(());
            }
            let _unit = control.gate.read().await;
            if control.is_pausing() {
                continue;
            }
            let batch: Vec<_> = items.by_ref().take(env.config.batch_size).collect();
            if batch.is_empty() {
                break;
            }
            let n = batch.len() as u64;
            if tx
                .send(Message::Batch(batch, Lineage::default()))
                .await
                .is_err()
            {
                return Ok(());
            }
            self.read.fetch_add(n, Ordering::AcqRel);
        }
        let _ = tx.send(Message::Watermark(Timestamp::MAX)).await;
        Ok(())
    }
}
