//! [`TrackerFixture`]: what `check_tracker_contract` needs to know about a tracker, and the
//! fixtures for this crate's trackers.

use std::fmt::Debug;

use crate::byte_key::{ByteKey, ByteKeyRange, ByteKeyRangeTracker};
use crate::growable::{GrowableOffsetRangeTracker, RangeEndEstimator};
use crate::offset_range::{OffsetRange, OffsetRangeTracker};
use crate::tracker::RestrictionTracker;
use crate::unsplittable::UnsplittableTracker;

/// Restriction of a fixture's tracker.
pub type FixtureRestriction<Fx> =
    <<Fx as TrackerFixture>::Tracker as RestrictionTracker>::Restriction;
/// Position of a fixture's tracker.
pub type FixturePosition<Fx> = <<Fx as TrackerFixture>::Tracker as RestrictionTracker>::Position;

/// Describes a tracker to the contract checker: how to build one, and which positions hold work
/// in a restriction (the claims a DoFn makes, in order).
///
/// For a tracker over a huge or infinite position space (keys, a growing range), `positions`
/// returns a *sample*: the positions of a small test data set that fall in the restriction.
pub trait TrackerFixture {
    /// The tracker under test.
    type Tracker: RestrictionTracker;

    /// A fresh tracker for `restriction`.
    fn new_tracker(&self, restriction: &FixtureRestriction<Self>) -> Self::Tracker;

    /// The positions holding work in `restriction`, ascending.
    fn positions(&self, restriction: &FixtureRestriction<Self>) -> Vec<FixturePosition<Self>>;

    /// The claim a DoFn makes after the last position to say it reached the end (it must return
    /// `false`), e.g. the range's end offset, or `None` if there is no such claim.
    fn end_claim(&self, restriction: &FixtureRestriction<Self>) -> Option<FixturePosition<Self>>;

    /// Whether `positions` lists *every* position of the restriction (offsets: yes; a sample of
    /// keys: no). For dense fixtures a checkpoint after the last position must return `None`.
    fn is_dense(&self, _restriction: &FixtureRestriction<Self>) -> bool {
        false
    }

    /// Whether the tracker may only checkpoint `restriction` (fraction 0), never split it at a
    /// fraction above 0: a compressed file, a stream read from its start. The contract then
    /// requires `Ok(None)` for every fraction above 0 (law 11). Default `false`.
    fn checkpoint_only(&self, _restriction: &FixtureRestriction<Self>) -> bool {
        false
    }
}

/// [`OffsetRangeTracker`] over ranges small enough to enumerate.
#[derive(Debug, Clone, Copy, Default)]
pub struct OffsetFixture;

impl TrackerFixture for OffsetFixture {
    type Tracker = OffsetRangeTracker;

    fn new_tracker(&self, restriction: &OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(*restriction)
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

/// A fixed end estimate.
#[derive(Debug, Clone, Copy)]
pub struct FixedEstimate(pub Option<i64>);

impl RangeEndEstimator for FixedEstimate {
    fn estimate(&self) -> Option<i64> {
        self.0
    }
}

/// [`GrowableOffsetRangeTracker`] over a growing range that holds data in `[start, data_end)`
/// so far, with a fixed `estimate` (which may be wrong, or unknown).
#[derive(Debug, Clone, Copy)]
pub struct GrowableFixture {
    /// The offset after the last one written so far.
    pub data_end: i64,
    /// What the estimator reports.
    pub estimate: Option<i64>,
}

impl TrackerFixture for GrowableFixture {
    type Tracker = GrowableOffsetRangeTracker<FixedEstimate>;

    fn new_tracker(&self, r: &OffsetRange) -> Self::Tracker {
        GrowableOffsetRangeTracker::with_range(*r, FixedEstimate(self.estimate))
    }

    fn positions(&self, r: &OffsetRange) -> Vec<i64> {
        (r.start()..r.end().min(self.data_end)).collect()
    }

    fn end_claim(&self, r: &OffsetRange) -> Option<i64> {
        Some(r.end())
    }

    fn is_dense(&self, r: &OffsetRange) -> bool {
        r.end() <= self.data_end
    }
}

/// [`ByteKeyRangeTracker`] over a sample of keys: the keys of a small test data set.
#[derive(Debug, Clone, Default)]
pub struct ByteKeyFixture {
    /// The keys that exist; `positions` returns those in the restriction, sorted.
    pub keys: Vec<ByteKey>,
}

impl ByteKeyFixture {
    /// Every key of length 1 to `max_len` over `alphabet`, plus keys with trailing zero bytes
    /// (`a` < `a\0` < `a\0\0`), the cases interpolation gets wrong most easily.
    pub fn exhaustive(alphabet: &[u8], max_len: usize) -> Self {
        let mut keys: Vec<ByteKey> = Vec::new();
        let mut layer: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..max_len {
            layer = layer
                .iter()
                .flat_map(|k| alphabet.iter().map(move |&b| [k.as_slice(), &[b]].concat()))
                .collect();
            keys.extend(layer.iter().cloned().map(ByteKey::from));
        }
        for &b in alphabet {
            keys.push(ByteKey::from(vec![b, 0]));
            keys.push(ByteKey::from(vec![b, 0, 0]));
        }
        keys.sort();
        keys.dedup();
        ByteKeyFixture { keys }
    }
}

impl TrackerFixture for ByteKeyFixture {
    type Tracker = ByteKeyRangeTracker;

    fn new_tracker(&self, r: &ByteKeyRange) -> ByteKeyRangeTracker {
        ByteKeyRangeTracker::new(r.clone())
    }

    fn positions(&self, r: &ByteKeyRange) -> Vec<ByteKey> {
        self.keys
            .iter()
            .filter(|k| r.contains(k))
            .cloned()
            .collect()
    }

    /// The empty key: "the end of the range".
    fn end_claim(&self, _: &ByteKeyRange) -> Option<ByteKey> {
        Some(ByteKey::empty())
    }
}

/// Any fixture's tracker wrapped in an [`UnsplittableTracker`].
#[derive(Debug, Clone, Copy, Default)]
pub struct UnsplittableFixture<Fx>(pub Fx);

impl<Fx: TrackerFixture> TrackerFixture for UnsplittableFixture<Fx> {
    type Tracker = UnsplittableTracker<Fx::Tracker>;

    fn new_tracker(&self, r: &FixtureRestriction<Fx>) -> Self::Tracker {
        UnsplittableTracker::new(self.0.new_tracker(r))
    }
    fn positions(&self, r: &FixtureRestriction<Fx>) -> Vec<FixturePosition<Fx>> {
        self.0.positions(r)
    }
    fn end_claim(&self, r: &FixtureRestriction<Fx>) -> Option<FixturePosition<Fx>> {
        self.0.end_claim(r)
    }
    fn is_dense(&self, r: &FixtureRestriction<Fx>) -> bool {
        self.0.is_dense(r)
    }
    fn checkpoint_only(&self, _: &FixtureRestriction<Fx>) -> bool {
        true
    }
}
