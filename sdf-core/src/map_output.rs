//! [`map_output`]: an SDF whose records are changed as they are emitted, inside its own calls.
//!
//! Where [`map`](crate::map) is a step of its own, `map_output` changes the records of a DoFn
//! in the call that makes them: nothing of the original type leaves the call. That is what a
//! record type needs that cannot travel between the steps of a runner (one Beam's coders
//! cannot carry, say): it is turned into one that can before it leaves.

use std::fmt;

use async_trait::async_trait;

use crate::dofn::{ProcessContinuation, SplittableDoFn, WatermarkState};
use crate::error::Result;
use crate::output::{Emitter, Finalizer, Output, Timestamped};
use crate::shared::SharedTracker;

/// `dofn` with each record it emits replaced by `f(record)`, keeping its timestamp.
///
/// Everything but `process` is `dofn`'s (restriction, splitting, tracker, watermark), so the
/// records are exactly `dofn`'s, mapped. An error from `f` fails the call, as an error of
/// `dofn`'s own would: the runner retries it, and nothing of it is committed. Finalizers
/// `dofn` registers keep their place after the records emitted before them.
///
/// ```
/// use sdf_core::{map_output, testing::{run_to_completion, CountFn}};
/// let labelled = map_output(CountFn, |(key, i): (String, i64)| Ok(format!("{key}-{i}")));
/// let records = run_to_completion(&labelled, &("k".to_string(), 3)).unwrap();
/// assert_eq!(records, ["k-0", "k-1", "k-2"]);
/// ```
pub fn map_output<F, G, B>(dofn: F, f: G) -> MapOutput<F, G>
where
    F: SplittableDoFn,
    G: Fn(F::Output) -> Result<B> + Send + Sync + 'static,
    B: Send + 'static,
{
    MapOutput { dofn, f }
}

/// An SDF whose records are mapped as they are emitted: see [`map_output`].
pub struct MapOutput<F, G> {
    dofn: F,
    f: G,
}

impl<F: fmt::Debug, G> fmt::Debug for MapOutput<F, G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapOutput")
            .field("dofn", &self.dofn)
            .finish_non_exhaustive()
    }
}

impl<F, G> MapOutput<F, G> {
    /// The wrapped DoFn.
    pub fn dofn(&self) -> &F {
        &self.dofn
    }
}

/// The emitter of the wrapped call: maps each batch into the call's real output.
struct Mapped<'o, 'e, G, B: Send> {
    f: &'o G,
    out: &'o mut Output<'e, B>,
    /// Finalizers registered since the last batch: placed before the next batch's records.
    pending: Vec<Finalizer>,
}

impl<G, B: Send> Mapped<'_, '_, G, B> {
    async fn place_finalizers(&mut self) -> Result<()> {
        for finalizer in self.pending.drain(..) {
            self.out.after_commit(finalizer).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl<A, B, G> Emitter<A> for Mapped<'_, '_, G, B>
where
    A: Send,
    B: Send,
    G: Fn(A) -> Result<B> + Send + Sync,
{
    async fn emit_batch(&mut self, batch: &mut Vec<Timestamped<A>>) -> Result<()> {
        self.place_finalizers().await?;
        for record in batch.drain(..) {
            let value = (self.f)(record.value)?;
            self.out.emit_at(value, record.timestamp).await?;
        }
        Ok(())
    }

    fn register_finalizer(&mut self, finalizer: Finalizer) {
        self.pending.push(finalizer);
    }
}

#[async_trait]
impl<F, G, B> SplittableDoFn for MapOutput<F, G>
where
    F: SplittableDoFn,
    G: Fn(F::Output) -> Result<B> + Send + Sync + 'static,
    B: Send + 'static,
{
    type Input = F::Input;
    type Output = B;
    type Restriction = F::Restriction;
    type Tracker = F::Tracker;
    type WatermarkEstimator = F::WatermarkEstimator;

    fn initial_restriction(&self, input: &F::Input) -> Result<F::Restriction> {
        self.dofn.initial_restriction(input)
    }

    fn split_restriction(
        &self,
        input: &F::Input,
        restriction: F::Restriction,
        desired_size: f64,
    ) -> Result<Vec<F::Restriction>> {
        self.dofn
            .split_restriction(input, restriction, desired_size)
    }

    fn new_tracker(&self, input: &F::Input, restriction: F::Restriction) -> F::Tracker {
        self.dofn.new_tracker(input, restriction)
    }

    fn restriction_size(&self, input: &F::Input, restriction: &F::Restriction) -> f64 {
        self.dofn.restriction_size(input, restriction)
    }

    fn truncate_restriction(
        &self,
        input: &F::Input,
        restriction: F::Restriction,
    ) -> Option<F::Restriction> {
        self.dofn.truncate_restriction(input, restriction)
    }

    fn initial_watermark_state(
        &self,
        input: &F::Input,
        restriction: &F::Restriction,
    ) -> WatermarkState<F> {
        self.dofn.initial_watermark_state(input, restriction)
    }

    fn new_watermark_estimator(&self, state: WatermarkState<F>) -> F::WatermarkEstimator {
        self.dofn.new_watermark_estimator(state)
    }

    async fn setup(&self) -> Result<()> {
        self.dofn.setup().await
    }

    async fn start_bundle(&self) -> Result<()> {
        self.dofn.start_bundle().await
    }

    async fn finish_bundle(&self) -> Result<()> {
        self.dofn.finish_bundle().await
    }

    async fn teardown(&self) -> Result<()> {
        self.dofn.teardown().await
    }

    async fn process(
        &self,
        input: &F::Input,
        tracker: &mut SharedTracker<F::Tracker>,
        output: &mut Output<'_, B>,
        watermark: &mut F::WatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        let default_timestamp = output.default_timestamp();
        // The wrapped call's records are batched as the runner batches this call's: a runner
        // (or the kit) that takes each record as it is emitted sees each mapped at once.
        let batch_size = output.batch_size();
        let mut mapped = Mapped {
            f: &self.f,
            out: output,
            pending: Vec::new(),
        };
        let continuation = {
            let mut records = Output::new(&mut mapped, default_timestamp, batch_size);
            let continuation = self
                .dofn
                .process(input, tracker, &mut records, watermark)
                .await?;
            records.flush().await?;
            continuation
        };
        mapped.place_finalizers().await?;
        Ok(continuation)
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::{CountFn, ExhaustiveOptions, check_sdf_exhaustive_expecting, fresh};

    #[test]
    fn a_mapped_dofn_splits_as_the_dofn_and_emits_every_record_mapped_once() {
        let n = 40;
        let report = check_sdf_exhaustive_expecting(
            &fresh(|| map_output(CountFn, |(_, i): (String, i64)| Ok(i * 10))),
            &("k".to_string(), n),
            (0..n).map(|i| i * 10),
            &ExhaustiveOptions::default(),
        )
        .unwrap_or_else(|v| panic!("{v}"));
        assert_eq!(report.records, n as usize);
    }

    #[test]
    fn an_error_of_the_mapping_fails_the_call() {
        let failing = map_output(CountFn, |(_, i): (String, i64)| {
            if i == 5 {
                Err(crate::Error::message("record 5 does not map"))
            } else {
                Ok(i)
            }
        });
        let err = crate::testing::run_to_completion(&failing, &("k".to_string(), 10)).unwrap_err();
        assert!(err.to_string().contains("record 5 does not map"), "{err}");
    }
}
