//! Matching files: patterns, local listing, one-shot and continuous matching.

mod pattern;
mod relpath;
mod storage;
#[cfg(test)]
mod testdir;

pub use pattern::Pattern;
pub use relpath::RelPath;
pub use storage::{ListOptions, ListedFile, Listing, list_files};
