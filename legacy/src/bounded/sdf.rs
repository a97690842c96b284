//! [`BoundedSourceSdf`]: any [`BoundedSource`] as a [`SplittableDoFn`].

use async_trait::async_trait;
use sdf_core::{
    MonotonicWatermarkEstimator, Output, ProcessContinuation, SharedTracker, SplittableDoFn,
};

use super::{BoundedSource, BoundedSourceTracker, SourceBundle, SourceReader};
use crate::step::ReadStep;

/// 1 MiB, in the source's size unit: the smallest bundle of Beam's heuristic.
const MIN_BUNDLE: u64 = 1 << 20;
/// 64 MiB: Beam's bundle size when the source's size is unknown.
const UNKNOWN_SIZE_BUNDLE: u64 = 64 << 20;

/// How big the bundles of the initial split are.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum BundleSize {
    /// Beam's heuristic: `max(1 MiB, 1000 × ⌊√size⌋)` in the source's size unit, 64 MiB if the
    /// size is unknown. A 1 MB source is one bundle, 1 GB about 32, 1 TB about 1000.
    #[default]
    Beam,
    /// The desired size the runner passes to `split_restriction`.
    RunnerHint,
    /// A fixed size.
    Fixed(u64),
}

impl BundleSize {
    /// The desired bundle size for a restriction of `size`, given the runner's `hint`.
    ///
    /// ```
    /// use sdf_legacy::BundleSize;
    /// assert_eq!(BundleSize::Beam.desired(1e6, 0.0), 1 << 20);           // 1 MB: one bundle
    /// assert_eq!(BundleSize::Beam.desired(1e12, 0.0), 1_000_000_000);   // 1 TB: ~1000 bundles
    /// assert_eq!(BundleSize::Beam.desired(0.0, 0.0), 64 << 20);         // unknown
    /// assert_eq!(BundleSize::RunnerHint.desired(1e12, 5e3), 5_000);
    /// ```
    pub fn desired(&self, size: f64, hint: f64) -> u64 {
        match *self {
            BundleSize::Beam if size > 0.0 && size.is_finite() => {
                MIN_BUNDLE.max((size.sqrt() as u64).saturating_mul(1000))
            }
            BundleSize::Beam => UNKNOWN_SIZE_BUNDLE,
            BundleSize::RunnerHint if hint >= 1.0 && hint.is_finite() => hint as u64,
            BundleSize::RunnerHint => 1,
            BundleSize::Fixed(size) => size.max(1),
        }
    }
}

/// Runs a [`BoundedSource`] as a [`SplittableDoFn`], with dynamic splitting, progress and
/// checkpoints that resume where the reader stopped.
///
/// - Input: `()`, an impulse; the source is the wrapped one.
/// - Restriction: a [`SourceBundle`]; initially the whole source, cut with
///   [`BoundedSource::split`] into bundles of [`BundleSize`] before processing.
/// - Tracker: [`BoundedSourceTracker`], which splits through the legacy
///   [`RangeTracker`](crate::RangeTracker) (see it for the split mapping and progress).
/// - `process` claims [`ReadStep::Next`], pulls one record from the source's reader, emits it,
///   and repeats; when the reader is exhausted it claims [`ReadStep::End`].
///
/// ```
/// use sdf_legacy::{BoundedSourceSdf, BundleSize};
/// use sdf_legacy::examples::CountingSource;
///
/// let sdf = BoundedSourceSdf::new(CountingSource::new(5)).bundle_size(BundleSize::Fixed(2));
/// let records = sdf_core::testing::run_to_completion(&sdf, &()).unwrap();
/// assert_eq!(records, [0, 1, 2, 3, 4]);
/// ```
#[derive(Debug, Clone)]
pub struct BoundedSourceSdf<S> {
    inner: S,
    bundle_size: BundleSize,
}

impl<S: BoundedSource> BoundedSourceSdf<S> {
    /// Wraps `source`, with Beam's bundle size.
    pub fn new(source: S) -> Self {
        BoundedSourceSdf {
            inner: source,
            bundle_size: BundleSize::default(),
        }
    }

    /// Sets how big the bundles of the initial split are.
    pub fn bundle_size(mut self, bundle_size: BundleSize) -> Self {
        self.bundle_size = bundle_size;
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
}

#[async_trait]
impl<S: BoundedSource> SplittableDoFn for BoundedSourceSdf<S> {
    type Input = ();
    type Output = S::Output;
    type Restriction = SourceBundle<S>;
    type Tracker = BoundedSourceTracker<S>;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, _input: &()) -> sdf_core::Result<SourceBundle<S>> {
        Ok(SourceBundle::whole(self.inner.clone())?)
    }

    /// Cuts the bundle with [`BoundedSource::split`]. A source that returns no bundle keeps
    /// its range whole (if it holds records, they are read; nothing is lost).
    fn split_restriction(
        &self,
        _input: &(),
        restriction: SourceBundle<S>,
        desired_size: f64,
    ) -> sdf_core::Result<Vec<SourceBundle<S>>> {
        let size = self.bundle_size.desired(restriction.weight, desired_size);
        let bundles =
            restriction
                .source
                .split(size, restriction.start.clone(), restriction.stop.clone())?;
        Ok(if bundles.is_empty() {
            vec![restriction]
        } else {
            bundles
        })
    }

    fn new_tracker(&self, _input: &(), restriction: SourceBundle<S>) -> BoundedSourceTracker<S> {
        BoundedSourceTracker::new(restriction)
    }

    /// The bundle's weight.
    fn restriction_size(&self, _input: &(), restriction: &SourceBundle<S>) -> f64 {
        if restriction.weight > 0.0 {
            restriction.weight
        } else {
            0.0
        }
    }

    /// A bounded source reads its whole bundle on drain.
    fn truncate_restriction(
        &self,
        _input: &(),
        restriction: SourceBundle<S>,
    ) -> Option<SourceBundle<S>> {
        Some(restriction)
    }

    async fn process(
        &self,
        _input: &(),
        tracker: &mut SharedTracker<BoundedSourceTracker<S>>,
        output: &mut Output<'_, S::Output>,
        _watermark: &mut MonotonicWatermarkEstimator,
    ) -> sdf_core::Result<ProcessContinuation> {
        let source = tracker.current_restriction().source;
        let mut reader: Option<SourceReader<'_, S::Output>> = None;
        while tracker.try_claim(ReadStep::Next)? {
            // The reader is opened after the first claim, so that a split served before it
            // (the range tracker is still untouched) shapes the range it reads.
            let records = match &mut reader {
                Some(records) => records,
                None => {
                    let range = tracker.get_ref().shared_range_tracker().ok_or_else(|| {
                        sdf_core::Error::message("the bundle has no range tracker")
                    })?;
                    reader.insert(source.read(range)?)
                }
            };
            match records.next() {
                Some(Ok(record)) => output.emit(record).await?,
                Some(Err(e)) => return Err(e.into()),
                None => {
                    tracker.try_claim(ReadStep::End)?;
                    break;
                }
            }
        }
        Ok(ProcessContinuation::Stop)
    }
}
