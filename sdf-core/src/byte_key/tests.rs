//! The edge cases of Beam Java's `ByteKeyRangeTrackerTest` (fact sheet section B4), one row
//! each, plus the cases of exact interpolation and a property test of the tracker laws.

use proptest::prelude::*;

use super::*;

fn k(bytes: &[u8]) -> ByteKey {
    ByteKey::from(bytes)
}

/// `[start, end)`; an empty `end` is unbounded.
fn r(start: &[u8], end: &[u8]) -> ByteKeyRange {
    ByteKeyRange::new(start, end)
}

fn tracker(range: ByteKeyRange, claims: &[&[u8]]) -> ByteKeyRangeTracker {
    let mut t = ByteKeyRangeTracker::new(range);
    for &c in claims {
        assert!(
            t.try_claim(k(c)).unwrap(),
            "claim {:?} in {:?}",
            k(c),
            t.range
        );
    }
    t
}

type Bounds = (&'static [u8], &'static [u8]);

struct SplitCase {
    name: &'static str,
    range: Bounds,
    claims: &'static [&'static [u8]],
    fraction: f64,
    expect: Option<(Bounds, Bounds)>,
}

const FF10_05: &[u8] = b"\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x05";
const FF10_8280: &[u8] = b"\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x82\x80";

const SPLIT_CASES: &[SplitCase] = &[
    SplitCase {
        name: "checkpoint unstarted",
        range: (b"\x00", b"\x10"),
        claims: &[],
        fraction: 0.0,
        expect: Some(((b"\x00", b"\x00"), (b"\x00", b"\x10"))),
    },
    SplitCase {
        name: "checkpoint unstarted, empty start: the primary is NO_KEYS",
        range: (b"", b"\x10"),
        claims: &[],
        fraction: 0.0,
        expect: Some(((b"", b"\x00"), (b"", b"\x10"))),
    },
    SplitCase {
        name: "checkpoint unstarted, every key",
        range: (b"", b""),
        claims: &[],
        fraction: 0.0,
        expect: Some(((b"", b"\x00"), (b"", b""))),
    },
    SplitCase {
        name: "checkpoint just started",
        range: (b"\x00", b"\x10"),
        claims: &[b"\x00"],
        fraction: 0.0,
        expect: Some(((b"\x00", b"\x00\x00"), (b"\x00\x00", b"\x10"))),
    },
    SplitCase {
        name: "checkpoint after claims",
        range: (b"\x00", b"\x10"),
        claims: &[b"\x02", b"\x05"],
        fraction: 0.0,
        expect: Some(((b"\x00", b"\x05\x00"), (b"\x05\x00", b"\x10"))),
    },
    SplitCase {
        name: "checkpoint after claims, unbounded",
        range: (b"a", b""),
        claims: &[b"b"],
        fraction: 0.0,
        expect: Some(((b"a", b"b\x00"), (b"b\x00", b""))),
    },
    SplitCase {
        name: "checkpoint after the last key",
        range: (b"a", b"a\x00"),
        claims: &[b"a"],
        fraction: 0.0,
        expect: None,
    },
    SplitCase {
        name: "checkpoint after the last key, trailing zeros",
        range: (b"a", b"a\x00\x00"),
        claims: &[b"a\x00"],
        fraction: 0.0,
        expect: None,
    },
    SplitCase {
        name: "checkpoint before a trailing-zero key",
        range: (b"a", b"a\x00\x00"),
        claims: &[b"a"],
        fraction: 0.0,
        expect: Some(((b"a", b"a\x00"), (b"a\x00", b"a\x00\x00"))),
    },
    SplitCase {
        name: "half after a claim: 0.02 + (0.10 - 0.02) / 2 = 0.09",
        range: (b"\x00", b"\x10"),
        claims: &[b"\x02"],
        fraction: 0.5,
        expect: Some(((b"\x00", b"\x09"), (b"\x09", b"\x10"))),
    },
    SplitCase {
        name: "half unstarted counts from the start",
        range: (b"\x00", b"\x10"),
        claims: &[],
        fraction: 0.5,
        expect: Some(((b"\x00", b"\x08"), (b"\x08", b"\x10"))),
    },
    SplitCase {
        name: "a quarter of every key",
        range: (b"", b""),
        claims: &[],
        fraction: 0.25,
        expect: Some(((b"", b"\x40"), (b"\x40", b""))),
    },
    SplitCase {
        name: "half of the rest of every key",
        range: (b"", b""),
        claims: &[b"\x80"],
        fraction: 0.5,
        expect: Some(((b"", b"\xc0"), (b"\xc0", b""))),
    },
    SplitCase {
        name: "unbounded after 0xff: the end is 1.0",
        range: (b"\xff", b""),
        claims: &[],
        fraction: 0.75,
        expect: Some(((b"\xff", b"\xff\xc0"), (b"\xff\xc0", b""))),
    },
    SplitCase {
        name: "long common prefix unstarted",
        range: (b"user/000000123", b"user/000000124"),
        claims: &[],
        fraction: 0.5,
        expect: Some((
            (b"user/000000123", b"user/000000123\x80"),
            (b"user/000000123\x80", b"user/000000124"),
        )),
    },
    SplitCase {
        name: "long common prefix after claiming the start",
        range: (b"user/000000123", b"user/000000124"),
        claims: &[b"user/000000123"],
        fraction: 0.5,
        expect: Some((
            (b"user/000000123", b"user/000000123\x80"),
            (b"user/000000123\x80", b"user/000000124"),
        )),
    },
    SplitCase {
        name: "0.7 is read as seven tenths: floor(2^64 * 0.7) = 0xb333333333333333",
        range: (b"a", b"b"),
        claims: &[],
        fraction: 0.7,
        expect: Some((
            (b"a", b"a\xb3\x33\x33\x33\x33\x33\x33\x33"),
            (b"a\xb3\x33\x33\x33\x33\x33\x33\x33", b"b"),
        )),
    },
    SplitCase {
        name: "end with a trailing zero splits like its value",
        range: (b"a", b"b\x00"),
        claims: &[],
        fraction: 0.5,
        expect: Some(((b"a", b"a\x80"), (b"a\x80", b"b\x00"))),
    },
    SplitCase {
        name: "run of 0xff below the end: exact at any length",
        range: (FF10_05, b"\x01"),
        claims: &[],
        fraction: 0.5,
        expect: Some(((FF10_05, FF10_8280), (FF10_8280, b"\x01"))),
    },
    SplitCase {
        name: "tiny fraction keeps only what was attempted",
        range: (b"\x00", b"\x10"),
        claims: &[b"\x02"],
        fraction: 1e-30,
        expect: Some(((b"\x00", b"\x02\x00"), (b"\x02\x00", b"\x10"))),
    },
    SplitCase {
        name: "tiny fraction unstarted, empty start",
        range: (b"", b"\x10"),
        claims: &[],
        fraction: 1e-30,
        expect: Some(((b"", b"\x00"), (b"", b"\x10"))),
    },
    SplitCase {
        name: "bounds equal as numbers: only a checkpoint",
        range: (b"a", b"a\x00\x00\x00"),
        claims: &[],
        fraction: 0.5,
        expect: Some(((b"a", b"a"), (b"a", b"a\x00\x00\x00"))),
    },
    SplitCase {
        name: "bounds equal as numbers, after a claim",
        range: (b"a", b"a\x00\x00\x00"),
        claims: &[b"a"],
        fraction: 0.5,
        expect: Some(((b"a", b"a\x00"), (b"a\x00", b"a\x00\x00\x00"))),
    },
    SplitCase {
        name: "fraction 1 never splits",
        range: (b"\x00", b"\x10"),
        claims: &[b"\x02"],
        fraction: 1.0,
        expect: None,
    },
    SplitCase {
        name: "fraction 1 never splits, unstarted every key",
        range: (b"", b""),
        claims: &[],
        fraction: 1.0,
        expect: None,
    },
    SplitCase {
        name: "fraction just below 1 stays below the end",
        range: (b"a", b"b"),
        claims: &[],
        fraction: 0.9999999999999999,
        expect: Some((
            (b"a", b"a\xff\xff\xff\xff\xff\xff\xf8\xcb"),
            (b"a\xff\xff\xff\xff\xff\xff\xf8\xcb", b"b"),
        )),
    },
    SplitCase {
        name: "empty range, fraction 0",
        range: (b"a", b"a"),
        claims: &[],
        fraction: 0.0,
        expect: None,
    },
    SplitCase {
        name: "NO_KEYS, fraction 0.5",
        range: (b"", b"\x00"),
        claims: &[],
        fraction: 0.5,
        expect: None,
    },
];

#[test]
fn split_table() {
    for case in SPLIT_CASES {
        let mut t = tracker(r(case.range.0, case.range.1), case.claims);
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
    for range in [r(b"a", b"z"), r(b"", b"z"), ByteKeyRange::all()] {
        let mut t = tracker(range.clone(), &[]);
        t.try_split(0.0).unwrap().unwrap();
        t.check_done().unwrap();
        assert!(!t.try_claim(k(b"a")).unwrap(), "{range:?}");
    }
}

#[test]
fn splits_after_a_false_claim_are_none() {
    // (name, claim that returns false)
    let cases: &[(&str, &[u8])] = &[("end of range", b""), ("past the end", b"zz")];
    for (name, stop) in cases {
        for f in [0.0, 0.5] {
            let mut t = tracker(r(b"a", b"z"), &[b"c"]);
            assert!(!t.try_claim(k(stop)).unwrap(), "{name}");
            assert_eq!(t.try_split(f).unwrap(), None, "{name}, fraction {f}");
            t.check_done().unwrap();
        }
    }
}

#[test]
fn split_after_checkpoint_is_none() {
    let mut t = tracker(r(b"\x00", b"\x10"), &[b"\x05"]);
    t.try_split(0.0).unwrap().unwrap();
    assert_eq!(t.try_split(0.1).unwrap(), None, "next(05) = end");
}

#[test]
fn split_then_fraction_one_is_none() {
    let mut t = tracker(ByteKeyRange::all(), &[b"\x01"]);
    t.try_split(0.5).unwrap().unwrap();
    assert_eq!(t.try_split(1.0).unwrap(), None);
}

#[test]
fn interpolated_split_matches_progress() {
    // The key a split at f puts first in the residual sits at fraction f of the range.
    let cases: &[(&str, Bounds, f64)] = &[
        ("every key, 0.3", (b"", b""), 0.3),
        ("bounded, 0.7", (b"\x00", b"\x10"), 0.7),
        ("long prefix, 0.25", (b"user/1", b"user/2"), 0.25),
        ("unbounded after ff, 0.9", (b"\xff\xff", b""), 0.9),
    ];
    for (name, (start, end), f) in cases {
        let mut t = tracker(r(start, end), &[]);
        let split = t.try_split(*f).unwrap().unwrap().residual.start;
        let t = tracker(r(start, end), &[split.as_bytes()]);
        let p = t.progress();
        assert!((p.completed - f).abs() < 1e-12, "case: {name}: {p:?}");
    }
}

#[test]
fn claims_must_increase() {
    let mut t = tracker(r(b"a", b"z"), &[b"c"]);
    for bad in [&b"b"[..], b"c", b"\x00"] {
        let err = t.try_claim(k(bad)).unwrap_err();
        assert!(
            matches!(err, TrackerError::ClaimNotIncreasing { .. }),
            "{bad:?}: {err}"
        );
    }
    assert!(t.try_claim(k(b"c\x00")).unwrap(), "c < c\\0");
}

#[test]
fn trailing_zero_keys_are_distinct() {
    let mut t = tracker(r(b"a", b"b"), &[b"a\x00"]);
    let err = t.try_claim(k(b"a")).unwrap_err();
    assert_eq!(
        err,
        TrackerError::ClaimNotIncreasing {
            position: "61".into(),
            last_attempted: "6100".into(),
        }
    );
    assert!(t.try_claim(k(b"a\x00\x00")).unwrap());
}

#[test]
fn claim_before_start_is_an_error() {
    let mut t = tracker(r(b"b", b"z"), &[]);
    let err = t.try_claim(k(b"a")).unwrap_err();
    assert!(matches!(err, TrackerError::ClaimBeforeStart { .. }));
    assert!(err.to_string().contains("[62, 7a)"), "{err}");
}

#[test]
fn claims_at_or_past_the_end_return_false() {
    // (name, range, claim)
    let cases: &[(&str, Bounds, &[u8])] = &[
        ("at the end", (b"a", b"b"), b"b"),
        ("past the end", (b"a", b"b"), b"b\x00"),
        ("empty range", (b"a", b"a"), b"a"),
        ("NO_KEYS", (b"", b"\x00"), b"\x00"),
        ("end of range, unbounded", (b"a", b""), b""),
    ];
    for (name, (start, end), key) in cases {
        let mut t = tracker(r(start, end), &[]);
        assert!(!t.try_claim(k(key)).unwrap(), "case: {name}");
        assert_eq!(t.last_attempted(), Some(&k(key)), "case: {name}");
    }
    let mut t = tracker(r(b"a", b""), &[]);
    assert!(t.try_claim(k(b"\xff\xff\xff")).unwrap(), "unbounded");
}

#[test]
fn claim_after_a_false_claim_is_an_error() {
    // (name, the false claim, the next claim)
    let cases: &[(&str, &[u8], &[u8])] = &[
        ("after the end", b"z", b"zz"),
        ("after end of range", b"", b"zz"),
        ("end of range twice", b"", b""),
        ("end of range after the end", b"z", b""),
    ];
    for (name, stop, next) in cases {
        let mut t = tracker(r(b"a", b"z"), &[b"b"]);
        assert!(!t.try_claim(k(stop)).unwrap(), "{name}");
        assert!(
            matches!(
                t.try_claim(k(next)),
                Err(TrackerError::ClaimAfterStop { .. })
            ),
            "case: {name}"
        );
    }
}

/// A tracker's history: its range, its successful claims, and maybe a claim that returns false.
struct Run {
    range: Bounds,
    claims: &'static [&'static [u8]],
    stop: Option<&'static [u8]>,
}

const fn run(range: Bounds, claims: &'static [&'static [u8]], stop: Option<&'static [u8]>) -> Run {
    Run {
        range,
        claims,
        stop,
    }
}

impl Run {
    fn tracker(&self) -> ByteKeyRangeTracker {
        let mut t = tracker(r(self.range.0, self.range.1), self.claims);
        if let Some(s) = self.stop {
            assert!(
                !t.try_claim(k(s)).unwrap(),
                "claim {:?} in {:?}",
                k(s),
                t.range
            );
        }
        t
    }
}

#[test]
fn check_done_cases() {
    // (name, history, unclaimed part or None when done)
    let cases: &[(&str, Run, Option<&str>)] = &[
        ("empty range", run((b"a", b"a"), &[], None), None),
        ("NO_KEYS", run((b"", b"\x00"), &[], None), None),
        (
            "not done before claims",
            run((b"\x00", b"\x10"), &[], None),
            Some("[00, 10)"),
        ),
        (
            "not done in the middle",
            run((b"\x00", b"\x10"), &[b"\x05"], None),
            Some("[0500, 10)"),
        ),
        (
            "not done, unbounded",
            run((b"a", b""), &[b"\xff"], None),
            Some("[ff00, +inf)"),
        ),
        (
            "claimed the last key",
            run((b"a", b"a\x00"), &[b"a"], None),
            None,
        ),
        (
            "claim past the end",
            run((b"\x00", b"\x10"), &[b"\x05"], Some(b"\x20")),
            None,
        ),
        (
            "claim of the end key",
            run((b"\x00", b"\x10"), &[b"\x05"], Some(b"\x10")),
            None,
        ),
        ("end of range", run((b"a", b""), &[b"b"], Some(b"")), None),
        (
            "end of range before any claim",
            run((b"a", b"b"), &[], Some(b"")),
            None,
        ),
    ];
    for (name, history, unclaimed) in cases {
        let t = history.tracker();
        match (t.check_done(), unclaimed) {
            (Ok(()), None) => {}
            (
                Err(TrackerError::NotDone {
                    restriction,
                    unclaimed: got,
                }),
                Some(want),
            ) => {
                assert_eq!(got, *want, "case: {name}");
                let range = r(history.range.0, history.range.1);
                assert_eq!(restriction, format!("{range:?}"), "case: {name}");
            }
            (got, want) => panic!("case: {name}: got {got:?}, want unclaimed {want:?}"),
        }
    }
}

#[test]
fn invalid_fractions_are_errors_and_change_nothing() {
    for f in [
        -0.1,
        1.5,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0 - 1e-300,
    ] {
        let mut t = tracker(r(b"\x00", b"\x10"), &[b"\x03"]);
        assert!(
            matches!(t.try_split(f), Err(TrackerError::InvalidFraction { .. })),
            "{f}"
        );
        assert_eq!(t.current_restriction(), r(b"\x00", b"\x10"));
        assert!(t.try_claim(k(b"\x04")).unwrap(), "still claiming after {f}");
    }
}

#[test]
fn progress_cases() {
    // (name, history, (completed, remaining))
    let cases: &[(&str, Run, (f64, f64))] = &[
        ("empty range", run((b"a", b"a"), &[], None), (0.0, 0.0)),
        ("NO_KEYS", run((b"", b"\x00"), &[], None), (0.0, 0.0)),
        ("unstarted", run((b"\x00", b"\x10"), &[], None), (0.0, 1.0)),
        (
            "halfway",
            run((b"\x00", b"\x10"), &[b"\x02", b"\x08"], None),
            (0.5, 0.5),
        ),
        (
            "a quarter of every key",
            run((b"", b""), &[b"\x40"], None),
            (0.25, 0.75),
        ),
        (
            "claimed the start",
            run((b"\x00", b"\x10"), &[b"\x00"], None),
            (0.0, 1.0),
        ),
        (
            "claimed the last key",
            run((b"a", b"a\x00"), &[b"a"], None),
            (1.0, 0.0),
        ),
        (
            "claim past the end",
            run((b"\x00", b"\x10"), &[b"\x08"], Some(b"\x11")),
            (1.0, 0.0),
        ),
        (
            "end of range",
            run((b"", b""), &[b"\x08"], Some(b"")),
            (1.0, 0.0),
        ),
        (
            "bounds equal as numbers: no progress until done",
            run((b"a", b"a\x00\x00\x00"), &[b"a\x00"], None),
            (0.0, 1.0),
        ),
    ];
    for (name, history, (done, left)) in cases {
        let t = history.tracker();
        assert_eq!(t.progress(), Progress::new(*done, *left), "case: {name}");
    }
}

#[test]
fn progress_is_monotonic_while_claiming() {
    let keys: &[&[u8]] = &[
        b"a",
        b"a\x00",
        b"a\x00\x00",
        b"a\x01",
        b"a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        b"b",
        b"user/000000123",
        b"user/000000124",
        b"\xfe",
        b"\xff",
        b"\xff\xff\xff",
    ];
    for range in [ByteKeyRange::all(), r(b"a", b"\xff\xff\xff\x00")] {
        let mut t = ByteKeyRangeTracker::new(range.clone());
        let mut last = t.progress();
        for &key in keys {
            assert!(t.try_claim(k(key)).unwrap(), "{range:?} {:?}", k(key));
            let p = t.progress();
            assert!(
                p.completed >= last.completed && p.remaining <= last.remaining,
                "{range:?} at {:?}: {last:?} -> {p:?}",
                k(key)
            );
            last = p;
        }
        assert!(!t.try_claim(ByteKey::empty()).unwrap());
        assert_eq!(t.progress(), Progress::new(1.0, 0.0));
    }
}

#[test]
fn byte_key_order_and_next() {
    let sorted: &[&[u8]] = &[
        b"",
        b"\x00",
        b"\x00\x00",
        b"\x01",
        b"a",
        b"a\x00",
        b"a\xff",
        b"b",
        b"\xff",
    ];
    for pair in sorted.windows(2) {
        assert!(
            k(pair[0]) < k(pair[1]),
            "{:?} < {:?}",
            k(pair[0]),
            k(pair[1])
        );
    }
    for &key in sorted {
        let n = k(key).next();
        assert!(k(key) < n, "{:?}", k(key));
        assert!(
            sorted
                .iter()
                .all(|&other| k(other) <= k(key) || k(other) >= n)
        );
    }
    assert_eq!(ByteKey::empty().next(), k(b"\x00"));
    assert_eq!(ByteKey::default(), ByteKey::empty());
    assert_eq!(ByteKey::from(vec![1u8, 2]).as_bytes(), &[1, 2]);
}

#[test]
fn debug_formats() {
    let cases: &[(&str, String, &str)] = &[
        ("key", format!("{:?}", k(b"ab")), "6162"),
        ("key with zeros", format!("{:?}", k(b"\x00a\x00")), "006100"),
        ("empty key", format!("{:?}", ByteKey::empty()), "EMPTY"),
        ("range", format!("{:?}", r(b"a", b"b")), "[61, 62)"),
        ("unbounded", format!("{:?}", r(b"a", b"")), "[61, +inf)"),
        (
            "every key",
            format!("{:?}", ByteKeyRange::all()),
            "[EMPTY, +inf)",
        ),
        ("NO_KEYS", format!("{:?}", r(b"", b"\x00")), "[EMPTY, 00)"),
    ];
    for (name, got, want) in cases {
        assert_eq!(got, want, "case: {name}");
    }
}

#[test]
fn range_contains_and_is_empty() {
    // (name, range, key, contained)
    let cases: &[(&str, Bounds, &[u8], bool)] = &[
        ("start", (b"a", b"b"), b"a", true),
        ("end", (b"a", b"b"), b"b", false),
        ("successor of start", (b"a", b"b"), b"a\x00", true),
        ("below start", (b"a", b"b"), b"\x60\xff", false),
        ("unbounded", (b"a", b""), b"\xff\xff", true),
        ("every key", (b"", b""), b"\x00", true),
        ("empty key is in no range", (b"", b""), b"", false),
        ("NO_KEYS", (b"", b"\x00"), b"\x00", false),
    ];
    for (name, (start, end), key, want) in cases {
        assert_eq!(r(start, end).contains(&k(key)), *want, "case: {name}");
    }
    let empties: &[(&str, Bounds, bool)] = &[
        ("equal bounds", (b"a", b"a"), true),
        ("NO_KEYS", (b"", b"\x00"), true),
        ("every key", (b"", b""), false),
        ("one key", (b"a", b"a\x00"), false),
        ("empty start, one key", (b"", b"\x00\x00"), false),
        ("unbounded", (b"\xff", b""), false),
    ];
    for (name, (start, end), want) in empties {
        assert_eq!(r(start, end).is_empty(), *want, "case: {name}");
    }
}

#[test]
#[should_panic(expected = "start is after end")]
fn new_panics_on_an_inverted_range() {
    r(b"b", b"a");
}

#[test]
fn try_new_rejects_only_inverted_bounded_ranges() {
    assert!(ByteKeyRange::try_new("b", "a").is_err());
    assert!(
        ByteKeyRange::try_new("b", "").is_ok(),
        "an empty end is unbounded"
    );
    assert!(ByteKeyRange::try_new("a", "a").is_ok());
}

#[test]
fn serde_round_trip() {
    for range in [
        r(b"a", b"b\x00"),
        ByteKeyRange::all(),
        r(b"", b"\x00"),
        r(b"\xff", b""),
    ] {
        let json = serde_json::to_string(&range).unwrap();
        let back: ByteKeyRange = serde_json::from_str(&json).unwrap();
        assert_eq!(back, range, "{json}");
    }
    assert_eq!(
        serde_json::to_string(&r(b"a", b"")).unwrap(),
        r#"{"start":[97],"end":[]}"#
    );
    let key: ByteKey = serde_json::from_str("[0,255]").unwrap();
    assert_eq!(key, k(b"\x00\xff"));
}

#[test]
fn invalid_ranges_are_rejected_on_deserialize() {
    let err = serde_json::from_str::<ByteKeyRange>(r#"{"start":[98],"end":[97]}"#).unwrap_err();
    assert!(err.to_string().contains("start is after end"), "{err}");
    let ok: ByteKeyRange = serde_json::from_str(r#"{"start":[98],"end":[]}"#).unwrap();
    assert_eq!(ok, r(b"b", b""));
}

#[test]
fn decimal_reading_is_exact() {
    // floor(x × f) on one-byte numbers, with f read as a decimal.
    let cases: &[(&str, u8, f64, u8)] = &[
        ("seven tenths of 70", 70, 0.7, 49),
        ("a tenth of 10", 10, 0.1, 1),
        ("a third of 3 rounds down", 3, 1.0 / 3.0, 0),
        ("smallest subnormal", 255, 5e-324, 0),
        ("just below 1", 255, 0.9999999999999999, 254),
    ];
    for (name, x, f, want) in cases {
        assert_eq!(mul_fraction(&[*x], *f), vec![*want], "case: {name}");
    }
}

// The laws of `RestrictionTracker` on random keys: a small alphabet makes prefixes, runs of
// 0x00 and 0xff, and equal keys common.

fn key_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        proptest::sample::select(vec![0x00u8, 0x01, 0x61, 0x80, 0xfe, 0xff]),
        0..5,
    )
}

fn fractions() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(1.0),
        Just(0.5),
        Just(1e-30),
        Just(0.9999999999999999),
        0.0..=1.0f64,
    ]
}

/// Keys near `key`: itself, its successor, its prefixes, and its last byte moved by one.
fn around(key: &ByteKey, out: &mut Vec<ByteKey>) {
    let b = key.as_bytes();
    out.push(key.clone());
    out.push(key.next());
    for i in 0..b.len() {
        out.push(k(&b[..i]));
    }
    if let Some((&last, head)) = b.split_last() {
        for moved in [last.wrapping_sub(1), last.wrapping_add(1)] {
            let mut v = head.to_vec();
            v.push(moved);
            out.push(k(&v));
            v.push(0xff);
            out.push(k(&v));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn split_laws(
        a in key_bytes(),
        b in key_bytes(),
        unbounded in any::<bool>(),
        claims in proptest::collection::vec(key_bytes(), 0..6),
        stop in proptest::option::of(key_bytes()),
        fraction in fractions(),
        samples in proptest::collection::vec(key_bytes(), 0..24),
    ) {
        let (start, end) = if a <= b { (a, b) } else { (b, a) };
        let end = if unbounded { Vec::new() } else { end };
        let range = ByteKeyRange::new(start, end);
        let mut claims: Vec<ByteKey> = claims.into_iter().map(ByteKey::from).filter(|c| range.contains(c)).collect();
        claims.sort();
        claims.dedup();

        let mut t = ByteKeyRangeTracker::new(range.clone());
        let mut progress = t.progress();
        for c in &claims {
            prop_assert!(t.try_claim(c.clone()).unwrap());
            let p = t.progress();
            prop_assert!(p.completed >= progress.completed && p.remaining <= progress.remaining);
            prop_assert!(p.completed >= 0.0 && p.remaining >= 0.0);
            progress = p;
        }
        // Sometimes end the call with a false claim (past the end, or end of range).
        let mut stopped = false;
        if let Some(s) = stop.map(ByteKey::from)
            && (s.is_empty() || !range.is_before_end(&s))
            && claims.last().is_none_or(|l| s.is_empty() || s > *l)
        {
            prop_assert!(!t.try_claim(s).unwrap());
            stopped = true;
            prop_assert_eq!(t.progress(), Progress::new(if range.is_empty() { 0.0 } else { 1.0 }, 0.0));
        }

        let done_before = t.check_done().is_ok();
        let split = t.try_split(fraction).unwrap();
        if fraction == 1.0 || stopped || range.is_empty() {
            prop_assert!(split.is_none());
        }
        let Some(SplitResult { primary, residual }) = split else {
            prop_assert_eq!(t.current_restriction(), range);
            return Ok(());
        };
        prop_assert!(!done_before, "split of a done tracker: {:?}", range);
        prop_assert_eq!(t.current_restriction(), primary.clone());
        prop_assert_eq!(primary.start(), range.start());
        prop_assert_eq!(residual.end(), range.end());
        prop_assert!(!residual.is_empty(), "empty residual {:?}", residual);

        // Law 2: every attempted key is in the primary; the residual starts after the last.
        for c in &claims {
            prop_assert!(primary.contains(c) && !residual.contains(c), "{:?} in {:?} / {:?}", c, primary, residual);
        }
        if let Some(last) = claims.last() {
            prop_assert!(residual.start() > last);
            if fraction == 0.0 {
                prop_assert_eq!(residual.start(), &last.next(), "checkpoint after claims");
            }
        } else if fraction == 0.0 {
            prop_assert!(primary.is_empty() && residual == range, "checkpoint unstarted");
        }

        // Law 1: every key of the range is in exactly one half; no key outside is in either.
        let mut keys: Vec<ByteKey> = samples.into_iter().map(ByteKey::from).collect();
        for boundary in [range.start(), range.end(), primary.end(), residual.start()] {
            around(boundary, &mut keys);
        }
        for c in &claims {
            around(c, &mut keys);
        }
        for key in &keys {
            let (in_p, in_r) = (primary.contains(key), residual.contains(key));
            prop_assert_eq!(range.contains(key), in_p || in_r, "{:?} in {:?} = {:?} + {:?}", key, range, primary, residual);
            prop_assert!(!(in_p && in_r), "{:?} in both {:?} and {:?}", key, primary, residual);
        }

        // The primary goes on: claiming the residual's first key now returns false.
        if !residual.start().is_empty() && claims.last().is_none_or(|l| residual.start() > l) && *residual.start() >= *range.start() {
            prop_assert!(!t.try_claim(residual.start().clone()).unwrap());
            prop_assert!(t.check_done().is_ok());
        }
    }
}
