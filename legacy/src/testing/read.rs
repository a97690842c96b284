//! Reading sources whole: `read_from_source`, `assert_sources_equal_reference_source`,
//! `assert_reentrant_reads_succeed`.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use super::violation::{SourceViolation, describe_difference};
use crate::bounded::{BoundedSource, SourceBundle, SourceReader};

/// `source` over `[start, stop)`, for a violation's case.
pub(crate) fn describe_range<S: BoundedSource>(
    source: &S,
    start: &Option<S::Position>,
    stop: &Option<S::Position>,
) -> String {
    let bound = |p: &Option<S::Position>, default: &str| {
        p.as_ref()
            .map_or_else(|| default.to_string(), |p| format!("{p:?}"))
    };
    format!(
        "{source:?}[{}, {})",
        bound(start, "start"),
        bound(stop, "end")
    )
}

/// A range tracker, and a reader claiming through it.
pub(crate) type Opened<'a, S> = (
    Arc<<S as BoundedSource>::RangeTracker>,
    SourceReader<'a, <S as BoundedSource>::Output>,
);

/// A tracker for `[start, stop)` and a reader on it.
pub(crate) fn open<'a, S: BoundedSource>(
    source: &'a S,
    start: &Option<S::Position>,
    stop: &Option<S::Position>,
) -> Result<Opened<'a, S>, SourceViolation> {
    let failed = |what: &str, e: crate::Error| {
        SourceViolation::new(
            "the source reads without error",
            describe_range(source, start, stop),
            format!("{what} failed: {e}"),
        )
    };
    let range = source
        .range_tracker(start.clone(), stop.clone())
        .map_err(|e| failed("range_tracker", e))?;
    let range = Arc::new(range);
    let reader = source
        .read(Arc::clone(&range))
        .map_err(|e| failed("read", e))?;
    Ok((range, reader))
}

/// Pulls up to `n` records (all of them for `None`) from `reader`.
pub(crate) fn pull<T>(
    reader: &mut SourceReader<'_, T>,
    n: Option<usize>,
    case: impl Fn() -> String,
) -> Result<Vec<T>, SourceViolation> {
    let mut records = Vec::new();
    while n.is_none_or(|n| records.len() < n) {
        match reader.next() {
            Some(Ok(record)) => records.push(record),
            Some(Err(e)) => {
                return Err(SourceViolation::new(
                    "the source reads without error",
                    case(),
                    format!("record {} failed: {e}", records.len()),
                ));
            }
            None => break,
        }
    }
    Ok(records)
}

/// Reads every record of `source` over `[start, stop)` (`None`: the source's own bounds), in
/// order.
///
/// ```
/// use sdf_legacy::examples::CountingSource;
/// use sdf_legacy::testing::read_from_source;
/// assert_eq!(read_from_source(&CountingSource::new(5), Some(2), None)?, [2, 3, 4]);
/// # Ok::<(), sdf_legacy::testing::SourceViolation>(())
/// ```
pub fn read_from_source<S: BoundedSource>(
    source: &S,
    start: Option<S::Position>,
    stop: Option<S::Position>,
) -> Result<Vec<S::Output>, SourceViolation> {
    let (_range, mut reader) = open(source, &start, &stop)?;
    pull(&mut reader, None, || describe_range(source, &start, &stop))
}

fn read_bundle<S: BoundedSource>(
    bundle: &SourceBundle<S>,
) -> Result<Vec<S::Output>, SourceViolation> {
    read_from_source(&bundle.source, bundle.start.clone(), bundle.stop.clone())
}

/// Asserts that `sources` together read the same records as `reference`, as a multiset: the
/// check for [`BoundedSource::split`], whose bundles must cover the source exactly.
///
/// ```
/// use sdf_legacy::examples::CountingSource;
/// use sdf_legacy::testing::assert_sources_equal_reference_source;
/// use sdf_legacy::{BoundedSource, SourceBundle};
/// let source = CountingSource::new(10);
/// let bundles = source.split(3, None, None)?;
/// assert_sources_equal_reference_source(&SourceBundle::whole(source)?, &bundles).unwrap();
/// # Ok::<(), sdf_legacy::Error>(())
/// ```
pub fn assert_sources_equal_reference_source<S>(
    reference: &SourceBundle<S>,
    sources: &[SourceBundle<S>],
) -> Result<(), SourceViolation>
where
    S: BoundedSource,
    S::Output: Eq + Hash + Debug,
{
    let expected = read_bundle(reference)?;
    let mut got = Vec::new();
    for bundle in sources {
        got.extend(read_bundle(bundle)?);
    }
    let case = || format!("reference {reference:?}, sources {sources:?}");
    if expected.len() != got.len() {
        return Err(SourceViolation::new(
            "the sources read as many records as the reference source",
            case(),
            format!(
                "the reference read {} records, the sources {}",
                expected.len(),
                got.len()
            ),
        ));
    }
    let (lost, extra) = multiset_difference(&expected, &got);
    if lost.is_empty() && extra.is_empty() {
        return Ok(());
    }
    Err(SourceViolation::new(
        "the sources read the same records as the reference source",
        case(),
        format!("missing {lost:?}; unexpected {extra:?} (at most 5 of each shown)"),
    ))
}

/// Records of `expected` missing from `got`, and records of `got` not in `expected`, counted
/// as multisets; at most five of each.
fn multiset_difference<'a, T: Eq + Hash>(
    expected: &'a [T],
    got: &'a [T],
) -> (Vec<&'a T>, Vec<&'a T>) {
    let mut counts: HashMap<&T, i64> = HashMap::new();
    for r in expected {
        *counts.entry(r).or_default() += 1;
    }
    for r in got {
        *counts.entry(r).or_default() -= 1;
    }
    let pick = |sign: i64| {
        counts
            .iter()
            .filter(|&(_, &n)| n * sign > 0)
            .map(|(&r, _)| r)
            .take(5)
            .collect()
    };
    (pick(1), pick(-1))
}

/// Asserts that a source can be read while another read of it is under way: for each `i` from
/// 1 to `n − 1`, reads `i` records, reads the whole bundle with a second reader, then finishes
/// the first; both must read every record, in order. Needs a bundle of at least 2 records.
///
/// ```
/// use sdf_legacy::examples::CountingSource;
/// use sdf_legacy::testing::assert_reentrant_reads_succeed;
/// use sdf_legacy::SourceBundle;
/// assert_reentrant_reads_succeed(&SourceBundle::whole(CountingSource::new(4))?).unwrap();
/// # Ok::<(), sdf_legacy::Error>(())
/// ```
pub fn assert_reentrant_reads_succeed<S>(bundle: &SourceBundle<S>) -> Result<(), SourceViolation>
where
    S: BoundedSource,
    S::Output: PartialEq + Debug,
{
    let (source, start, stop) = (&bundle.source, &bundle.start, &bundle.stop);
    let expected = read_bundle(bundle)?;
    let range = || describe_range(source, start, stop);
    if expected.len() < 2 {
        return Err(SourceViolation::new(
            "a reentrant read needs a source of at least 2 records",
            range(),
            format!("the source read {} records", expected.len()),
        ));
    }
    for i in 1..expected.len() {
        let case = || format!("{}, a second read after reading {i} records", range());
        let (_first_range, mut first) = open(source, start, stop)?;
        let mut original = pull(&mut first, Some(i), case)?;
        let reentrant = read_from_source(source, start.clone(), stop.clone())?;
        original.extend(pull(&mut first, None, case)?);
        if original != expected {
            return Err(SourceViolation::new(
                "a read interrupted by a second read of the same source reads every record",
                case(),
                describe_difference(&expected, &original),
            ));
        }
        if reentrant != expected {
            return Err(SourceViolation::new(
                "a read made while another read is under way reads every record",
                case(),
                describe_difference(&expected, &reentrant),
            ));
        }
    }
    Ok(())
}
