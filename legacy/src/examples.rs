//! Example sources from Beam's custom-I/O guides: [`CountingSource`] and [`RangeSource`].
//!
//! They are complete, tested sources, small enough to read in one sitting, and handy as
//! inputs when testing code that takes any [`BoundedSource`].

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::bounded::{BoundedSource, SourceBundle, SourceReader};
use crate::error::Result;
use crate::range::{OffsetRangeTracker, RangeTracker};

/// The numbers `0, 1, …, count − 1`, one record per offset: the `CountingSource` of Beam's
/// Python I/O guide.
///
/// ```
/// use sdf_legacy::examples::CountingSource;
/// use sdf_legacy::{BoundedSource, RangeTracker};
/// use std::sync::Arc;
///
/// let source = CountingSource::new(10);
/// let range = Arc::new(source.range_tracker(Some(3), Some(6))?);
/// let records: Vec<i64> = source.read(range)?.collect::<Result<_, _>>()?;
/// assert_eq!(records, [3, 4, 5]);
/// # Ok::<(), sdf_legacy::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountingSource {
    count: i64,
}

impl CountingSource {
    /// The numbers below `count`.
    pub fn new(count: i64) -> Self {
        CountingSource { count }
    }
}

impl fmt::Debug for CountingSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountingSource({})", self.count)
    }
}

impl BoundedSource for CountingSource {
    type Output = i64;
    type Position = i64;
    type RangeTracker = OffsetRangeTracker;

    /// One unit per record.
    fn estimate_size(&self) -> Result<Option<u64>> {
        Ok(Some(self.count.max(0) as u64))
    }

    /// Consecutive bundles of `desired_bundle_size` records, the last one shorter.
    fn split(
        &self,
        desired_bundle_size: u64,
        start: Option<i64>,
        stop: Option<i64>,
    ) -> Result<Vec<SourceBundle<Self>>> {
        let (start, stop) = (start.unwrap_or(0), stop.unwrap_or(self.count));
        Ok(chunks(start, stop, desired_bundle_size)
            .map(|(a, b)| SourceBundle::new((b - a) as f64, *self, Some(a), Some(b)))
            .collect())
    }

    fn range_tracker(&self, start: Option<i64>, stop: Option<i64>) -> Result<OffsetRangeTracker> {
        Ok(OffsetRangeTracker::new(
            start.unwrap_or(0),
            stop.unwrap_or(self.count),
        )?)
    }

    fn read<'a>(&'a self, range: Arc<OffsetRangeTracker>) -> Result<SourceReader<'a, i64>> {
        Ok(claim_each_offset(range, 0, self.count))
    }
}

/// The numbers of `[start, end)`: the `RangeSource` of Beam's custom-I/O tutorial.
///
/// ```
/// use sdf_legacy::examples::RangeSource;
/// use sdf_legacy::BoundedSource;
///
/// let bundles = RangeSource::new(100, 110).split(4, None, None)?;
/// let ranges: Vec<_> = bundles.iter().map(|b| (b.start, b.stop)).collect();
/// assert_eq!(ranges, [(Some(100), Some(104)), (Some(104), Some(108)), (Some(108), Some(110))]);
/// # Ok::<(), sdf_legacy::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeSource {
    start: i64,
    end: i64,
}

impl RangeSource {
    /// The numbers from `start` up to, not including, `end`.
    pub fn new(start: i64, end: i64) -> Self {
        RangeSource { start, end }
    }
}

impl fmt::Debug for RangeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RangeSource({}..{})", self.start, self.end)
    }
}

impl BoundedSource for RangeSource {
    type Output = i64;
    type Position = i64;
    type RangeTracker = OffsetRangeTracker;

    fn estimate_size(&self) -> Result<Option<u64>> {
        Ok(Some(
            (i128::from(self.end) - i128::from(self.start)).max(0) as u64
        ))
    }

    fn split(
        &self,
        desired_bundle_size: u64,
        start: Option<i64>,
        stop: Option<i64>,
    ) -> Result<Vec<SourceBundle<Self>>> {
        let (start, stop) = (start.unwrap_or(self.start), stop.unwrap_or(self.end));
        Ok(chunks(start, stop, desired_bundle_size)
            .map(|(a, b)| SourceBundle::new((b - a) as f64, *self, Some(a), Some(b)))
            .collect())
    }

    fn range_tracker(&self, start: Option<i64>, stop: Option<i64>) -> Result<OffsetRangeTracker> {
        Ok(OffsetRangeTracker::new(
            start.unwrap_or(self.start),
            stop.unwrap_or(self.end),
        )?)
    }

    fn read<'a>(&'a self, range: Arc<OffsetRangeTracker>) -> Result<SourceReader<'a, i64>> {
        Ok(claim_each_offset(range, self.start, self.end))
    }
}

/// `[start, stop)` in consecutive chunks of `size` (at least 1).
fn chunks(start: i64, stop: i64, size: u64) -> impl Iterator<Item = (i64, i64)> {
    let size = i64::try_from(size.max(1)).unwrap_or(i64::MAX);
    std::iter::successors(Some(start), move |&a| Some(a.saturating_add(size)))
        .take_while(move |&a| a < stop)
        .map(move |a| (a, a.saturating_add(size).min(stop)))
}

/// The reader of a source with one record per offset of `[first, end)`, each a split point:
/// claim the offset, return the record, stop at the first refused claim. The range's stop is
/// read once, at the start; a split that shrinks it later shows up as a refused claim.
fn claim_each_offset(
    range: Arc<OffsetRangeTracker>,
    first: i64,
    end: i64,
) -> SourceReader<'static, i64> {
    let from = range.start_position().max(first);
    let to = range.stop_position().min(end);
    Box::new((from..to).map_while(move |i| match range.try_claim(i) {
        Ok(true) => Some(Ok(i)),
        Ok(false) => None,
        Err(e) => Some(Err(e.into())),
    }))
}
