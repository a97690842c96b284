//! The embedded runtime's [`Pipeline`] on a Beam runner (feature `beam`):
//! [`Pipeline::into_beam`] replays its steps onto an [`sdf_beam::translate::BeamPipeline`],
//! which [`sdf_beam::BeamRunner`] runs.
//!
//! Each step records, as it is added, how it is translated: a source's items are encoded with
//! the reading step's coder; a DoFn is shared (`Arc`) with the Beam pipeline, whose harness
//! runs the same instance; `collect` stages each bundle attempt's records in this process and
//! publishes them only for the attempts the runner committed, so the collected records are
//! exact however the runner retries (its workers must run in this process: an EXTERNAL
//! environment, `BeamRunner`'s default); a `sink` runs as a sink per bundle attempt
//! ([`Sink::attempts`]: `WriteFiles` makes them), published only for committed attempts. A
//! step that has no translation (a channel source, a dead-letter output, a sink without
//! `attempts`) makes `into_beam` fail, naming it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sdf_beam::translate::{BeamPipeline, Collection};
use sdf_core::{Sink, SplittableDoFn, Timestamp, Timestamped};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::pipeline::{Collected, Pipeline};

/// The collections translated so far, by slot.
pub(crate) type Slots = HashMap<usize, Collection>;

/// How one step is translated.
pub(crate) type Step = Box<dyn FnOnce(&mut BeamPipeline, &mut Slots) -> Result<()> + Send>;

fn input(slots: &Slots, step: &str, slot: usize) -> Result<Collection> {
    slots.get(&slot).cloned().ok_or_else(|| Error::NotPortable {
        step: step.to_string(),
        reason: "its input was not translated (a step before it has no translation)".into(),
    })
}

/// A source of `items`, taken from the pipeline when it is translated.
pub(crate) fn source<T, I>(name: &str, slot: usize, items: Arc<Mutex<Option<I>>>) -> Step
where
    T: Send + 'static,
    I: IntoIterator<Item = Timestamped<T>> + Send + 'static,
    I::IntoIter: Send,
{
    let name = name.to_string();
    Box::new(move |beam, slots| {
        let items = items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| Error::NotPortable {
                step: name.clone(),
                reason: "its items were already taken (the pipeline ran, or was translated)".into(),
            })?;
        slots.insert(slot, beam.from_timestamped_iter(&name, items));
        Ok(())
    })
}

/// A DoFn applied: the same instance runs in the Beam worker.
pub(crate) fn apply<F>(name: &str, input_slot: usize, output_slot: usize, dofn: Arc<F>) -> Step
where
    F: SplittableDoFn,
    F::Input: Serialize + DeserializeOwned,
{
    let name = name.to_string();
    Box::new(move |beam, slots| {
        let from = input(slots, &name, input_slot)?;
        slots.insert(output_slot, beam.apply_shared(&name, &from, dofn));
        Ok(())
    })
}

/// A step with no translation: `into_beam` fails, naming it and why.
pub(crate) fn unsupported(name: &str, reason: &str) -> Step {
    let (name, reason) = (name.to_string(), reason.to_string());
    Box::new(move |_, _| Err(Error::NotPortable { step: name, reason }))
}

/// A sink: one of its own per bundle attempt ([`Sink::attempts`]), or no translation.
pub(crate) fn sink<T, S>(
    name: &str,
    input_slot: usize,
    attempts: Option<sdf_core::AttemptSinks<S>>,
) -> Step
where
    T: Send + 'static,
    S: Sink<T>,
{
    let Some(attempts) = attempts else {
        return unsupported(
            name,
            "this sink makes no sink per bundle attempt (`Sink::attempts`), which a Beam \
             runner needs: one instance commits once per checkpoint here, and a runner retries \
             bundles",
        );
    };
    let name = name.to_string();
    Box::new(move |beam, slots| {
        let from = input(slots, &name, input_slot)?;
        beam.write_unencoded(&name, &from, attempts)
            .map_err(|e| Error::NotPortable {
                step: name.clone(),
                reason: e.to_string(),
            })
    })
}

/// `collect`: each attempt's records staged in this process, published into `collected`
/// when the runner committed the attempt.
pub(crate) fn collect<T: Send + 'static>(
    name: &str,
    input_slot: usize,
    collected: Collected<T>,
) -> Step {
    let name = name.to_string();
    Box::new(move |beam, slots| {
        let from = input(slots, &name, input_slot)?;
        let staged: Staged<T> = Arc::default();
        beam.write_unencoded(&name, &from, move |key: &str| {
            Ok(CollectAttempt {
                key: key.to_string(),
                into: collected.clone(),
                staged: Arc::clone(&staged),
                batch: Vec::new(),
                watermark: Timestamp::MIN,
            })
        })
        .map_err(|e| Error::NotPortable {
            step: name.clone(),
            reason: e.to_string(),
        })
    })
}

/// Attempts' records waiting for the runner's commit, by attempt key.
type Staged<T> = Arc<Mutex<HashMap<String, (Vec<Timestamped<T>>, Timestamp)>>>;

/// One attempt of a `collect` on Beam.
struct CollectAttempt<T> {
    key: String,
    into: Collected<T>,
    staged: Staged<T>,
    batch: Vec<Timestamped<T>>,
    watermark: Timestamp,
}

#[async_trait]
impl<T: Send + 'static> Sink<T> for CollectAttempt<T> {
    type Commit = ();

    async fn write(&mut self, mut batch: Vec<Timestamped<T>>) -> sdf_core::Result<()> {
        for record in &batch {
            self.watermark = self.watermark.max(record.timestamp);
        }
        self.batch.append(&mut batch);
        Ok(())
    }

    async fn prepare(&mut self, _epoch: u64) -> sdf_core::Result<()> {
        let records = std::mem::take(&mut self.batch);
        self.staged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(self.key.clone(), (records, self.watermark));
        Ok(())
    }

    /// Publishes the attempt's records once: a retried publish finds them gone.
    async fn commit(&mut self, _epoch: u64, _: ()) -> sdf_core::Result<()> {
        let staged = self
            .staged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
        if let Some((mut records, latest)) = staged {
            self.into
                .records
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .append(&mut records);
            self.into
                .watermark
                .fetch_max(latest.as_micros(), std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }
}

impl Pipeline {
    /// The pipeline as a Beam pipeline, to run with [`sdf_beam::BeamRunner`]: its sources,
    /// DoFns (the same instances), sinks (one per bundle attempt, [`Sink::attempts`]) and
    /// `collect`s, in the order they were added. It fails, naming the step, if a step has no
    /// translation: a channel source, a dead-letter output, a sink without `attempts`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use sdf_core::testing::CountFn;
    /// use sdf_runtime::Pipeline;
    ///
    /// let mut p = Pipeline::new();
    /// let inputs = p.from_iter("inputs", vec![("a".to_string(), 3), ("b".to_string(), 2)]);
    /// let counted = p.apply("count", inputs, CountFn);
    /// let out = p.collect("out", counted);
    /// sdf_beam::BeamRunner::new("localhost:8099").run(p.into_beam()?).await?;
    /// assert_eq!(out.len(), 5);
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_beam(mut self) -> Result<BeamPipeline> {
        if let Some(name) = self.duplicate.take() {
            return Err(Error::Internal(format!(
                "two steps are named '{name}': step names identify steps on Beam too and must \
                 be distinct"
            )));
        }
        let mut beam = BeamPipeline::default();
        let mut slots = Slots::new();
        for step in std::mem::take(&mut self.beam) {
            step(&mut beam, &mut slots)?;
        }
        Ok(beam)
    }
}
