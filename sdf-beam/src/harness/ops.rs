//! The operators of a bundle: each takes encoded windowed values, one at a time, and hands
//! what it makes to its consumers, down to the data sinks that send it to the runner.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sdf_core::Finalizer;
use tokio::sync::mpsc;

use crate::error::{BeamError, Result};
use crate::proto::fn_execution::{DelayedBundleApplication, Elements, elements};

/// One transform of a running bundle.
#[async_trait]
pub(crate) trait Operator: Send {
    /// Processes the element at the front of `input` (a windowed value, nested) and advances
    /// `input` past it.
    async fn element(&mut self, input: &mut &[u8]) -> Result<()>;

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
pub(crate) struct Consumers(pub Vec<Consumer>);

impl Consumers {
    /// Hands one encoded element to every consumer.
    pub async fn emit(&mut self, element: &[u8]) -> Result<()> {
        for consumer in &mut self.0 {
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
        for consumer in &mut self.0 {
            match consumer {
                Consumer::Op(op) => op.finish().await?,
                Consumer::Sink(sink) => sink.finish().await?,
            }
        }
        Ok(())
    }
}
