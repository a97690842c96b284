//! A stage's part of a checkpoint: its queued and delayed work, with the elements it belongs
//! to (each element once, however many residuals it has), and its input watermark.

use std::collections::HashMap;
use std::sync::Arc;

use sdf_core::{SplittableDoFn, Timestamp, Timestamped, WatermarkState};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use super::{Element, Stage, Work};
use crate::control::Checkpointed;
use crate::error::{Error, Result};
use crate::lineage::Lineage;

#[derive(Serialize, Deserialize)]
struct Saved {
    input_watermark: Timestamp,
    /// `[element, timestamp]` pairs.
    elements: Vec<(Value, Timestamp)>,
    work: Vec<SavedWork>,
}

#[derive(Serialize, Deserialize)]
struct SavedWork {
    /// Index into `elements`.
    element: usize,
    restriction: Value,
    watermark: Value,
    /// Time left before delayed work may run.
    delay_ms: u64,
    attempts: u32,
}

impl<F> Checkpointed for Stage<F>
where
    F: SplittableDoFn,
    F::Input: Serialize + DeserializeOwned,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn interrupt(&self) {
        for running in self.lock().running.values() {
            running.handle.request_checkpoint();
        }
    }

    fn snapshot(&self) -> Result<Value> {
        let s = self.lock();
        let now = Instant::now();
        let mut index: HashMap<*const Element<F::Input>, usize> = HashMap::new();
        let mut elements = Vec::new();
        let mut work = Vec::new();
        let delayed = s
            .delayed
            .iter()
            .map(|d| (&d.0.work, d.0.ready.saturating_duration_since(now)));
        let queued = s.queue.iter().map(|w| (w, std::time::Duration::ZERO));
        for (w, delay) in queued.chain(delayed) {
            let element = *index.entry(Arc::as_ptr(&w.element)).or_insert_with(|| {
                elements.push((&w.element.value, w.element.timestamp));
                elements.len() - 1
            });
            work.push(SavedWork {
                element,
                restriction: self.encode("restriction", &w.restriction)?,
                watermark: self.encode("watermark state", &w.watermark)?,
                delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                attempts: w.attempts,
            });
        }
        let elements = elements
            .into_iter()
            .map(|(value, timestamp)| Ok((self.encode("element", value)?, timestamp)))
            .collect::<Result<Vec<_>>>()?;
        let saved = Saved {
            input_watermark: s.input_watermark,
            elements,
            work,
        };
        serde_json::to_value(saved).map_err(|e| self.persist_error("encoding", e))
    }
}

impl<F> Stage<F>
where
    F: SplittableDoFn,
    F::Input: Serialize + DeserializeOwned,
{
    /// Puts back the work of a checkpoint.
    pub(crate) fn restore(&self, state: Option<Value>) -> Result<()> {
        let Some(state) = state else { return Ok(()) };
        let saved: Saved =
            serde_json::from_value(state).map_err(|e| self.persist_error("reading", e))?;
        let elements = saved
            .elements
            .into_iter()
            .map(|(value, timestamp)| {
                let value = self.decode::<F::Input>("element", value)?;
                Ok(Arc::new(Element::new(
                    Timestamped { value, timestamp },
                    Lineage::default(),
                )))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut s = self.lock();
        s.input_watermark = saved.input_watermark;
        let now = Instant::now();
        for w in saved.work {
            let element = elements.get(w.element).cloned().ok_or_else(|| {
                Error::Internal(format!(
                    "stage '{}': the checkpoint refers to a missing element #{}",
                    self.name, w.element
                ))
            })?;
            let restriction = self.decode::<F::Restriction>("restriction", w.restriction)?;
            let watermark = self.decode::<WatermarkState<F>>("watermark state", w.watermark)?;
            let mut work = Work::new(&*self.dofn, element, restriction, watermark);
            work.attempts = w.attempts;
            if w.delay_ms == 0 {
                s.enqueue(work);
            } else {
                s.enqueue_at(now + std::time::Duration::from_millis(w.delay_ms), work);
            }
        }
        s.publish_counters(&self.counters);
        Ok(())
    }

    fn encode<T: Serialize + std::fmt::Debug>(&self, what: &str, value: &T) -> Result<Value> {
        serde_json::to_value(value).map_err(|e| {
            Error::Internal(format!(
                "stage '{}': the {what} {value:?} cannot be serialized for a checkpoint: {e}",
                self.name
            ))
        })
    }

    fn decode<T: DeserializeOwned>(&self, what: &str, value: Value) -> Result<T> {
        serde_json::from_value(value).map_err(|e| {
            Error::Internal(format!(
                "stage '{}': a {what} in the checkpoint cannot be read ({e}); was the DoFn's type changed since it was written?",
                self.name
            ))
        })
    }

    fn persist_error(&self, what: &str, e: serde_json::Error) -> Error {
        Error::Internal(format!(
            "stage '{}': {what} its checkpoint state failed: {e}",
            self.name
        ))
    }
}
