//! Dynamic rebalancing: an idle worker splits the running call with the most remaining work.
//! The decision (which call, which fraction) is `policy::choose_victim`; this is the mechanism.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use sdf_core::{SplittableDoFn, WatermarkEstimator};

use super::{Stage, Work};
use crate::metrics::Counters;
use crate::policy;

/// How long a running call has to answer a snapshot (it answers at its next claim). A call that
/// does not answer in time is skipped this round.
const ANSWER_WITHIN: Duration = Duration::from_millis(20);

/// A running call an idle worker may split: its id, split handle, element and starting
/// watermark state (what a dynamic split's residual carries).
type Candidate<F> = (
    u64,
    sdf_core::SplitHandle<<F as SplittableDoFn>::Restriction>,
    Arc<super::Element<<F as SplittableDoFn>::Input>>,
    sdf_core::WatermarkState<F>,
);

impl<F: SplittableDoFn> Stage<F> {
    /// Splits running work for an idle worker. The residual is queued, not handed over, so the
    /// stage never looks finished while it is in flight. Returns whether work was queued.
    pub(super) async fn rebalance(self: &Arc<Self>) -> bool {
        let Ok(_turn) = self.rebalancing.try_lock() else {
            return false;
        };
        let (candidates, idle) = {
            let mut s = self.lock();
            s.rebalancing += 1;
            let candidates: Vec<_> = s
                .running
                .iter()
                .filter(|(_, r)| !r.refused_split)
                .map(|(id, r)| {
                    (
                        *id,
                        r.handle.clone(),
                        Arc::clone(&r.element),
                        r.watermark.clone(),
                    )
                })
                .collect();
            let idle = self.config.workers.saturating_sub(s.running.len()).max(1);
            (candidates, idle)
        };
        let queued = self.split_one(candidates, idle).await;
        let mut s = self.lock();
        s.rebalancing -= 1;
        if let Some((work, hold)) = queued {
            s.enqueue(work);
            // The residual holds the watermark itself now.
            s.release(hold);
            s.publish_counters(&self.counters);
            drop(s);
            Counters::add(&self.counters.dynamic_splits, 1);
            return true;
        }
        false
    }

    /// Splits one running call; returns the residual's work and the hold taken for it while it
    /// was in flight (the caller queues the work, then releases that hold).
    async fn split_one(
        &self,
        candidates: Vec<Candidate<F>>,
        idle: usize,
    ) -> Option<(Work<F>, sdf_core::Timestamp)> {
        let snapshots = join_all(candidates.iter().map(|(id, handle, ..)| async move {
            let snapshot = tokio::time::timeout(ANSWER_WITHIN, handle.snapshot())
                .await
                .ok()
                .flatten();
            snapshot.map(|s| (*id, s))
        }))
        .await;
        let snapshots: Vec<_> = snapshots.into_iter().flatten().collect();
        let (victim, fraction) = policy::choose_victim(&snapshots, idle)?;
        let (_, handle, element, watermark) = candidates.into_iter().find(|c| c.0 == victim)?;
        // The residual holds the watermark from before the split until it is queued: the
        // victim may finish and release its own hold meanwhile, and a stage with no hold and
        // its input at +∞ would announce +∞ downstream with the residual's records still to
        // come (the next stage stops reading at +∞: those records were lost).
        let hold = self
            .dofn
            .new_watermark_estimator(watermark.clone())
            .current_watermark();
        self.lock().hold(hold);
        // The reply is awaited to the end (the call answers at its next claim, or when it
        // returns): a reply dropped after the call ended would have nowhere to put its residual.
        let split = match handle.try_split_after_first_claim(fraction).await {
            Ok(Some(split)) => split,
            Ok(None) | Err(_) => {
                // Unsplittable, or too little left: ask another call next time.
                let mut s = self.lock();
                s.release(hold);
                if let Some(running) = s.running.get_mut(&victim) {
                    running.refused_split = true;
                }
                return None;
            }
        };
        tracing::debug!(stage = %self.name, primary = ?split.primary, residual = ?split.residual, "dynamic split");
        Some((
            Work::new(&*self.dofn, element, split.residual, watermark),
            hold,
        ))
    }
}
