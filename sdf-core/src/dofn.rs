//! The [`SplittableDoFn`] trait and [`ProcessContinuation`].

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::output::Output;
use crate::shared::SharedTracker;
use crate::tracker::RestrictionTracker;
use crate::watermark::WatermarkEstimator;

/// What a `process` call asks for when it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessContinuation {
    /// The call is finished with its restriction: everything was claimed, or a claim returned
    /// `false`. The runner checks `check_done`.
    Stop,
    /// There is more work, but not now (no new data, a rate limit). The runner checkpoints the
    /// tracker (`try_split(0.0)`) and processes the residual again after `delay`.
    Resume {
        /// How long to wait before resuming. The runner honours it with a real timer.
        delay: Duration,
    },
}

impl ProcessContinuation {
    /// `Resume` with no delay.
    pub const fn resume() -> Self {
        ProcessContinuation::Resume {
            delay: Duration::ZERO,
        }
    }

    /// `Resume` after `delay`.
    pub const fn resume_after(delay: Duration) -> Self {
        ProcessContinuation::Resume { delay }
    }
}

/// The watermark-estimator state type of a DoFn.
pub type WatermarkState<F> =
    <<F as SplittableDoFn>::WatermarkEstimator as WatermarkEstimator>::State;

/// A DoFn whose work for one input is described by a *restriction* that can be split while it
/// runs: the one abstraction behind every connector in this project.
///
/// For each input the runner asks for the [initial restriction](Self::initial_restriction),
/// [splits it](Self::split_restriction) into pieces of a useful size, and calls
/// [`process`](Self::process) on each with a tracker. `process` claims each position before
/// doing the work at it; meanwhile the runner may split off the unclaimed rest (to give it to an
/// idle worker) or checkpoint it (fraction 0) to resume later.
///
/// # Contract
/// - No output before the first successful claim, none after a claim returned `false`, and none
///   for a position that was not claimed. (A DoFn that gathers the records of several claims,
///   an Arrow batch, may emit them when the call ends, after its last, refused, claim: they are
///   records of claimed positions. The kit accepts that only when told:
///   `flush_after_refusal(true)`.)
/// - The output for a claimed position depends only on the input and the position, so that a
///   residual processed elsewhere produces exactly the records the original would have.
/// - `process` returns `Stop` only when `check_done` passes, and `Resume` when work remains.
///
/// The [conformance kit](crate::testing) checks these with `check_sdf_exhaustive` and
/// `check_concurrent_splits`.
#[async_trait]
pub trait SplittableDoFn: Send + Sync + 'static {
    /// The elements this DoFn is applied to.
    type Input: Debug + Send + Sync + 'static;
    /// The records it emits.
    type Output: Send + 'static;
    /// The description of the work for one input.
    type Restriction: Clone
        + Debug
        + Send
        + Sync
        + serde::Serialize
        + serde::de::DeserializeOwned
        + 'static;
    /// The tracker of a restriction.
    type Tracker: RestrictionTracker<Restriction = Self::Restriction>;
    /// How the output watermark of a restriction is estimated.
    type WatermarkEstimator: WatermarkEstimator;

    /// The whole work for `input`.
    fn initial_restriction(&self, input: &Self::Input) -> Result<Self::Restriction>;

    /// Cuts a restriction into pieces before processing. `desired_size` is the runner's hint,
    /// in the unit of [`restriction_size`](Self::restriction_size). The default keeps it whole.
    fn split_restriction(
        &self,
        _input: &Self::Input,
        restriction: Self::Restriction,
        _desired_size: f64,
    ) -> Result<Vec<Self::Restriction>> {
        Ok(vec![restriction])
    }

    /// A tracker for `restriction`.
    fn new_tracker(&self, input: &Self::Input, restriction: Self::Restriction) -> Self::Tracker;

    /// The size of a restriction, used to balance work. Default: the remaining work of a fresh
    /// tracker's progress.
    fn restriction_size(&self, input: &Self::Input, restriction: &Self::Restriction) -> f64 {
        self.new_tracker(input, restriction.clone())
            .progress()
            .remaining
    }

    /// What to keep of `restriction` when the pipeline drains. Default, as Beam: a bounded
    /// restriction runs to completion, an unbounded one stops (`None`).
    fn truncate_restriction(
        &self,
        input: &Self::Input,
        restriction: Self::Restriction,
    ) -> Option<Self::Restriction> {
        let bounded = self.new_tracker(input, restriction.clone()).is_bounded();
        bounded.then_some(restriction)
    }

    /// The watermark-estimator state a new restriction starts from. Default: the state's
    /// `Default` (for the built-in estimators, [`Timestamp::MIN`](crate::Timestamp::MIN)).
    fn initial_watermark_state(
        &self,
        _input: &Self::Input,
        _restriction: &Self::Restriction,
    ) -> WatermarkState<Self> {
        Default::default()
    }

    /// An estimator from saved state. Default: [`WatermarkEstimator::from_state`].
    fn new_watermark_estimator(&self, state: WatermarkState<Self>) -> Self::WatermarkEstimator {
        Self::WatermarkEstimator::from_state(state)
    }

    /// Called once per DoFn instance before any other method.
    async fn setup(&self) -> Result<()> {
        Ok(())
    }

    /// Called before a bundle (a batch of `process` calls) starts.
    async fn start_bundle(&self) -> Result<()> {
        Ok(())
    }

    /// Called after the last `process` call of a bundle.
    async fn finish_bundle(&self) -> Result<()> {
        Ok(())
    }

    /// Called once when the DoFn instance is discarded.
    async fn teardown(&self) -> Result<()> {
        Ok(())
    }

    /// Does the work of `tracker`'s restriction for `input`, claiming each position first.
    ///
    /// The call ends in one of three ways:
    /// - a claim returned `false` (the restriction ends there, or the runner split the rest
    ///   off): return `Stop`, and emit nothing more;
    /// - **the source ran out before the restriction did** (fewer pages than the restriction
    ///   said, a file shorter than listed): claim a position at or past the restriction's end
    ///   (for an [`OffsetRange`](crate::OffsetRange), its `end()`); that claim returns `false`,
    ///   `check_done` then passes, and return `Stop`. Returning `Stop` without it fails
    ///   `check_done` with [`TrackerError::NotDone`](crate::TrackerError::NotDone), since the
    ///   tracker cannot know the rest holds nothing;
    /// - there is more work, but not now: return `Resume`, and the runner checkpoints what was
    ///   claimed so far.
    async fn process(
        &self,
        input: &Self::Input,
        tracker: &mut SharedTracker<Self::Tracker>,
        output: &mut Output<'_, Self::Output>,
        watermark: &mut Self::WatermarkEstimator,
    ) -> Result<ProcessContinuation>;
}
