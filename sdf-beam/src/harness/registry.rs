//! Which Rust DoFn runs a transform: registered by name, found by the name in the transform's
//! `DoFn` spec (`sdf:dofn:v1`, payload: the name). The worker builds the same pipeline as the
//! program that submitted it, so nothing is serialized but restrictions and elements.

use std::collections::HashMap;
use std::sync::Arc;

use sdf_core::SplittableDoFn;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ops::{Encoder, json_encoder};
use super::plain::{CountStep, PublishStep, WriteStep, json_decoder};
use super::step::{ErasedStep, ImpulseBytes, SdfStep};
use crate::coder::{LengthPrefix, SerdeJson};
use crate::write::BundleSink;

/// The URN of a DoFn of this SDK in a `ParDoPayload`; its payload is the registered name.
pub const SDF_DOFN_URN: &str = "sdf:dofn:v1";

/// The DoFns a worker can run, by name.
#[derive(Clone, Default)]
pub struct Registry {
    steps: HashMap<String, Arc<dyn ErasedStep>>,
    /// How each step's output is encoded where it must be, by the step's name: the coder of a
    /// step that reads it (see [`Encoder`]).
    encoders: HashMap<String, Encoder>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.steps.keys().collect();
        names.sort();
        f.debug_struct("Registry").field("steps", &names).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers a DoFn whose input comes from another DoFn (as `length_prefix(serde_json)`),
    /// and whose output is encoded the same way where it must be.
    pub fn register<F>(&mut self, name: &str, dofn: F)
    where
        F: SplittableDoFn,
        F::Input: Serialize + DeserializeOwned,
        F::Output: Serialize + DeserializeOwned,
    {
        self.register_step(name, dofn);
        self.set_encoder::<F::Output>(name);
    }

    /// Registers a DoFn whose output is handed in memory to the step after it, and encoded
    /// only with the coder that step's input gives ([`set_encoder`](Self::set_encoder)).
    pub fn register_step<F>(&mut self, name: &str, dofn: F)
    where
        F: SplittableDoFn,
        F::Input: Serialize + DeserializeOwned,
    {
        let input: LengthPrefix<SerdeJson<F::Input>> = SerdeJson::length_prefixed();
        self.steps
            .insert(name.to_string(), Arc::new(SdfStep::new(dofn, input)));
    }

    /// [`register_step`](Self::register_step) with a DoFn shared with another pipeline (the
    /// embedded runtime's, translated).
    pub fn register_shared<F>(&mut self, name: &str, dofn: Arc<F>)
    where
        F: SplittableDoFn,
        F::Input: Serialize + DeserializeOwned,
    {
        let input: LengthPrefix<SerdeJson<F::Input>> = SerdeJson::length_prefixed();
        self.steps
            .insert(name.to_string(), Arc::new(SdfStep::shared(dofn, input)));
    }

    /// Registers a root DoFn: its one input `()` is the runner's impulse.
    pub fn register_root<F>(&mut self, name: &str, dofn: F)
    where
        F: SplittableDoFn<Input = ()>,
    {
        self.steps
            .insert(name.to_string(), Arc::new(SdfStep::new(dofn, ImpulseBytes)));
    }

    /// Says that step `producer`'s output (of type `T`) is encoded as `length_prefix(serde_json)`
    /// where it leaves the bundle or goes to several transforms (the first coder given wins:
    /// every reader of one output reads the same type).
    pub fn set_encoder<T: Serialize + DeserializeOwned + 'static>(&mut self, producer: &str) {
        self.encoders
            .entry(producer.to_string())
            .or_insert_with(json_encoder::<T>);
    }

    pub(crate) fn encoder(&self, producer: &str) -> Option<Encoder> {
        self.encoders.get(producer).cloned()
    }

    /// Registers the write step (`write`) and the publish step (`publish`) of `sink`.
    pub fn register_sink<T, B>(&mut self, write: &str, publish: &str, sink: B)
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        B: BundleSink<T>,
    {
        let sink = Arc::new(sink);
        self.steps.insert(
            write.to_string(),
            Arc::new(WriteStep::<T, B>::new(
                Arc::clone(&sink),
                Some(json_decoder::<T>()),
            )),
        );
        self.steps.insert(
            publish.to_string(),
            Arc::new(PublishStep::<T, B>::new(sink)),
        );
    }

    /// [`register_sink`](Self::register_sink) for records that are not serde: they must reach
    /// the write step in memory, from the step before it in the bundle.
    pub fn register_sink_unencoded<T, B>(&mut self, write: &str, publish: &str, sink: B)
    where
        T: Send + 'static,
        B: BundleSink<T>,
    {
        let sink = Arc::new(sink);
        self.steps.insert(
            write.to_string(),
            Arc::new(WriteStep::<T, B>::new(Arc::clone(&sink), None)),
        );
        self.steps.insert(
            publish.to_string(),
            Arc::new(PublishStep::<T, B>::new(sink)),
        );
    }

    /// Registers a step that adds `f(element)` to the bundle's counters (see
    /// [`metrics`](crate::metrics)).
    pub fn register_counters<T, F>(&mut self, name: &str, f: F)
    where
        T: Serialize + DeserializeOwned + std::fmt::Debug + Send + 'static,
        F: Fn(&T) -> Vec<(&'static str, i64)> + Send + Sync + 'static,
    {
        self.steps
            .insert(name.to_string(), Arc::new(CountStep::<T, F>::new(f)));
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<dyn ErasedStep>> {
        self.steps.get(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<_> = self.steps.keys().cloned().collect();
        names.sort();
        names
    }
}
