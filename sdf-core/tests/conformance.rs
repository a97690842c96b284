//! Every tracker of the crate and the reference `CountFn` through the conformance kit.

use sdf_core::OffsetRange;
use sdf_core::testing::*;

fn r(start: i64, end: i64) -> OffsetRange {
    OffsetRange::new(start, end)
}

#[test]
fn offset_tracker_keeps_the_contract() {
    let cases = [
        ("small", r(0, 12)),
        ("one offset", r(7, 8)),
        ("empty", r(5, 5)),
        ("near i64::MAX", r(i64::MAX - 9, i64::MAX)),
        ("near i64::MIN", r(i64::MIN, i64::MIN + 9)),
        ("around zero", r(-5, 5)),
    ];
    for (name, range) in cases {
        let report = check_tracker_contract(&OffsetFixture, &range)
            .unwrap_or_else(|v| panic!("{name}: {v}"));
        if !range.is_empty() {
            assert!(
                report.splits > 0 && report.checkpoints > 0,
                "{name}: {report:?}"
            );
        }
    }
}

#[test]
fn growable_tracker_keeps_the_contract() {
    let max = i64::MAX;
    // (name, data written so far, estimate, restriction)
    let cases = [
        ("estimate right", 10, Some(10), r(0, max)),
        ("estimate low", 10, Some(4), r(0, max)),
        ("estimate high", 10, Some(40), r(0, max)),
        ("estimate unknown", 10, None, r(0, max)),
        ("estimate infinite", 10, Some(max), r(0, max)),
        ("residual of a split", 12, Some(12), r(5, max)),
        ("finite primary beyond the data", 6, Some(6), r(0, 10)),
        ("finite primary, unknown estimate", 8, None, r(0, 8)),
        ("no data yet", 0, Some(0), r(0, max)),
    ];
    for (name, data_end, estimate, range) in cases {
        let fixture = GrowableFixture { data_end, estimate };
        check_tracker_contract(&fixture, &range).unwrap_or_else(|v| panic!("{name}: {v}"));
    }
}

#[test]
fn unsplittable_tracker_keeps_the_contract_and_only_checkpoints() {
    let report = check_tracker_contract(&UnsplittableFixture(OffsetFixture), &r(0, 10)).unwrap();
    assert_eq!(
        report.splits, report.checkpoints,
        "only checkpoints succeed: {report:?}"
    );
    let growable = UnsplittableFixture(GrowableFixture {
        data_end: 8,
        estimate: Some(8),
    });
    check_tracker_contract(&growable, &r(0, i64::MAX)).unwrap();
}

#[test]
fn count_fn_is_exact_under_every_split() {
    for n in [0, 1, 2, 5, 17] {
        let report = check_sdf_exhaustive(&CountFn, &("k".to_string(), n)).unwrap();
        assert_eq!(report.records, n as usize);
        if n > 0 {
            assert!(
                report.splits > 0 && report.checkpoints > 0,
                "n = {n}: {report:?}"
            );
        }
    }
}

#[test]
fn count_fn_is_exact_under_concurrent_splits() {
    let options = ConcurrentOptions::default().repetitions(60);
    let report =
        check_concurrent_splits_with(&CountFn, &("k".to_string(), 2_000), &options).unwrap();
    assert_eq!(report.repetitions, 60);
    assert!(
        report.splits > 0,
        "no split landed while process ran: {report:?}"
    );
}

#[test]
fn element_wise_helpers_are_exact() {
    let words =
        sdf_core::flat_map(|s: &String| s.split(' ').map(str::to_owned).collect::<Vec<_>>());
    let report = check_sdf_exhaustive(&words, &"a b c".to_string()).unwrap();
    assert_eq!(report.records, 3);
    check_sdf_exhaustive(&sdf_core::map(|x: &i64| x + 1), &41).unwrap();
    check_sdf_exhaustive(&sdf_core::filter(|x: &i64| *x > 0), &-1).unwrap();
}

#[test]
fn byte_key_tracker_keeps_the_contract() {
    use sdf_core::{ByteKey, ByteKeyRange};
    let fixture = ByteKeyFixture::exhaustive(&[0x00, 0x61, 0x62, 0xff], 2);
    let cases = [
        ("bounded", ByteKeyRange::new(&b"a"[..], &b"b\x00"[..])),
        (
            "unbounded end",
            ByteKeyRange::new(&b"a"[..], ByteKey::empty()),
        ),
        ("everything", ByteKeyRange::all()),
        (
            "trailing zeros",
            ByteKeyRange::new(&b"a"[..], &b"a\x00\x00\x01"[..]),
        ),
        ("empty", ByteKeyRange::new(&b"b"[..], &b"b"[..])),
    ];
    for (name, range) in cases {
        let report =
            check_tracker_contract(&fixture, &range).unwrap_or_else(|v| panic!("{name}: {v}"));
        if !fixture.positions(&range).is_empty() {
            assert!(
                report.splits > 0 && report.checkpoints > 0,
                "{name}: {report:?}"
            );
        }
    }
}
