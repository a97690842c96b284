//! Matching files: patterns, local listing, one-shot and continuous matching.

mod admission;
mod cleanup;
mod continuous;
mod match_all;
mod notifier;
mod pattern;
mod relpath;
mod state;
mod storage;
#[cfg(test)]
mod testdir;
mod tracker;

pub use admission::{Admission, AdmissionOrder};
pub use cleanup::CleanUp;
pub use continuous::ContinuousMatch;
pub use match_all::{MatchAll, MatchFiles, MatchOptions, match_pattern};
pub use pattern::Pattern;
pub use relpath::RelPath;
pub use state::{PollRound, Termination, WatchPolicy, WatchState};
pub use storage::{ListOptions, ListedFile, Listing, list_files};
pub use tracker::{WatchPosition, WatchRestriction, WatchTracker};
