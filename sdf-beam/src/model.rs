//! Building Beam `Pipeline` protos: coders (deduplicated), the global windowing strategy,
//! PCollections, transforms and environments, with ids unique in the pipeline.

use std::collections::HashMap;

use crate::coder::urn;
use crate::proto::pipeline::{
    self, Coder, Components, Environment, FunctionSpec, PCollection, PTransform, Pipeline,
    WindowingStrategy,
};

/// `beam:transform:impulse:v1`: one empty byte string in the global window.
pub const IMPULSE: &str = "beam:transform:impulse:v1";
/// `beam:transform:pardo:v1`.
pub const PAR_DO: &str = "beam:transform:pardo:v1";
/// Beam's GroupByKey, a runner primitive.
pub const GROUP_BY_KEY: &str = "beam:transform:group_by_key:v1";
/// The requirement a pipeline declares when it has a splittable DoFn.
pub const REQUIRES_SPLITTABLE_DOFN: &str = "beam:requirement:pardo:splittable_dofn:v1";
/// The requirement a pipeline declares when a DoFn asks for bundle finalization.
pub const REQUIRES_BUNDLE_FINALIZATION: &str = "beam:requirement:pardo:finalization:v1";
/// The EXTERNAL environment: the runner asks a worker pool to start workers.
pub const EXTERNAL_ENV: &str = "beam:env:external:v1";
/// The PROCESS environment: the runner starts a boot command.
pub const PROCESS_ENV: &str = "beam:env:process:v1";
/// The DOCKER environment.
pub const DOCKER_ENV: &str = "beam:env:docker:v1";

/// A pipeline under construction.
#[derive(Debug, Default)]
pub struct ModelBuilder {
    components: Components,
    coders: HashMap<(String, Vec<u8>, Vec<String>), String>,
    roots: Vec<String>,
    requirements: Vec<String>,
}

impl ModelBuilder {
    /// An empty pipeline.
    pub fn new() -> ModelBuilder {
        ModelBuilder::default()
    }

    fn unique(taken: &HashMap<String, impl Sized>, base: &str) -> String {
        if !taken.contains_key(base) {
            return base.to_string();
        }
        (1..)
            .map(|n| format!("{base}_{n}"))
            .find(|id| !taken.contains_key(id))
            .expect("an unused id")
    }

    /// The id of the coder `urn(payload)` of `components`, added once.
    pub fn coder(&mut self, urn: &str, payload: &[u8], components: &[String]) -> String {
        let key = (urn.to_string(), payload.to_vec(), components.to_vec());
        if let Some(id) = self.coders.get(&key) {
            return id.clone();
        }
        let base = urn
            .trim_start_matches("beam:coder:")
            .trim_start_matches("sdf:coder:")
            .trim_end_matches(":v1")
            .replace(':', "_");
        let id = Self::unique(&self.components.coders, &base);
        self.components.coders.insert(
            id.clone(),
            Coder {
                spec: Some(FunctionSpec {
                    urn: urn.to_string(),
                    payload: payload.to_vec(),
                }),
                component_coder_ids: components.to_vec(),
            },
        );
        self.coders.insert(key, id.clone());
        id
    }

    /// `length_prefix(sdf serde_json)`: the coder of our own types on the wire.
    pub fn serde_coder(&mut self) -> String {
        let json = self.coder(urn::SDF_SERDE_JSON, &[], &[]);
        self.coder(urn::LENGTH_PREFIX, &[], &[json])
    }

    /// The global windowing strategy (default trigger, discarding, end of window).
    pub fn global_windowing(&mut self) -> String {
        if self.components.windowing_strategies.contains_key("global") {
            return "global".to_string();
        }
        let window_coder_id = self.coder(urn::GLOBAL_WINDOW, &[], &[]);
        let strategy = WindowingStrategy {
            window_fn: Some(FunctionSpec {
                urn: "beam:window_fn:global_windows:v1".to_string(),
                payload: Vec::new(),
            }),
            merge_status: pipeline::merge_status::Enum::NonMerging as i32,
            window_coder_id,
            trigger: Some(pipeline::Trigger {
                trigger: Some(pipeline::trigger::Trigger::Default(
                    pipeline::trigger::Default {},
                )),
            }),
            accumulation_mode: pipeline::accumulation_mode::Enum::Discarding as i32,
            output_time: pipeline::output_time::Enum::EndOfWindow as i32,
            closing_behavior: pipeline::closing_behavior::Enum::EmitIfNonempty as i32,
            allowed_lateness: 0,
            on_time_behavior: pipeline::on_time_behavior::Enum::FireIfNonempty as i32,
            assigns_to_one_window: false,
            environment_id: String::new(),
        };
        self.components
            .windowing_strategies
            .insert("global".to_string(), strategy);
        "global".to_string()
    }

    /// A PCollection in the global window with `coder_id`, bounded or not.
    pub fn pcollection(&mut self, name: &str, coder_id: &str, bounded: bool) -> String {
        let windowing = self.global_windowing();
        let id = Self::unique(&self.components.pcollections, name);
        let is_bounded = if bounded {
            pipeline::is_bounded::Enum::Bounded
        } else {
            pipeline::is_bounded::Enum::Unbounded
        };
        self.components.pcollections.insert(
            id.clone(),
            PCollection {
                unique_name: id.clone(),
                coder_id: coder_id.to_string(),
                is_bounded: is_bounded as i32,
                windowing_strategy_id: windowing,
                display_data: Vec::new(),
            },
        );
        id
    }

    /// Adds a root transform named `name`, with its inputs and outputs (local name to
    /// PCollection id) in `environment` ("" for a runner primitive).
    pub fn transform(
        &mut self,
        name: &str,
        spec: FunctionSpec,
        inputs: &[(&str, &str)],
        outputs: &[(&str, &str)],
        environment: &str,
    ) -> String {
        let id = Self::unique(&self.components.transforms, name);
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        self.components.transforms.insert(
            id.clone(),
            PTransform {
                unique_name: name.to_string(),
                spec: Some(spec),
                subtransforms: Vec::new(),
                inputs: map(inputs),
                outputs: map(outputs),
                display_data: Vec::new(),
                environment_id: environment.to_string(),
                annotations: HashMap::new(),
            },
        );
        self.roots.push(id.clone());
        id
    }

    /// Adds an environment and returns its id.
    pub fn environment(&mut self, id: &str, environment: Environment) -> String {
        let id = Self::unique(&self.components.environments, id);
        self.components.environments.insert(id.clone(), environment);
        id
    }

    /// Replaces the environment `id` (added by [`environment`](Self::environment)).
    pub fn replace_environment(&mut self, id: &str, environment: Environment) {
        self.components
            .environments
            .insert(id.to_string(), environment);
    }

    /// Declares a requirement (once).
    pub fn require(&mut self, requirement: &str) {
        if !self.requirements.iter().any(|r| r == requirement) {
            self.requirements.push(requirement.to_string());
        }
    }

    /// The pipeline.
    pub fn build(self) -> Pipeline {
        Pipeline {
            components: Some(self.components),
            root_transform_ids: self.roots,
            display_data: Vec::new(),
            requirements: self.requirements,
        }
    }
}
