use sdf_core::testing::{FixedEstimate, TrackerFixture, check_tracker_contract};

use super::*;

const A: FileId = FileId {
    dev: 1,
    ino: 10,
    born: 0,
};
const B: FileId = FileId {
    dev: 1,
    ino: 20,
    born: 0,
};

/// Generation 0 in file A (marker + lines at bytes 0, 4, 9), generation 1 in file B (marker +
/// lines at bytes 0, 3).
fn sample() -> Vec<TailPosition> {
    let at = |g, b: Option<u64>, file| TailPosition {
        offset: b.map_or(TailPosition::marker(g), |b| TailPosition::line_offset(g, b)),
        file,
        check: b.map(|b| LineCheck::of(b, b"a line\n")),
    };
    vec![
        at(0, None, A),
        at(0, Some(0), A),
        at(0, Some(4), A),
        at(0, Some(9), A),
        at(1, None, B),
        at(1, Some(0), B),
        at(1, Some(3), B),
    ]
}

struct TailFixture {
    estimate: Option<i64>,
}

impl TrackerFixture for TailFixture {
    type Tracker = TailTracker<FixedEstimate>;

    fn new_tracker(&self, r: &TailRange) -> Self::Tracker {
        TailTracker::new(*r, FixedEstimate(self.estimate))
    }

    fn positions(&self, r: &TailRange) -> Vec<TailPosition> {
        sample()
            .into_iter()
            .filter(|p| r.range.start() <= p.offset && p.offset < r.range.end())
            .collect()
    }

    fn end_claim(&self, r: &TailRange) -> Option<TailPosition> {
        Some(TailPosition {
            offset: r.range.end(),
            file: B,
            check: None,
        })
    }
}

fn range(start: i64, end: i64, file: Option<FileId>) -> TailRange {
    TailRange {
        range: OffsetRange::new(start, end),
        file,
        until_eof: false,
        before: None,
    }
}

#[test]
fn keeps_the_tracker_contract_across_generations() {
    for estimate in [
        None,
        Some(TailPosition::line_offset(0, 12)),
        Some(TailPosition::line_offset(1, 5)),
    ] {
        let fixture = TailFixture { estimate };
        check_tracker_contract(&fixture, &range(0, i64::MAX, None)).unwrap();
        let bounded = range(0, TailPosition::line_offset(1, 2), Some(A));
        check_tracker_contract(&fixture, &bounded).unwrap();
    }
}

#[test]
fn a_residual_continues_the_file_of_the_last_claim() {
    let mut t = TailTracker::new(range(0, i64::MAX, Some(A)), FixedEstimate(None));
    for p in &sample()[..5] {
        assert!(t.try_claim(*p).unwrap());
    }
    let split = t.try_split(0.0).unwrap().unwrap();
    assert_eq!(
        split.primary,
        range(0, TailPosition::marker(1) + 1, Some(A))
    );
    assert_eq!(
        split.residual,
        range(TailPosition::marker(1) + 1, i64::MAX, Some(B))
    );
}

#[test]
fn a_residual_before_any_claim_keeps_the_start_file() {
    let start = TailPosition::line_offset(0, 4);
    let mut t = TailTracker::new(range(start, i64::MAX, Some(A)), FixedEstimate(None));
    let split = t.try_split(0.0).unwrap().unwrap();
    assert_eq!(split.residual, range(start, i64::MAX, Some(A)));
}

#[test]
fn a_residual_in_a_later_generation_than_known_has_no_file() {
    // The estimate reaches into generation 3 while the last claim is in generation 0.
    let estimate = TailPosition::line_offset(3, 0);
    let mut t = TailTracker::new(range(0, i64::MAX, None), FixedEstimate(Some(estimate)));
    assert!(t.try_claim(sample()[0]).unwrap());
    let split = t.try_split(0.9).unwrap().unwrap();
    assert_eq!(TailPosition::generation_of(split.residual.range.start()), 2);
    assert_eq!(split.residual.file, None);
}

#[test]
fn positions_round_trip() {
    for (g, b) in [
        (0, 0),
        (0, MAX_LINE_START),
        (7, 123),
        (MAX_GENERATION, MAX_LINE_START),
    ] {
        let p = TailPosition::line_offset(g, b);
        assert!(p < i64::MAX && p > TailPosition::marker(g), "{g} {b}");
        assert_eq!(TailPosition::generation_of(p), g);
        assert_eq!(TailPosition::byte_of(p), Some(b));
    }
    assert_eq!(TailPosition::byte_of(TailPosition::marker(3)), None);
}

#[test]
fn the_size_estimate_is_the_position_after_the_data() {
    let e = SizeEstimate::default();
    assert_eq!(e.estimate(), None);
    e.set(1, 10);
    assert_eq!(e.estimate(), Some(TailPosition::line_offset(1, 10)));
}
