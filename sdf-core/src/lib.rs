//! # sdf-core: the splittable-DoFn model
//!
//! Every connector in this project is a **splittable DoFn** (SDF): a function from an input
//! element to records, whose work for that element is described by a **restriction** that can
//! be split while it runs. A file reader's restriction is a byte range; a counter's is a range of
//! numbers; a key-value scan's is a key range; a stream's is an offset range with no end.
//!
//! ## The claim / split / checkpoint loop
//!
//! 1. The runner asks the DoFn for the input's [initial restriction], and may
//!    [split it](SplittableDoFn::split_restriction) into pieces of a useful size.
//! 2. For each piece it creates a [`RestrictionTracker`] and calls
//!    [`process`](SplittableDoFn::process). `process` **claims** each position
//!    ([`try_claim`](RestrictionTracker::try_claim)) before doing the work there, and stops at
//!    the first claim that returns `false`.
//! 3. Meanwhile the runner may **split** the tracker
//!    ([`try_split`](RestrictionTracker::try_split)) through a [`SplitHandle`]: the primary keeps
//!    what was claimed plus part of the rest; the residual goes to an idle worker. A split with
//!    fraction 0 is a **checkpoint**: the call stops after the current position, and the
//!    residual is resumed later, after a restart if need be (restrictions are serializable).
//! 4. `process` returns [`ProcessContinuation::Stop`] when its restriction is done, or
//!    [`Resume { delay }`](ProcessContinuation::Resume) to be called again later with what is
//!    left (no new data yet, a rate limit). Bounded and unbounded work share this one API.
//!
//! [initial restriction]: SplittableDoFn::initial_restriction
//!
//! ## An example: the `CountFn` of the SDF design doc
//!
//! `(key, n)` → `(key, 0), …, (key, n − 1)`, with one offset per record.
//!
//! ```
//! use async_trait::async_trait;
//! use sdf_core::*;
//!
//! struct CountFn;
//!
//! #[async_trait]
//! impl SplittableDoFn for CountFn {
//!     type Input = (String, i64);
//!     type Output = (String, i64);
//!     type Restriction = OffsetRange;
//!     type Tracker = OffsetRangeTracker;
//!     type WatermarkEstimator = MonotonicWatermarkEstimator;
//!
//!     fn initial_restriction(&self, (_, n): &(String, i64)) -> Result<OffsetRange> {
//!         Ok(OffsetRange::new(0, *n))
//!     }
//!
//!     fn new_tracker(&self, _: &(String, i64), r: OffsetRange) -> OffsetRangeTracker {
//!         OffsetRangeTracker::new(r)
//!     }
//!
//!     async fn process(
//!         &self,
//!         (key, _): &(String, i64),
//!         tracker: &mut SharedTracker<OffsetRangeTracker>,
//!         output: &mut Output<'_, (String, i64)>,
//!         _watermark: &mut MonotonicWatermarkEstimator,
//!     ) -> Result<ProcessContinuation> {
//!         let mut i = tracker.current_restriction().start();
//!         while tracker.try_claim(i)? {
//!             output.emit((key.clone(), i)).await?;
//!             i += 1;
//!         }
//!         Ok(ProcessContinuation::Stop)
//!     }
//! }
//!
//! // The conformance kit splits it after every claim, at every fraction, and checks that
//! // nothing is lost or duplicated.
//! let report = testing::check_sdf_exhaustive(&CountFn, &("a".to_string(), 5)).unwrap();
//! assert!(report.splits > 0);
//! ```
//!
//! ## What is here
//!
//! | piece | what it is |
//! |---|---|
//! | [`SplittableDoFn`], [`ProcessContinuation`] | the model |
//! | [`RestrictionTracker`] | the tracker contract, with its laws |
//! | [`OffsetRangeTracker`], [`GrowableOffsetRangeTracker`], [`ByteKeyRangeTracker`], [`UnsplittableTracker`] | trackers |
//! | [`SharedTracker`], [`SplitHandle`] | lock-free claims while another thread splits |
//! | [`ManualWatermarkEstimator`], [`MonotonicWatermarkEstimator`], [`WallTimeWatermarkEstimator`] | watermarks |
//! | [`Output`], [`Emitter`] | batched, timestamped output with backpressure and finalization |
//! | [`map`], [`flat_map`], [`filter`] | element-wise functions as SDFs |
//! | [`PipelineBuilder`] | a runner's pipeline as a composite transform sees it (a source from a list, a DoFn applied), so connectors need no runner |
//! | [`Sink`] | the end of a pipeline: a two-phase commit (prepare, commit, recover) the runner drives, for exactly-once output |
//! | [`CombineFn`], [`precombine`] | a count, a sum or any combine folded inside each call, where the records are made (Beam's combiner lifting) |
//! | [`testing`] (feature `testing`) | the conformance kit connector authors run in their tests |
//!
//! ## Split arithmetic
//!
//! Offset trackers split at `cur + max(1, floor((end − cur) × fraction))`, Beam's rule
//! (identical to Java's for non-negative offsets; see [`OffsetRangeTracker`]), computed exactly: the fraction is read as its shortest decimal (`0.7` is seven tenths) and
//! multiplied in 128-bit integers, so no range near the `i64` limits overflows and no
//! floating-point error moves a split. Fractions outside `[0, 1]` are errors, never clamped.

mod byte_key;
mod combine;
pub mod crash;
mod dofn;
mod elementwise;
mod error;
mod fraction;
mod growable;
mod map_output;
mod offset_range;
mod output;
mod pipeline;
mod shared;
mod sink;
mod time;
mod tracker;
mod unsplittable;
mod watermark;

#[cfg(feature = "testing")]
pub mod testing;

pub use byte_key::{ByteKey, ByteKeyRange, ByteKeyRangeTracker};
pub use combine::{CombineFn, Count, Precombine, precombine};
pub use dofn::{ProcessContinuation, SplittableDoFn, WatermarkState};
pub use elementwise::{FlatMap, filter, flat_map, map};
pub use error::{Error, Result, TrackerError, WatermarkError};
pub use fraction::floor_fraction;
pub use growable::{GrowableOffsetRangeTracker, RangeEndEstimator};
pub use map_output::{MapOutput, map_output};
pub use offset_range::{OffsetRange, OffsetRangeTracker};
pub use output::{CollectEmitter, Emit, Emitter, Finalizer, Output, Timestamped};
pub use pipeline::PipelineBuilder;
pub use shared::{SharedTracker, SplitHandle, SplitReplyFuture, TrackerSnapshot};
pub use sink::{AttemptSinks, Sink};
pub use time::Timestamp;
pub use tracker::{Progress, RestrictionTracker, SplitResult, check_fraction};
pub use unsplittable::UnsplittableTracker;
pub use watermark::{
    Clock, ManualWatermarkEstimator, MonotonicWatermarkEstimator, SystemClock,
    WallTimeWatermarkEstimator, WatermarkEstimator,
};
