//! # sdf-connectors: files as splittable DoFns
//!
//! Each piece is an SDF, and the pieces compose: "new records in new log files in a directory"
//! is continuous matching followed by tailing, not a monolithic source.

mod error;
mod file;
mod matching;
pub mod read;

pub use error::{Error, Location, Result};
pub use file::{EmptyMatch, FileMetadata};
pub use matching::{
    Admission, AdmissionOrder, CleanUp, ContinuousMatch, ListOptions, ListedFile, Listing,
    MatchAll, MatchFiles, MatchOptions, Pattern, PollRound, RelPath, Termination, WatchPolicy,
    WatchPosition, WatchRestriction, WatchState, WatchTracker, list_files, match_pattern,
};
pub use read::{ReadCsv, ReadJsonLines, ReadText};
