//! Errors of `sdf-legacy`: one crate-level [`Error`], plus [`RangeError`] for the misuse of a
//! [`RangeTracker`](crate::RangeTracker) and [`FileError`] for what goes wrong with files.
//!
//! Every message says what was wrong and what to do. Positions are rendered with `Debug`, so
//! that the error types stay non-generic.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::file::Compression;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A reader broke the rules of position-based sources, or a caller asked a
/// [`RangeTracker`](crate::RangeTracker) for something it cannot do.
///
/// The first four are bugs in a source's reader; the rest are bugs in the caller.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeError {
    /// A record's position is before the position of the record returned before it.
    #[error(
        "record at {position} is before the last-returned record at {last}: record positions \
         must not decrease; return records in the order of their positions"
    )]
    NotIncreasing {
        /// The position of the record being returned.
        position: String,
        /// The position of the record returned before it.
        last: String,
    },
    /// Two split points at the same position.
    #[error(
        "split point at {position} has the same position as the previous split point: split \
         points must have unique positions; report records that share a position with the \
         split point before them through `set_current_position`"
    )]
    DuplicateSplitPoint {
        /// The repeated position.
        position: String,
    },
    /// The first record of a range was not at a split point.
    #[error(
        "the first record, at {position}, is not at a split point: reading a range must start at \
         its first split point; claim it with `try_claim`, not `set_current_position`"
    )]
    FirstRecordNotSplitPoint {
        /// The position of the record.
        position: String,
    },
    /// A record before the start of the range.
    #[error(
        "record at {position} is before the start of the range {range}: a reader must skip to \
         the first split point at or after the start before returning records"
    )]
    BeforeStart {
        /// The position of the record.
        position: String,
        /// The tracker's range.
        range: String,
    },
    /// A record after a claim had returned `false`.
    #[error(
        "record at {position} after a claim already returned false: when `try_claim` returns \
         false the range is done; the reader must stop returning records"
    )]
    ClaimAfterDone {
        /// The position of the record.
        position: String,
    },
    /// A fraction outside `[0, 1]`, or not a number.
    #[error("fraction {fraction} is outside [0, 1]: pass a fraction of the range, from 0 to 1")]
    InvalidFraction {
        /// The rejected fraction.
        fraction: f64,
    },
    /// A position was asked of a range with no end (`OFFSET_INFINITY`).
    #[error(
        "range {range} has no end, so no position lies at a fraction of it: give the source a \
         stop position, or treat the range as unsplittable"
    )]
    Unbounded {
        /// The tracker's range.
        range: String,
    },
    /// A tracker was built for a range whose start is after its stop.
    #[error("invalid range [{start}, {stop}): the start is after the stop; pass start <= stop")]
    InvalidRange {
        /// The start.
        start: String,
        /// The stop.
        stop: String,
    },
}

/// The error of every fallible operation in `sdf-legacy`, and of sources' methods.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A range tracker refused an operation.
    #[error(transparent)]
    Range(#[from] RangeError),
    /// A file could not be found, read or decoded.
    #[error(transparent)]
    File(#[from] FileError),
    /// An error raised by a source (I/O, decoding), with its context.
    #[error("{context}: {source}")]
    Source {
        /// What was being done, e.g. `"reading block at offset 4096 of /data/a.cbf"`.
        context: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// What went wrong with the files of a [`FileBasedSource`](crate::file::FileBasedSource): each
/// names the pattern or the path (and the offset, where there is one) and says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// A pattern matched no file, and the [`EmptyMatch`](crate::file::EmptyMatch) policy
    /// forbids it.
    #[error("{}", no_match(.pattern, *.wildcard))]
    NoMatch {
        /// The pattern, as given.
        pattern: String,
        /// Whether it has wildcards.
        wildcard: bool,
    },
    /// A pattern that is not a valid glob.
    #[error(
        "invalid file pattern {pattern:?}: {reason}; fix the pattern (write a literal `*`, `?` or \
         `[` as `[*]`, `[?]`, `[[]`, or name one file with FilePattern::path)"
    )]
    InvalidPattern {
        /// The pattern, as given.
        pattern: String,
        /// What is wrong with it, and where.
        reason: String,
    },
    /// A path that names a directory, not a file.
    #[error(
        "{} is a directory, not a file: match the files in it with a pattern such as {}",
        .path.display(),
        .path.join("*").display()
    )]
    IsDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// An I/O error on a file or directory.
    #[error(
        "could not {action} {}{}: {source}; check that it exists and is readable",
        .path.display(),
        at_offset(*.offset)
    )]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done: `"open"`, `"read"`, `"list"`, …
        action: &'static str,
        /// Where in the file, if reading.
        offset: Option<u64>,
        /// The underlying error.
        source: io::Error,
    },
    /// A file is shorter than the range being read: it shrank (or was replaced) after the
    /// pattern was expanded.
    #[error(
        "{} has {actual} bytes, fewer than the {expected} it had when its pattern was expanded, \
         so the range [{start}, {stop}) being read runs past its end: files must not shrink \
         while a pipeline reads them; run the pipeline again on files that no longer change",
        .path.display()
    )]
    Shrunk {
        /// The file.
        path: PathBuf,
        /// Its size when the pattern was expanded.
        expected: u64,
        /// Its size now.
        actual: u64,
        /// The start of the range being read, in the file.
        start: u64,
        /// The stop of the range being read, in the file.
        stop: u64,
    },
    /// Compressed data that does not decompress.
    #[error(
        "corrupt {compression} data in {} at decompressed offset {offset}: {source}; the file \
         is damaged, truncated or not {compression}: write it again, or set the compression \
         explicitly if its name misleads",
        .path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// How it was being decompressed.
        compression: Compression,
        /// How many decompressed bytes were read before the error.
        offset: u64,
        /// The decoder's error.
        source: io::Error,
    },
    /// A file whose extension names a compression this crate cannot decompress.
    #[error(
        "{} looks {name}-compressed (by its extension), which this crate cannot decompress: \
         decompress it first, or read its raw bytes with Compression::Uncompressed",
        .path.display()
    )]
    UnsupportedCompression {
        /// The file.
        path: PathBuf,
        /// The compression its extension names.
        name: &'static str,
    },
    /// A file format could not read a record.
    #[error("record at offset {offset} of {}: {source}", .path.display())]
    Record {
        /// The file.
        path: PathBuf,
        /// The record's offset (in the decompressed stream, for a compressed file).
        offset: u64,
        /// What the format found wrong.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

fn no_match(pattern: &str, wildcard: bool) -> String {
    if wildcard {
        format!(
            "file pattern {pattern:?} matches no file: check the pattern and the working \
             directory, or accept an empty match with EmptyMatch::Allow"
        )
    } else {
        format!(
            "no file at {pattern}: check the path and the working directory, or accept a \
             missing file with EmptyMatch::Allow"
        )
    }
}

fn at_offset(offset: Option<u64>) -> String {
    offset.map_or_else(String::new, |offset| format!(" at offset {offset}"))
}

impl Error {
    /// Wraps any error with a description of what the source was doing.
    ///
    /// ```
    /// use sdf_legacy::Error;
    /// let io = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "truncated");
    /// let err = Error::source("reading block at 4096", io);
    /// assert_eq!(err.to_string(), "reading block at 4096: truncated");
    /// ```
    pub fn source(
        context: impl fmt::Display,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Error::Source {
            context: context.to_string(),
            source: source.into(),
        }
    }
}

impl From<Error> for sdf_core::Error {
    fn from(error: Error) -> Self {
        sdf_core::Error::user("legacy source", error)
    }
}

impl From<RangeError> for sdf_core::Error {
    fn from(error: RangeError) -> Self {
        sdf_core::Error::user("legacy range tracker", error)
    }
}
