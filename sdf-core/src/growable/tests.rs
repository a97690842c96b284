//! Beam Java's `GrowableOffsetRangeTrackerTest` cases (fact sheet B3), plus the cases where we
//! deliberately differ: the estimate keeps being used after a split, and unknown is not zero.

// Table rows are tuples, one per case: their types are long by design.
#![allow(clippy::type_complexity)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::*;

const MAX: i64 = i64::MAX;

/// An estimator the test can move; `i64::MIN` stands for "unknown".
fn estimate(value: i64) -> (Arc<AtomicI64>, impl Fn() -> Option<i64> + Send + 'static) {
    let cell = Arc::new(AtomicI64::new(value));
    let read = cell.clone();
    (cell, move || {
        Some(read.load(Ordering::Relaxed)).filter(|&v| v != i64::MIN)
    })
}

fn r(start: i64, end: i64) -> OffsetRange {
    OffsetRange::new(start, end)
}

struct Case {
    name: &'static str,
    estimate: i64,
    claims: &'static [i64],
    fraction: f64,
    expect: Option<((i64, i64), (i64, i64))>,
}

const CASES: &[Case] = &[
    Case {
        name: "checkpoint before start",
        estimate: 20,
        claims: &[],
        fraction: 0.0,
        expect: Some(((0, 0), (0, MAX))),
    },
    Case {
        name: "checkpoint just started, estimate 0",
        estimate: 0,
        claims: &[5],
        fraction: 0.0,
        expect: Some(((0, 6), (6, MAX))),
    },
    Case {
        name: "checkpoint just started, estimate 20",
        estimate: 20,
        claims: &[5],
        fraction: 0.0,
        expect: Some(((0, 6), (6, MAX))),
    },
    Case {
        name: "checkpoint with unknown estimate",
        estimate: i64::MIN,
        claims: &[5],
        fraction: 0.0,
        expect: Some(((0, 6), (6, MAX))),
    },
    Case {
        name: "split at half of the estimate",
        estimate: 16,
        claims: &[0],
        fraction: 0.5,
        expect: Some(((0, 8), (8, MAX))),
    },
    Case {
        name: "split with MAX estimate",
        estimate: MAX,
        claims: &[1],
        fraction: 0.5,
        expect: Some(((0, 4611686018427387904), (4611686018427387904, MAX))),
    },
    Case {
        name: "split with unknown estimate is a checkpoint",
        estimate: i64::MIN,
        claims: &[3],
        fraction: 0.5,
        expect: Some(((0, 4), (4, MAX))),
    },
    Case {
        name: "estimate behind the claims",
        estimate: 10,
        claims: &[15],
        fraction: 0.5,
        expect: Some(((0, 16), (16, MAX))),
    },
    Case {
        name: "fraction 1 never splits",
        estimate: 16,
        claims: &[0],
        fraction: 1.0,
        expect: None,
    },
];

#[test]
fn split_table() {
    for case in CASES {
        let (_, estimator) = estimate(case.estimate);
        let mut t = GrowableOffsetRangeTracker::new(0, estimator);
        for &c in case.claims {
            assert!(t.try_claim(c).unwrap(), "case: {}", case.name);
        }
        let got = t.try_split(case.fraction).unwrap();
        let want = case.expect.map(|(p, q)| SplitResult {
            primary: r(p.0, p.1),
            residual: r(q.0, q.1),
        });
        assert_eq!(got, want, "case: {}", case.name);
    }
}

#[test]
fn later_splits_follow_the_current_estimate() {
    // (estimate after the first split, expected second split at 0.5)
    let cases = [
        // Beam's row: the range is now [0, 8); with the estimate at 12 the end 8 still rules.
        (12, ((0, 4), (4, 8))),
        // Ours: with the estimate at 6 (less data than the range claims), split what exists.
        (6, ((0, 3), (3, 8))),
    ];
    for (later, ((p0, p1), (q0, q1))) in cases {
        let (cell, estimator) = estimate(16);
        let mut t = GrowableOffsetRangeTracker::new(0, estimator);
        assert!(t.try_claim(0).unwrap());
        let first = t.try_split(0.5).unwrap().unwrap();
        assert_eq!(first.primary, r(0, 8));
        cell.store(later, Ordering::Relaxed);
        let s = t.try_split(0.5).unwrap().unwrap();
        assert_eq!(
            (s.primary, s.residual),
            (r(p0, p1), r(q0, q1)),
            "estimate {later}"
        );
    }
}

#[test]
fn checkpoint_after_all_processed() {
    let (_, estimator) = estimate(10);
    let mut t = GrowableOffsetRangeTracker::new(0, estimator);
    assert!(t.try_claim(9).unwrap());
    assert!(!t.try_claim(MAX).unwrap());
    assert_eq!(t.try_split(0.0).unwrap(), None);
    t.check_done().unwrap();
    assert!(t.is_bounded());
}

#[test]
fn empty_range_never_splits() {
    let (_, estimator) = estimate(10);
    let mut t = GrowableOffsetRangeTracker::with_range(r(5, 5), estimator);
    for f in [0.0, 0.1, 1.0] {
        assert_eq!(t.try_split(f).unwrap(), None, "{f}");
    }
}

#[test]
fn progress_cases() {
    // (name, estimate, claims, claim MAX?, expected (completed, remaining))
    let cases: &[(&str, i64, &[i64], bool, (f64, f64))] = &[
        ("before start", 10, &[], false, (0.0, 10.0)),
        (
            "before start, unknown estimate",
            i64::MIN,
            &[],
            false,
            (0.0, 1.0),
        ),
        ("during", 10, &[4], false, (5.0, 5.0)),
        (
            "caught up reports zero backlog",
            10,
            &[9],
            false,
            (10.0, 0.0),
        ),
        ("estimate behind the claims", 10, &[15], false, (16.0, 0.0)),
        (
            "unknown estimate is not zero",
            i64::MIN,
            &[4],
            false,
            (5.0, 1.0),
        ),
        ("finished", 10, &[9], true, (MAX as f64, 0.0)),
    ];
    for (name, est, claims, finish, want) in cases {
        let (_, estimator) = estimate(*est);
        let mut t = GrowableOffsetRangeTracker::new(0, estimator);
        for &c in *claims {
            assert!(t.try_claim(c).unwrap(), "{name}");
        }
        if *finish {
            assert!(!t.try_claim(MAX).unwrap());
        }
        assert_eq!(t.progress(), Progress::new(want.0, want.1), "case: {name}");
    }
}

#[test]
fn boundedness_only_settles() {
    let (_, estimator) = estimate(100);
    let mut t = GrowableOffsetRangeTracker::new(0, estimator);
    assert!(!t.is_bounded());
    assert!(t.try_claim(0).unwrap());
    assert!(!t.is_bounded());
    t.try_split(0.0).unwrap().unwrap();
    assert!(t.is_bounded(), "a checkpoint's primary is finite");

    let (_, estimator) = estimate(100);
    let mut t = GrowableOffsetRangeTracker::new(0, estimator);
    assert!(!t.try_claim(MAX).unwrap());
    assert!(t.is_bounded(), "claiming MAX marks the true end");
}

#[test]
fn large_start_near_the_limits() {
    let (_, estimator) = estimate(MAX);
    let mut t = GrowableOffsetRangeTracker::new(i64::MIN, estimator);
    assert!(t.try_claim(i64::MIN).unwrap());
    let s = t.try_split(0.5).unwrap().unwrap();
    assert_eq!(s.primary, r(i64::MIN, -1));
    assert_eq!(s.residual, r(-1, MAX));
}

#[test]
fn invalid_fraction_is_an_error() {
    let (_, estimator) = estimate(10);
    let mut t = GrowableOffsetRangeTracker::new(0, estimator);
    assert!(matches!(
        t.try_split(-1.0),
        Err(TrackerError::InvalidFraction { .. })
    ));
    assert!(matches!(
        t.try_split(f64::NAN),
        Err(TrackerError::InvalidFraction { .. })
    ));
}
