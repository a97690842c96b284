//! # sdf-connectors: files as splittable DoFns
//!
//! Each piece is an SDF, and the pieces compose: "new records in new log files in a directory"
//! is continuous matching followed by tailing, not a monolithic source.
//!
//! Files are local paths by default; with the cargo features `s3`, `gcs`, `azure`, `http` (or
//! `object-store` alone, for stores you register) patterns and files may also be object URLs
//! (`s3://bucket/logs/**/*.csv`), matched, watched and read through the same DoFns: see
//! [`storage`].
//!
//! | module | what |
//! |---|---|
//! | [`read`] | text, CSV and JSON lines, split at any byte (untyped JSON with sonic-rs: feature `sonic`); Parquet split at row groups and Arrow batches (features `parquet`, `arrow`) |
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
pub mod storage;
mod tail;
mod write;

#[cfg(feature = "avro")]
pub use avro::ReadAvro;
pub use error::{Error, Location, Result};
pub use file::{EmptyMatch, FileMetadata};
pub use matching::{
    Admission, AdmissionOrder, CleanUp, ContinuousMatch, DEFAULT_SETTLE, ListOptions, ListedFile,
    Listing, MatchAll, MatchFiles, MatchOptions, Pattern, PollRound, RelPath, Termination,
    WatchPolicy, WatchPosition, WatchRestriction, WatchState, WatchTracker, list_files,
    match_pattern,
};
#[cfg(feature = "parquet")]
pub use read::ReadParquet;
pub use read::{ReadCsv, ReadJsonLines, ReadText};
/// The JSON library of [`ReadJsonValues`](read::ReadJsonValues) (feature `sonic`), to name
/// and use its `Value`.
#[cfg(feature = "sonic")]
pub use sonic_rs;
pub use tail::{
    FileId, LineCheck, SizeEstimate, StartAt, TailFile, TailLine, TailPosition, TailRange,
    TailTracker, Truncation,
};
pub use write::{
    Csv, CsvRows, EncodeError, FileFormat, FileIdentity, FileNaming, Json, StagedFile, Text,
    WriteCommit, WriteFiles, WriteFilesBuilder,
};
#[cfg(feature = "testing")]
pub use write::{FaultInjector, IoStep};
#[cfg(feature = "parquet")]
pub use write::{Parquet, WriteParquet};
