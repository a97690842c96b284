use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::*;

/// A record a reader returns: at a split point (`try_claim`) or not (`set_current_position`).
#[derive(Clone, Copy, Debug)]
enum Rec {
    Split(i64),
    Other(i64),
}

fn replay(t: &OffsetRangeTracker, records: &[Rec]) -> Result<Vec<bool>, RangeError> {
    records
        .iter()
        .map(|r| match *r {
            Rec::Split(p) => t.try_claim(p),
            Rec::Other(p) => t.set_current_position(p).map(|()| true),
        })
        .collect()
}

#[test]
fn reader_rules() {
    use Rec::*;
    struct Case {
        name: &'static str,
        range: (i64, i64),
        records: &'static [Rec],
        expect: Result<&'static [bool], &'static str>,
    }
    let cases = [
        Case {
            name: "claims inside the range succeed, the first at the stop refuses",
            range: (0, 3),
            records: &[Split(0), Split(1), Split(2), Split(3)],
            expect: Ok(&[true, true, true, false]),
        },
        Case {
            name: "the first split point may be after the start",
            range: (10, 20),
            records: &[Split(15), Other(16), Split(25)],
            expect: Ok(&[true, true, false]),
        },
        Case {
            name: "non-split-point records may share the split point's position",
            range: (0, 10),
            records: &[Split(4), Other(4), Other(4), Split(7)],
            expect: Ok(&[true, true, true, true]),
        },
        Case {
            name: "non-split-point records may lie past the stop",
            range: (0, 10),
            records: &[Split(8), Other(12), Split(20)],
            expect: Ok(&[true, true, false]),
        },
        Case {
            name: "a split point after a non-split record at the same position is fine",
            range: (0, 10),
            records: &[Split(2), Other(5), Split(5)],
            expect: Ok(&[true, true, true]),
        },
        Case {
            name: "the first record must be a split point",
            range: (0, 10),
            records: &[Other(0)],
            expect: Err("is not at a split point"),
        },
        Case {
            name: "split points are unique",
            range: (0, 10),
            records: &[Split(3), Split(3)],
            expect: Err("same position as the previous split point"),
        },
        Case {
            name: "positions never decrease",
            range: (0, 10),
            records: &[Split(3), Other(5), Other(4)],
            expect: Err("is before the last-returned record at 5"),
        },
        Case {
            name: "no record before the start",
            range: (5, 10),
            records: &[Split(4)],
            expect: Err("is before the start of the range [5, 10)"),
        },
        Case {
            name: "no record after a refused claim",
            range: (0, 2),
            records: &[Split(0), Split(2), Split(3)],
            expect: Err("after a claim already returned false"),
        },
    ];
    for case in cases {
        let t = OffsetRangeTracker::new(case.range.0, case.range.1).unwrap();
        let got = replay(&t, case.records);
        match (case.expect, got) {
            (Ok(want), Ok(got)) => assert_eq!(got, want, "{}", case.name),
            (Err(want), Err(e)) => assert!(
                e.to_string().contains(want),
                "{}: error {e} should contain {want:?}",
                case.name
            ),
            (want, got) => panic!("{}: expected {want:?}, got {got:?}", case.name),
        }
    }
}

#[test]
fn splits() {
    use Rec::*;
    struct Case {
        name: &'static str,
        range: (i64, i64),
        records: &'static [Rec],
        at: i64,
        expect: Option<(i64, f64)>,
    }
    let cases = [
        Case {
            name: "at an unconsumed position",
            range: (0, 100),
            records: &[Split(0), Split(41)],
            at: 42,
            expect: Some((42, 0.42)),
        },
        Case {
            name: "at the last consumed position",
            range: (0, 100),
            records: &[Split(0), Split(41)],
            at: 41,
            expect: None,
        },
        Case {
            name: "at a position a non-split record consumed",
            range: (0, 100),
            records: &[Split(10), Other(30)],
            at: 30,
            expect: None,
        },
        Case {
            name: "before any record",
            range: (0, 100),
            records: &[],
            at: 25,
            expect: Some((25, 0.25)),
        },
        Case {
            name: "at the start (the primary would be empty)",
            range: (10, 100),
            records: &[],
            at: 10,
            expect: None,
        },
        Case {
            name: "at the stop (the residual would be empty)",
            range: (0, 100),
            records: &[Split(0)],
            at: 100,
            expect: None,
        },
        Case {
            name: "outside the range",
            range: (0, 100),
            records: &[Split(0)],
            at: 150,
            expect: None,
        },
        Case {
            name: "after a refused claim",
            range: (0, 100),
            records: &[Split(50), Split(120)],
            at: 80,
            expect: None,
        },
        Case {
            name: "a range without end",
            range: (0, OFFSET_INFINITY),
            records: &[Split(0)],
            at: 10,
            expect: None,
        },
    ];
    for case in cases {
        let t = OffsetRangeTracker::new(case.range.0, case.range.1).unwrap();
        replay(&t, case.records).unwrap();
        assert_eq!(t.try_split(case.at), case.expect, "{}", case.name);
        let stop = case.expect.map_or(case.range.1, |(p, _)| p);
        assert_eq!(t.stop_position(), stop, "{}", case.name);
    }
}

#[test]
fn position_at_fraction_rounds_down_exactly() {
    let cases: &[(&str, (i64, i64), f64, i64)] = &[
        ("zero is the start", (10, 20), 0.0, 10),
        ("one is the stop", (10, 20), 1.0, 20),
        ("a decimal fraction is exact", (0, 70), 0.7, 49),
        ("floor, where Python's ceil gives 2", (0, 3), 0.5, 1),
        ("below one stays below the stop", (0, 1), 0.95, 0),
        ("tiny fractions round to the start", (0, 1_000), 1e-9, 0),
        ("the whole i64 domain", (i64::MIN, i64::MAX - 1), 0.5, -1),
        (
            "near the top",
            (i64::MAX - 10, i64::MAX - 1),
            0.5,
            i64::MAX - 6,
        ),
    ];
    for &(name, (start, stop), fraction, want) in cases {
        let t = OffsetRangeTracker::new(start, stop).unwrap();
        assert_eq!(t.position_at_fraction(fraction), Ok(want), "{name}");
    }
}

#[test]
fn position_at_fraction_refuses() {
    let t = OffsetRangeTracker::new(0, 10).unwrap();
    for fraction in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
        let err = t.position_at_fraction(fraction).unwrap_err();
        assert!(
            matches!(err, RangeError::InvalidFraction { .. }),
            "{fraction}"
        );
    }
    let unbounded = OffsetRangeTracker::new(0, OFFSET_INFINITY).unwrap();
    let err = unbounded.position_at_fraction(0.5).unwrap_err();
    assert_eq!(
        err.to_string(),
        "range [0, inf) has no end, so no position lies at a fraction of it: give the source a \
         stop position, or treat the range as unsplittable"
    );
}

#[test]
fn fraction_consumed() {
    use Rec::*;
    /// (name, range, records read, the fraction consumed)
    type Case = (&'static str, (i64, i64), &'static [Rec], f64);
    let cases: &[Case] = &[
        ("before any record", (0, 10), &[], 0.0),
        (
            "after the first record, at the start",
            (0, 10),
            &[Split(0)],
            0.0,
        ),
        ("in the middle", (0, 10), &[Split(0), Split(4)], 0.4),
        (
            "a record past the stop is clamped",
            (0, 10),
            &[Split(9), Other(15)],
            1.0,
        ),
        (
            "after a refused claim",
            (0, 10),
            &[Split(3), Split(10)],
            1.0,
        ),
        ("an empty range", (5, 5), &[], 0.0),
        ("no end", (0, OFFSET_INFINITY), &[Split(5)], 0.0),
    ];
    for &(name, (start, stop), records, want) in cases {
        let t = OffsetRangeTracker::new(start, stop).unwrap();
        replay(&t, records).unwrap();
        assert_eq!(t.fraction_consumed(), want, "{name}");
    }
}

#[test]
fn split_points_count_claims_and_ask_the_reader_for_the_rest() {
    let t = OffsetRangeTracker::new(0, 10).unwrap();
    assert_eq!(
        t.split_points(),
        SplitPoints {
            consumed: Some(0),
            remaining: None
        }
    );
    let next = Arc::new(AtomicI64::new(0));
    let reader_next = Arc::clone(&next);
    t.set_split_points_unclaimed_callback(Box::new(move |stop| {
        Some((stop - reader_next.load(Ordering::SeqCst)).max(0) as u64)
    }));
    for i in 0..4 {
        assert!(t.try_claim(i).unwrap());
        next.store(i + 1, Ordering::SeqCst);
    }
    // Claimed 0..=3 and reading 3: three consumed; 3 itself plus 4..10 remain.
    assert_eq!(
        t.split_points(),
        SplitPoints {
            consumed: Some(3),
            remaining: Some(7)
        }
    );
    assert_eq!(t.try_split(6), Some((6, 0.6)));
    assert_eq!(t.split_points().remaining, Some(3));
}

#[test]
fn an_inverted_range_is_refused() {
    let err = OffsetRangeTracker::new(5, 4).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid range [5, 4): the start is after the stop; pass start <= stop"
    );
}

#[test]
fn a_reader_and_a_splitter_on_two_threads_never_share_a_record() {
    for split_at in [1, 50, 500, 999] {
        let t = OffsetRangeTracker::new(0, 1_000).unwrap();
        let (claimed, split) = std::thread::scope(|s| {
            let reader = s.spawn(|| {
                let mut claimed = Vec::new();
                for i in 0..1_000 {
                    if !t.try_claim(i).unwrap() {
                        break;
                    }
                    claimed.push(i);
                }
                claimed
            });
            let split = t.try_split(split_at);
            (reader.join().unwrap(), split)
        });
        let stop = split.map_or(1_000, |(p, _)| p);
        assert_eq!(
            claimed,
            (0..stop).collect::<Vec<_>>(),
            "split at {split_at}"
        );
        assert_eq!(t.stop_position(), stop);
    }
}

#[test]
fn debug_shows_the_range_and_the_reader() {
    let t = OffsetRangeTracker::new(0, 10).unwrap();
    assert_eq!(format!("{t:?}"), "OffsetRangeTracker([0, 10))");
    t.try_claim(3).unwrap();
    t.try_claim(12).unwrap();
    assert_eq!(
        format!("{t:?}"),
        "OffsetRangeTracker([0, 10), last record at 3, done)"
    );
}
