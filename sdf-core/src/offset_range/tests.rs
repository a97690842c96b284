//! The edge cases of Beam Java's `OffsetRangeTrackerTest` (fact sheet section B2), one row each.

// Table rows are tuples, one per case: their types are long by design.
#![allow(clippy::type_complexity)]

use super::*;

fn r(start: i64, end: i64) -> OffsetRange {
    OffsetRange::new(start, end)
}

fn tracker(start: i64, end: i64, claims: &[i64]) -> OffsetRangeTracker {
    let mut t = OffsetRangeTracker::new(r(start, end));
    for &c in claims {
        assert!(t.try_claim(c).unwrap(), "claim {c} in [{start}, {end})");
    }
    t
}

struct SplitCase {
    name: &'static str,
    range: (i64, i64),
    claims: &'static [i64],
    fraction: f64,
    expect: Option<((i64, i64), (i64, i64))>,
}

const SPLIT_CASES: &[SplitCase] = &[
    SplitCase {
        name: "checkpoint unstarted",
        range: (100, 200),
        claims: &[],
        fraction: 0.0,
        expect: Some(((100, 100), (100, 200))),
    },
    SplitCase {
        name: "checkpoint just started",
        range: (100, 200),
        claims: &[100],
        fraction: 0.0,
        expect: Some(((100, 101), (101, 200))),
    },
    SplitCase {
        name: "checkpoint regular",
        range: (100, 200),
        claims: &[105, 110],
        fraction: 0.0,
        expect: Some(((100, 111), (111, 200))),
    },
    SplitCase {
        name: "checkpoint after claiming the last offset",
        range: (100, 200),
        claims: &[199],
        fraction: 0.0,
        expect: None,
    },
    SplitCase {
        name: "split 0.509 truncates the step",
        range: (100, 200),
        claims: &[100],
        fraction: 0.509,
        expect: Some(((100, 150), (150, 200))),
    },
    SplitCase {
        name: "javadoc example 0.7 of the remainder",
        range: (100, 200),
        claims: &[130],
        fraction: 0.7,
        expect: Some(((100, 179), (179, 200))),
    },
    SplitCase {
        name: "fraction 1 never splits",
        range: (100, 200),
        claims: &[100],
        fraction: 1.0,
        expect: None,
    },
    SplitCase {
        name: "empty range, fraction 0",
        range: (100, 100),
        claims: &[],
        fraction: 0.0,
        expect: None,
    },
    SplitCase {
        name: "empty range, fraction 0.1",
        range: (100, 100),
        claims: &[],
        fraction: 0.1,
        expect: None,
    },
    SplitCase {
        name: "empty range, fraction 1",
        range: (100, 100),
        claims: &[],
        fraction: 1.0,
        expect: None,
    },
    SplitCase {
        name: "whole i64 range unstarted",
        range: (i64::MIN, i64::MAX),
        claims: &[],
        fraction: 0.0,
        expect: Some(((i64::MIN, i64::MIN), (i64::MIN, i64::MAX))),
    },
    SplitCase {
        name: "whole i64 range halved",
        range: (i64::MIN, i64::MAX),
        claims: &[i64::MIN],
        fraction: 0.5,
        expect: Some(((i64::MIN, -1), (-1, i64::MAX))),
    },
    SplitCase {
        name: "small range with large values",
        range: (9223372036854775677, 9223372036854775679),
        claims: &[9223372036854775677],
        fraction: 0.5,
        expect: Some((
            (9223372036854775677, 9223372036854775678),
            (9223372036854775678, 9223372036854775679),
        )),
    },
    SplitCase {
        name: "minimum step is one offset",
        range: (0, 1000),
        claims: &[10],
        fraction: 0.0001,
        expect: Some(((0, 11), (11, 1000))),
    },
    SplitCase {
        name: "unstarted split counts from start - 1",
        range: (0, 10),
        claims: &[],
        fraction: 0.5,
        expect: Some(((0, 4), (4, 10))),
    },
];

#[test]
fn split_table() {
    for case in SPLIT_CASES {
        let mut t = tracker(case.range.0, case.range.1, case.claims);
        let before = t.current_restriction();
        let got = t.try_split(case.fraction).unwrap();
        let want = case.expect.map(|(p, q)| SplitResult {
            primary: r(p.0, p.1),
            residual: r(q.0, q.1),
        });
        assert_eq!(got, want, "case: {}", case.name);
        let after = t.current_restriction();
        match want {
            Some(s) => assert_eq!(after, s.primary, "case: {}", case.name),
            None => assert_eq!(after, before, "case: {}", case.name),
        }
    }
}

#[test]
fn checkpoint_unstarted_leaves_a_done_tracker() {
    let mut t = tracker(100, 200, &[]);
    t.try_split(0.0).unwrap().unwrap();
    t.check_done().unwrap();
    assert!(!t.try_claim(100).unwrap());
}

#[test]
fn checkpoint_after_failed_claim_is_none_and_done() {
    let mut t = tracker(100, 200, &[160]);
    assert!(!t.try_claim(240).unwrap());
    assert_eq!(t.try_split(0.0).unwrap(), None);
    t.check_done().unwrap();
}

#[test]
fn split_after_checkpoint_is_none() {
    let mut t = tracker(100, 200, &[105]);
    t.try_split(0.0).unwrap().unwrap();
    assert_eq!(
        t.try_split(0.1).unwrap(),
        None,
        "cur = 105, split = 106 >= end"
    );
}

#[test]
fn split_then_fraction_one_is_none() {
    let mut t = tracker(100, 200, &[100]);
    t.try_split(0.509).unwrap().unwrap();
    assert_eq!(t.try_split(1.0).unwrap(), None);
}

#[test]
fn claims_must_increase() {
    let mut t = tracker(100, 200, &[105]);
    assert!(matches!(
        t.try_claim(103),
        Err(TrackerError::ClaimNotIncreasing { .. })
    ));
    assert!(matches!(
        t.try_claim(105),
        Err(TrackerError::ClaimNotIncreasing { .. })
    ));
    assert!(t.try_claim(106).unwrap());
}

#[test]
fn claim_before_start_is_an_error() {
    let mut t = tracker(100, 200, &[]);
    let err = t.try_claim(90).unwrap_err();
    assert!(matches!(err, TrackerError::ClaimBeforeStart { .. }));
    assert!(err.to_string().contains("[100, 200)"), "{err}");
}

#[test]
fn claim_after_a_false_claim_is_an_error() {
    let mut t = tracker(100, 200, &[]);
    assert!(!t.try_claim(200).unwrap());
    assert!(matches!(
        t.try_claim(201),
        Err(TrackerError::ClaimAfterStop { .. })
    ));
}

#[test]
fn check_done_cases() {
    // (name, range, claims, claim past the end, done?)
    let cases: &[(&str, (i64, i64), &[i64], Option<i64>, bool)] = &[
        (
            "done before any claim of an empty range",
            (100, 100),
            &[],
            None,
            true,
        ),
        ("not done before claims", (100, 200), &[], None, false),
        ("claim past the end", (100, 200), &[150], Some(250), true),
        ("claim at the end", (100, 200), &[150], Some(200), true),
        ("claim right before the end", (100, 200), &[199], None, true),
        ("not done in the middle", (100, 200), &[150], None, false),
    ];
    for (name, range, claims, past, done) in cases {
        let mut t = tracker(range.0, range.1, claims);
        if let Some(p) = past {
            assert!(!t.try_claim(*p).unwrap(), "{name}");
        }
        assert_eq!(t.check_done().is_ok(), *done, "case: {name}");
    }
}

#[test]
fn check_done_names_the_unclaimed_work() {
    let t = tracker(100, 200, &[150]);
    let msg = t.check_done().unwrap_err().to_string();
    assert!(
        msg.contains("[151, 200)") && msg.contains("[100, 200)"),
        "{msg}"
    );
}

#[test]
fn invalid_fractions_are_errors_and_change_nothing() {
    for f in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
        let mut t = tracker(0, 10, &[3]);
        assert!(
            matches!(t.try_split(f), Err(TrackerError::InvalidFraction { .. })),
            "{f}"
        );
        assert_eq!(t.current_restriction(), r(0, 10));
    }
}

#[test]
fn progress_cases() {
    let cases: &[(&str, (i64, i64), &[i64], (f64, f64))] = &[
        ("unstarted", (100, 200), &[], (0.0, 100.0)),
        ("partially completed", (100, 200), &[100, 149], (50.0, 50.0)),
        ("finished", (100, 200), &[199], (100.0, 0.0)),
        (
            "whole i64 range unstarted",
            (i64::MIN, i64::MAX),
            &[],
            (0.0, 18446744073709551615.0),
        ),
    ];
    for (name, range, claims, (done, left)) in cases {
        let t = tracker(range.0, range.1, claims);
        assert_eq!(t.progress(), Progress::new(*done, *left), "case: {name}");
    }
    let mut t = tracker(100, 200, &[150]);
    assert!(!t.try_claim(300).unwrap());
    assert_eq!(
        t.progress(),
        Progress::new(100.0, 0.0),
        "after a claim past the end"
    );
}

#[test]
fn invalid_ranges_are_rejected_on_deserialize() {
    let err = serde_json::from_str::<OffsetRange>(r#"{"start":5,"end":1}"#).unwrap_err();
    assert!(err.to_string().contains("start is after end"), "{err}");
    let ok: OffsetRange = serde_json::from_str(r#"{"start":1,"end":5}"#).unwrap();
    assert_eq!(ok, r(1, 5));
}

#[test]
fn split_into_chunks() {
    let cases: &[(&str, (i64, i64), u64, u64, &[(i64, i64)])] = &[
        (
            "tail merged",
            (10, 90),
            25,
            1,
            &[(10, 35), (35, 60), (60, 90)],
        ),
        (
            "exact",
            (0, 100),
            25,
            1,
            &[(0, 25), (25, 50), (50, 75), (75, 100)],
        ),
        (
            "tail kept when large enough",
            (0, 110),
            25,
            1,
            &[(0, 25), (25, 50), (50, 75), (75, 100), (100, 110)],
        ),
        (
            "min size merges",
            (0, 110),
            25,
            20,
            &[(0, 25), (25, 50), (50, 75), (75, 110)],
        ),
        ("empty", (5, 5), 25, 1, &[]),
        (
            "near the limits",
            (i64::MAX - 10, i64::MAX),
            4,
            1,
            &[
                (i64::MAX - 10, i64::MAX - 6),
                (i64::MAX - 6, i64::MAX - 2),
                (i64::MAX - 2, i64::MAX),
            ],
        ),
    ];
    for (name, range, desired, min, want) in cases {
        let got = r(range.0, range.1).split(*desired, *min);
        let want: Vec<_> = want.iter().map(|&(a, b)| r(a, b)).collect();
        assert_eq!(got, want, "case: {name}");
    }
}
