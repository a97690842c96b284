//! # File-based sources
//!
//! Beam's `FileBasedSource`: a [`FileFormat`] says how to read the records of one file from a
//! byte range; [`FileBasedSource`] does the rest: expands a [`FilePattern`] into files, sizes
//! them, cuts them into byte ranges, decompresses ([`Compression`]; a compressed file is read
//! whole, by one reader), and turns every failure into a [`FileError`](crate::FileError) that
//! names the file.
//!
//! ## Writing a format
//!
//! A format implements one method, [`read_records`](FileFormat::read_records), given an
//! [`OpenFile`] and a [`FileRange`] in that file's offsets:
//!
//! 1. go to the first record at or after [`FileRange::start_position`], by
//!    [`OpenFile::seek`] (never by reading from the file's beginning) and skipping the rest of
//!    the record the start falls in; a compressed file's start is always 0;
//! 2. for each record, [`FileRange::try_claim`] its offset if it is a split point (a record
//!    from which reading can start: every line of a text file, only the first record of a
//!    block), [`FileRange::set_current_position`] otherwise, and return it; stop without
//!    returning it at the first claim that returns `false`;
//! 3. report failures with [`OpenFile::error`], which names the file and the offset.
//!
//! [`TextLines`] is a complete format in about fifty lines.
//!
//! ```
//! use std::io::BufRead;
//! use sdf_legacy::file::{FileBasedSource, FileFormat, FilePattern, FileRange, OpenFile};
//! use sdf_legacy::{BoundedSourceSdf, BundleSize, Result, SourceReader};
//!
//! /// Records of one byte each: every offset is a split point.
//! #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
//! struct Bytes;
//!
//! impl FileFormat for Bytes {
//!     type Record = u8;
//!
//!     fn read_records<'a>(&'a self, mut file: OpenFile, range: FileRange)
//!         -> Result<SourceReader<'a, u8>> {
//!         file.seek(range.start_position())?;
//!         Ok(Box::new(std::iter::from_fn(move || {
//!             let offset = file.position();
//!             let byte = match file.fill_buf() {
//!                 Ok([]) => return None,
//!                 Ok(buf) => buf[0],
//!                 Err(e) => return Some(Err(file.error(offset, e))),
//!             };
//!             file.consume(1);
//!             match range.try_claim(offset) {
//!                 Ok(true) => Some(Ok(byte)),
//!                 Ok(false) => None,
//!                 Err(e) => Some(Err(e.into())),
//!             }
//!         })))
//!     }
//! }
//!
//! let path = std::env::temp_dir().join(format!("sdf-legacy-bytes-{}", std::process::id()));
//! std::fs::write(&path, b"abcdef")?;
//! let source = FileBasedSource::new(Bytes, FilePattern::path(&path))?;
//! // As the runtime runs it, split after every record at every fraction, checkpoints included:
//! let sdf = BoundedSourceSdf::new(source).bundle_size(BundleSize::RunnerHint);
//! let report = sdf_core::testing::check_sdf_exhaustive(&sdf, &())?;
//! assert_eq!(report.records, 6);
//! std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod compression;
mod open;
mod pattern;
mod range;
mod reader;
mod source;
mod text;

pub use compression::Compression;
pub use open::OpenFile;
pub use pattern::{EmptyMatch, FileMetadata, FilePattern};
pub use range::{FileRange, FileRangeTracker};
pub use source::{FileBasedSource, FileBasedSourceBuilder};
pub use text::TextLines;

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bounded::SourceReader;
use crate::error::Result;

/// How to read the records of one file: the one thing a new file format implements to become
/// a [`FileBasedSource`] (Beam's `FileBasedSource.read_records`).
///
/// # Contract
///
/// 1. **Start at the range's start, without reading up to it**: the first record returned is
///    the first *split point* at or after [`range.start_position()`](FileRange::start_position).
///    An uncompressed file is reached with [`OpenFile::seek`]; the record the start falls
///    inside is skipped (it belongs to the range before). A compressed file's start is 0.
/// 2. **Claim each record just before returning it**, at the offset where it starts (as
///    [`OpenFile::position`] counts, decompressed): [`FileRange::try_claim`] for a split point,
///    [`FileRange::set_current_position`] for another record; split points have unique
///    offsets, other offsets never decrease. Stop at the first claim that returns `false`,
///    without returning that record: the range may shrink between two records.
/// 3. **Read one file, and only what is asked**: the source opens the files, checks their
///    sizes, and goes to the next file when the reader ends.
/// 4. **Report failures through [`OpenFile::error`]**, so that they name the file and the
///    offset; the first `Err` ends the read.
/// 5. **A format is a value**: serializable, as it is part of the source that the runtime
///    persists.
///
/// The source test utilities (`sdf_legacy::testing`) check a format through its source:
/// `assert_split_at_fraction_exhaustive` on a [`FileBasedSource`] of a test file.
pub trait FileFormat:
    Clone + fmt::Debug + Send + Sync + Serialize + DeserializeOwned + 'static
{
    /// The records.
    type Record: Send + 'static;

    /// Reads the records of `file` that start in `range` (see the contract).
    fn read_records<'a>(
        &'a self,
        file: OpenFile,
        range: FileRange,
    ) -> Result<SourceReader<'a, Self::Record>>;
}
