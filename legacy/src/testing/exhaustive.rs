//! `assert_split_at_fraction_exhaustive`: every split point × every fraction that changes the
//! outcome, then a reader racing a splitter.

use std::fmt::Debug;
use std::sync::Barrier;

use sdf_core::testing::FRACTIONS;

use super::read::{describe_range, open, pull, read_from_source};
use super::split::{
    ExpectedSplitOutcome, SplitAtFractionResult, SplitCase, split_behavior, verify_halves,
};
use super::violation::SourceViolation;
use crate::bounded::BoundedSource;
use crate::range::RangeTracker;

/// Beam's limit of race trials for one number of records read before the split.
pub const MAX_CONCURRENT_SPLITTING_TRIALS_PER_ITEM: usize = 100;
/// Beam's limit of race trials in all.
pub const MAX_CONCURRENT_SPLITTING_TRIALS_TOTAL: usize = 1000;

/// Settings of [`assert_split_at_fraction_exhaustive_with`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExhaustiveSplitOptions {
    /// Whether to race a reader against a splitter after the sequential cases.
    pub multi_threaded: bool,
    /// The bisection of `[0, 1]` stops at intervals narrower than this.
    pub precision: f64,
    /// Race trials per number of records read before the split.
    pub trials_per_item: usize,
    /// Race trials in all.
    pub trials_total: usize,
}

impl Default for ExhaustiveSplitOptions {
    fn default() -> Self {
        ExhaustiveSplitOptions {
            multi_threaded: true,
            precision: 0.001,
            trials_per_item: MAX_CONCURRENT_SPLITTING_TRIALS_PER_ITEM,
            trials_total: MAX_CONCURRENT_SPLITTING_TRIALS_TOTAL,
        }
    }
}

impl ExhaustiveSplitOptions {
    /// Turns the race on or off.
    pub fn multi_threaded(mut self, on: bool) -> Self {
        self.multi_threaded = on;
        self
    }

    /// Sets the race's trial limits.
    pub fn trials(mut self, per_item: usize, total: usize) -> Self {
        self.trials_per_item = per_item;
        self.trials_total = total;
        self
    }
}

/// What [`assert_split_at_fraction_exhaustive`] exercised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExhaustiveSplitReport {
    /// Records of the range.
    pub records: usize,
    /// Sequential cases: a number of records read and a fraction.
    pub cases: usize,
    /// Of those, splits that succeeded.
    pub successful_splits: usize,
    /// Of those, splits whose residual holds records.
    pub non_trivial_splits: usize,
    /// Race trials run.
    pub concurrent_trials: usize,
    /// Race trials in which the split won (a non-empty residual).
    pub concurrent_successes: usize,
}

/// [`assert_split_at_fraction_exhaustive_with`] with the default options: Beam's precision and
/// trial limits, race included.
pub fn assert_split_at_fraction_exhaustive<S>(
    source: &S,
    start: Option<S::Position>,
    stop: Option<S::Position>,
) -> Result<ExhaustiveSplitReport, SourceViolation>
where
    S: BoundedSource,
    S::Output: PartialEq + Debug + Send,
{
    assert_split_at_fraction_exhaustive_with(
        source,
        start,
        stop,
        &ExhaustiveSplitOptions::default(),
    )
}

/// Splits a reader of `[start, stop)` after every number of records `i` from 0 to `n − 1`, at
/// every fraction where the outcome changes (bisecting `[0, 1]` down to `options.precision`,
/// as Beam does) and at each of sdf-core's [`FRACTIONS`], and checks each case as [`assert_split_at_fraction_behavior`] does with
/// [`MustBeConsistentIfSucceeds`](ExpectedSplitOutcome::MustBeConsistentIfSucceeds).
///
/// It fails if the test is vacuous: a range of fewer than 2 records, or no split that succeeds
/// with records in the residual. Then, unless `options.multi_threaded` is off, for each `i`
/// it races a thread that finishes the read against one that splits at the smallest
/// non-trivial fraction of `i`, released together after `i` records, until both outcomes were
/// seen or the trial limits are reached; every trial must be consistent.
///
/// [`assert_split_at_fraction_behavior`]: super::assert_split_at_fraction_behavior
pub fn assert_split_at_fraction_exhaustive_with<S>(
    source: &S,
    start: Option<S::Position>,
    stop: Option<S::Position>,
    options: &ExhaustiveSplitOptions,
) -> Result<ExhaustiveSplitReport, SourceViolation>
where
    S: BoundedSource,
    S::Output: PartialEq + Debug + Send,
{
    let expected = read_from_source(source, start.clone(), stop.clone())?;
    let range = describe_range(source, &start, &stop);
    if expected.len() < 2 {
        return Err(SourceViolation::new(
            "an exhaustive split test needs a range of at least 2 records",
            range,
            format!("the range read {} records", expected.len()),
        ));
    }
    let mut report = ExhaustiveSplitReport {
        records: expected.len(),
        ..ExhaustiveSplitReport::default()
    };
    let mut smallest_non_trivial = Vec::with_capacity(expected.len());
    for read_before in 0..expected.len() {
        let mut search = Bisection {
            source,
            start: &start,
            stop: &stop,
            expected: &expected,
            read_before,
            precision: options.precision,
            report: &mut report,
            non_trivial: Vec::new(),
        };
        search.bisect((0.0, None), (1.0, None))?;
        search.grid()?;
        let smallest = search.non_trivial.iter().copied().reduce(f64::min);
        smallest_non_trivial.push(smallest);
    }
    if report.successful_splits == 0 {
        return Err(SourceViolation::new(
            "the exhaustive split test is not vacuous: some split succeeds",
            range,
            format!("no split succeeded in {} cases", report.cases),
        ));
    }
    if report.non_trivial_splits == 0 {
        return Err(SourceViolation::new(
            "the exhaustive split test is not vacuous: some split leaves records in the residual",
            range,
            format!(
                "{} splits succeeded, all with an empty residual",
                report.successful_splits
            ),
        ));
    }
    if options.multi_threaded {
        race(
            source,
            &start,
            &stop,
            &expected,
            &smallest_non_trivial,
            options,
            &mut report,
        )?;
    }
    Ok(report)
}

/// The recursive search of one number of records read before the split.
struct Bisection<'a, S: BoundedSource> {
    source: &'a S,
    start: &'a Option<S::Position>,
    stop: &'a Option<S::Position>,
    expected: &'a [S::Output],
    read_before: usize,
    precision: f64,
    report: &'a mut ExhaustiveSplitReport,
    non_trivial: Vec<f64>,
}

type Probe = (f64, Option<SplitAtFractionResult>);

impl<S> Bisection<'_, S>
where
    S: BoundedSource,
    S::Output: PartialEq + Debug,
{
    fn run(&mut self, fraction: f64) -> Result<SplitAtFractionResult, SourceViolation> {
        let case = SplitCase {
            source: self.source,
            start: self.start,
            stop: self.stop,
            expected: self.expected,
            read_before: self.read_before,
            fraction,
            raced: false,
        };
        self.report.cases += 1;
        split_behavior(&case, ExpectedSplitOutcome::MustBeConsistentIfSucceeds)
    }

    /// sdf-core's grid of fractions ([`FRACTIONS`]), tiny and near-one ones included, which
    /// bisection skips where the outcomes at both ends of an interval agree.
    fn grid(&mut self) -> Result<(), SourceViolation> {
        for &fraction in FRACTIONS {
            let result = self.run(fraction)?;
            self.record(fraction, &result);
        }
        Ok(())
    }

    fn record(&mut self, fraction: f64, result: &SplitAtFractionResult) {
        if let Some(residual) = result.num_residual_items {
            self.report.successful_splits += 1;
            if residual > 0 {
                self.report.non_trivial_splits += 1;
                self.non_trivial.push(fraction);
            }
        }
    }

    /// Beam's `assert_split_at_fraction_binary`: tries the middle of `[left, right]` and
    /// recurses into each half whose ends split differently. The half ending at 1 is always
    /// searched: splits may succeed just below 1 even where they fail at 1 and in the middle.
    fn bisect(&mut self, left: Probe, right: Probe) -> Result<(), SourceViolation> {
        let ((lf, left_result), (rf, right_result)) = (left, right);
        if rf - lf < self.precision {
            return Ok(());
        }
        let left_result = match left_result {
            Some(result) => result,
            None => self.run(lf)?,
        };
        let right_result = match right_result {
            Some(result) => result,
            None => self.run(rf)?,
        };
        let mf = (lf + rf) / 2.0;
        let middle = self.run(mf)?;
        self.record(mf, &middle);
        if left_result.num_primary_items != middle.num_primary_items {
            self.bisect((lf, Some(left_result)), (mf, Some(middle)))?;
        }
        if rf == 1.0 || middle.num_primary_items != right_result.num_primary_items {
            self.bisect((mf, Some(middle)), (rf, Some(right_result)))?;
        }
        Ok(())
    }
}

/// Races a reader against a splitter, for each number of records read before the split that
/// has a non-trivial fraction.
#[allow(clippy::too_many_arguments)]
fn race<S>(
    source: &S,
    start: &Option<S::Position>,
    stop: &Option<S::Position>,
    expected: &[S::Output],
    fractions: &[Option<f64>],
    options: &ExhaustiveSplitOptions,
    report: &mut ExhaustiveSplitReport,
) -> Result<(), SourceViolation>
where
    S: BoundedSource,
    S::Output: PartialEq + Debug + Send,
{
    for (read_before, fraction) in fractions.iter().enumerate() {
        let Some(fraction) = *fraction else { continue };
        let case = SplitCase {
            source,
            start,
            stop,
            expected,
            read_before,
            fraction,
            raced: true,
        };
        let (mut won, mut lost) = (false, false);
        for _ in 0..options.trials_per_item {
            if report.concurrent_trials >= options.trials_total || (won && lost) {
                break;
            }
            report.concurrent_trials += 1;
            if race_once(&case)? {
                won = true;
                report.concurrent_successes += 1;
            } else {
                lost = true;
            }
        }
    }
    Ok(())
}

/// One trial: after `read_before` records, one thread finishes the read while the other
/// splits; both start at a barrier. Returns whether the split left records in the residual.
fn race_once<S>(case: &SplitCase<'_, S>) -> Result<bool, SourceViolation>
where
    S: BoundedSource,
    S::Output: PartialEq + Debug + Send,
{
    let (range, mut reader) = open(case.source, case.start, case.stop)?;
    let mut current = pull(&mut reader, Some(case.read_before), || case.describe())?;
    let stop_before = range.stop_position();
    let barrier = Barrier::new(2);
    let description = case.describe();
    let (rest, split) = std::thread::scope(|scope| {
        let finisher = scope.spawn(|| {
            barrier.wait();
            pull(&mut reader, None, || description.clone())
        });
        barrier.wait();
        let split = range
            .position_at_fraction(case.fraction)
            .ok()
            .and_then(|position| range.try_split(position));
        (finisher.join(), split)
    });
    let rest = rest.map_err(|_| {
        SourceViolation::new(
            "reading does not panic",
            case.describe(),
            "the reader thread panicked",
        )
    })??;
    current.extend(rest);
    let residual = split.map(|(position, _)| (Some(position), Some(stop_before)));
    let primary = (Some(range.start_position()), Some(range.stop_position()));
    let result = verify_halves(case, &current, primary, residual)?;
    Ok(result.num_residual_items.is_some_and(|n| n > 0))
}
