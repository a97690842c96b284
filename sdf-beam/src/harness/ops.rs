//! The operators of a bundle: each takes encoded windowed values, one at a time, and hands
//! what it makes to its consumers, down to the data sinks that send it to the runner.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use std::any::Any;

use async_trait::async_trait;
use sdf_core::Finalizer;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::coder::{
    Coder, CoderError, Context, GlobalWindow, GlobalWindowCoder, SerdeJson, WindowedValue,
    WindowedValueCoder,
};
use crate::error::{BeamError, Result};
use crate::proto::fn_execution::{DelayedBundleApplication, Elements, elements};

/// An element handed from one operator to the next in memory, as the value it is: a
/// windowed value whose value is the producing step's output type.
pub(crate) type TypedValue = WindowedValue<GlobalWindow, Box<dyn Any + Send>>;

/// Encodes a value of a step's output type (nested), for the consumers that need bytes: the
/// runner, or several transforms at once. It comes from the input coder of the step that
/// consumes the output (every DoFn's input is serde), not from the output's own type.
pub(crate) type Encoder =
    Arc<dyn Fn(&(dyn Any + Send), &mut Vec<u8>) -> Result<(), CoderError> + Send + Sync>;

/// The encoder of `T` as `length_prefix(serde_json)`.
pub(crate) fn json_encoder<T: Serialize + DeserializeOwned + 'static>() -> Encoder {
    Arc::new(|value: &(dyn Any + Send), out: &mut Vec<u8>| {
        let value = value.downcast_ref::<T>().ok_or_else(|| {
            CoderError::malformed(
                "sdf serde_json",
                format!("a value that is not a {}", std::any::type_name::<T>()),
            )
        })?;
        SerdeJson::<T>::length_prefixed().encode(value, Context::Nested, out)
    })
}

/// An element already encoded as the step that reads it decodes it (nested): what a
/// `from_iter` source of a [`BeamPipeline`](crate::translate::BeamPipeline) emits.
#[derive(Debug, Clone)]
pub struct Encoded(pub(crate) Arc<Vec<u8>>);

/// Bytes already encoded (nested), written as they are.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Verbatim;

impl Coder for Verbatim {
    type Value = Vec<u8>;

    fn encode(&self, value: &Vec<u8>, _: Context, out: &mut Vec<u8>) -> Result<(), CoderError> {
        out.extend_from_slice(value);
        Ok(())
    }

    fn decode(&self, input: &mut &[u8], _: Context) -> Result<Vec<u8>, CoderError> {
        Ok(std::mem::take(input).to_vec())
    }
}

/// A windowed value in the global window whose value is bytes already encoded.
fn windowed_verbatim() -> WindowedValueCoder<GlobalWindowCoder, Verbatim> {
    WindowedValueCoder {
        window: GlobalWindowCoder,
        value: Verbatim,
    }
}

/// One transform of a running bundle.
#[async_trait]
pub(crate) trait Operator: Send {
    /// Processes the element at the front of `input` (a windowed value, nested) and advances
    /// `input` past it.
    async fn element(&mut self, input: &mut &[u8]) -> Result<()>;

    /// Processes an element handed over in memory by the transform before it in the bundle.
    async fn value(&mut self, value: TypedValue) -> Result<()>;

    /// The input ended: finish, then finish the consumers.
    async fn finish(&mut self) -> Result<()>;
}

/// What a bundle leaves besides its output: residuals for the runner to schedule, finalizers
/// to run when it says the bundle committed, user counters for the runner to sum over the
/// bundles it commits.
#[derive(Default)]
pub(crate) struct Leftovers {
    pub residuals: Vec<DelayedBundleApplication>,
    pub finalizers: Vec<Finalizer>,
    /// By transform id and counter name.
    pub counters: BTreeMap<(String, String), i64>,
}

impl Leftovers {
    /// Adds `value` to a counter of `transform_id`; an overflow is an error, never a wrap.
    pub fn count(&mut self, transform_id: &str, name: &str, value: i64) -> Result<()> {
        let counter = self
            .counters
            .entry((transform_id.to_string(), name.to_string()))
            .or_default();
        *counter = counter.checked_add(value).ok_or_else(|| BeamError::Step {
            transform: transform_id.to_string(),
            detail: format!("the counter {name} overflows an i64 in one bundle"),
        })?;
        Ok(())
    }
}

/// Shared by the operators of one bundle.
pub(crate) type SharedLeftovers = Arc<Mutex<Leftovers>>;

/// Sends one transform's output to the runner on the data stream, in chunks.
pub(crate) struct DataSink {
    instruction_id: String,
    transform_id: String,
    buffer: Vec<u8>,
    out: mpsc::Sender<Elements>,
}

/// A chunk is sent once it holds this much.
const CHUNK: usize = 1 << 20;

impl DataSink {
    pub fn new(instruction_id: &str, transform_id: &str, out: mpsc::Sender<Elements>) -> DataSink {
        DataSink {
            instruction_id: instruction_id.to_string(),
            transform_id: transform_id.to_string(),
            buffer: Vec::new(),
            out,
        }
    }

    /// Appends one encoded element.
    pub async fn append(&mut self, element: &[u8]) -> Result<()> {
        self.buffer.extend_from_slice(element);
        if self.buffer.len() >= CHUNK {
            self.send(false).await?;
        }
        Ok(())
    }

    async fn send(&mut self, is_last: bool) -> Result<()> {
        let data = std::mem::take(&mut self.buffer);
        tracing::trace!(transform = %self.transform_id, bytes = data.len(), is_last, "output");
        let elements = Elements {
            data: vec![elements::Data {
                instruction_id: self.instruction_id.clone(),
                transform_id: self.transform_id.clone(),
                data,
                is_last,
            }],
            timers: Vec::new(),
        };
        self.out.send(elements).await.map_err(|_| {
            BeamError::Protocol(format!(
                "the data stream closed while {} was sending output of {}",
                self.instruction_id, self.transform_id
            ))
        })
    }

    /// Sends what is left, then the end of this transform's output in the bundle: an empty
    /// chunk marked last (runners drop the data of a chunk that is marked last, as the Fn API
    /// says such a chunk carries none).
    pub async fn finish(&mut self) -> Result<()> {
        if !self.buffer.is_empty() {
            self.send(false).await?;
        }
        self.send(true).await
    }
}

/// Where an operator's output goes.
pub(crate) enum Consumer {
    /// Another transform of the bundle.
    Op(Box<dyn Operator>),
    /// The runner.
    Sink(DataSink),
}

/// The consumers of one output.
#[derive(Default)]
pub(crate) struct Consumers {
    pub list: Vec<Consumer>,
    /// The output's encoder, where a consuming step gave one.
    pub encoder: Option<Encoder>,
    /// The step that makes the output, for errors.
    pub producer: String,
    /// The element being encoded, reused from one to the next.
    pub buffer: Vec<u8>,
}

impl Consumers {
    /// Hands one value of the producing step's output type on: in memory to a single
    /// transform of the bundle, encoded (with [`encoder`](Self::encoder)) to the runner or to
    /// several transforms.
    pub async fn emit_value<T: Send + 'static>(
        &mut self,
        value: WindowedValue<GlobalWindow, T>,
    ) -> Result<()> {
        if let Some(Encoded(bytes)) = (&value.value as &dyn Any).downcast_ref::<Encoded>() {
            // Already in the reader's coder: the reader decodes it.
            return self.emit_encoded(bytes.to_vec(), value).await;
        }
        match &mut self.list[..] {
            [] => return Ok(()),
            [Consumer::Op(op)] => {
                return op
                    .value(WindowedValue {
                        value: Box::new(value.value),
                        timestamp: value.timestamp,
                        windows: value.windows,
                        pane: value.pane,
                    })
                    .await;
            }
            _ => {}
        }
        let encoder = self.encoder.as_ref().ok_or_else(|| {
            BeamError::Protocol(format!(
                "the output of {} ({}) must be encoded here (it goes to the runner, or to \
                 several transforms), but no step of the pipeline reads it with a coder: a \
                 sink's input type that is not serde cannot be separated from the step before \
                 it",
                self.producer,
                std::any::type_name::<T>()
            ))
        })?;
        // The windowed value's metadata, then its value (the last field), in one buffer.
        let mut element = std::mem::take(&mut self.buffer);
        element.clear();
        let header = WindowedValue {
            value: Vec::new(),
            timestamp: value.timestamp,
            windows: value.windows,
            pane: value.pane,
        };
        let written = windowed_verbatim()
            .encode(&header, Context::Nested, &mut element)
            .map_err(BeamError::from)
            .and_then(|()| Ok(encoder(&value.value, &mut element)?));
        let result = match written {
            Ok(()) => self.emit(&element).await,
            Err(e) => Err(e),
        };
        self.buffer = element;
        result
    }

    /// Sends `bytes`, the value of `value` already encoded, as a windowed value.
    async fn emit_encoded<T>(
        &mut self,
        bytes: Vec<u8>,
        value: WindowedValue<GlobalWindow, T>,
    ) -> Result<()> {
        let mut element = Vec::new();
        windowed_verbatim().encode(
            &WindowedValue {
                value: bytes,
                timestamp: value.timestamp,
                windows: value.windows,
                pane: value.pane,
            },
            Context::Nested,
            &mut element,
        )?;
        self.emit(&element).await
    }

    /// Hands one encoded element to every consumer.
    pub async fn emit(&mut self, element: &[u8]) -> Result<()> {
        for consumer in &mut self.list {
            match consumer {
                Consumer::Op(op) => {
                    let mut input = element;
                    op.element(&mut input).await.map_err(|e| match e {
                        // A whole element, cut short by its consumer's coder: the coders
                        // disagree. (A source takes a truncation for the end of a data chunk,
                        // so one must never come from here.)
                        BeamError::Coder(e @ crate::coder::CoderError::Truncated { .. }) => {
                            BeamError::Protocol(format!(
                                "a consumer's coder wanted more than the {} bytes of an \
                                 element: the coders of a PCollection disagree ({e})",
                                element.len()
                            ))
                        }
                        e => e,
                    })?;
                    if !input.is_empty() {
                        return Err(BeamError::Protocol(format!(
                            "a consumer decoded {} of {} bytes of an element: the coders of \
                             a PCollection disagree",
                            element.len() - input.len(),
                            element.len()
                        )));
                    }
                }
                Consumer::Sink(sink) => sink.append(element).await?,
            }
        }
        Ok(())
    }

    /// Finishes every consumer.
    pub async fn finish(&mut self) -> Result<()> {
        for consumer in &mut self.list {
            match consumer {
                Consumer::Op(op) => op.finish().await?,
                Consumer::Sink(sink) => sink.finish().await?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coder::PaneInfo;

    fn value<T>(v: T) -> WindowedValue<GlobalWindow, T> {
        WindowedValue {
            value: v,
            timestamp: crate::coder::Instant(0),
            windows: vec![GlobalWindow],
            pane: PaneInfo::NO_FIRING,
        }
    }

    fn to_runner(encoder: Option<Encoder>) -> (Consumers, mpsc::Receiver<Elements>) {
        let (tx, rx) = mpsc::channel(8);
        let consumers = Consumers {
            list: vec![Consumer::Sink(DataSink::new("b", "write", tx))],
            encoder,
            producer: "read".to_string(),
            buffer: Vec::new(),
        };
        (consumers, rx)
    }

    /// A value the runner must carry is encoded with the reading step's coder, as a whole
    /// windowed value; without one, the bundle fails naming the producer and the type.
    #[tokio::test]
    async fn values_leave_the_bundle_only_with_a_readers_coder() {
        struct NotSerde;
        let (mut consumers, _rx) = to_runner(None);
        let err = consumers.emit_value(value(NotSerde)).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("read") && text.contains("NotSerde"), "{text}");

        let (mut consumers, mut rx) = to_runner(Some(json_encoder::<String>()));
        consumers.emit_value(value("hi".to_string())).await.unwrap();
        consumers.finish().await.unwrap();
        let mut sent = Vec::new();
        while let Ok(elements) = rx.try_recv() {
            sent.extend(elements.data.into_iter().flat_map(|d| d.data));
        }
        let coder = WindowedValueCoder {
            window: GlobalWindowCoder,
            value: SerdeJson::<String>::length_prefixed(),
        };
        let mut expected = Vec::new();
        coder
            .encode(&value("hi".to_string()), Context::Nested, &mut expected)
            .unwrap();
        assert_eq!(sent, expected);
    }
}
