//! The seed's CountingSource and RangeSource: through the source test utilities, and through
//! the sdf-core conformance kit as `BoundedSourceSdf`s.

use futures::executor::block_on;
use sdf_core::testing::{
    ConcurrentOptions, check_concurrent_splits_with, check_sdf_exhaustive, run_to_completion,
};
use sdf_core::{
    CollectEmitter, MonotonicWatermarkEstimator, Output, RestrictionTracker, SharedTracker,
    SplittableDoFn, Timestamp, WatermarkEstimator,
};
use sdf_legacy::examples::{CountingSource, RangeSource};
use sdf_legacy::testing::*;
use sdf_legacy::{BoundedSource, BoundedSourceSdf, BundleSize, SourceBundle};

#[test]
fn counting_source_reads_its_numbers() {
    let source = CountingSource::new(10);
    assert_eq!(
        read_from_source(&source, None, None).unwrap(),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(
        read_from_source(&source, Some(7), Some(20)).unwrap(),
        [7, 8, 9]
    );
    assert!(
        read_from_source(&source, Some(4), Some(4))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn split_bundles_cover_the_source() {
    let source = CountingSource::new(23);
    let whole = SourceBundle::whole(source).unwrap();
    for desired in [1, 2, 5, 22, 23, 100] {
        let bundles = source.split(desired, None, None).unwrap();
        assert_sources_equal_reference_source(&whole, &bundles).unwrap();
    }
    let range = RangeSource::new(-7, 9);
    let bundles = range.split(4, Some(-3), Some(5)).unwrap();
    let part = SourceBundle::new(8.0, range, Some(-3), Some(5));
    assert_sources_equal_reference_source(&part, &bundles).unwrap();
}

#[test]
fn reads_are_reentrant() {
    assert_reentrant_reads_succeed(&SourceBundle::whole(CountingSource::new(6)).unwrap()).unwrap();
    assert_reentrant_reads_succeed(&SourceBundle::new(
        0.0,
        RangeSource::new(0, 9),
        Some(3),
        None,
    ))
    .unwrap();
}

#[test]
fn split_at_fraction_behaviour() {
    use ExpectedSplitOutcome::*;
    struct Case {
        name: &'static str,
        read: usize,
        fraction: f64,
        outcome: ExpectedSplitOutcome,
        halves: (usize, Option<usize>),
    }
    let cases = [
        Case {
            name: "half, after 3",
            read: 3,
            fraction: 0.5,
            outcome: MustSucceedAndBeConsistent,
            halves: (5, Some(5)),
        },
        Case {
            name: "before the first record",
            read: 0,
            fraction: 0.3,
            outcome: MustSucceedAndBeConsistent,
            halves: (3, Some(7)),
        },
        Case {
            name: "at the last consumed record",
            read: 6,
            fraction: 0.5,
            outcome: MustFail,
            halves: (10, None),
        },
        Case {
            name: "at the start",
            read: 0,
            fraction: 0.0,
            outcome: MustFail,
            halves: (10, None),
        },
        Case {
            name: "at the stop",
            read: 2,
            fraction: 1.0,
            outcome: MustFail,
            halves: (10, None),
        },
        Case {
            name: "everything read",
            read: 10,
            fraction: 0.95,
            outcome: MustFail,
            halves: (10, None),
        },
        Case {
            name: "just after the record read",
            read: 5,
            fraction: 0.55,
            outcome: MustBeConsistentIfSucceeds,
            halves: (5, Some(5)),
        },
    ];
    let source = CountingSource::new(10);
    for case in cases {
        let result =
            assert_split_at_fraction_behavior(&source, case.read, case.fraction, case.outcome)
                .unwrap_or_else(|v| panic!("{}: {v}", case.name));
        assert_eq!(
            (result.num_primary_items, result.num_residual_items),
            case.halves,
            "{}",
            case.name
        );
    }
    assert_split_at_fraction_succeeds_and_consistent(&source, 1, 0.9).unwrap();
    assert_split_at_fraction_fails(&source, 10, 0.5).unwrap();
}

#[test]
fn a_wrong_expectation_is_reported_with_its_case() {
    let source = CountingSource::new(10);
    let violation = assert_split_at_fraction_fails(&source, 3, 0.5).unwrap_err();
    assert_eq!(
        violation.to_string(),
        "the split fails\n  case: CountingSource(10)[start, end), split at fraction 0.5 after \
         reading 3 records\n  found: try_split succeeded at 5"
    );
    let violation =
        assert_split_at_fraction_behavior(&source, 11, 0.5, ExpectedSplitOutcome::MustFail)
            .unwrap_err();
    assert!(
        violation
            .to_string()
            .contains("the source has only 10 records"),
        "{violation}"
    );
}

#[test]
fn counting_source_passes_the_exhaustive_split_test() {
    let report = assert_split_at_fraction_exhaustive(&CountingSource::new(20), None, None).unwrap();
    println!("{report:?}");
    assert_eq!(report.records, 20);
    assert!(report.non_trivial_splits > 100, "{report:?}");
    assert!(report.concurrent_trials >= 19, "{report:?}");
    let sub =
        assert_split_at_fraction_exhaustive(&RangeSource::new(0, 100), Some(40), Some(47)).unwrap();
    assert_eq!(sub.records, 7);
}

#[test]
fn a_range_of_one_record_is_too_small_for_the_exhaustive_test() {
    let violation =
        assert_split_at_fraction_exhaustive(&CountingSource::new(1), None, None).unwrap_err();
    assert_eq!(
        violation.property,
        "an exhaustive split test needs a range of at least 2 records"
    );
}

#[test]
fn counting_source_sdf_passes_the_exhaustive_kit() {
    let sdf = BoundedSourceSdf::new(CountingSource::new(20)).bundle_size(BundleSize::RunnerHint);
    let report = check_sdf_exhaustive(&sdf, &()).unwrap();
    println!("{report:?}");
    assert_eq!(report.records, 20);
    assert!(report.splits > 100 && report.checkpoints > 10, "{report:?}");
}

#[test]
fn counting_source_sdf_passes_the_concurrent_kit() {
    let sdf = BoundedSourceSdf::new(CountingSource::new(300));
    let report =
        check_concurrent_splits_with(&sdf, &(), &ConcurrentOptions::default().repetitions(50))
            .unwrap();
    println!("{report:?}");
    assert!(report.splits > 0, "{report:?}");
}

#[test]
fn range_source_sdf_reads_exactly() {
    let sdf = BoundedSourceSdf::new(RangeSource::new(-5, 5)).bundle_size(BundleSize::Fixed(3));
    assert_eq!(
        run_to_completion(&sdf, &()).unwrap(),
        (-5..5).collect::<Vec<_>>()
    );
    let pieces = sdf
        .split_restriction(&(), sdf.initial_restriction(&()).unwrap(), 0.0)
        .unwrap();
    assert_eq!(pieces.len(), 4, "{pieces:?}");
    check_sdf_exhaustive(&sdf, &()).unwrap();
}

#[test]
fn beam_bundle_size_keeps_a_small_source_whole() {
    let sdf = BoundedSourceSdf::new(CountingSource::new(5_000));
    let whole = sdf.initial_restriction(&()).unwrap();
    assert_eq!(sdf.restriction_size(&(), &whole), 5_000.0);
    let pieces = sdf.split_restriction(&(), whole, 10.0).unwrap();
    assert_eq!(pieces.len(), 1, "max(1 MiB, 1000 × √5000) is one bundle");
}

/// A checkpoint requested while the first record is read ends the call after it; the residual
/// starts at the next record, not at the range's start.
#[test]
fn a_runtime_checkpoint_resumes_after_the_last_record_read() {
    let sdf = BoundedSourceSdf::new(CountingSource::new(100));
    let bundle = sdf.initial_restriction(&()).unwrap();
    let mut tracker = SharedTracker::new(sdf.new_tracker(&(), bundle));
    let checkpoint = tracker.split_handle().try_split_after_first_claim(0.0);
    let mut sink = CollectEmitter::default();
    let mut watermark = MonotonicWatermarkEstimator::from_state(Timestamp::MIN);
    block_on(async {
        let mut output = Output::new(&mut sink, Timestamp::MIN, 16);
        sdf.process(&(), &mut tracker, &mut output, &mut watermark)
            .await
            .unwrap();
        output.flush().await.unwrap();
    });
    let records: Vec<i64> = sink.records.iter().map(|r| r.value).collect();
    assert_eq!(records, [0]);
    let split = block_on(checkpoint).unwrap().unwrap();
    assert_eq!((split.residual.start, split.residual.stop), (Some(1), None));
    tracker.finish().0.check_done().unwrap();

    // The residual survives serialization, and reads the rest.
    let json = serde_json::to_string(&split.residual).unwrap();
    let residual: SourceBundle<CountingSource> = serde_json::from_str(&json).unwrap();
    let rest = read_from_source(&residual.source, residual.start, residual.stop).unwrap();
    assert_eq!(rest, (1..100).collect::<Vec<_>>());
}
