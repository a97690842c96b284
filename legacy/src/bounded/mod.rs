//! [`BoundedSource`]: a finite data set that splits into bundles and reads through a
//! [`RangeTracker`], and [`BoundedSourceSdf`], which runs any of them as a splittable DoFn.

mod sdf;
mod tracker;

pub use sdf::{BoundedSourceSdf, BundleSize};
pub use tracker::BoundedSourceTracker;

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::position::Position;
use crate::range::RangeTracker;

/// What [`BoundedSource::read`] returns: the records of a range, in order. An `Err` item ends
/// the read.
pub type SourceReader<'a, T> = Box<dyn Iterator<Item = Result<T>> + Send + 'a>;

/// A finite data set, read by position ranges: Beam's `BoundedSource`, in Rust.
///
/// A source describes its data (files, a table, a range of numbers); a [`RangeTracker`]
/// describes the part of it one reader reads, `[start, stop)`, and can shrink while the
/// reader runs. `start` and `stop` are `None` for "the source's own start / end".
///
/// # Contract
///
/// 1. **Ranges are associative** (see [`RangeTracker`]): reading `[A, B)` and `[B, C)` gives
///    exactly the records of `[A, C)`, whatever `B`.
/// 2. **`read` claims each record just before returning it**: a record at a split point through
///    [`try_claim`](RangeTracker::try_claim), any other through
///    [`set_current_position`](RangeTracker::set_current_position). It stops at the first claim
///    that returns `false`, and never claims ahead of the record it returns: the tracker's stop
///    may shrink between two records, from another thread.
/// 3. **`read` is reentrant**: two reads of the same source are independent.
/// 4. **`split` covers the range**: the bundles it returns read, together, exactly the records
///    of `[start, stop)`, each once. A source that cannot split returns its range whole.
/// 5. **Sources are values**: serializable (the runtime persists them inside restrictions),
///    and never changed by reading or splitting.
///
/// The source test utilities (`sdf_legacy::testing`, feature `testing`) check all of this. See
/// [`CountingSource`](crate::examples::CountingSource) for a complete source.
pub trait BoundedSource:
    Clone + fmt::Debug + Send + Sync + Serialize + DeserializeOwned + 'static
{
    /// The records.
    type Output: Send + 'static;
    /// What the ranges are made of.
    type Position: Position + Serialize + DeserializeOwned;
    /// The tracker of a range of this source.
    type RangeTracker: RangeTracker<Position = Self::Position> + 'static;

    /// The size of the whole source, in the unit its bundles' weights use (Beam: bytes, before
    /// decompression). `None` if unknown.
    fn estimate_size(&self) -> Result<Option<u64>>;

    /// Cuts `[start, stop)` into bundles of about `desired_bundle_size` (in the unit of
    /// [`estimate_size`](Self::estimate_size)), for reading in parallel.
    fn split(
        &self,
        desired_bundle_size: u64,
        start: Option<Self::Position>,
        stop: Option<Self::Position>,
    ) -> Result<Vec<SourceBundle<Self>>>;

    /// A tracker for `[start, stop)`; `None` is the source's own start or end.
    fn range_tracker(
        &self,
        start: Option<Self::Position>,
        stop: Option<Self::Position>,
    ) -> Result<Self::RangeTracker>;

    /// Reads the records of `range_tracker`'s range, claiming each through it (rule 2 of the
    /// contract). The reader is pulled one record at a time, from synchronous or async code.
    fn read<'a>(
        &'a self,
        range_tracker: Arc<Self::RangeTracker>,
    ) -> Result<SourceReader<'a, Self::Output>>;
}

/// A part of a source: `source` read over `[start, stop)`, with a `weight` (its size, in the
/// unit of [`BoundedSource::estimate_size`]). Beam's `SourceBundle`, and the restriction of
/// [`BoundedSourceSdf`].
///
/// ```
/// use sdf_legacy::examples::CountingSource;
/// use sdf_legacy::{BoundedSource, SourceBundle};
/// let bundles = CountingSource::new(10).split(4, None, None)?;
/// assert_eq!(format!("{:?}", bundles[2]), "CountingSource(10)[8, 10) weight 2");
/// # Ok::<(), sdf_legacy::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "S: BoundedSource")]
pub struct SourceBundle<S: BoundedSource> {
    /// The size of the bundle.
    pub weight: f64,
    /// The source to read (the whole source, or a sub-source).
    pub source: S,
    /// Where to start; `None` is the source's start.
    pub start: Option<S::Position>,
    /// Where to stop; `None` is the source's end.
    pub stop: Option<S::Position>,
}

impl<S: BoundedSource> SourceBundle<S> {
    /// `source` over `[start, stop)`, weighing `weight`.
    pub fn new(
        weight: f64,
        source: S,
        start: Option<S::Position>,
        stop: Option<S::Position>,
    ) -> Self {
        SourceBundle {
            weight,
            source,
            start,
            stop,
        }
    }

    /// The whole source, weighing its estimated size (0 if unknown).
    pub fn whole(source: S) -> Result<Self> {
        let weight = source.estimate_size()?.unwrap_or(0) as f64;
        Ok(SourceBundle::new(weight, source, None, None))
    }

    /// A tracker for the bundle's range.
    pub fn range_tracker(&self) -> Result<S::RangeTracker> {
        self.source
            .range_tracker(self.start.clone(), self.stop.clone())
    }
}

impl<S: BoundedSource> fmt::Debug for SourceBundle<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}[", self.source)?;
        match &self.start {
            Some(start) => write!(f, "{start:?}")?,
            None => f.write_str("start")?,
        }
        f.write_str(", ")?;
        match &self.stop {
            Some(stop) => write!(f, "{stop:?}")?,
            None => f.write_str("end")?,
        }
        write!(f, ") weight {}", self.weight)
    }
}
