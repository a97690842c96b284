//! DoFns and sinks shared by the runtime's tests.
#![allow(dead_code)]

pub mod file_sink;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sdf_core::*;

/// Counts multiset differences between two lists.
pub fn assert_same_multiset<T: std::hash::Hash + Eq + std::fmt::Debug + Clone>(
    got: &[T],
    want: &[T],
) {
    let mut counts: HashMap<T, i64> = HashMap::new();
    for x in want {
        *counts.entry(x.clone()).or_default() += 1;
    }
    for x in got {
        *counts.entry(x.clone()).or_default() -= 1;
    }
    let wrong: Vec<_> = counts
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .take(10)
        .collect();
    assert!(
        wrong.is_empty(),
        "lost (>0) or duplicated (<0): {wrong:?}; got {} want {}",
        got.len(),
        want.len()
    );
}

/// `CountFn` whose records cost `cost(i)` of busy work, to make skew.
pub struct CostlyCount {
    pub expensive_key: &'static str,
    pub spin: Duration,
}

#[async_trait]
impl SplittableDoFn for CostlyCount {
    type Input = (String, i64);
    type Output = (String, i64);
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, (_, n): &(String, i64)) -> Result<OffsetRange> {
        Ok(OffsetRange::new(0, *n))
    }
    fn new_tracker(&self, _: &(String, i64), r: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(r)
    }
    async fn process(
        &self,
        (key, _): &(String, i64),
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, (String, i64)>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        let mut i = tracker.current_restriction().start();
        while tracker.try_claim(i)? {
            if key == self.expensive_key {
                let until = std::time::Instant::now() + self.spin;
                while std::time::Instant::now() < until {
                    std::hint::spin_loop();
                }
            }
            output.emit((key.clone(), i)).await?;
            i += 1;
        }
        Ok(ProcessContinuation::Stop)
    }
}

/// Fails (or panics) the first `failures` calls that claim offset `poison`, then works.
pub struct Flaky {
    pub poison: i64,
    pub failures: u64,
    pub panic: bool,
    pub seen: Arc<AtomicU64>,
}

#[async_trait]
impl SplittableDoFn for Flaky {
    type Input = i64;
    type Output = i64;
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, n: &i64) -> Result<OffsetRange> {
        Ok(OffsetRange::new(0, *n))
    }
    fn new_tracker(&self, _: &i64, r: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(r)
    }
    async fn process(
        &self,
        _: &i64,
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, i64>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        let mut i = tracker.current_restriction().start();
        while tracker.try_claim(i)? {
            output.emit(i).await?;
            if i == self.poison && self.seen.fetch_add(1, Ordering::SeqCst) < self.failures {
                if self.panic {
                    panic!("poisoned offset {i}");
                }
                return Err(Error::message(format!("poisoned offset {i}")));
            }
            i += 1;
        }
        Ok(ProcessContinuation::Stop)
    }
}
