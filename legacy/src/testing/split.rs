//! One dynamic split of a reader: `assert_split_at_fraction_behavior` and its two shortcuts.

use std::fmt::Debug;

use super::read::{describe_range, open, pull, read_from_source};
use super::violation::{SourceViolation, describe_difference};
use crate::bounded::BoundedSource;
use crate::range::RangeTracker;

/// What a split must do in [`assert_split_at_fraction_behavior`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedSplitOutcome {
    /// The split must succeed, and the halves read consistently.
    MustSucceedAndBeConsistent,
    /// The split must be declined.
    MustFail,
    /// Either; if it succeeds, the halves must read consistently.
    MustBeConsistentIfSucceeds,
}

/// What a split did: the records the primary range reads, and those of the residual, `None`
/// if the split was declined (Beam's `-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitAtFractionResult {
    /// Records of the primary (or of the whole range, if the split was declined).
    pub num_primary_items: usize,
    /// Records of the residual; `None` if there is none.
    pub num_residual_items: Option<usize>,
}

/// One case: a source's range, how many records are read before splitting, the fraction.
pub(crate) struct SplitCase<'a, S: BoundedSource> {
    pub source: &'a S,
    pub start: &'a Option<S::Position>,
    pub stop: &'a Option<S::Position>,
    pub expected: &'a [S::Output],
    pub read_before: usize,
    pub fraction: f64,
    /// Whether the split races the rest of the read on another thread.
    pub raced: bool,
}

impl<S: BoundedSource> SplitCase<'_, S> {
    pub(crate) fn describe(&self) -> String {
        format!(
            "{}, split at fraction {} {} reading {} records",
            describe_range(self.source, self.start, self.stop),
            self.fraction,
            if self.raced {
                "racing the rest of the read, after"
            } else {
                "after"
            },
            self.read_before
        )
    }
}

/// Reads `num_items_to_read_before_split` records of `source`, splits its range tracker at
/// `position_at_fraction(split_fraction)`, finishes the read, and checks:
///
/// - on success, the tracker's stop is the returned split position, and changed; the fraction
///   is in `[0, 1]`;
/// - the outcome is the `expected_outcome`;
/// - the records of the interrupted read equal a fresh read of the primary range `[start,
///   split)` (in order);
/// - the primary and the residual `[split, stop)` together read every record (in order).
///
/// Returns the number of records of each half.
///
/// ```
/// use sdf_legacy::examples::CountingSource;
/// use sdf_legacy::testing::*;
/// let source = CountingSource::new(10);
/// let result = assert_split_at_fraction_behavior(
///     &source, 3, 0.5, ExpectedSplitOutcome::MustSucceedAndBeConsistent).unwrap();
/// assert_eq!((result.num_primary_items, result.num_residual_items), (5, Some(5)));
/// // After reading 6 records, position 5 is consumed: the split at 0.5 must fail.
/// assert_split_at_fraction_fails(&source, 6, 0.5).unwrap();
/// ```
pub fn assert_split_at_fraction_behavior<S>(
    source: &S,
    num_items_to_read_before_split: usize,
    split_fraction: f64,
    expected_outcome: ExpectedSplitOutcome,
) -> Result<SplitAtFractionResult, SourceViolation>
where
    S: BoundedSource,
    S::Output: PartialEq + Debug,
{
    let expected = read_from_source(source, None, None)?;
    let case = SplitCase {
        source,
        start: &None,
        stop: &None,
        expected: &expected,
        read_before: num_items_to_read_before_split,
        fraction: split_fraction,
        raced: false,
    };
    split_behavior(&case, expected_outcome)
}

/// [`assert_split_at_fraction_behavior`] with
/// [`MustSucceedAndBeConsistent`](ExpectedSplitOutcome::MustSucceedAndBeConsistent).
pub fn assert_split_at_fraction_succeeds_and_consistent<S>(
    source: &S,
    num_items_to_read_before_split: usize,
    split_fraction: f64,
) -> Result<SplitAtFractionResult, SourceViolation>
where
    S: BoundedSource,
    S::Output: PartialEq + Debug,
{
    assert_split_at_fraction_behavior(
        source,
        num_items_to_read_before_split,
        split_fraction,
        ExpectedSplitOutcome::MustSucceedAndBeConsistent,
    )
}

/// [`assert_split_at_fraction_behavior`] with
/// [`MustFail`](ExpectedSplitOutcome::MustFail).
pub fn assert_split_at_fraction_fails<S>(
    source: &S,
    num_items_to_read_before_split: usize,
    split_fraction: f64,
) -> Result<SplitAtFractionResult, SourceViolation>
where
    S: BoundedSource,
    S::Output: PartialEq + Debug,
{
    assert_split_at_fraction_behavior(
        source,
        num_items_to_read_before_split,
        split_fraction,
        ExpectedSplitOutcome::MustFail,
    )
}

/// The body of [`assert_split_at_fraction_behavior`], on any range.
pub(crate) fn split_behavior<S>(
    case: &SplitCase<'_, S>,
    expected_outcome: ExpectedSplitOutcome,
) -> Result<SplitAtFractionResult, SourceViolation>
where
    S: BoundedSource,
    S::Output: PartialEq + Debug,
{
    let (range, mut reader) = open(case.source, case.start, case.stop)?;
    let mut current = pull(&mut reader, Some(case.read_before), || case.describe())?;
    if current.len() < case.read_before {
        return Err(SourceViolation::new(
            "the test reads no more records than the source has",
            case.describe(),
            format!("the source has only {} records", current.len()),
        ));
    }
    let stop_before = range.stop_position();
    let split = range
        .position_at_fraction(case.fraction)
        .ok()
        .and_then(|position| range.try_split(position));
    if let Some(split) = &split {
        check_split_result(case, split, &stop_before, &range.stop_position())?;
    }
    match (expected_outcome, &split) {
        (ExpectedSplitOutcome::MustSucceedAndBeConsistent, None) => {
            return Err(SourceViolation::new(
                "the split succeeds",
                case.describe(),
                "try_split declined",
            ));
        }
        (ExpectedSplitOutcome::MustFail, Some((position, _))) => {
            return Err(SourceViolation::new(
                "the split fails",
                case.describe(),
                format!("try_split succeeded at {position:?}"),
            ));
        }
        _ => {}
    }
    current.extend(pull(&mut reader, None, || case.describe())?);
    let primary = (Some(range.start_position()), Some(range.stop_position()));
    let residual = split.map(|(position, _)| (Some(position), Some(stop_before)));
    verify_halves(case, &current, primary, residual)
}

fn check_split_result<S: BoundedSource>(
    case: &SplitCase<'_, S>,
    (position, fraction): &(S::Position, f64),
    stop_before: &S::Position,
    stop_after: &S::Position,
) -> Result<(), SourceViolation> {
    let problem = if stop_after != position {
        format!(
            "the stop is {stop_after:?} after a split at {position:?}; it must be the split position"
        )
    } else if stop_after == stop_before {
        format!("the stop {stop_before:?} did not change after a successful split")
    } else if !(0.0..=1.0).contains(fraction) {
        format!("the split fraction {fraction} is outside [0, 1]")
    } else {
        return Ok(());
    };
    Err(SourceViolation::new(
        "a successful split shrinks the range to the split position",
        case.describe(),
        problem,
    ))
}

pub(crate) type Range<P> = (Option<P>, Option<P>);

/// Checks the two consistency properties of a split, and counts the records of each half.
pub(crate) fn verify_halves<S>(
    case: &SplitCase<'_, S>,
    current: &[S::Output],
    primary: Range<S::Position>,
    residual: Option<Range<S::Position>>,
) -> Result<SplitAtFractionResult, SourceViolation>
where
    S: BoundedSource,
    S::Output: PartialEq + Debug,
{
    let primary_records = read_from_source(case.source, primary.0.clone(), primary.1.clone())?;
    let residual_records = match &residual {
        Some((start, stop)) => read_from_source(case.source, start.clone(), stop.clone())?,
        None => Vec::new(),
    };
    let halves = || {
        let show = |r: &Range<S::Position>| describe_range(case.source, &r.0, &r.1);
        match &residual {
            Some(r) => format!("; primary {}, residual {}", show(&primary), show(r)),
            None => format!("; the split was declined, the range is {}", show(&primary)),
        }
    };
    if current != primary_records.as_slice() {
        return Err(SourceViolation::new(
            "the interrupted read returns the records of the primary range",
            format!("{}{}", case.describe(), halves()),
            format!(
                "compared with a fresh read of the primary: {}",
                describe_difference(&primary_records, current)
            ),
        ));
    }
    let mut total = primary_records;
    let num_primary_items = total.len();
    let num_residual_items = residual.as_ref().map(|_| residual_records.len());
    total.extend(residual_records);
    if total != case.expected {
        return Err(SourceViolation::new(
            "the primary and the residual together read the original records",
            format!("{}{}", case.describe(), halves()),
            describe_difference(case.expected, &total),
        ));
    }
    Ok(SplitAtFractionResult {
        num_primary_items,
        num_residual_items,
    })
}
