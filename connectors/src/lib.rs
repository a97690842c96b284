//! # sdf-connectors: files as splittable DoFns
//!
//! Each piece is an SDF, and the pieces compose: "new records in new log files in a directory"
//! is continuous matching followed by tailing, not a monolithic source.
//!
//! | module | what |
//! |---|---|
//! | [`read`] | text, CSV and JSON lines, split at any byte |
//! | `avro` (feature `avro`) | Avro object container files, split at blocks |
//!
//! Matching ([`MatchAll`], [`ContinuousMatch`]), tailing ([`TailFile`]) and the exactly-once
//! file sink ([`WriteFiles`]) are re-exported at the root.

#[cfg(feature = "avro")]
pub mod avro;
mod error;
mod file;
mod matching;
pub mod read;
mod tail;
mod write;

#[cfg(feature = "avro")]
pub use avro::ReadAvro;
pub use error::{Error, Location, Result};
pub use file::{EmptyMatch, FileMetadata};
pub use matching::{
    Admission, AdmissionOrder, CleanUp, ContinuousMatch, ListOptions, ListedFile, Listing,
    MatchAll, MatchFiles, MatchOptions, Pattern, PollRound, RelPath, Termination, WatchPolicy,
    WatchPosition, WatchRestriction, WatchState, WatchTracker, list_files, match_pattern,
};
pub use read::{ReadCsv, ReadJsonLines, ReadText};
pub use tail::{
    FileId, SizeEstimate, StartAt, TailFile, TailLine, TailPosition, TailRange, TailTracker,
    Truncation,
};
pub use write::{
    Csv, EncodeError, FileFormat, FileNaming, Json, StagedFile, Text, WriteCommit, WriteFiles,
    WriteFilesBuilder,
};
#[cfg(feature = "testing")]
pub use write::{FaultInjector, IoStep};
