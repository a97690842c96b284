//! Element-wise functions (`map`, `flat_map`, `filter`) as SDFs with a trivial restriction, so
//! that users never write a tracker for them.
//!
//! The restriction of every element is `[0, 1)`: position 0 is the element. A checkpoint before
//! the claim hands the whole element back; after it there is nothing left to split.

use std::fmt;
use std::marker::PhantomData;

use async_trait::async_trait;

use crate::dofn::{ProcessContinuation, SplittableDoFn};
use crate::error::Result;
use crate::offset_range::{OffsetRange, OffsetRangeTracker};
use crate::output::Output;
use crate::shared::SharedTracker;
use crate::watermark::MonotonicWatermarkEstimator;

/// An SDF that applies a function to each element and emits every record it returns.
/// Build one with [`flat_map`], [`map`] or [`filter`].
pub struct FlatMap<I, O, F> {
    f: F,
    _types: PhantomData<fn(&I) -> O>,
}

impl<I, O, F> fmt::Debug for FlatMap<I, O, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FlatMap")
    }
}

/// An SDF emitting every record of `f(element)`.
///
/// ```
/// use sdf_core::{flat_map, testing};
/// let words = flat_map(|line: &String| line.split(' ').map(str::to_owned).collect::<Vec<_>>());
/// let out = testing::run_to_completion(&words, &"a b c".to_string()).unwrap();
/// assert_eq!(out, ["a", "b", "c"]);
/// ```
pub fn flat_map<I, O, It, F>(f: F) -> FlatMap<I, O, F>
where
    F: Fn(&I) -> It + Send + Sync + 'static,
    It: IntoIterator<Item = O>,
{
    FlatMap {
        f,
        _types: PhantomData,
    }
}

/// An SDF emitting `f(element)` for each element.
///
/// ```
/// use sdf_core::{map, testing};
/// let double = map(|x: &i32| x * 2);
/// assert_eq!(testing::run_to_completion(&double, &21).unwrap(), [42]);
/// ```
pub fn map<I, O, F>(
    f: F,
) -> FlatMap<I, O, impl Fn(&I) -> std::iter::Once<O> + Send + Sync + 'static>
where
    F: Fn(&I) -> O + Send + Sync + 'static,
{
    flat_map(move |x: &I| std::iter::once(f(x)))
}

/// An SDF emitting the elements for which `predicate` holds.
///
/// ```
/// use sdf_core::{filter, testing};
/// let even = filter(|x: &i32| x % 2 == 0);
/// assert_eq!(testing::run_to_completion(&even, &4).unwrap(), [4]);
/// assert!(testing::run_to_completion(&even, &5).unwrap().is_empty());
/// ```
pub fn filter<I, F>(predicate: F) -> FlatMap<I, I, impl Fn(&I) -> Option<I> + Send + Sync + 'static>
where
    I: Clone,
    F: Fn(&I) -> bool + Send + Sync + 'static,
{
    flat_map(move |x: &I| predicate(x).then(|| x.clone()))
}

#[async_trait]
impl<I, O, It, F> SplittableDoFn for FlatMap<I, O, F>
where
    I: fmt::Debug + Send + Sync + 'static,
    O: Send + 'static,
    F: Fn(&I) -> It + Send + Sync + 'static,
    It: IntoIterator<Item = O>,
    It::IntoIter: Send,
{
    type Input = I;
    type Output = O;
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, _input: &I) -> Result<OffsetRange> {
        Ok(OffsetRange::new(0, 1))
    }

    fn new_tracker(&self, _input: &I, restriction: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(restriction)
    }

    async fn process(
        &self,
        input: &I,
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, O>,
        _watermark: &mut MonotonicWatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        let start = tracker.current_restriction().start();
        if start == 0 && tracker.try_claim(0)? {
            for record in (self.f)(input) {
                output.emit(record).await?;
            }
        }
        Ok(ProcessContinuation::Stop)
    }
}
