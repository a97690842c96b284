//! # The conformance kit
//!
//! Functions that connector authors call from their own tests, to check that a tracker keeps
//! the [`RestrictionTracker`](crate::RestrictionTracker) contract and that a DoFn's output does
//! not depend on how its work is split, checkpointed, serialized or spread over instances.
//! Beam has no such suite; every tracker and connector of this project runs through it.
//!
//! ```
//! use sdf_core::OffsetRange;
//! use sdf_core::testing::*;
//!
//! check_tracker_contract(&OffsetFixture, &OffsetRange::new(0, 10)).unwrap();
//! let report = check_sdf_exhaustive(&fresh(|| CountFn), &("key".to_string(), 12)).unwrap();
//! assert_eq!((report.records, report.claims), (12, 12)); // not a vacuous pass
//! let expected = (0..500).map(|i| ("key".to_string(), i));
//! check_concurrent_splits_expecting(&fresh(|| CountFn), &("key".to_string(), 500), expected,
//!     &ConcurrentOptions::default().repetitions(20)).unwrap();
//! ```
//!
//! ## What each check does
//!
//! | check | what it does |
//! |---|---|
//! | [`check_tracker_contract`] | every claim prefix (and claims with gaps) × [`FRACTIONS`] and [`TINY_FRACTIONS`] × a nested split, residuals followed to a depth, against eleven laws |
//! | [`check_sdf_exhaustive`] | splits a DoFn after every claim at every fraction, and its primary again; residuals split again, checkpoints included; then `split_restriction`'s pieces; each output compared with the unsplit run |
//! | [`check_concurrent_splits`] | `process` on one thread, random splits from another (seeded, many repetitions), some starting from `split_restriction`'s pieces |
//! | `…_expecting` | the same, and the unsplit run must produce the output the author expects |
//! | [`run_to_completion`] | runs a DoFn on one input, as an unsplitting runner would |
//!
//! Each returns a report of what it exercised, or the first [`Violation`] in the order tried
//! (fewest claims, then fractions in order): the law, the case (restriction, claims made,
//! fraction, the splits that led there) and what was found, with values cut to a few hundred
//! characters.
//!
//! ## How to read a report
//!
//! A report prints as one line, e.g. `21 records from 7 claims (the reference); 470 cases,
//! 2,950 calls, 1,900 splits (260 checkpoints, 230 nested), 900 fresh instances (210
//! interleaved), 7 finalizers`. Check three things: `records` and `claims` are what your input
//! should give (a run that claims nothing while `restriction_size` is positive is refused, but
//! a wrong input is yours to spot); `splits` is not 0 (else your tracker never split and
//! nothing was compared); `fresh instances` is not 0 if your DoFn keeps anything per instance
//! (pass [`fresh`]).
//!
//! ## What every call is checked for
//!
//! Every call any check makes, reference included, is held to the DoFn contract:
//! - **serde**: the restriction and the watermark state go through JSON before the call, as a
//!   runner persisting a checkpoint would, and must come back the same (by their `Debug`
//!   text: a field `#[serde(skip)]`ped is reported before the reference run);
//! - **watermarks**: an estimator restored from saved state reports at least the watermark
//!   saved; the watermark at the end of a call is not below the one at its start, before or
//!   after the runner reports the call's largest output timestamp; no record is behind the
//!   watermark the call started with (late data; [`ExhaustiveOptions::allow_late`] opts in);
//! - **output placement**: no record before the first successful claim or after a claim
//!   returned `false` (unless [`ExhaustiveOptions::flush_after_refusal`]: a DoFn that emits
//!   the batch its claims gathered when the call ends);
//! - **finalizers** run the moment they are registered (the earliest a runner may: everything
//!   before them is committed) and must succeed; no record of the position just claimed may
//!   follow one (a source ack registered before the records it acknowledges;
//!   [`ExhaustiveOptions::finalizer_lag`] for a DoFn that acknowledges a position later);
//! - `Stop` only when `check_done` passes; every valid fraction is accepted.
//!
//! Outputs are compared as multisets with their event timestamps.
//!
//! ## Warm and cold: one instance or fresh ones
//!
//! The first argument of the DoFn checks is a [`Subject`]: a DoFn, or [`fresh`]`(|| make())`.
//! With a DoFn, every call runs on that instance, so a residual resumes where its parent's
//! call left the instance (a parked reader, a cached header): its cold path never runs. With
//! a factory, every case is run twice, the second time with each residual and each initial
//! piece on a new instance, and the first residual of a case processed *while the call that
//! split it waits in its claim*. Give a factory whenever the DoFn keeps anything per instance.
//!
//! ## What the kit cannot see
//!
//! - **It compares runs with each other.** Without an oracle, a bug the unsplit run shares
//!   (a last record emitted twice) passes: use `check_sdf_exhaustive_expecting`.
//! - **The watermark inside a call.** The estimator is the DoFn's while `process` runs; the kit
//!   reads it when a call starts and when it returns (as the embedded runtime does). A dip that
//!   recovers before the call returns is not seen.
//! - **Record placement in the cases.** Each record is placed against the claims exactly in the
//!   reference run (batch size 1); in the split cases (batches of 7) only a full batch handed
//!   over after a refusal or after a finalizer is certain, so a stray record there can slip
//!   through unless the reference run shows it too.
//! - **Which positions a finalizer acknowledges.** The kit assumes the positions claimed
//!   before it (all but `finalizer_lag` of them); it cannot look inside the closure.
//! - **Concurrency on one instance.** Interleaved residuals run on fresh instances; two calls
//!   on the same instance at once are the runtime's tests' business
//!   (`sdf-runtime/tests/`).
//! - **Timing.** `Resume { delay }` is honoured at once; a DoFn that needs real time to pass
//!   between calls (a rate limit) is called again until it makes progress, up to
//!   [`MAX_RESUMES`] calls.
//! - **Sizes and inputs you did not give.** It does not shrink or generate inputs: give it small
//!   ones that reach every path (a multi-byte delimiter across a buffer refill needs a small
//!   buffer), and several.
//!
//! The checks drive `process` with `futures::executor::block_on`, some calls on threads of
//! their own. A DoFn that needs a tokio runtime (tokio's I/O or timers) must be checked with
//! one entered on every thread: prefer DoFns whose `process` does not need it, or check them
//! through the runtime (`sdf-runtime`'s tests do).

mod concurrent;
mod contract;
mod count_fn;
pub mod crash;
pub(crate) mod driver;
mod exhaustive;
mod fixtures;
mod subject;
mod violation;

pub use concurrent::{
    ConcurrentOptions, ConcurrentReport, check_concurrent_splits,
    check_concurrent_splits_expecting, check_concurrent_splits_with,
};
pub use contract::{
    CONTRACT_DEPTH, ContractOptions, ContractReport, check_tracker_contract,
    check_tracker_contract_with,
};
pub use count_fn::{CountAndSumOffsets, CountFn};
pub use driver::{MAX_RESUMES, run_to_completion};
pub use exhaustive::{
    ExhaustiveOptions, SdfReport, check_sdf_exhaustive, check_sdf_exhaustive_expecting,
    check_sdf_exhaustive_with,
};
pub use fixtures::{
    ByteKeyFixture, FixedEstimate, FixturePosition, FixtureRestriction, GrowableFixture,
    OffsetFixture, TrackerFixture, UnsplittableFixture,
};
pub use subject::{DoFnOf, Fresh, InputOf, OutputOf, Subject, fresh};
pub use violation::Violation;

/// The fractions every check splits at: checkpoint, a tiny one, tenths, near-one, and one.
pub const FRACTIONS: &[f64] = &[
    0.0, 1e-9, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.999_999, 1.0,
];

/// The smallest valid fractions: a tracker that interpolates with floating point often splits
/// wrongly (or not at all) this close to 0. [`ContractOptions::default`] adds them to
/// [`FRACTIONS`].
pub const TINY_FRACTIONS: &[f64] = &[1e-15, 1e-300, f64::MIN_POSITIVE, 5e-324];

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

/// At most this many characters of a value's `Debug` text go into a violation.
const EXCERPT: usize = 240;

/// A value's `Debug` text, cut to [`EXCERPT`] characters with the length of the whole: a
/// violation names its case without printing a 20,000-character input.
pub(crate) fn excerpt<T: std::fmt::Debug + ?Sized>(value: &T) -> String {
    cut(format!("{value:?}"))
}

/// `text`, cut to [`EXCERPT`] characters as [`excerpt`] does.
pub(crate) fn cut(text: String) -> String {
    match text.char_indices().nth(EXCERPT) {
        None => text,
        Some((cut, _)) => format!(
            "{}… ({} characters in all)",
            &text[..cut],
            text.chars().count()
        ),
    }
}
