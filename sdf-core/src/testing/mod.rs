//! # The conformance kit
//!
//! Functions that connector authors call from their own tests, to prove that a tracker keeps
//! the [`RestrictionTracker`](crate::RestrictionTracker) contract and that a DoFn loses and
//! duplicates nothing however its work is split. Beam has no such suite; every tracker and
//! connector of this project runs through it.
//!
//! | check | what it does |
//! |---|---|
//! | [`check_tracker_contract`] | every claim prefix × [`FRACTIONS`] × nested splits, against the ten laws |
//! | [`check_sdf_exhaustive`] | splits a DoFn after every claim at every fraction (residuals split again, checkpoints included) and compares the output with an unsplit run |
//! | [`check_concurrent_splits`] | `process` on one thread, random splits from another (seeded, many repetitions) |
//! | [`run_to_completion`] | runs a DoFn on one input, as an unsplitting runner would |
//!
//! Each returns a report of what it exercised, or the first [`Violation`] in the order tried
//! (fewest claims, then fractions in order): restriction, claims made, fraction, the splits that
//! led there. Claims are made both at every position and with gaps; every residual and
//! watermark state goes through serde before it is processed, as a runner persisting a
//! checkpoint would; outputs are compared with their event timestamps.
//!
//! ```
//! use sdf_core::OffsetRange;
//! use sdf_core::testing::*;
//!
//! check_tracker_contract(&OffsetFixture, &OffsetRange::new(0, 10)).unwrap();
//! check_sdf_exhaustive(&CountFn, &("key".to_string(), 12)).unwrap();
//! check_concurrent_splits_with(&CountFn, &("key".to_string(), 500),
//!     &ConcurrentOptions::default().repetitions(20)).unwrap();
//! ```
//!
//! The checks drive `process` with `futures::executor::block_on`. A DoFn that needs a tokio
//! runtime (tokio's I/O or timers) must be checked inside one: enter a runtime
//! (`let _guard = runtime.enter();`) before calling the kit.

mod concurrent;
mod contract;
mod count_fn;
pub mod crash;
pub(crate) mod driver;
mod exhaustive;
mod fixtures;
mod violation;

pub use concurrent::{
    ConcurrentOptions, ConcurrentReport, check_concurrent_splits, check_concurrent_splits_with,
};
pub use contract::{CONTRACT_DEPTH, ContractReport, check_tracker_contract};
pub use count_fn::{CountAndSumOffsets, CountFn};
pub use driver::{MAX_RESUMES, run_to_completion};
pub use exhaustive::{
    ExhaustiveOptions, SdfReport, check_sdf_exhaustive, check_sdf_exhaustive_with,
};
pub use fixtures::{
    ByteKeyFixture, FixedEstimate, FixturePosition, FixtureRestriction, GrowableFixture,
    OffsetFixture, TrackerFixture, UnsplittableFixture,
};
pub use violation::Violation;

/// The fractions every check splits at: checkpoint, a tiny one, tenths, near-one, and one.
pub const FRACTIONS: &[f64] = &[
    0.0, 1e-9, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.999_999, 1.0,
];

/// Fractions that must be refused (law 6).
pub const INVALID_FRACTIONS: &[f64] = &[
    -0.5,
    -1e-12,
    1.000_001,
    2.0,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
];
