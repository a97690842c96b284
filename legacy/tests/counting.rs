//! The seed's CountingSource and RangeSource: through the sdf-core conformance kit as
//! `BoundedSourceSdf`s.

use sdf_core::testing::{
    ConcurrentOptions, check_concurrent_splits_with, check_sdf_exhaustive, run_to_completion,
};
use sdf_legacy::examples::{CountingSource, RangeSource};
use sdf_legacy::{BoundedSourceSdf, BundleSize};

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
    check_sdf_exhaustive(&sdf, &()).unwrap();
}
