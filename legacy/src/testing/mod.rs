//! # Source test utilities
//!
//! Beam's `source_test_utils`, for [`BoundedSource`](crate::BoundedSource)s: functions that
//! source authors call from their tests, because a small mistake in a reader (a record read
//! twice at a boundary, one past the stop) loses or duplicates data silently.
//!
//! | function | what it checks |
//! |---|---|
//! | [`read_from_source`] | reads a range, the reference for the rest |
//! | [`assert_sources_equal_reference_source`] | the bundles of `split` read the source's records, each once |
//! | [`assert_reentrant_reads_succeed`] | a second read during a first one disturbs neither |
//! | [`assert_split_at_fraction_behavior`] | one dynamic split after `n` records: the outcome, and that the interrupted read equals the primary and primary + residual equal the whole |
//! | [`assert_split_at_fraction_succeeds_and_consistent`], [`assert_split_at_fraction_fails`] | the same, with the outcome fixed |
//! | [`assert_split_at_fraction_exhaustive`] | every number of records read × every fraction where the outcome changes, then a reader racing a splitter (bounded in trials, as Beam) |
//!
//! Each returns `Ok` with what it measured, or the first [`SourceViolation`], naming the
//! property, the case (source, range, records read, fraction, split position) and what was
//! found. `.unwrap()` in a test prints all of it.
//!
//! ```
//! use sdf_legacy::examples::CountingSource;
//! use sdf_legacy::testing::*;
//! use sdf_legacy::{BoundedSource, SourceBundle};
//!
//! let source = CountingSource::new(8);
//! assert_eq!(read_from_source(&source, None, None).unwrap(), (0..8).collect::<Vec<_>>());
//! let whole = SourceBundle::whole(source).unwrap();
//! assert_sources_equal_reference_source(&whole, &source.split(3, None, None).unwrap()).unwrap();
//! assert_reentrant_reads_succeed(&whole).unwrap();
//! let report = assert_split_at_fraction_exhaustive(&source, None, None).unwrap();
//! assert!(report.non_trivial_splits > 0 && report.concurrent_trials > 0);
//! ```
//!
//! These check a source through its own range tracker. To check it as an SDF, with the
//! runtime's splits and checkpoints, run [`BoundedSourceSdf`](crate::BoundedSourceSdf) through
//! sdf-core's conformance kit ([`sdf_core::testing`]), which this feature enables.

mod exhaustive;
mod read;
mod split;
mod violation;

pub use exhaustive::{
    ExhaustiveSplitOptions, ExhaustiveSplitReport, MAX_CONCURRENT_SPLITTING_TRIALS_PER_ITEM,
    MAX_CONCURRENT_SPLITTING_TRIALS_TOTAL, assert_split_at_fraction_exhaustive,
    assert_split_at_fraction_exhaustive_with,
};
pub use read::{
    assert_reentrant_reads_succeed, assert_sources_equal_reference_source, read_from_source,
};
pub use split::{
    ExpectedSplitOutcome, SplitAtFractionResult, assert_split_at_fraction_behavior,
    assert_split_at_fraction_fails, assert_split_at_fraction_succeeds_and_consistent,
};
pub use violation::SourceViolation;
