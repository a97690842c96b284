//! Deliberately broken sources: the utilities (and sdf-core's kit, through `BoundedSourceSdf`)
//! must catch them.

use std::fmt;
use std::sync::Arc;

use sdf_core::testing::check_sdf_exhaustive;
use sdf_legacy::range::OffsetRangeTracker;
use sdf_legacy::testing::*;
use sdf_legacy::{
    BoundedSource, BoundedSourceSdf, Error, RangeTracker, SourceBundle, SourceReader,
};
use serde::{Deserialize, Serialize};

/// The numbers below `count`, with a bug chosen by `bug`.
#[derive(Clone, Copy, Serialize, Deserialize)]
struct Buggy {
    count: i64,
    bug: Bug,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
enum Bug {
    /// When a claim is refused, the reader returns that record anyway, then stops.
    ReadsOnePastItsStop,
    /// `split` forgets the last bundle.
    SplitDropsTheTail,
}

impl fmt::Debug for Buggy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Buggy({}, {:?})", self.count, self.bug)
    }
}

impl BoundedSource for Buggy {
    type Output = i64;
    type Position = i64;
    type RangeTracker = OffsetRangeTracker;

    fn estimate_size(&self) -> Result<Option<u64>, Error> {
        Ok(Some(self.count as u64))
    }

    fn split(
        &self,
        size: u64,
        start: Option<i64>,
        stop: Option<i64>,
    ) -> Result<Vec<SourceBundle<Self>>, Error> {
        let (start, stop) = (start.unwrap_or(0), stop.unwrap_or(self.count));
        let mut bundles: Vec<_> = (start..stop)
            .step_by(size.max(1) as usize)
            .map(|a| {
                let b = (a + size as i64).min(stop);
                SourceBundle::new((b - a) as f64, *self, Some(a), Some(b))
            })
            .collect();
        if let Bug::SplitDropsTheTail = self.bug {
            bundles.pop();
        }
        Ok(bundles)
    }

    fn range_tracker(
        &self,
        start: Option<i64>,
        stop: Option<i64>,
    ) -> Result<OffsetRangeTracker, Error> {
        Ok(OffsetRangeTracker::new(
            start.unwrap_or(0),
            stop.unwrap_or(self.count),
        )?)
    }

    fn read<'a>(&'a self, range: Arc<OffsetRangeTracker>) -> Result<SourceReader<'a, i64>, Error> {
        let (start, end) = (range.start_position(), self.count);
        let mut stopped = false;
        Ok(Box::new((start..end).map_while(move |i| {
            if stopped {
                return None;
            }
            match range.try_claim(i) {
                Ok(true) => Some(Ok(i)),
                Ok(false) => {
                    stopped = true;
                    // The bug: the refused record is returned all the same.
                    matches!(self.bug, Bug::ReadsOnePastItsStop).then_some(Ok(i))
                }
                Err(e) => Some(Err(e.into())),
            }
        })))
    }
}

const OVERREADER: Buggy = Buggy {
    count: 10,
    bug: Bug::ReadsOnePastItsStop,
};

#[test]
fn reading_one_record_past_the_stop_fails_the_exhaustive_test() {
    // Read whole, the source looks right: its last claim is never refused.
    assert_eq!(
        read_from_source(&OVERREADER, None, None).unwrap(),
        (0..10).collect::<Vec<_>>()
    );
    let violation = assert_split_at_fraction_exhaustive(&OVERREADER, None, None).unwrap_err();
    println!("{violation}");
    assert_eq!(
        violation.property,
        "the primary and the residual together read the original records"
    );
    // The smallest case: nothing read, split at 0.5; the primary [0, 5) reads 5 as well.
    assert_eq!(
        violation.case,
        "Buggy(10, ReadsOnePastItsStop)[start, end), split at fraction 0.5 after reading 0 \
         records; primary Buggy(10, ReadsOnePastItsStop)[0, 5), residual \
         Buggy(10, ReadsOnePastItsStop)[5, 10)"
    );
    assert_eq!(
        violation.detail,
        "expected 10 records, got 11; first difference at record 6: expected 6, got 5"
    );
}

#[test]
fn reading_one_record_past_the_stop_fails_the_single_split_and_bundle_checks() {
    assert!(assert_split_at_fraction_succeeds_and_consistent(&OVERREADER, 2, 0.5).is_err());
    let whole = SourceBundle::whole(OVERREADER).unwrap();
    let bundles = OVERREADER.split(3, None, None).unwrap();
    let violation = assert_sources_equal_reference_source(&whole, &bundles).unwrap_err();
    assert_eq!(
        violation.detail,
        "the reference read 10 records, the sources 13"
    );
}

#[test]
fn reading_one_record_past_the_stop_fails_the_sdf_kit() {
    let violation = check_sdf_exhaustive(&BoundedSourceSdf::new(OVERREADER), &()).unwrap_err();
    println!("{violation}");
    assert!(
        violation
            .law
            .starts_with("nothing lost, nothing duplicated"),
        "{violation}"
    );
}

#[test]
fn a_split_that_drops_its_tail_fails_the_bundle_check() {
    let source = Buggy {
        count: 10,
        bug: Bug::SplitDropsTheTail,
    };
    let bundles = source.split(4, None, None).unwrap();
    let violation =
        assert_sources_equal_reference_source(&SourceBundle::whole(source).unwrap(), &bundles)
            .unwrap_err();
    assert_eq!(
        violation.property,
        "the sources read as many records as the reference source"
    );
    assert_eq!(
        violation.detail,
        "the reference read 10 records, the sources 8"
    );
}
