//! Takes consistent checkpoints of a running pipeline and drives the sinks' two-phase commit.
//!
//! 1. Pause: workers and sources take no new work; running calls are asked to checkpoint.
//! 2. Take the gate's write guard: no call runs. Wait until every link is drained, so that
//!    every message in flight has landed in a queue. The pipeline's pending work is now exactly
//!    the queues of its stages and the positions of its sources.
//! 3. Snapshot every step; ask every sink to prepare; save the checkpoint (atomically).
//! 4. Resume, then commit the sinks and run the finalizers of the work now committed.
//!
//! A crash before step 3 completes leaves the previous checkpoint; its sinks' prepared data is
//! published on restart and anything written later is discarded. A crash after it publishes the
//! new one. Either way each record is published once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::checkpoint::format::{Checkpoint, FORMAT, VERSION};
use crate::checkpoint::store::CheckpointStore;
use crate::control::Control;
use crate::error::{Error, Result};
use crate::sink::SinkPort;

pub(crate) struct Coordinator {
    pub store: Option<Arc<dyn CheckpointStore>>,
    pub control: Arc<Control>,
    pub sinks: Vec<SinkPort>,
    pub steps: Vec<String>,
    /// The epoch of the next checkpoint.
    pub epoch: u64,
}

impl Coordinator {
    /// Reads the latest checkpoint of `store`, refusing one of another pipeline.
    pub fn load(store: &dyn CheckpointStore, steps: &[String]) -> Result<Option<Checkpoint>> {
        let Some(bytes) = store.load().map_err(|e| Error::Checkpoint(Box::new(e)))? else {
            return Ok(None);
        };
        let corrupt = |reason: String| {
            Error::Checkpoint(Box::new(
                crate::checkpoint::store::CheckpointError::Corrupt {
                    path: "latest checkpoint".into(),
                    reason,
                },
            ))
        };
        let checkpoint: Checkpoint = serde_json::from_slice(&bytes)
            .map_err(|e| corrupt(format!("it is not a readable checkpoint: {e}")))?;
        if checkpoint.format != FORMAT || checkpoint.version != VERSION {
            return Err(corrupt(format!(
                "it is {} version {}, this build reads {FORMAT} version {VERSION}",
                checkpoint.format, checkpoint.version
            )));
        }
        if checkpoint.steps != steps {
            return Err(corrupt(format!(
                "it was written by a pipeline with steps {:?}, this one has {steps:?}",
                checkpoint.steps
            )));
        }
        Ok(Some(checkpoint))
    }

    /// Takes one checkpoint; `complete` marks the pipeline's last.
    pub async fn checkpoint(&mut self, complete: bool) -> Result<()> {
        self.take(complete, true).await
    }

    /// Takes a checkpoint and leaves the pipeline paused: nothing runs after it.
    pub async fn checkpoint_and_hold(&mut self) -> Result<()> {
        self.take(false, false).await
    }

    async fn take(&mut self, complete: bool, resume: bool) -> Result<()> {
        let epoch = self.epoch;
        let control = Arc::clone(&self.control);
        control.set_pausing(true);
        let steps = control.steps();
        for step in &steps {
            step.interrupt();
        }
        let quiet = control.gate.write().await;
        while !control.links_drained() {
            if control.is_stopped() {
                control.set_pausing(false);
                return Err(Error::Cancelled);
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        let finalizers = control.take_finalizers();
        let mut state = BTreeMap::new();
        for step in &steps {
            state.insert(step.name().to_string(), step.snapshot()?);
        }
        let mut commits = BTreeMap::new();
        for sink in &self.sinks {
            commits.insert(sink.name.clone(), sink.prepare(epoch).await?);
        }
        if let Some(store) = &self.store {
            let checkpoint = Checkpoint {
                format: FORMAT.to_string(),
                version: VERSION,
                epoch,
                steps: self.steps.clone(),
                state,
                commits: commits.clone(),
                complete,
            };
            let bytes = serde_json::to_vec(&checkpoint)
                .map_err(|e| Error::Internal(format!("cannot encode checkpoint {epoch}: {e}")))?;
            let store = Arc::clone(store);
            tokio::task::spawn_blocking(move || store.save(&bytes))
                .await
                .map_err(|e| Error::Internal(format!("the checkpoint writer panicked: {e}")))?
                .map_err(|e| Error::Checkpoint(Box::new(e)))?;
        }
        if resume {
            control.set_pausing(false);
        }
        drop(quiet);
        for sink in &self.sinks {
            sink.commit(epoch, commits.remove(&sink.name).unwrap_or_default())
                .await?;
        }
        for finalizer in finalizers {
            if let Err(error) = finalizer().await {
                tracing::warn!(%error, epoch, "a bundle finalizer failed after its output was committed");
            }
        }
        tracing::debug!(epoch, complete, "checkpoint committed");
        self.epoch += 1;
        Ok(())
    }
}
