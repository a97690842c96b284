//! # sdf-legacy: Beam's sources, as splittable DoFns
//!
//! Many connectors already exist as Beam *sources*: a [`BoundedSource`] that splits into
//! bundles and reads a position range through a [`RangeTracker`], or an [`UnboundedSource`]
//! whose readers resume from [`CheckpointMark`]s. This crate lets them come over unchanged,
//! and run as splittable DoFns with what Beam's wrappers never gave them: splitting while they
//! read, real progress, and checkpoints that resume where the reader stopped.
//!
//! ## Position-based sources in one paragraph
//!
//! A source's records sit at positions (byte offsets, record numbers, keys). Some are *split
//! points*: a record is one if it is the first read from some position on (every line of a
//! text file; only the first record of each compressed block). Reading `[A, B)` means from the
//! first split point at or after `A` to the first split point at or after `B`, so ranges are
//! associative. The reader claims each split point ([`RangeTracker::try_claim`]) and reports
//! every other record ([`RangeTracker::set_current_position`]) just before returning it, and
//! stops at the first refused claim; meanwhile another thread may shrink the range with
//! [`RangeTracker::try_split`], at any position not yet consumed.
//!
//! ## Reading: a pulled iterator
//!
//! [`BoundedSource::read`] returns a [`SourceReader`], an iterator of `Result<record>` that
//! claims through the tracker as it is pulled. Pulling is synchronous and one record at a
//! time, so the same reader serves the test utilities (read three records, split, read on)
//! and an async `process` (pull, emit, await backpressure, pull again) without threads.
//!
//! ## Running as an SDF
//!
//! [`BoundedSourceSdf`] cuts the source with [`BoundedSource::split`] (Beam's bundle size by
//! default), and reads each bundle in `process`: claim [`ReadStep::Next`], pull a record, emit
//! it. Its tracker, [`BoundedSourceTracker`], owns the bundle's range tracker and maps a
//! runtime split of `f` of the remaining work to `position_at_fraction(c + (1 − c) × f)`
//! (`c` the fraction consumed), raised to the first unconsumed position. So a checkpoint
//! (`f = 0`) resumes at the next unread split point, never at the range's start, and progress
//! is the fraction consumed times the bundle's weight. [`UnboundedSourceSdf`] does the same
//! for streams: every split is a checkpoint carrying the reader's mark, and the mark is
//! finalized only after the runtime committed the output read before it.
//!
//! ## An example
//!
//! A source of lines, one record per line index, checked the way the runtime will drive it:
//!
//! ```
//! use std::sync::Arc;
//! use sdf_legacy::range::OffsetRangeTracker;
//! use sdf_legacy::{BoundedSource, BoundedSourceSdf, BundleSize, RangeTracker};
//! use sdf_legacy::{Result, SourceBundle, SourceReader};
//!
//! #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
//! struct Lines(Vec<String>);
//!
//! impl BoundedSource for Lines {
//!     type Output = String;
//!     type Position = i64;
//!     type RangeTracker = OffsetRangeTracker;
//!
//!     fn estimate_size(&self) -> Result<Option<u64>> {
//!         Ok(Some(self.0.len() as u64))
//!     }
//!
//!     fn split(&self, size: u64, start: Option<i64>, stop: Option<i64>)
//!         -> Result<Vec<SourceBundle<Self>>> {
//!         let (start, stop) = (start.unwrap_or(0), stop.unwrap_or(self.0.len() as i64));
//!         Ok((start..stop).step_by(size.max(1) as usize).map(|a| {
//!             let b = (a + size as i64).min(stop);
//!             SourceBundle::new((b - a) as f64, self.clone(), Some(a), Some(b))
//!         }).collect())
//!     }
//!
//!     fn range_tracker(&self, start: Option<i64>, stop: Option<i64>)
//!         -> Result<OffsetRangeTracker> {
//!         Ok(OffsetRangeTracker::new(start.unwrap_or(0), stop.unwrap_or(self.0.len() as i64))?)
//!     }
//!
//!     fn read<'a>(&'a self, range: Arc<OffsetRangeTracker>) -> Result<SourceReader<'a, String>> {
//!         let first = range.start_position().max(0);
//!         Ok(Box::new((first..self.0.len() as i64).map_while(move |i| {
//!             match range.try_claim(i) {
//!                 Ok(true) => Some(Ok(self.0[i as usize].clone())),
//!                 Ok(false) => None,
//!                 Err(e) => Some(Err(e.into())),
//!             }
//!         })))
//!     }
//! }
//!
//! let lines = Lines((0..12).map(|i| format!("line {i}")).collect());
//! let sdf = BoundedSourceSdf::new(lines).bundle_size(BundleSize::RunnerHint);
//! // sdf-core's kit splits every bundle after every record, at every fraction, checkpoints
//! // included, on one thread and from another, and compares the output with an unsplit run.
//! let report = sdf_core::testing::check_sdf_exhaustive(&sdf, &()).unwrap();
//! assert_eq!(report.records, 12);
//! sdf_core::testing::check_concurrent_splits(&sdf, &()).unwrap();
//! ```
//!
//! Check the source itself with the source test utilities, `sdf_legacy::testing` (feature
//! `testing`): `assert_split_at_fraction_exhaustive` splits its reader after every record at
//! every fraction that changes the outcome, then races a reader against a splitter.
//!
//! ## Files
//!
//! A source of files needs less: a [`FileFormat`] reads the records of one file from a byte
//! range (seek to the start, claim each record's offset), and [`FileBasedSource`] does the
//! rest: expands a glob into files, cuts them into byte ranges, reads compressed ones whole,
//! and names the file in every error. [`file::TextLines`] is the example format:
//!
//! ```
//! use sdf_legacy::file::{FileBasedSource, TextLines};
//! use sdf_legacy::{BoundedSourceSdf, BundleSize};
//!
//! let dir = std::env::temp_dir().join(format!("sdf-legacy-guide-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! std::fs::write(dir.join("a.txt"), "one\r\ntwo\n")?;
//! std::fs::write(dir.join("b.txt"), "three\n\nfive")?;
//!
//! let source = FileBasedSource::new(TextLines, format!("{}/*.txt", dir.display()))?;
//! let sdf = BoundedSourceSdf::new(source).bundle_size(BundleSize::RunnerHint);
//! let report = sdf_core::testing::check_sdf_exhaustive(&sdf, &())?;
//! assert_eq!(report.records, 5);
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## What is here
//!
//! | piece | what it is |
//! |---|---|
//! | [`RangeTracker`], [`range::OffsetRangeTracker`], [`range::LexicographicKeyRangeTracker`], [`range::UnsplittableRangeTracker`] | legacy range trackers, thread-safe, with split-point counts |
//! | [`BoundedSource`], [`SourceBundle`], [`SourceReader`] | finite sources |
//! | [`BoundedSourceSdf`], [`BoundedSourceTracker`], [`BundleSize`] | a bounded source as an SDF |
//! | [`UnboundedSource`], [`UnboundedReader`], [`CheckpointMark`] | streams |
//! | [`UnboundedSourceSdf`], [`UnboundedSourceTracker`], [`UnboundedSourceRestriction`] | a stream as an SDF |
//! | [`FileBasedSource`], [`FileFormat`], [`file`](mod@file) | files: patterns, byte ranges, compression, [`file::TextLines`] |
//! | [`examples`] | the seed guides' `CountingSource` and `RangeSource` |
//! | `testing` (feature `testing`) | Beam's `source_test_utils` |
//!
//! ## Where this differs from Beam
//!
//! - `position_at_fraction` rounds down, exactly (Python rounds up, Java down): the only rule
//!   that keeps every fraction below 1 inside `[start, stop)`.
//! - The trackers accept splits before the first record (nothing is consumed), and refuse
//!   them once a claim was refused; a record after a refused claim is an error.
//! - The SDF wrappers report progress, and resume a checkpoint at the reader's position.
//! - A [`FileBasedSource`] of several files is one range of offsets over the files laid end to
//!   end, so it splits while reading like a single file (Beam: a `ConcatSource`, or no dynamic
//!   splitting in pattern mode).

mod bounded;
mod error;
pub mod examples;
pub mod file;
mod position;
pub mod range;
mod step;
mod unbounded;

#[cfg(feature = "testing")]
pub mod testing;

pub use bounded::{
    BoundedSource, BoundedSourceSdf, BoundedSourceTracker, BundleSize, SourceBundle, SourceReader,
};
pub use error::{Error, FileError, RangeError, Result};
pub use file::{FileBasedSource, FileFormat};
pub use position::Position;
pub use range::{RangeTracker, SplitPoints};
pub use step::ReadStep;
pub use unbounded::{
    CheckpointMark, SeenIds, UnboundedReader, UnboundedRecord, UnboundedSource,
    UnboundedSourceRestriction, UnboundedSourceSdf, UnboundedSourceTracker,
};
