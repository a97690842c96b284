//! The task that drives a [`Sink`] (defined in `sdf-core`, re-exported here): its two phases
//! tied to the runtime's checkpoints.

use sdf_core::Sink;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::link::LinkReceiver;
use crate::message::Message;

/// What the checkpoint coordinator asks of a sink's task.
pub(crate) enum SinkRequest {
    Prepare {
        epoch: u64,
        reply: oneshot::Sender<Result<serde_json::Value>>,
    },
    Commit {
        epoch: u64,
        commit: serde_json::Value,
        reply: oneshot::Sender<Result<()>>,
    },
    Finish {
        reply: oneshot::Sender<()>,
    },
}

/// The coordinator's end of a sink's request channel.
#[derive(Debug, Clone)]
pub(crate) struct SinkPort {
    pub name: String,
    pub tx: mpsc::Sender<SinkRequest>,
}

impl SinkPort {
    pub async fn prepare(&self, epoch: u64) -> Result<serde_json::Value> {
        let (reply, answer) = oneshot::channel();
        self.ask(SinkRequest::Prepare { epoch, reply }).await?;
        answer.await.map_err(|_| self.gone())?
    }

    pub async fn commit(&self, epoch: u64, commit: serde_json::Value) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.ask(SinkRequest::Commit {
            epoch,
            commit,
            reply,
        })
        .await?;
        answer.await.map_err(|_| self.gone())?
    }

    pub async fn finish(&self) {
        let (reply, answer) = oneshot::channel();
        if self.ask(SinkRequest::Finish { reply }).await.is_ok() {
            let _ = answer.await;
        }
    }

    async fn ask(&self, request: SinkRequest) -> Result<()> {
        self.tx.send(request).await.map_err(|_| self.gone())
    }

    fn gone(&self) -> Error {
        Error::Internal(format!(
            "sink '{}' stopped before the checkpoint completed",
            self.name
        ))
    }
}

/// Drives `sink`: recovers it, writes what arrives, answers the coordinator, until `Finish`.
pub(crate) async fn run_sink<T: Send + 'static, S: Sink<T>>(
    name: String,
    mut sink: S,
    mut input: LinkReceiver<T>,
    mut requests: mpsc::Receiver<SinkRequest>,
    restored: Option<(u64, serde_json::Value)>,
) -> Result<()> {
    let fail = |source: sdf_core::Error| Error::Sink {
        sink: name.clone(),
        source: Box::new(source),
    };
    let last = match restored {
        Some((epoch, value)) => Some((epoch, decode::<S::Commit>(&name, value)?)),
        None => None,
    };
    sink.recover(last).await.map_err(fail)?;
    let mut input_open = true;
    loop {
        tokio::select! {
            message = input.recv(), if input_open => {
                match message {
                    Some(Message::Batch(batch, lineage)) => {
                        sink.write(batch).await.map_err(fail)?;
                        // The sink has the records: their finalizers run after the
                        // checkpoint that commits them.
                        drop(lineage);
                    }
                    Some(Message::Watermark(w)) => sink.on_watermark(w).await.map_err(fail)?,
                    None => {
                        input_open = false;
                        continue;
                    }
                }
                input.handled();
            }
            request = requests.recv() => match request {
                Some(SinkRequest::Prepare { epoch, reply }) => {
                    let result = match sink.prepare(epoch).await {
                        Ok(commit) => serde_json::to_value(commit).map_err(|e| encode_error(&name, e)),
                        Err(e) => Err(fail(e)),
                    };
                    let _ = reply.send(result);
                }
                Some(SinkRequest::Commit { epoch, commit, reply }) => {
                    let result = match decode::<S::Commit>(&name, commit) {
                        Ok(commit) => sink.commit(epoch, commit).await.map_err(fail),
                        Err(e) => Err(e),
                    };
                    let _ = reply.send(result);
                }
                Some(SinkRequest::Finish { reply }) => {
                    // Dropped before the answer: once the pipeline has returned, what the sink
                    // held (an output directory's lock) is free for the next one.
                    drop(sink);
                    let _ = reply.send(());
                    return Ok(());
                }
                None => return Ok(()),
            }
        }
    }
}

fn decode<C: DeserializeOwned>(name: &str, value: serde_json::Value) -> Result<C> {
    serde_json::from_value(value).map_err(|e| Error::Internal(format!(
        "sink '{name}': the commit message in the checkpoint cannot be read ({e}); was the sink's type changed?"
    )))
}

fn encode_error(name: &str, e: serde_json::Error) -> Error {
    Error::Internal(format!(
        "sink '{name}': its commit message cannot be serialized: {e}"
    ))
}
