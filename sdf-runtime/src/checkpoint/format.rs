//! The persisted checkpoint: versioned JSON. See `docs/checkpoints.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The format's name, written in every checkpoint.
pub(crate) const FORMAT: &str = "sdf-checkpoint";
/// The version this build writes and reads.
pub(crate) const VERSION: u32 = 1;

/// A consistent cut of a pipeline: taken while no `process` call runs and no message is in
/// flight, so the pending work of every step is in its queues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    pub format: String,
    pub version: u32,
    /// Increases by one with every checkpoint of a pipeline.
    pub epoch: u64,
    /// The names of the steps, in the order they were added: a checkpoint of another pipeline
    /// is refused.
    pub steps: Vec<String>,
    /// What the pipeline said it is ([`ExecutorBuilder::checkpoint_identity`]): a checkpoint
    /// of another identity is refused.
    ///
    /// [`ExecutorBuilder::checkpoint_identity`]: crate::ExecutorBuilder::checkpoint_identity
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<serde_json::Value>,
    /// Per source and stage: its state (a source's read position, a stage's queued work).
    pub state: BTreeMap<String, serde_json::Value>,
    /// Per sink: what its `commit` needs for this epoch.
    pub commits: BTreeMap<String, serde_json::Value>,
    /// Whether the pipeline had finished when this was taken.
    pub complete: bool,
}
