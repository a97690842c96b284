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
use crate::checkpoint::store::{CheckpointError, CheckpointStore, PreviousCheckpoint};
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
    /// What the pipeline says it is, stored in every checkpoint.
    pub identity: Option<serde_json::Value>,
}

fn checkpoint_error(e: CheckpointError) -> Error {
    Error::Checkpoint(Box::new(e))
}

/// Decodes a checkpoint read from `path`: a damaged one is [`CheckpointError::Corrupt`] (without
/// its previous checkpoint), one of another format or version [`CheckpointError::Unsupported`].
fn decode(path: &str, bytes: &[u8]) -> std::result::Result<Checkpoint, CheckpointError> {
    let corrupt = |reason: String| CheckpointError::Corrupt {
        path: path.to_string(),
        reason,
        previous: None,
    };
    // The format's name and version first: a newer version may not decode as this one.
    #[derive(serde::Deserialize)]
    struct Header {
        format: String,
        version: u32,
    }
    let header: Header = serde_json::from_slice(bytes).map_err(|e| {
        corrupt(if bytes.is_empty() {
            "it is empty".into()
        } else {
            format!(
                "it is not a readable checkpoint ({e}, {} bytes)",
                bytes.len()
            )
        })
    })?;
    if header.format != FORMAT || header.version != VERSION {
        return Err(CheckpointError::Unsupported {
            path: path.to_string(),
            format: header.format,
            version: header.version,
        });
    }
    serde_json::from_slice(bytes)
        .map_err(|e| corrupt(format!("it is not a readable checkpoint ({e})")))
}

impl Coordinator {
    /// Reads the latest checkpoint of `store`, refusing a damaged one, one of another format
    /// version and one of another pipeline (other steps, or another identity when both have
    /// one).
    pub fn load(
        store: &dyn CheckpointStore,
        steps: &[String],
        identity: Option<&serde_json::Value>,
    ) -> Result<Option<Checkpoint>> {
        let Some(bytes) = store.load().map_err(checkpoint_error)? else {
            return Ok(None);
        };
        let path = store.location();
        let checkpoint = match decode(&path, &bytes) {
            Ok(checkpoint) => checkpoint,
            Err(CheckpointError::Corrupt { path, reason, .. }) => {
                // Name the previous checkpoint, if the store keeps a readable one.
                let previous = store
                    .load_previous()
                    .ok()
                    .flatten()
                    .and_then(|(at, bytes)| {
                        let epoch = decode(&path, &bytes).ok()?.epoch;
                        Some(PreviousCheckpoint { path: at, epoch })
                    });
                return Err(checkpoint_error(CheckpointError::Corrupt {
                    path,
                    reason,
                    previous,
                }));
            }
            Err(e) => return Err(checkpoint_error(e)),
        };
        if checkpoint.steps != steps {
            return Err(checkpoint_error(CheckpointError::OtherPipeline {
                path,
                reason: format!(
                    "it was written by a pipeline with steps {:?}, this one has {steps:?}",
                    checkpoint.steps
                ),
            }));
        }
        if let (Some(saved), Some(identity)) = (&checkpoint.identity, identity)
            && saved != identity
        {
            return Err(checkpoint_error(CheckpointError::OtherPipeline {
                path,
                reason: format!("it was written for {saved}, this pipeline is {identity}"),
            }));
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
                identity: self.identity.clone(),
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
        sdf_core::crash::set_epoch(self.epoch);
        Ok(())
    }
}
