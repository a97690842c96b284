//! The classes of bugs an earlier kit passed (issue 15): each test plants one in a connector
//! written as an author would, shows the violation the kit reports, and that the correct
//! version passes. Beside `kit_catches_bugs.rs`, which covers the first laws.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sdf_core::testing::*;
use sdf_core::*;
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// A paged source: page p holds three records, stamped p·10 ms + j. After each page the DoFn
// acknowledges it (a finalizer) and moves its watermark to the next page's first timestamp; it
// returns `Resume` after every second page, as a rate-limited poller would.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Bug {
    None,
    /// The ack of a page is registered before its records are emitted.
    AckBeforeRecords,
    /// The watermark moves two pages ahead instead of one.
    WatermarkAhead,
    /// The estimator comes back at `Timestamp::MIN`, whatever was saved.
    ForgetsState,
    /// `state()` returns what the estimator was restored from, not its current value.
    StaleState,
    /// The watermark is set to the last record's timestamp, not the largest so far, and page 3
    /// is stamped before page 2 (a late page): the watermark goes back within the call.
    Regresses,
    /// The ack fails.
    AckFails,
}

fn stamp(page: i64, j: i64) -> Timestamp {
    Timestamp::from_millis(page * 10 + j)
}

/// The author's estimator: set by the DoFn, saved as the value and the value it started from.
#[derive(Debug)]
struct PageWatermark {
    now: Timestamp,
    restored: Timestamp,
    bug: Bug,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PageWatermarkState {
    watermark: Timestamp,
    bug: u8,
}

fn bug_code(bug: Bug) -> u8 {
    bug as u8
}

fn bug_of(code: u8) -> Bug {
    [
        Bug::None,
        Bug::AckBeforeRecords,
        Bug::WatermarkAhead,
        Bug::ForgetsState,
        Bug::StaleState,
        Bug::Regresses,
        Bug::AckFails,
    ][code as usize]
}

impl WatermarkEstimator for PageWatermark {
    type State = PageWatermarkState;
    fn from_state(state: PageWatermarkState) -> Self {
        let bug = bug_of(state.bug);
        let now = if bug == Bug::ForgetsState {
            Timestamp::MIN
        } else {
            state.watermark
        };
        PageWatermark {
            now,
            restored: now,
            bug,
        }
    }
    fn current_watermark(&self) -> Timestamp {
        self.now
    }
    fn state(&self) -> PageWatermarkState {
        let watermark = if self.bug == Bug::StaleState {
            self.restored
        } else {
            self.now
        };
        PageWatermarkState {
            watermark,
            bug: bug_code(self.bug),
        }
    }
}

struct Pages {
    bug: Bug,
    /// The source's acknowledged pages: shared by every instance, as the source is.
    acked: Arc<Mutex<Vec<i64>>>,
}

impl Pages {
    fn new(bug: Bug) -> Self {
        Pages {
            bug,
            acked: Arc::default(),
        }
    }

    fn ack(&self, page: i64) -> Finalizer {
        let acked = Arc::clone(&self.acked);
        let fails = self.bug == Bug::AckFails;
        Box::new(move || {
            Box::pin(async move {
                if fails {
                    return Err(Error::message(format!(
                        "the source refused the ack of {page}"
                    )));
                }
                acked.lock().unwrap().push(page);
                Ok(())
            })
        })
    }
}

#[async_trait]
impl SplittableDoFn for Pages {
    type Input = i64;
    type Output = (i64, i64);
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = PageWatermark;

    fn initial_restriction(&self, pages: &i64) -> Result<OffsetRange> {
        Ok(OffsetRange::new(0, *pages))
    }
    fn new_tracker(&self, _: &i64, r: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(r)
    }
    fn initial_watermark_state(&self, _: &i64, _: &OffsetRange) -> PageWatermarkState {
        PageWatermarkState {
            watermark: Timestamp::MIN,
            bug: bug_code(self.bug),
        }
    }
    async fn process(
        &self,
        _: &i64,
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, (i64, i64)>,
        watermark: &mut PageWatermark,
    ) -> Result<ProcessContinuation> {
        let start = tracker.current_restriction().start();
        let mut page = start;
        while tracker.try_claim(page)? {
            if self.bug == Bug::AckBeforeRecords {
                output.after_commit(self.ack(page)).await?;
            }
            let at = |j| {
                if self.bug == Bug::Regresses && page == 3 {
                    Timestamp::from_millis(5 + j)
                } else {
                    stamp(page, j)
                }
            };
            for j in 0..3 {
                output.emit_at((page, j), at(j)).await?;
            }
            if self.bug != Bug::AckBeforeRecords {
                output.after_commit(self.ack(page)).await?;
            }
            let ahead = if self.bug == Bug::WatermarkAhead {
                2
            } else {
                1
            };
            watermark.now = if self.bug == Bug::Regresses {
                at(2)
            } else {
                watermark.now.max(stamp(page + ahead, 0))
            };
            page += 1;
            if (page - start) % 2 == 0 {
                return Ok(ProcessContinuation::resume());
            }
        }
        Ok(ProcessContinuation::Stop)
    }
}

fn pages(n: i64) -> Vec<(i64, i64)> {
    (0..n).flat_map(|p| (0..3).map(move |j| (p, j))).collect()
}

#[test]
fn the_correct_paged_source_passes_the_whole_kit_and_its_acks_run() {
    let acked: Arc<Mutex<Vec<i64>>> = Arc::default();
    let subject = fresh(|| Pages {
        bug: Bug::None,
        acked: Arc::clone(&acked),
    });
    let report =
        check_sdf_exhaustive_expecting(&subject, &7, pages(7), &ExhaustiveOptions::default())
            .unwrap();
    assert_eq!((report.records, report.claims), (21, 7), "{report}");
    assert!(
        report.fresh_instances > 0 && report.interleaved > 0,
        "{report}"
    );
    assert!(report.nested_splits > 0, "{report}");
    assert_eq!(report.finalizers, 7, "{report}");
    // The kit ran the acks: every page many times over, each acked at least once per case.
    let acks = acked.lock().unwrap().clone();
    assert!(acks.len() > 7 * report.cases / 2, "{} acks", acks.len());
    let concurrent = check_concurrent_splits_expecting(
        &subject,
        &7,
        pages(7),
        &ConcurrentOptions::default().repetitions(30),
    )
    .unwrap();
    assert!(
        concurrent.interleaved > 0 && concurrent.from_pieces > 0,
        "{concurrent}"
    );
}

#[test]
fn an_estimator_that_ignores_its_saved_state_is_reported() {
    let v = check_sdf_exhaustive(&Pages::new(Bug::ForgetsState), &5).unwrap_err();
    assert!(v.law.starts_with("watermark: an estimator restored"), "{v}");
    assert!(v.detail.contains("reports Timestamp(-inf)"), "{v}");
}

#[test]
fn an_estimator_whose_state_is_stale_is_reported() {
    let v = check_sdf_exhaustive(&Pages::new(Bug::StaleState), &5).unwrap_err();
    assert!(v.law.starts_with("watermark: an estimator restored"), "{v}");
}

#[test]
fn a_watermark_that_goes_back_within_a_call_is_reported() {
    let v = check_sdf_exhaustive(&Pages::new(Bug::Regresses), &5).unwrap_err();
    assert!(v.law.starts_with("watermark: never decreases"), "{v}");
    assert!(v.detail.contains("during the call"), "{v}");
}

#[test]
fn records_behind_the_watermark_are_late_unless_the_author_opts_in() {
    let v = check_sdf_exhaustive(&Pages::new(Bug::WatermarkAhead), &5).unwrap_err();
    assert!(
        v.law
            .starts_with("watermark: no record behind the watermark its call resumed with"),
        "{v}"
    );
    assert!(v.detail.contains("allow_late(true)"), "{v}");
    check_sdf_exhaustive_with(
        &Pages::new(Bug::WatermarkAhead),
        &5,
        &ExhaustiveOptions::default().allow_late(true),
    )
    .unwrap();
}

#[test]
fn an_ack_registered_before_its_records_is_reported() {
    let v = check_sdf_exhaustive(&Pages::new(Bug::AckBeforeRecords), &4).unwrap_err();
    assert!(
        v.law
            .starts_with("finalizers follow the records they acknowledge"),
        "{v}"
    );
    assert!(v.detail.contains("registered after claim 1"), "{v}");
    assert!(v.case.contains("(the reference)"), "{v}");
}

#[test]
fn a_failing_finalizer_is_reported_because_the_kit_runs_it() {
    let v = check_sdf_exhaustive(&Pages::new(Bug::AckFails), &3).unwrap_err();
    assert_eq!(v.law, "finalizers succeed", "{v}");
    assert!(v.detail.contains("refused the ack of 0"), "{v}");
    // Counted but not run, it passes: the option is for finalizers that destroy the input.
    check_sdf_exhaustive_with(
        &Pages::new(Bug::AckFails),
        &3,
        &ExhaustiveOptions::default().run_finalizers(false),
    )
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Vacuous passes.

/// A window of offsets whose serde drops its end: it round-trips to an empty window.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Window {
    start: i64,
    #[serde(skip)]
    end: i64,
}

struct Windowed;

#[async_trait]
impl SplittableDoFn for Windowed {
    type Input = i64;
    type Output = i64;
    type Restriction = Window;
    type Tracker = WindowTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;
    fn initial_restriction(&self, n: &i64) -> Result<Window> {
        Ok(Window { start: 0, end: *n })
    }
    fn new_tracker(&self, _: &i64, r: Window) -> WindowTracker {
        WindowTracker(OffsetRangeTracker::new(OffsetRange::new(
            r.start,
            r.end.max(r.start),
        )))
    }
    fn restriction_size(&self, _: &i64, r: &Window) -> f64 {
        (r.end - r.start).max(0) as f64
    }
    async fn process(
        &self,
        _: &i64,
        tracker: &mut SharedTracker<WindowTracker>,
        output: &mut Output<'_, i64>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        let mut i = tracker.current_restriction().start;
        while tracker.try_claim(i)? {
            output.emit(i).await?;
            i += 1;
        }
        Ok(ProcessContinuation::Stop)
    }
}

struct WindowTracker(OffsetRangeTracker);

fn window(r: OffsetRange) -> Window {
    Window {
        start: r.start(),
        end: r.end(),
    }
}

impl RestrictionTracker for WindowTracker {
    type Restriction = Window;
    type Position = i64;
    fn try_claim(&mut self, p: i64) -> Result<bool, TrackerError> {
        self.0.try_claim(p)
    }
    fn try_split(&mut self, f: f64) -> Result<Option<SplitResult<Window>>, TrackerError> {
        Ok(self.0.try_split(f)?.map(|s| SplitResult {
            primary: window(s.primary),
            residual: window(s.residual),
        }))
    }
    fn current_restriction(&self) -> Window {
        window(self.0.current_restriction())
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

#[test]
fn a_restriction_whose_serde_drops_a_field_is_reported_before_the_reference_run() {
    let v = check_sdf_exhaustive(&Windowed, &7).unwrap_err();
    assert_eq!(
        v.law, "restrictions and watermark states survive serde unchanged",
        "{v}"
    );
    assert!(
        v.detail
            .contains("Window { start: 0, end: 7 } comes back as Window { start: 0, end: 0 }"),
        "{v}"
    );
    assert!(v.case.contains("(the reference)"), "{v}");
}

/// A DoFn whose tracker ignores the restriction's end (a bug in `new_tracker`): every run,
/// split or not, claims nothing, while `restriction_size` says there are 7 positions.
struct ClaimsNothing;

#[async_trait]
impl SplittableDoFn for ClaimsNothing {
    type Input = i64;
    type Output = i64;
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;
    fn initial_restriction(&self, n: &i64) -> Result<OffsetRange> {
        Ok(OffsetRange::new(0, *n))
    }
    fn new_tracker(&self, _: &i64, r: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(OffsetRange::new(r.start(), r.start()))
    }
    fn restriction_size(&self, _: &i64, r: &OffsetRange) -> f64 {
        (r.end() - r.start()) as f64
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
            i += 1;
        }
        Ok(ProcessContinuation::Stop)
    }
}

#[test]
fn a_reference_run_that_claims_nothing_is_not_a_pass() {
    let v = check_sdf_exhaustive(&ClaimsNothing, &7).unwrap_err();
    assert!(v.law.starts_with("no vacuous pass"), "{v}");
    assert!(v.detail.contains("restriction_size = 7"), "{v}");
    let v = check_concurrent_splits(&ClaimsNothing, &7).unwrap_err();
    assert!(v.law.starts_with("no vacuous pass"), "{v}");
    // An input with nothing to do is no violation.
    let report = check_sdf_exhaustive(&ClaimsNothing, &0).unwrap();
    assert_eq!((report.records, report.claims), (0, 0));
}

// ---------------------------------------------------------------------------------------------
// Cold residuals: a CSV-like reader that takes its header from line 0 the first time an
// instance reads the document, and keeps it. Its cold path (an instance that never read line 0
// resuming in the middle) forgets to read the header.

struct Headed {
    header: Mutex<Option<String>>,
    cold_bug: bool,
}

impl Headed {
    fn new(cold_bug: bool) -> Self {
        Headed {
            header: Mutex::new(None),
            cold_bug,
        }
    }
}

const DOC: &[&str] = &[
    "name", "ada", "grace", "edsger", "barbara", "tony", "donald",
];

#[async_trait]
impl SplittableDoFn for Headed {
    type Input = ();
    type Output = String;
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;
    fn initial_restriction(&self, _: &()) -> Result<OffsetRange> {
        Ok(OffsetRange::new(1, DOC.len() as i64))
    }
    fn new_tracker(&self, _: &(), r: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(r)
    }
    async fn process(
        &self,
        _: &(),
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, String>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        let start = tracker.current_restriction().start();
        let header = {
            let mut cached = self.header.lock().unwrap();
            if cached.is_none() && (start == 1 || !self.cold_bug) {
                *cached = Some(DOC[0].to_string());
            }
            cached.clone().unwrap_or_default()
        };
        let mut i = start;
        while tracker.try_claim(i)? {
            output.emit(format!("{header}={}", DOC[i as usize])).await?;
            i += 1;
        }
        Ok(ProcessContinuation::Stop)
    }
}

#[test]
fn a_cold_path_bug_passes_on_one_instance_and_is_caught_on_fresh_ones() {
    // On one instance every residual resumes warm, after the reference run read the header.
    check_sdf_exhaustive(&Headed::new(true), &()).unwrap();
    check_concurrent_splits(&Headed::new(true), &()).unwrap();
    let v = check_sdf_exhaustive(&fresh(|| Headed::new(true)), &()).unwrap_err();
    assert!(v.law.starts_with("nothing lost, nothing duplicated"), "{v}");
    assert!(v.detail.contains("\"=grace\""), "{v}");
    assert!(v.case.contains("residuals on fresh instances"), "{v}");
    let v = check_concurrent_splits(&fresh(|| Headed::new(true)), &()).unwrap_err();
    assert!(v.case.contains("fresh instances"), "{v}");
    // The fixed reader passes both ways.
    check_sdf_exhaustive(&fresh(|| Headed::new(false)), &()).unwrap();
    check_concurrent_splits(&fresh(|| Headed::new(false)), &()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Coverage the kit did not have.

/// An offset tracker that remembers the end it started with, and gives every split after the
/// first a residual up to that end: the second split of one primary duplicates the first
/// split's residual.
struct StaleEnd {
    inner: OffsetRangeTracker,
    end: i64,
}

impl RestrictionTracker for StaleEnd {
    type Restriction = OffsetRange;
    type Position = i64;
    fn try_claim(&mut self, p: i64) -> Result<bool, TrackerError> {
        self.inner.try_claim(p)
    }
    fn try_split(&mut self, f: f64) -> Result<Option<SplitResult<OffsetRange>>, TrackerError> {
        let before = self.inner.current_restriction().end();
        Ok(self.inner.try_split(f)?.map(|s| SplitResult {
            residual: if before == self.end {
                s.residual
            } else {
                OffsetRange::new(s.residual.start(), self.end)
            },
            primary: s.primary,
        }))
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

struct CountWith<T>(fn(OffsetRange) -> T);

#[async_trait]
impl<T: RestrictionTracker<Restriction = OffsetRange, Position = i64> + 'static> SplittableDoFn
    for CountWith<T>
{
    type Input = i64;
    type Output = i64;
    type Restriction = OffsetRange;
    type Tracker = T;
    type WatermarkEstimator = MonotonicWatermarkEstimator;
    fn initial_restriction(&self, n: &i64) -> Result<OffsetRange> {
        Ok(OffsetRange::new(0, *n))
    }
    fn new_tracker(&self, _: &i64, r: OffsetRange) -> T {
        (self.0)(r)
    }
    async fn process(
        &self,
        _: &i64,
        tracker: &mut SharedTracker<T>,
        output: &mut Output<'_, i64>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        let mut i = tracker.current_restriction().start();
        while tracker.try_claim(i)? {
            output.emit(i).await?;
            i += 1;
        }
        Ok(ProcessContinuation::Stop)
    }
}

#[test]
fn a_bug_in_the_second_split_of_one_primary_is_caught_by_nested_splits() {
    let dofn = CountWith(|r| StaleEnd {
        inner: OffsetRangeTracker::new(r),
        end: r.end(),
    });
    // One split per call, as the kit used to: every tracker is split once, and it passes.
    let once = ExhaustiveOptions::default().splits_per_call(1);
    check_sdf_exhaustive_with(&dofn, &12, &once).unwrap();
    let v = check_sdf_exhaustive(&dofn, &12).unwrap_err();
    assert!(v.law.starts_with("nothing lost, nothing duplicated"), "{v}");
    assert!(v.detail.contains("extra ["), "{v}");
}

/// An offset tracker whose split point, for fractions below 1e-12, is computed as the last
/// claimed offset (floating point rounding to the position): the claimed offset is in both
/// halves.
struct TinyFractionBug(OffsetRangeTracker, Option<i64>);

impl RestrictionTracker for TinyFractionBug {
    type Restriction = OffsetRange;
    type Position = i64;
    fn try_claim(&mut self, p: i64) -> Result<bool, TrackerError> {
        let claimed = self.0.try_claim(p)?;
        if claimed {
            self.1 = Some(p);
        }
        Ok(claimed)
    }
    fn try_split(&mut self, f: f64) -> Result<Option<SplitResult<OffsetRange>>, TrackerError> {
        let split = self.0.try_split(f)?;
        match (split, self.1) {
            (Some(s), Some(last)) if f > 0.0 && f < 1e-12 => Ok(Some(SplitResult {
                primary: s.primary,
                residual: OffsetRange::new(last, s.residual.end()),
            })),
            (split, _) => Ok(split),
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

struct TinyFixture;
impl TrackerFixture for TinyFixture {
    type Tracker = TinyFractionBug;
    fn new_tracker(&self, r: &OffsetRange) -> TinyFractionBug {
        TinyFractionBug(OffsetRangeTracker::new(*r), None)
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
fn a_split_bug_at_subnormal_fractions_is_caught_by_the_default_fractions() {
    let old = ContractOptions::default().fractions(FRACTIONS);
    check_tracker_contract_with(&TinyFixture, &OffsetRange::new(0, 6), &old).unwrap();
    let v = check_tracker_contract(&TinyFixture, &OffsetRange::new(0, 6)).unwrap_err();
    assert!(v.law.starts_with("law 1: split halves are exact"), "{v}");
    assert!(v.case.contains("try_split(0.000000000000001)"), "{v}");
}

/// An offset tracker declared checkpoint-only (a compressed file) that splits anyway.
struct CheckpointOnly;
impl TrackerFixture for CheckpointOnly {
    type Tracker = OffsetRangeTracker;
    fn new_tracker(&self, r: &OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(*r)
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
    fn checkpoint_only(&self, _: &OffsetRange) -> bool {
        true
    }
}

#[test]
fn a_checkpoint_only_tracker_that_splits_is_reported() {
    let v = check_tracker_contract(&CheckpointOnly, &OffsetRange::new(0, 5)).unwrap_err();
    assert!(v.law.starts_with("law 11"), "{v}");
    assert!(
        v.case.contains("after 0 claims, try_split(0.000000001)"),
        "{v}"
    );
    // The unsplittable wrapper keeps the law.
    check_tracker_contract(&UnsplittableFixture(OffsetFixture), &OffsetRange::new(0, 5)).unwrap();
}

/// Emits a trailer record after its claim is refused (in every call, including those with
/// successful claims): the record belongs to no claimed position.
struct TrailerAfterRefusal;

#[async_trait]
impl SplittableDoFn for TrailerAfterRefusal {
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
        while tracker.try_claim(i)? {
            output.emit(i).await?;
            i += 1;
        }
        if i == *n {
            output.emit(-1).await?;
        }
        Ok(ProcessContinuation::Stop)
    }
}

#[test]
fn output_after_a_refused_claim_is_reported_in_a_call_that_claimed() {
    let v = check_sdf_exhaustive(&TrailerAfterRefusal, &4).unwrap_err();
    assert_eq!(v.law, "no output after a claim returned false", "{v}");
    assert!(v.detail.contains("the record -1"), "{v}");
    assert!(v.case.contains("(the reference)"), "{v}");
}

// ---------------------------------------------------------------------------------------------
// A bug the unsplit run shares: the last record emitted twice.

struct LastTwice;

#[async_trait]
impl SplittableDoFn for LastTwice {
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
        while tracker.try_claim(i)? {
            output.emit(i).await?;
            if i == *n - 1 {
                output.emit(i).await?;
            }
            i += 1;
        }
        Ok(ProcessContinuation::Stop)
    }
}

#[test]
fn a_bug_shared_with_the_unsplit_run_needs_the_oracle() {
    check_sdf_exhaustive(&LastTwice, &6).unwrap();
    check_concurrent_splits(&LastTwice, &6).unwrap();
    let v = check_sdf_exhaustive_expecting(&LastTwice, &6, 0..6, &ExhaustiveOptions::default())
        .unwrap_err();
    assert_eq!(v.law, "the unsplit output is the expected output", "{v}");
    assert!(v.detail.contains("extra [5 ×1]"), "{v}");
    let v = check_concurrent_splits_expecting(&LastTwice, &6, 0..6, &ConcurrentOptions::default())
        .unwrap_err();
    assert_eq!(v.law, "the unsplit output is the expected output", "{v}");
}

#[test]
fn a_violation_prints_a_bounded_excerpt_of_a_large_input() {
    let big: Vec<i64> = (0..5_000).collect();
    struct Big;
    #[async_trait]
    impl SplittableDoFn for Big {
        type Input = Vec<i64>;
        type Output = i64;
        type Restriction = OffsetRange;
        type Tracker = OffsetRangeTracker;
        type WatermarkEstimator = MonotonicWatermarkEstimator;
        fn initial_restriction(&self, v: &Vec<i64>) -> Result<OffsetRange> {
            Ok(OffsetRange::new(0, v.len() as i64))
        }
        fn new_tracker(&self, _: &Vec<i64>, r: OffsetRange) -> OffsetRangeTracker {
            OffsetRangeTracker::new(r)
        }
        async fn process(
            &self,
            _: &Vec<i64>,
            _: &mut SharedTracker<OffsetRangeTracker>,
            output: &mut Output<'_, i64>,
            _: &mut MonotonicWatermarkEstimator,
        ) -> Result<ProcessContinuation> {
            output.emit(0).await?;
            Ok(ProcessContinuation::Stop)
        }
    }
    let v = check_sdf_exhaustive(&Big, &big).unwrap_err();
    let text = v.to_string();
    assert!(text.len() < 1_500, "{} characters", text.len());
    assert!(text.contains("characters in all"), "{text}");
}

#[test]
fn reports_say_what_was_exercised() {
    let report = check_sdf_exhaustive(&CountFn, &("k".to_string(), 5)).unwrap();
    let text = report.to_string();
    assert!(text.starts_with("5 records from 5 claims"), "{text}");
    let concurrent = check_concurrent_splits_with(
        &CountFn,
        &("k".to_string(), 50),
        &ConcurrentOptions::default().repetitions(3),
    )
    .unwrap();
    assert!(
        concurrent
            .to_string()
            .starts_with("50 records from 50 claims"),
        "{concurrent}"
    );
}
