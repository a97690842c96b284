//! The kit is only worth something if it fails on broken code. Each test here hands it a
//! deliberately wrong tracker or DoFn and asserts that it reports the right law.

use async_trait::async_trait;
use sdf_core::testing::*;
use sdf_core::*;

/// An offset tracker whose residual starts one past the split: the offset at the split is lost.
struct OffByOneTracker(OffsetRangeTracker);

impl RestrictionTracker for OffByOneTracker {
    type Restriction = OffsetRange;
    type Position = i64;
    fn try_claim(&mut self, p: i64) -> Result<bool, TrackerError> {
        self.0.try_claim(p)
    }
    fn try_split(&mut self, f: f64) -> Result<Option<SplitResult<OffsetRange>>, TrackerError> {
        Ok(self.0.try_split(f)?.map(|s| SplitResult {
            residual: OffsetRange::new(
                (s.residual.start() + 1).min(s.residual.end()),
                s.residual.end(),
            ),
            primary: s.primary,
        }))
    }
    fn current_restriction(&self) -> OffsetRange {
        self.0.current_restriction()
    }
    fn check_done(&self) -> Result<(), TrackerError> {
        self.0.check_done()
    }
    fn progress(&self) -> Progress {
        self.0.progress()
    }
    fn is_bounded(&self) -> bool {
        true
    }
}

struct OffByOne;
impl TrackerFixture for OffByOne {
    type Tracker = OffByOneTracker;
    fn new_tracker(&self, r: &OffsetRange) -> OffByOneTracker {
        OffByOneTracker(OffsetRangeTracker::new(*r))
    }
    fn positions(&self, r: &OffsetRange) -> Vec<i64> {
        (r.start()..r.end()).collect()
    }
    fn end_claim(&self, r: &OffsetRange) -> Option<i64> {
        Some(r.end())
    }
    fn is_dense(&self, _: &OffsetRange) -> bool {
        true
    }
}

#[test]
fn an_off_by_one_split_is_reported_with_the_smallest_case() {
    let v = check_tracker_contract(&OffByOne, &OffsetRange::new(0, 10)).unwrap_err();
    assert!(v.law.starts_with("law 1: split halves are exact"), "{v}");
    // The smallest case: a checkpoint before any claim.
    assert!(v.case.contains("after 0 claims, try_split(0)"), "{v}");
    assert!(v.detail.contains("residual [1, 10)"), "{v}");
}

/// A tracker that accepts claims in any order and never refuses one.
struct Permissive(OffsetRange);
impl RestrictionTracker for Permissive {
    type Restriction = OffsetRange;
    type Position = i64;
    fn try_claim(&mut self, _: i64) -> Result<bool, TrackerError> {
        Ok(true)
    }
    fn try_split(&mut self, _: f64) -> Result<Option<SplitResult<OffsetRange>>, TrackerError> {
        Ok(None)
    }
    fn current_restriction(&self) -> OffsetRange {
        self.0
    }
    fn check_done(&self) -> Result<(), TrackerError> {
        Ok(())
    }
    fn progress(&self) -> Progress {
        Progress::default()
    }
    fn is_bounded(&self) -> bool {
        true
    }
}

struct PermissiveFixture;
impl TrackerFixture for PermissiveFixture {
    type Tracker = Permissive;
    fn new_tracker(&self, r: &OffsetRange) -> Permissive {
        Permissive(*r)
    }
    fn positions(&self, r: &OffsetRange) -> Vec<i64> {
        (r.start()..r.end()).collect()
    }
    fn end_claim(&self, r: &OffsetRange) -> Option<i64> {
        Some(r.end())
    }
}

#[test]
fn a_tracker_that_never_refuses_is_reported() {
    let v = check_tracker_contract(&PermissiveFixture, &OffsetRange::new(0, 4)).unwrap_err();
    // Its check_done passes with work unclaimed: the first law the fresh tracker breaks.
    assert!(v.law.starts_with("law 8"), "{v}");
}

/// Like CountFn, but computes its loop bound from the input instead of asking the tracker, and
/// ignores a refused claim: the classic way to duplicate records after a split.
struct IgnoresRefusal;

#[async_trait]
impl SplittableDoFn for IgnoresRefusal {
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
        n: &i64,
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, i64>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        let start = tracker.current_restriction().start();
        if !tracker.try_claim(start)? {
            return Ok(ProcessContinuation::Stop);
        }
        for i in start..*n {
            output.emit(i).await?;
        }
        // Claims the end so that check_done passes.
        let _ = tracker.try_claim(*n);
        Ok(ProcessContinuation::Stop)
    }
}

#[test]
fn a_dofn_that_ignores_the_tracker_duplicates_and_is_reported() {
    let v = check_sdf_exhaustive(&IgnoresRefusal, &5).unwrap_err();
    assert!(v.law.starts_with("nothing lost, nothing duplicated"), "{v}");
    assert!(v.detail.contains("extra ["), "{v}");
    assert!(v.case.contains("split after 1 claims"), "{v}");
}

/// Emits once before claiming anything.
struct EmitsBeforeClaim;

#[async_trait]
impl SplittableDoFn for EmitsBeforeClaim {
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
        output.emit(-1).await?;
        let mut i = tracker.current_restriction().start();
        while tracker.try_claim(i)? {
            output.emit(i).await?;
            i += 1;
        }
        Ok(ProcessContinuation::Stop)
    }
}

#[test]
fn output_before_the_first_claim_is_reported() {
    let v = check_sdf_exhaustive(&EmitsBeforeClaim, &3).unwrap_err();
    assert!(
        v.law == "no output without a successful claim" || v.law.starts_with("nothing lost"),
        "{v}"
    );
}

/// Processes only the first half of its range and returns Stop.
struct StopsEarly;

#[async_trait]
impl SplittableDoFn for StopsEarly {
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
        n: &i64,
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, i64>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        let mut i = tracker.current_restriction().start();
        while i < n / 2 && tracker.try_claim(i)? {
            output.emit(i).await?;
            i += 1;
        }
        Ok(ProcessContinuation::Stop)
    }
}

#[test]
fn stop_with_work_left_is_reported() {
    let v = check_sdf_exhaustive(&StopsEarly, &6).unwrap_err();
    assert_eq!(
        v.law, "process returns Stop only when check_done passes",
        "{v}"
    );
    assert!(v.detail.contains("[3, 6)"), "{v}");
}

#[test]
fn concurrent_check_catches_a_dofn_that_ignores_the_tracker() {
    let options = ConcurrentOptions::default().repetitions(200);
    let v = check_concurrent_splits_with(&IgnoresRefusal, &3_000, &options).unwrap_err();
    assert!(v.law.starts_with("nothing lost, nothing duplicated"), "{v}");
    assert!(v.case.contains("seed"), "{v}");
}

/// Splits from `start + number of claims` instead of the last claimed position: right only when
/// a DoFn claims every position.
struct CountsClaims {
    inner: OffsetRangeTracker,
    claims: i64,
}

impl RestrictionTracker for CountsClaims {
    type Restriction = OffsetRange;
    type Position = i64;
    fn try_claim(&mut self, p: i64) -> Result<bool, TrackerError> {
        let claimed = self.inner.try_claim(p)?;
        self.claims += i64::from(claimed);
        Ok(claimed)
    }
    fn try_split(&mut self, f: f64) -> Result<Option<SplitResult<OffsetRange>>, TrackerError> {
        let r = self.inner.current_restriction();
        let mut fresh = OffsetRangeTracker::new(r);
        for i in 0..self.claims {
            fresh.try_claim(r.start() + i)?;
        }
        let split = fresh.try_split(f)?;
        if let Some(s) = &split {
            let mut narrowed = OffsetRangeTracker::new(s.primary);
            if let Some(last) = self.inner.last_attempted() {
                let _ = narrowed.try_claim(last);
            }
            self.inner = narrowed;
        }
        Ok(split)
    }
    fn current_restriction(&self) -> OffsetRange {
        self.inner.current_restriction()
    }
    fn check_done(&self) -> Result<(), TrackerError> {
        self.inner.check_done()
    }
    fn progress(&self) -> Progress {
        self.inner.progress()
    }
    fn is_bounded(&self) -> bool {
        true
    }
}

struct CountsClaimsFixture;
impl TrackerFixture for CountsClaimsFixture {
    type Tracker = CountsClaims;
    fn new_tracker(&self, r: &OffsetRange) -> CountsClaims {
        CountsClaims {
            inner: OffsetRangeTracker::new(*r),
            claims: 0,
        }
    }
    fn positions(&self, r: &OffsetRange) -> Vec<i64> {
        (r.start()..r.end()).collect()
    }
    fn end_claim(&self, r: &OffsetRange) -> Option<i64> {
        Some(r.end())
    }
    fn is_dense(&self, _: &OffsetRange) -> bool {
        true
    }
}

#[test]
fn a_tracker_that_splits_by_claim_count_is_caught_by_claims_with_gaps() {
    let v = check_tracker_contract(&CountsClaimsFixture, &OffsetRange::new(0, 10)).unwrap_err();
    assert!(
        v.case.contains("after claiming [0, 2"),
        "found with gaps: {v}"
    );
    assert!(
        v.law.starts_with("law 2") || v.law.starts_with("law 4"),
        "{v}"
    );
}

/// Returns an empty residual `[end, end)` where it should return `None`.
struct EmptyResidual(OffsetRangeTracker);

impl RestrictionTracker for EmptyResidual {
    type Restriction = OffsetRange;
    type Position = i64;
    fn try_claim(&mut self, p: i64) -> Result<bool, TrackerError> {
        self.0.try_claim(p)
    }
    fn try_split(&mut self, f: f64) -> Result<Option<SplitResult<OffsetRange>>, TrackerError> {
        match self.0.try_split(f)? {
            Some(s) => Ok(Some(s)),
            None if f < 1.0 => {
                let r = self.0.current_restriction();
                Ok(Some(SplitResult {
                    primary: r,
                    residual: OffsetRange::new(r.end(), r.end()),
                }))
            }
            None => Ok(None),
        }
    }
    fn current_restriction(&self) -> OffsetRange {
        self.0.current_restriction()
    }
    fn check_done(&self) -> Result<(), TrackerError> {
        self.0.check_done()
    }
    fn progress(&self) -> Progress {
        self.0.progress()
    }
    fn is_bounded(&self) -> bool {
        true
    }
}

struct EmptyResidualFixture;
impl TrackerFixture for EmptyResidualFixture {
    type Tracker = EmptyResidual;
    fn new_tracker(&self, r: &OffsetRange) -> EmptyResidual {
        EmptyResidual(OffsetRangeTracker::new(*r))
    }
    fn positions(&self, r: &OffsetRange) -> Vec<i64> {
        (r.start()..r.end()).collect()
    }
    fn end_claim(&self, r: &OffsetRange) -> Option<i64> {
        Some(r.end())
    }
}

#[test]
fn an_empty_residual_is_reported() {
    let v = check_tracker_contract(&EmptyResidualFixture, &OffsetRange::new(0, 3)).unwrap_err();
    // It breaks two laws; the first case the kit reaches is a checkpoint after the end.
    let laws = [
        "law 1: a split's residual is never empty",
        "law 4: after a claim returned false, a checkpoint returns None",
    ];
    assert!(laws.contains(&v.law.as_str()), "{v}");
    assert!(
        v.detail.contains("residual: [0, 0)") || v.detail.contains("residual [3, 3)"),
        "{v}"
    );
}

/// Stamps each record with how many records this call emitted before it: event times that
/// depend on where the work was split.
struct CallRelativeTimes;

#[async_trait]
impl SplittableDoFn for CallRelativeTimes {
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
        let mut emitted = 0;
        while tracker.try_claim(i)? {
            output.emit_at(i, Timestamp::from_micros(emitted)).await?;
            emitted += 1;
            i += 1;
        }
        Ok(ProcessContinuation::Stop)
    }
}

#[test]
fn event_times_that_depend_on_the_split_are_reported() {
    let v = check_sdf_exhaustive(&CallRelativeTimes, &4).unwrap_err();
    assert!(v.law.starts_with("nothing lost, nothing duplicated"), "{v}");
    assert!(
        v.detail.contains("timestamp"),
        "the records differ only in their timestamps: {v}"
    );
}
