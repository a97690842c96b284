//! [`UnboundedSourceSdf`]: any [`UnboundedSource`] as a [`SplittableDoFn`].

use std::time::Duration;

use async_trait::async_trait;
use sdf_core::{
    ManualWatermarkEstimator, Output, ProcessContinuation, SharedTracker, SplittableDoFn, Timestamp,
};

use super::tracker::{Pulled, SharedCell, lock};
use super::{CheckpointMark, UnboundedSource, UnboundedSourceRestriction, UnboundedSourceTracker};
use crate::step::ReadStep;

/// Runs an [`UnboundedSource`] as a [`SplittableDoFn`], with checkpoints, mark finalization
/// after commit, and optional de-duplication.
///
/// - Input: `()`, an impulse; the source is the wrapped one.
/// - Restriction: an [`UnboundedSourceRestriction`]: (source, checkpoint mark, watermark),
///   plus the de-duplication window. Initially the whole source from its start, split into
///   [`desired_splits`](Self::desired_splits) sub-sources before processing; a restriction that
///   has checkpointed is never split again.
/// - Tracker: [`UnboundedSourceTracker`]: every split is a checkpoint.
/// - `process` claims [`ReadStep::Next`], pulls one record and emits it with its timestamp,
///   and moves the watermark to the reader's. When the reader has nothing, it registers the
///   mark's [finalization](CheckpointMark::finalize) and returns
///   `Resume { delay: poll_delay }`; the runner checkpoints. When a checkpoint ends the call
///   early it registers the finalization too. Finalization runs only after the runtime
///   committed the call's output (sdf-core's `Output::after_commit`).
/// - De-duplication: for sources that [require it](UnboundedSource::requires_deduping),
///   records whose id was among the last [`dedup_window`](Self::dedup_window) ids of this
///   restriction's lineage are dropped. The window lives in the restriction, so a restart from
///   a checkpoint still drops what the source redelivers. Sub-sources keep separate windows: a
///   source that redelivers across its splits needs a keyed de-duplication downstream.
#[derive(Debug, Clone)]
pub struct UnboundedSourceSdf<S> {
    inner: S,
    desired_splits: usize,
    poll_delay: Duration,
    dedup_window: usize,
}

impl<S: UnboundedSource> UnboundedSourceSdf<S> {
    /// Wraps `source`: 20 splits (Beam's), a 100 ms poll delay, a window of 10 000 ids.
    pub fn new(source: S) -> Self {
        UnboundedSourceSdf {
            inner: source,
            desired_splits: 20,
            poll_delay: Duration::from_millis(100),
            dedup_window: 10_000,
        }
    }

    /// How many sub-sources the initial split asks for.
    pub fn desired_splits(mut self, n: usize) -> Self {
        self.desired_splits = n.max(1);
        self
    }

    /// How long to wait before reading again when the reader had nothing.
    pub fn poll_delay(mut self, delay: Duration) -> Self {
        self.poll_delay = delay;
        self
    }

    /// How many record ids the de-duplication window keeps; 0 turns de-duplication off.
    pub fn dedup_window(mut self, ids: usize) -> Self {
        self.dedup_window = ids;
        self
    }

    /// The wrapped source.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the source.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Registers the finalization of the call's mark, if the call read anything: it runs once
    /// the output emitted so far is committed. The tracker's residual carries the same mark.
    async fn finalize_after_commit(
        &self,
        cell: &SharedCell<S>,
        output: &mut Output<'_, S::Output>,
    ) -> sdf_core::Result<()> {
        let mark = {
            let mut cell = lock(cell);
            if cell.read == 0 {
                return Ok(());
            }
            cell.mark()
        };
        if let Some(mark) = mark {
            output
                .after_commit(Box::new(move || {
                    Box::pin(async move { mark.finalize().await.map_err(Into::into) })
                }))
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl<S: UnboundedSource> SplittableDoFn for UnboundedSourceSdf<S> {
    type Input = ();
    type Output = S::Output;
    type Restriction = UnboundedSourceRestriction<S>;
    type Tracker = UnboundedSourceTracker<S>;
    type WatermarkEstimator = ManualWatermarkEstimator;

    fn initial_restriction(&self, _input: &()) -> sdf_core::Result<UnboundedSourceRestriction<S>> {
        Ok(UnboundedSourceRestriction::new(self.inner.clone()))
    }

    /// Splits a fresh restriction into sub-sources; one that has checkpointed (or is done)
    /// stays whole.
    fn split_restriction(
        &self,
        _input: &(),
        restriction: UnboundedSourceRestriction<S>,
        _desired_size: f64,
    ) -> sdf_core::Result<Vec<UnboundedSourceRestriction<S>>> {
        if restriction.checkpoint.is_some() || restriction.done {
            return Ok(vec![restriction]);
        }
        let sources = restriction.source.split(self.desired_splits)?;
        if sources.is_empty() {
            return Ok(vec![restriction]);
        }
        Ok(sources
            .into_iter()
            .map(|source| UnboundedSourceRestriction {
                watermark: restriction.watermark,
                ..UnboundedSourceRestriction::new(source)
            })
            .collect())
    }

    fn new_tracker(
        &self,
        _input: &(),
        restriction: UnboundedSourceRestriction<S>,
    ) -> UnboundedSourceTracker<S> {
        UnboundedSourceTracker::new(restriction)
    }

    /// 0 when done, else 1: the backlog is unknown until a reader runs.
    fn restriction_size(&self, _input: &(), restriction: &UnboundedSourceRestriction<S>) -> f64 {
        if restriction.done { 0.0 } else { 1.0 }
    }

    /// The watermark the restriction was checkpointed at.
    fn initial_watermark_state(
        &self,
        _input: &(),
        restriction: &UnboundedSourceRestriction<S>,
    ) -> Timestamp {
        restriction.watermark
    }

    async fn process(
        &self,
        _input: &(),
        tracker: &mut SharedTracker<UnboundedSourceTracker<S>>,
        output: &mut Output<'_, S::Output>,
        watermark: &mut ManualWatermarkEstimator,
    ) -> sdf_core::Result<ProcessContinuation> {
        let restriction = tracker.current_restriction();
        let cell = tracker.get_ref().cell();
        let dedup = (restriction.source.requires_deduping() && self.dedup_window > 0)
            .then_some(self.dedup_window);
        while tracker.try_claim(ReadStep::Next)? {
            let (pulled, reached) = {
                let mut cell = lock(&cell);
                let pulled = cell.pull(&restriction, dedup)?;
                (pulled, cell.watermark())
            };
            // A watermark never goes back; the estimator keeps its value if the reader's does.
            let _ = watermark.set_watermark(reached);
            match pulled {
                Pulled::Record(record) => output.emit_at(record.value, record.timestamp).await?,
                Pulled::Duplicate => {}
                Pulled::Idle => {
                    self.finalize_after_commit(&cell, output).await?;
                    return Ok(ProcessContinuation::Resume {
                        delay: self.poll_delay,
                    });
                }
                Pulled::Finished => {
                    tracker.try_claim(ReadStep::End)?;
                    break;
                }
            }
        }
        // The stream ended, or a checkpoint took the rest: its residual carries the mark.
        self.finalize_after_commit(&cell, output).await?;
        Ok(ProcessContinuation::Stop)
    }
}
