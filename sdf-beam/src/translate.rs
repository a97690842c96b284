//! A pipeline of splittable DoFns as a Beam `Pipeline` proto, with the [`Registry`] a worker
//! runs it with.
//!
//! A root DoFn (input `()`) follows an `Impulse`; every DoFn is a `ParDo` whose `DoFn` spec is
//! [`SDF_DOFN_URN`] with its registered name, and whose restriction coder is
//! `kv(length_prefix(serde_json), length_prefix(serde_json))` (restriction, watermark state):
//! the runner expands it into Beam's SDF transforms and splits it. Every PCollection of ours
//! is `length_prefix(serde_json)` in the global window, so runners carry it as opaque bytes.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use sdf_core::{
    MonotonicWatermarkEstimator, OffsetRange, OffsetRangeTracker, Output, PipelineBuilder,
    ProcessContinuation, SharedTracker,
};

use prost::Message;
use sdf_core::SplittableDoFn;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::coder::urn;
use crate::error::{BeamError, Result};
use crate::harness::{Encoded, Encoder, Registry, SDF_DOFN_URN, json_encoder};
use crate::model::{
    EXTERNAL_ENV, GROUP_BY_KEY, IMPULSE, ModelBuilder, PAR_DO, REQUIRES_BUNDLE_FINALIZATION,
    REQUIRES_SPLITTABLE_DOFN,
};
use crate::proto::pipeline::{
    ApiServiceDescriptor, Environment, ExternalPayload, FunctionSpec, ParDoPayload, Pipeline,
};
use crate::write::BundleSink;

/// The output of a step, to apply the next step to.
#[derive(Debug, Clone)]
pub struct Collection {
    pcollection: String,
    /// The registered step that makes it (none for the impulse).
    producer: Option<String>,
    /// A `from_iter` source not added yet: it is added, its items encoded with the coder of
    /// the step that reads them, when that step is applied.
    pending: Option<String>,
}

/// A [`Collection`] with the type of its elements: the collection of
/// [`PipelineBuilder`], for code written against that trait (a
/// connector's composite transform, a pipeline that runs on either runner).
#[derive(Debug)]
pub struct Typed<T> {
    collection: Collection,
    _elements: PhantomData<fn() -> T>,
}

impl<T> Typed<T> {
    fn new(collection: Collection) -> Typed<T> {
        Typed {
            collection,
            _elements: PhantomData,
        }
    }

    /// The untyped collection, for [`BeamPipeline`]'s own methods (`write`, `counters`).
    pub fn collection(&self) -> &Collection {
        &self.collection
    }
}

/// The items of a `from_iter` source, encoded when the step that reads them says how.
type PendingItems =
    Box<dyn FnOnce(&Encoder) -> Result<Vec<(Encoded, sdf_core::Timestamp)>, String> + Send>;

/// What a Beam environment of this SDK declares it can do: the coders it implements, the
/// protocols it speaks, the SDF transforms it runs.
pub const CAPABILITIES: &[&str] = &[
    urn::BYTES,
    urn::STRING_UTF8,
    urn::VARINT,
    urn::BOOL,
    urn::DOUBLE,
    urn::KV,
    urn::ITERABLE,
    urn::STATE_BACKED_ITERABLE,
    urn::LENGTH_PREFIX,
    urn::NULLABLE,
    urn::SHARDED_KEY,
    urn::WINDOWED_VALUE,
    urn::PARAM_WINDOWED_VALUE,
    urn::GLOBAL_WINDOW,
    urn::INTERVAL_WINDOW,
    urn::CUSTOM_WINDOW,
    urn::TIMER,
    "beam:protocol:progress_reporting:v0",
    "beam:transform:sdf_truncate_sized_restrictions:v1",
];

/// An EXTERNAL environment: the runner starts workers through the worker pool at `address`.
pub fn external_environment(address: &str) -> Environment {
    Environment {
        urn: EXTERNAL_ENV.to_string(),
        payload: ExternalPayload {
            endpoint: Some(ApiServiceDescriptor {
                url: address.to_string(),
                authentication: None,
            }),
            params: HashMap::new(),
        }
        .encode_to_vec(),
        display_data: Vec::new(),
        capabilities: CAPABILITIES.iter().map(|c| c.to_string()).collect(),
        dependencies: Vec::new(),
        resource_hints: HashMap::new(),
    }
}

/// A PROCESS environment: the runner starts `command` on its workers' machines with the
/// boot flags (`--id=… --control_endpoint=… --provision_endpoint=…`, see
/// [`harness::boot`](crate::harness::boot)).
pub fn process_environment(command: &str) -> Environment {
    Environment {
        urn: crate::model::PROCESS_ENV.to_string(),
        payload: crate::proto::pipeline::ProcessPayload {
            os: String::new(),
            arch: String::new(),
            command: command.to_string(),
            env: HashMap::new(),
        }
        .encode_to_vec(),
        display_data: Vec::new(),
        capabilities: CAPABILITIES.iter().map(|c| c.to_string()).collect(),
        dependencies: Vec::new(),
        resource_hints: HashMap::new(),
    }
}

/// A DOCKER environment: the runner starts a container of `image` on its workers' machines,
/// whose entry point is the boot program (`sdf beam-worker`, see
/// [`harness::boot`](crate::harness::boot)).
pub fn docker_environment(image: &str) -> Environment {
    Environment {
        urn: crate::model::DOCKER_ENV.to_string(),
        payload: crate::proto::pipeline::DockerPayload {
            container_image: image.to_string(),
        }
        .encode_to_vec(),
        display_data: Vec::new(),
        capabilities: CAPABILITIES.iter().map(|c| c.to_string()).collect(),
        dependencies: Vec::new(),
        resource_hints: HashMap::new(),
    }
}

/// A pipeline of SDFs being built for a Beam runner.
///
/// `BeamPipeline::default()` is one for a [`BeamRunner`](crate::BeamRunner), which sets the
/// environment when it runs it; [`new`](Self::new) names the environment now.
pub struct BeamPipeline {
    model: ModelBuilder,
    registry: Registry,
    environment: String,
    /// `from_iter` sources not read yet, by name.
    pending: HashMap<String, PendingItems>,
    /// `from_iter` sources added, by name: their PCollections.
    sources: HashMap<String, String>,
}

impl std::fmt::Debug for BeamPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BeamPipeline")
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

impl Default for BeamPipeline {
    /// An empty pipeline whose environment is set later ([`set_environment`]); until then an
    /// EXTERNAL environment with no address.
    ///
    /// [`set_environment`]: BeamPipeline::set_environment
    fn default() -> BeamPipeline {
        BeamPipeline::new(external_environment(""))
    }
}

impl BeamPipeline {
    /// An empty pipeline whose DoFns run in `environment`.
    pub fn new(environment: Environment) -> BeamPipeline {
        let mut model = ModelBuilder::new();
        let environment = model.environment("sdf", environment);
        model.require(REQUIRES_SPLITTABLE_DOFN);
        model.require(REQUIRES_BUNDLE_FINALIZATION);
        BeamPipeline {
            model,
            registry: Registry::new(),
            environment,
            pending: HashMap::new(),
            sources: HashMap::new(),
        }
    }

    fn pardo(&mut self, name: &str, input: &str) -> Collection {
        let json = self.model.serde_coder();
        let restriction = self
            .model
            .coder(urn::KV, &[], &[json.clone(), json.clone()]);
        let payload = ParDoPayload {
            do_fn: Some(FunctionSpec {
                urn: SDF_DOFN_URN.to_string(),
                payload: name.as_bytes().to_vec(),
            }),
            restriction_coder_id: restriction,
            // Finalizers (`Output::after_commit`) run only when the runner says the bundle
            // committed: every DoFn may register one.
            requests_finalization: true,
            ..Default::default()
        };
        let output = self.model.pcollection(&format!("{name}.out"), &json, true);
        self.model.transform(
            name,
            FunctionSpec {
                urn: PAR_DO.to_string(),
                payload: payload.encode_to_vec(),
            },
            &[("in", input)],
            &[("out", &output)],
            &self.environment,
        );
        Collection {
            pcollection: output,
            producer: Some(name.to_string()),
            pending: None,
        }
    }

    /// The PCollection `input` is, once a step reading it as `T` is applied: a pending
    /// `from_iter` source is added now, its items encoded as that step's input. The producer
    /// of `input` is told how to encode its output where it must.
    fn read_as<T: Serialize + DeserializeOwned + 'static>(&mut self, input: &Collection) -> String {
        if let Some(producer) = &input.producer {
            self.registry.set_encoder::<T>(producer);
        }
        let Some(source) = &input.pending else {
            return input.pcollection.clone();
        };
        if let Some(pcollection) = self.sources.get(source) {
            return pcollection.clone();
        }
        let items = match self.pending.remove(source) {
            Some(encode) => encode(&json_encoder::<T>()),
            None => Err(format!("the source {source} was read before it was made")),
        };
        let root = EncodedItems {
            source: source.clone(),
            items,
        };
        let collection = self.root(source, root);
        self.sources
            .insert(source.clone(), collection.pcollection.clone());
        collection.pcollection
    }

    /// A ParDo that is not an SDF (no restriction coder: the runner runs it as it is), with
    /// one output of `output_coder`, or none.
    fn plain_pardo(
        &mut self,
        name: &str,
        input: &str,
        output_coder: Option<&str>,
    ) -> Option<String> {
        let payload = ParDoPayload {
            do_fn: Some(FunctionSpec {
                urn: SDF_DOFN_URN.to_string(),
                payload: name.as_bytes().to_vec(),
            }),
            ..Default::default()
        };
        let output =
            output_coder.map(|coder| self.model.pcollection(&format!("{name}.out"), coder, true));
        let outputs: Vec<(&str, &str)> = output.iter().map(|o| ("out", o.as_str())).collect();
        self.model.transform(
            name,
            FunctionSpec {
                urn: PAR_DO.to_string(),
                payload: payload.encode_to_vec(),
            },
            &[("in", input)],
            &outputs,
            &self.environment,
        );
        output
    }

    /// Writes every element of `input` through `sink`, exactly once however the runner
    /// retries bundles: three transforms, `{name}/Write`, `{name}/Group` (a `GroupByKey`) and
    /// `{name}/Publish`, whose protocol is [`BundleSink`]'s. The write step counts what it
    /// wrote as the counter `written` (see [`metrics`](crate::metrics)).
    pub fn write<T, B>(&mut self, name: &str, input: &Collection, sink: B)
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        B: BundleSink<T>,
    {
        let (write, publish) = (format!("{name}/Write"), format!("{name}/Publish"));
        let input = self.read_as::<T>(input);
        self.add_write(&write, &publish, &input);
        self.registry.register_sink(&write, &publish, sink);
    }

    /// The transforms of a write: `write` (a plain ParDo sending each attempt's commit message
    /// on), a `GroupByKey`, `publish` (a plain ParDo).
    fn add_write(&mut self, write: &str, publish: &str, input: &str) {
        let name = write.trim_end_matches("/Write");
        let json = self.model.serde_coder();
        let bytes = self.model.coder(urn::BYTES, &[], &[]);
        let staged = self
            .model
            .coder(urn::KV, &[], &[bytes.clone(), json.clone()]);
        let staged = self
            .plain_pardo(write, input, Some(&staged))
            .expect("an output was asked for");
        let iterable = self.model.coder(urn::ITERABLE, &[], &[json]);
        let grouped_coder = self.model.coder(urn::KV, &[], &[bytes, iterable]);
        let grouped = self
            .model
            .pcollection(&format!("{name}/Group.out"), &grouped_coder, true);
        self.model.transform(
            &format!("{name}/Group"),
            FunctionSpec {
                urn: GROUP_BY_KEY.to_string(),
                payload: Vec::new(),
            },
            &[("in", &staged)],
            &[("out", &grouped)],
            "",
        );
        self.plain_pardo(publish, &grouped, None);
    }

    /// Adds what `f` says of each element of `input` to the counters of the bundle that
    /// processed it: the runner sums them over the bundles it commits, and the job's
    /// [`JobOutcome::counters`](crate::JobOutcome::counters) holds the totals, exact however
    /// bundles were retried. Emits nothing.
    pub fn counters<T, F>(&mut self, name: &str, input: &Collection, f: F)
    where
        T: Serialize + DeserializeOwned + std::fmt::Debug + Send + 'static,
        F: Fn(&T) -> Vec<(&'static str, i64)> + Send + Sync + 'static,
    {
        let input = self.read_as::<T>(input);
        self.plain_pardo(name, &input, None);
        self.registry.register_counters(name, f);
    }

    /// A root step: `dofn` runs once on `()`, after the runner's impulse.
    pub fn root<F>(&mut self, name: &str, dofn: F) -> Collection
    where
        F: SplittableDoFn<Input = ()>,
    {
        let bytes = self.model.coder(urn::BYTES, &[], &[]);
        let impulse = self
            .model
            .pcollection(&format!("{name}.impulse"), &bytes, true);
        self.model.transform(
            &format!("{name}/Impulse"),
            FunctionSpec {
                urn: IMPULSE.to_string(),
                payload: Vec::new(),
            },
            &[],
            &[("out", &impulse)],
            "",
        );
        self.registry.register_root(name, dofn);
        self.pardo(name, &impulse)
    }

    /// `dofn` applied to every element of `input`.
    ///
    /// Its records go to the next step in memory when the runner runs both in one bundle (as
    /// it does for a chain of ParDos), and as `length_prefix(serde_json)` where they must be
    /// encoded: to the runner, or to several steps. That coder is the next step's input
    /// coder (every DoFn's input is serde), so the output type itself needs none; a record the
    /// runner must carry to a step whose input has no coder (a `write` of a type that is not
    /// serde, say) fails the bundle naming the type.
    pub fn apply<F>(&mut self, name: &str, input: &Collection, dofn: F) -> Collection
    where
        F: SplittableDoFn,
        F::Input: Serialize + DeserializeOwned,
    {
        let input = self.read_as::<F::Input>(input);
        self.registry.register_step(name, dofn);
        self.pardo(name, &input)
    }

    /// [`apply`](Self::apply) with a DoFn shared with another pipeline (the embedded
    /// runtime's `Pipeline`, translated by its `into_beam`).
    pub fn apply_shared<F>(&mut self, name: &str, input: &Collection, dofn: Arc<F>) -> Collection
    where
        F: SplittableDoFn,
        F::Input: Serialize + DeserializeOwned,
    {
        let input = self.read_as::<F::Input>(input);
        self.registry.register_shared(name, dofn);
        self.pardo(name, &input)
    }

    /// [`write`](Self::write) of records that are not serde: they must reach the write step
    /// in memory, from the step that makes them (the runner runs a chain of ParDos in one
    /// bundle); records the runner sends encoded fail the bundle naming their type.
    ///
    /// A source's items cannot be written this way (they would need a coder to be carried
    /// from the source): that is an error.
    pub fn write_unencoded<T, B>(&mut self, name: &str, input: &Collection, sink: B) -> Result<()>
    where
        T: Send + 'static,
        B: BundleSink<T>,
    {
        if let Some(source) = &input.pending {
            return Err(BeamError::Refused {
                request: "a write of records that have no coder",
                status: format!(
                    "{name} reads the source {source} directly: a source's items are carried \
                     encoded, and {} has no coder",
                    std::any::type_name::<T>()
                ),
            });
        }
        let (write, publish) = (format!("{name}/Write"), format!("{name}/Publish"));
        self.add_write(&write, &publish, &input.pcollection);
        self.registry
            .register_sink_unencoded::<T, B>(&write, &publish, sink);
        Ok(())
    }

    /// Adds a `from_iter` source of timestamped items, added (and its items encoded) when the
    /// step that reads it is applied; see [`PipelineBuilder::from_iter`].
    pub fn from_timestamped_iter<T, I>(&mut self, name: &str, items: I) -> Collection
    where
        T: Send + 'static,
        I: IntoIterator<Item = sdf_core::Timestamped<T>> + Send + 'static,
        I::IntoIter: Send,
    {
        let encode: PendingItems = Box::new(move |encoder: &Encoder| {
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let mut bytes = Vec::new();
                    encoder(&item.value, &mut bytes)
                        .map(|()| (Encoded(Arc::new(bytes)), item.timestamp))
                        .map_err(|e| format!("item {i}: {e}"))
                })
                .collect()
        });
        self.pending.insert(name.to_string(), encode);
        Collection {
            pcollection: String::new(),
            producer: None,
            pending: Some(name.to_string()),
        }
    }

    /// Replaces the environment the DoFns run in ([`BeamRunner`](crate::BeamRunner) sets
    /// its own).
    pub fn set_environment(&mut self, environment: Environment) {
        self.model
            .replace_environment(&self.environment, environment);
    }

    /// The pipeline proto, and the registry its workers run it with.
    pub fn build(self) -> (Pipeline, Registry) {
        (self.model.build(), self.registry)
    }
}

/// The items of a `from_iter` source, encoded: a root SDF over their indices that emits them as
/// they are (the steps reading them decode them).
struct EncodedItems {
    source: String,
    items: Result<Vec<(Encoded, sdf_core::Timestamp)>, String>,
}

impl std::fmt::Debug for EncodedItems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncodedItems({})", self.source)
    }
}

#[async_trait]
impl sdf_core::SplittableDoFn for EncodedItems {
    type Input = ();
    type Output = Encoded;
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, _: &()) -> sdf_core::Result<OffsetRange> {
        let n = self.items.as_ref().map_or(0, Vec::len);
        Ok(OffsetRange::try_new(0, n as i64)?)
    }

    fn split_restriction(
        &self,
        _: &(),
        restriction: OffsetRange,
        desired_size: f64,
    ) -> sdf_core::Result<Vec<OffsetRange>> {
        Ok(restriction.split(desired_size.max(1.0) as u64, 1))
    }

    fn new_tracker(&self, _: &(), restriction: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(restriction)
    }

    async fn process(
        &self,
        _: &(),
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, Encoded>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> sdf_core::Result<ProcessContinuation> {
        let items = self.items.as_ref().map_err(|e| {
            sdf_core::Error::message(format!(
                "the items of the source {} could not be encoded for the step that reads \
                 them: {e}",
                self.source
            ))
        })?;
        let mut i = tracker.current_restriction().start();
        while tracker.try_claim(i)? {
            let (item, timestamp) = &items[i as usize];
            output.emit_at(item.clone(), *timestamp).await?;
            i += 1;
        }
        Ok(ProcessContinuation::Stop)
    }
}

/// The pipeline of a runner-agnostic composite or program: the same bounds as the embedded
/// runtime's `Pipeline`. A source's items are encoded, when the step that reads them is
/// applied, with that step's input coder; a source nobody reads is not added.
impl PipelineBuilder for BeamPipeline {
    type Collection<T> = Typed<T>;

    fn from_iter<T, I>(&mut self, name: &str, items: I) -> Typed<T>
    where
        T: Send + 'static,
        I: IntoIterator<Item = T> + Send + 'static,
        I::IntoIter: Send,
    {
        let items = items.into_iter().map(|value| sdf_core::Timestamped {
            value,
            timestamp: sdf_core::Timestamp::MIN,
        });
        Typed::new(self.from_timestamped_iter(name, items))
    }

    fn apply<F>(&mut self, name: &str, input: Typed<F::Input>, dofn: F) -> Typed<F::Output>
    where
        F: sdf_core::SplittableDoFn,
        F::Input: Serialize + DeserializeOwned,
    {
        Typed::new(BeamPipeline::apply(self, name, &input.collection, dofn))
    }
}
