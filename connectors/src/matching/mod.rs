//! Matching files: patterns, local listing, one-shot and continuous matching.

mod match_all;
mod pattern;
mod relpath;
mod storage;
#[cfg(test)]
mod testdir;

pub use match_all::{MatchAll, MatchFiles, MatchOptions, match_pattern};
pub use pattern::Pattern;
pub use relpath::RelPath;
pub use storage::{ListOptions, ListedFile, Listing, list_files};
