//! A sorted key-value table read by key ranges with `LexicographicKeyRangeTracker`: the
//! source test utilities and sdf-core's kit over byte-string positions, unbounded ends
//! included.

use std::fmt;
use std::sync::Arc;

use sdf_core::ByteKey;
use sdf_core::testing::{ConcurrentOptions, check_concurrent_splits_with, check_sdf_exhaustive};
use sdf_legacy::range::LexicographicKeyRangeTracker;
use sdf_legacy::testing::*;
use sdf_legacy::{
    BoundedSource, BoundedSourceSdf, BundleSize, Error, RangeTracker, SourceBundle, SourceReader,
};
use serde::{Deserialize, Serialize};

/// Rows sorted by key; each row is a split point.
#[derive(Clone, Serialize, Deserialize)]
struct Table {
    rows: Vec<(ByteKey, String)>,
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Table({} rows)", self.rows.len())
    }
}

impl BoundedSource for Table {
    type Output = String;
    type Position = ByteKey;
    type RangeTracker = LexicographicKeyRangeTracker;

    fn estimate_size(&self) -> Result<Option<u64>, Error> {
        Ok(Some(self.rows.len() as u64))
    }

    /// Bundles of `size` rows, cut at row keys; the first starts and the last ends where the
    /// range does.
    fn split(
        &self,
        size: u64,
        start: Option<ByteKey>,
        stop: Option<ByteKey>,
    ) -> Result<Vec<SourceBundle<Self>>, Error> {
        let tracker = self.range_tracker(start.clone(), stop.clone())?;
        let keys: Vec<&ByteKey> = self
            .rows
            .iter()
            .map(|(k, _)| k)
            .filter(|k| **k >= tracker.start_position())
            .filter(|k| tracker.stop_position().is_empty() || **k < tracker.stop_position())
            .collect();
        let mut cuts: Vec<Option<ByteKey>> = keys
            .iter()
            .step_by(size.max(1) as usize)
            .skip(1)
            .map(|k| Some((*k).clone()))
            .collect();
        cuts.insert(0, start);
        cuts.push(stop);
        Ok(cuts
            .windows(2)
            .map(|w| SourceBundle::new(size as f64, self.clone(), w[0].clone(), w[1].clone()))
            .collect())
    }

    fn range_tracker(
        &self,
        start: Option<ByteKey>,
        stop: Option<ByteKey>,
    ) -> Result<LexicographicKeyRangeTracker, Error> {
        Ok(LexicographicKeyRangeTracker::new(
            start.unwrap_or_default(),
            stop.unwrap_or_default(),
        )?)
    }

    fn read<'a>(
        &'a self,
        range: Arc<LexicographicKeyRangeTracker>,
    ) -> Result<SourceReader<'a, String>, Error> {
        let start = range.start_position();
        let first = self.rows.partition_point(|(k, _)| *k < start);
        Ok(Box::new(self.rows[first..].iter().map_while(
            move |(key, value)| match range.try_claim(key.clone()) {
                Ok(true) => Some(Ok(value.clone())),
                Ok(false) => None,
                Err(e) => Some(Err(e.into())),
            },
        )))
    }
}

fn table() -> Table {
    let keys: [&[u8]; 12] = [
        b"a",
        b"a\x00",
        b"ab",
        b"b",
        b"b\xff",
        b"c",
        b"m",
        b"m\x00\x00",
        b"q",
        b"x",
        b"\xff",
        b"\xff\xff",
    ];
    Table {
        rows: keys
            .iter()
            .map(|k| (ByteKey::from(*k), format!("{k:?}")))
            .collect(),
    }
}

#[test]
fn key_ranges_read_and_split_exactly() {
    let table = table();
    let all = read_from_source(&table, None, None).unwrap();
    assert_eq!(all.len(), 12);
    let middle = read_from_source(&table, Some("b".into()), Some("m".into())).unwrap();
    assert_eq!(middle.len(), 3, "b, b\\xff, c");
    let whole = SourceBundle::whole(table.clone()).unwrap();
    for size in [1, 3, 5, 12] {
        let bundles = table.split(size, None, None).unwrap();
        assert_sources_equal_reference_source(&whole, &bundles).unwrap();
    }
    assert_reentrant_reads_succeed(&whole).unwrap();
}

#[test]
fn key_ranges_pass_the_exhaustive_split_test() {
    let report = assert_split_at_fraction_exhaustive(&table(), None, None).unwrap();
    println!("{report:?}");
    assert!(report.non_trivial_splits > 0, "{report:?}");
    assert_split_at_fraction_exhaustive(&table(), Some("a\x00".into()), Some("x".into())).unwrap();
}

#[test]
fn the_table_sdf_passes_the_kit() {
    let sdf = BoundedSourceSdf::new(table()).bundle_size(BundleSize::RunnerHint);
    let report = check_sdf_exhaustive(&sdf, &()).unwrap();
    println!("{report:?}");
    assert_eq!(report.records, 12);
    assert!(report.checkpoints > 0, "{report:?}");
    check_concurrent_splits_with(&sdf, &(), &ConcurrentOptions::default().repetitions(30)).unwrap();
}
