//! `FileRangeTracker` keeps the tracker laws, splittable or not: a range read from its start or
//! decoded only checkpoints (law 11).

use sdf_connectors::read::{Access, Codec, FilePosition, FileRange, FileRangeTracker};
use sdf_core::OffsetRange;
use sdf_core::testing::{TrackerFixture, check_tracker_contract};

/// Every offset of the range is a record; a compressed file's consumed bytes are half the
/// offset (any increasing function would do).
struct Fixture {
    file_size: u64,
}

fn position(offset: i64) -> FilePosition {
    FilePosition {
        offset,
        consumed: offset.max(0) as u64 / 2,
    }
}

impl TrackerFixture for Fixture {
    type Tracker = FileRangeTracker;

    fn new_tracker(&self, r: &FileRange) -> FileRangeTracker {
        FileRangeTracker::new(*r, self.file_size)
    }

    fn positions(&self, r: &FileRange) -> Vec<FilePosition> {
        (r.range.start()..r.range.end()).map(position).collect()
    }

    fn end_claim(&self, r: &FileRange) -> Option<FilePosition> {
        Some(position(r.range.end()))
    }

    fn is_dense(&self, _: &FileRange) -> bool {
        true
    }

    /// `Access::FromStart` and `Access::Decode` ranges find their records only from the start
    /// of the file: they checkpoint, and refuse every fraction above 0.
    fn checkpoint_only(&self, r: &FileRange) -> bool {
        !r.access.is_splittable()
    }
}

#[test]
fn the_tracker_keeps_the_laws_for_every_access() {
    let fixture = Fixture { file_size: 6 };
    for access in [Access::Seek, Access::FromStart, Access::Decode(Codec::Gzip)] {
        for (start, end) in [(0, 0), (0, 1), (0, 9), (5, 12)] {
            let r = FileRange::new(OffsetRange::new(start, end), access);
            let report = check_tracker_contract(&fixture, &r)
                .unwrap_or_else(|v| panic!("{access:?} [{start}, {end}): {v}"));
            if access.is_splittable() && end - start > 2 {
                assert!(report.splits > 0, "{report:?}");
            }
            if end - start > 0 {
                assert!(
                    report.checkpoints > 0,
                    "{access:?} [{start}, {end}): {report:?}"
                );
            }
        }
    }
}
