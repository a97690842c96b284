//! Steps that run as plain ParDos, not SDFs (the runner does not expand them): the three
//! transforms of a [`BundleSink`] write (write, publish) and a counting step.
//!
//! Their element coders: a record `T` is `length_prefix(serde_json)`; what the write step
//! sends on is `kv(bytes, length_prefix(serde_json))` (the attempt's key, its commit message),
//! and what the publish step receives after the `GroupByKey` is `kv(bytes,
//! iterable(length_prefix(serde_json)))`.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use sdf_core::{Sink, Timestamped};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::ops::{Operator, TypedValue};
use super::step::{ErasedStep, Json, OpContext, Phase, Windowed, from_beam, json, windowed};
use crate::coder::{
    Bytes, Coder, Context, GlobalWindow, Instant, IterableCoder, Kv, WindowedValue,
};
use crate::error::{BeamError, Result};
use crate::write::BundleSink;

/// The epoch of every attempt's sink: an attempt prepares once.
const EPOCH: u64 = 1;

/// Records handed to a sink at a time.
const BATCH: usize = 1024;

/// The commit message of one attempt, as the write step sends it on.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Staged<C> {
    /// The attempt's key.
    pub key: String,
    /// What its sink's `prepare` returned.
    pub commit: C,
}

type Commit<T, B> = <<B as BundleSink<T>>::Sink as Sink<T>>::Commit;

fn plain_only(phase: Phase, context: &OpContext) -> Result<()> {
    if phase == Phase::Unexpanded {
        return Ok(());
    }
    Err(BeamError::Protocol(format!(
        "transform {}: the runner runs it as an SDF phase ({phase:?}), but it is a plain ParDo \
         (it has no restriction coder)",
        context.transform_id
    )))
}

/// A value handed over in memory, as the step's input type.
fn typed<T: 'static>(
    context: &OpContext,
    value: TypedValue,
) -> Result<WindowedValue<GlobalWindow, T>> {
    let v = value.value.downcast::<T>().map_err(|_| {
        BeamError::Protocol(format!(
            "transform {} was handed a value that is not its input type {}",
            context.transform_id,
            std::any::type_name::<T>()
        ))
    })?;
    Ok(WindowedValue {
        value: *v,
        timestamp: value.timestamp,
        windows: value.windows,
        pane: value.pane,
    })
}

fn step_error(context: &OpContext, what: String, e: impl std::fmt::Display) -> BeamError {
    BeamError::Step {
        transform: context.transform_id.clone(),
        detail: format!("{what}: {e}"),
    }
}

/// A key no other attempt has: the process, a counter and 64 random bits, in hex.
fn attempt_key() -> String {
    use std::hash::{BuildHasher, Hasher};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // A `RandomState` is seeded from the operating system's randomness.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(n);
    format!("{:x}{n:x}{:016x}", std::process::id(), hasher.finish())
}

/// Decodes a record handed over encoded (from the runner).
pub(crate) type Decoder<T> =
    Arc<dyn Fn(&mut &[u8]) -> Result<WindowedValue<GlobalWindow, T>> + Send + Sync>;

/// The decoder of `T` as `length_prefix(serde_json)` in the global window.
pub(crate) fn json_decoder<T: Serialize + DeserializeOwned + 'static>() -> Decoder<T> {
    Arc::new(|input: &mut &[u8]| Ok(windowed(json::<T>()).decode(input, Context::Nested)?))
}

/// The write step of a [`BundleSink`].
pub(crate) struct WriteStep<T, B> {
    sink: Arc<B>,
    /// How records that come from the runner are decoded; `None` for a type that is not
    /// serde, whose records must come from the step before in the bundle.
    decoder: Option<Decoder<T>>,
}

impl<T, B> WriteStep<T, B> {
    pub fn new(sink: Arc<B>, decoder: Option<Decoder<T>>) -> Self {
        WriteStep { sink, decoder }
    }
}

impl<T, B> ErasedStep for WriteStep<T, B>
where
    T: Send + 'static,
    B: BundleSink<T>,
{
    fn operator(&self, phase: Phase, context: OpContext) -> Result<Box<dyn Operator>> {
        plain_only(phase, &context)?;
        Ok(Box::new(WriteOp::<T, B> {
            factory: Arc::clone(&self.sink),
            decoder: self.decoder.clone(),
            context,
            open: None,
            batch: Vec::new(),
            written: 0,
            latest: Instant::MIN,
        }))
    }
}

struct WriteOp<T: Send, B: BundleSink<T>> {
    factory: Arc<B>,
    decoder: Option<Decoder<T>>,
    context: OpContext,
    /// The attempt's key and sink, from its first record on.
    open: Option<(String, B::Sink)>,
    batch: Vec<Timestamped<T>>,
    written: u64,
    /// The latest timestamp written: the commit message's.
    latest: Instant,
}

impl<T, B> WriteOp<T, B>
where
    T: Send + 'static,
    B: BundleSink<T>,
{
    async fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        if self.open.is_none() {
            let key = attempt_key();
            let sink = self.factory.open(&key).map_err(|e| {
                step_error(
                    &self.context,
                    format!("opening the sink of attempt {key}"),
                    e,
                )
            })?;
            self.open = Some((key, sink));
        }
        let (key, sink) = self.open.as_mut().expect("opened above");
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.written += batch.len() as u64;
        sink.write(batch)
            .await
            .map_err(|e| step_error(&self.context, format!("writing attempt {key}'s records"), e))
    }
}

#[async_trait]
impl<T, B> Operator for WriteOp<T, B>
where
    T: Send + 'static,
    B: BundleSink<T>,
{
    async fn element(&mut self, input: &mut &[u8]) -> Result<()> {
        let Some(decode) = &self.decoder else {
            return Err(BeamError::Protocol(format!(
                "transform {} writes {} records, which have no coder, but the runner sent them \
                 encoded: this sink must run in the bundle of the step before it",
                self.context.transform_id,
                std::any::type_name::<T>()
            )));
        };
        let e = decode(input)?;
        self.push(e).await
    }

    async fn value(&mut self, value: TypedValue) -> Result<()> {
        let e = typed::<T>(&self.context, value)?;
        self.push(e).await
    }

    async fn finish(&mut self) -> Result<()> {
        self.finish_attempt().await
    }
}

impl<T, B> WriteOp<T, B>
where
    T: Send + 'static,
    B: BundleSink<T>,
{
    async fn push(&mut self, e: WindowedValue<GlobalWindow, T>) -> Result<()> {
        self.latest = self.latest.max(e.timestamp);
        self.batch.push(Timestamped {
            value: e.value,
            timestamp: from_beam(e.timestamp),
        });
        if self.batch.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn finish_attempt(&mut self) -> Result<()> {
        self.flush().await?;
        if let Some((key, mut sink)) = self.open.take() {
            let commit = sink.prepare(EPOCH).await.map_err(|e| {
                step_error(
                    &self.context,
                    format!("preparing attempt {key}'s output"),
                    e,
                )
            })?;
            // Released before anything may publish it (a file sink's lock, say).
            drop(sink);
            let staged = WindowedValue {
                value: (key.clone().into_bytes(), Staged { key, commit }),
                timestamp: self.latest,
                windows: vec![GlobalWindow],
                pane: crate::coder::PaneInfo::NO_FIRING,
            };
            let coder = windowed(Kv(Bytes, json::<Staged<Commit<T, B>>>()));
            let mut encoded = Vec::new();
            coder.encode(&staged, Context::Nested, &mut encoded)?;
            self.context.consumers.emit(&encoded).await?;
            let written = i64::try_from(self.written).unwrap_or(i64::MAX);
            self.context
                .leftovers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .count(&self.context.transform_id, "written", written)?;
        }
        self.context.consumers.finish().await
    }
}

/// The publish step of a [`BundleSink`].
pub(crate) struct PublishStep<T, B> {
    sink: Arc<B>,
    _records: PhantomData<fn(T)>,
}

impl<T, B> PublishStep<T, B> {
    pub fn new(sink: Arc<B>) -> Self {
        PublishStep {
            sink,
            _records: PhantomData,
        }
    }
}

impl<T, B> ErasedStep for PublishStep<T, B>
where
    T: Send + 'static,
    B: BundleSink<T>,
{
    fn operator(&self, phase: Phase, context: OpContext) -> Result<Box<dyn Operator>> {
        plain_only(phase, &context)?;
        Ok(Box::new(PublishOp::<T, B> {
            factory: Arc::clone(&self.sink),
            context,
            _records: PhantomData,
        }))
    }
}

struct PublishOp<T, B> {
    factory: Arc<B>,
    context: OpContext,
    _records: PhantomData<fn(T)>,
}

#[async_trait]
impl<T, B> Operator for PublishOp<T, B>
where
    T: Send + 'static,
    B: BundleSink<T>,
{
    async fn value(&mut self, _: TypedValue) -> Result<()> {
        Err(BeamError::Protocol(format!(
            "transform {} publishes what a GroupByKey sends, but was handed a value in memory",
            self.context.transform_id
        )))
    }

    async fn element(&mut self, input: &mut &[u8]) -> Result<()> {
        let coder = windowed(Kv(Bytes, IterableCoder(json::<Staged<Commit<T, B>>>())));
        let e = coder.decode(input, Context::Nested)?;
        let (_, messages) = e.value;
        for Staged { key, commit } in messages {
            let mut sink = self.factory.open(&key).map_err(|e| {
                step_error(
                    &self.context,
                    format!("opening the sink of attempt {key}"),
                    e,
                )
            })?;
            sink.commit(EPOCH, commit)
                .await
                .map_err(|e| step_error(&self.context, format!("publishing attempt {key}"), e))?;
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<()> {
        self.context.consumers.finish().await
    }
}

/// A step that adds what `f` says of each element to the bundle's counters, and emits nothing.
pub(crate) struct CountStep<T, F> {
    f: Arc<F>,
    _records: PhantomData<fn(T)>,
}

impl<T, F> CountStep<T, F> {
    pub fn new(f: F) -> Self {
        CountStep {
            f: Arc::new(f),
            _records: PhantomData,
        }
    }
}

impl<T, F> ErasedStep for CountStep<T, F>
where
    T: Serialize + DeserializeOwned + Debug + Send + 'static,
    F: Fn(&T) -> Vec<(&'static str, i64)> + Send + Sync + 'static,
{
    fn operator(&self, phase: Phase, context: OpContext) -> Result<Box<dyn Operator>> {
        plain_only(phase, &context)?;
        Ok(Box::new(CountOp::<T, F> {
            f: Arc::clone(&self.f),
            coder: windowed(json()),
            context,
        }))
    }
}

struct CountOp<T, F> {
    f: Arc<F>,
    coder: Windowed<Json<T>>,
    context: OpContext,
}

#[async_trait]
impl<T, F> Operator for CountOp<T, F>
where
    T: Serialize + DeserializeOwned + Debug + Send + 'static,
    F: Fn(&T) -> Vec<(&'static str, i64)> + Send + Sync + 'static,
{
    async fn element(&mut self, input: &mut &[u8]) -> Result<()> {
        let e = self.coder.decode(input, Context::Nested)?;
        self.count(&e.value)
    }

    async fn value(&mut self, value: TypedValue) -> Result<()> {
        let e = typed::<T>(&self.context, value)?;
        self.count(&e.value)
    }

    async fn finish(&mut self) -> Result<()> {
        self.context.consumers.finish().await
    }
}

impl<T, F> CountOp<T, F>
where
    T: Serialize + DeserializeOwned + Debug + Send + 'static,
    F: Fn(&T) -> Vec<(&'static str, i64)> + Send + Sync + 'static,
{
    fn count(&mut self, value: &T) -> Result<()> {
        let counts = (self.f)(value);
        let mut leftovers = self
            .context
            .leftovers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for (name, value) in counts {
            leftovers.count(&self.context.transform_id, name, value)?;
        }
        Ok(())
    }
}
