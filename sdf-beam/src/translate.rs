//! A pipeline of splittable DoFns as a Beam `Pipeline` proto, with the [`Registry`] a worker
//! runs it with.
//!
//! A root DoFn (input `()`) follows an `Impulse`; every DoFn is a `ParDo` whose `DoFn` spec is
//! [`SDF_DOFN_URN`] with its registered name, and whose restriction coder is
//! `kv(length_prefix(serde_json), length_prefix(serde_json))` (restriction, watermark state):
//! the runner expands it into Beam's SDF transforms and splits it. Every PCollection of ours
//! is `length_prefix(serde_json)` in the global window, so runners carry it as opaque bytes.

use std::collections::HashMap;

use prost::Message;
use sdf_core::SplittableDoFn;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::coder::urn;
use crate::harness::{Registry, SDF_DOFN_URN};
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
}

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
#[derive(Debug)]
pub struct BeamPipeline {
    model: ModelBuilder,
    registry: Registry,
    environment: String,
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
        }
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
        let json = self.model.serde_coder();
        let bytes = self.model.coder(urn::BYTES, &[], &[]);
        let staged = self
            .model
            .coder(urn::KV, &[], &[bytes.clone(), json.clone()]);
        let staged = self
            .plain_pardo(&write, &input.pcollection, Some(&staged))
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
        self.plain_pardo(&publish, &grouped, None);
        self.registry.register_sink(&write, &publish, sink);
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
        self.plain_pardo(name, &input.pcollection, None);
        self.registry.register_counters(name, f);
    }

    /// A root step: `dofn` runs once on `()`, after the runner's impulse.
    pub fn root<F>(&mut self, name: &str, dofn: F) -> Collection
    where
        F: SplittableDoFn<Input = ()>,
        F::Output: Serialize + DeserializeOwned,
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
    pub fn apply<F>(&mut self, name: &str, input: &Collection, dofn: F) -> Collection
    where
        F: SplittableDoFn,
        F::Input: Clone + Serialize + DeserializeOwned,
        F::Output: Serialize + DeserializeOwned,
    {
        self.registry.register(name, dofn);
        self.pardo(name, &input.pcollection)
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
