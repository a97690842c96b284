//! # Matching files
//!
//! Patterns to files, once or continuously, as splittable DoFns over local directories and,
//! for URL patterns, object stores ([`crate::storage`]).
//!
//! | piece | what |
//! |---|---|
//! | [`Pattern`] (`pattern.rs`) | a glob split into its literal root and components; an NFA over components (`**` stays linear), `globset` for one name; hidden names need a literal `.` |
//! | [`list_files`] (`storage.rs`) | listing (object stores: `crate::storage`, then the same order); local storage: a sorted walk (`walkdir`) of the root, pruned by the pattern and a key range; size and modification time; errors naming the path; directory links not followed by default |
//! | [`RelPath`] (`relpath.rs`) | a path below the root; its key (components joined by NUL) is the walk's order |
//! | [`MatchAll`], [`MatchFiles`] (`match_all.rs`) | one-shot matching: restriction = a `ByteKeyRange` of keys, so listings split and checkpoint; empty-match policy |
//! | [`WatchState`], [`PollRound`], [`Termination`] (`state.rs`) | the bounded state of a watch and the pure poll logic |
//! | [`Admission`] (`admission.rs`) | at most N files / B bytes per poll, oldest or newest first |
//! | [`WatchTracker`] (`tracker.rs`) | Beam's GrowthTracker: a round per claim, every split a checkpoint, replayable primaries |
//! | [`ContinuousMatch`] (`continuous.rs`) | the watch SDF; **its docs state the late-file rule and the notification design** |
//! | `notifier.rs` | one `notify` watcher per root, shared, reduced to event counters |
//! | [`CleanUp`] (`cleanup.rs`) | delete or archive after commit, from bundle finalizers |
//!
//! A watch's unit of work is a poll: `WatchState::poll(listing, now, policy)` is a pure function,
//! tested on synthetic listings (`state/tests.rs`, `tests/watch_state_size.rs`), on scripted
//! directories through the tracker contract (`tracker/tests.rs`), and on real directories
//! through the data-driven scenarios of `tests/watch_scenarios/`.

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
pub use state::{DEFAULT_SETTLE, PollRound, Termination, WatchPolicy, WatchState};
pub use storage::{ListOptions, ListedFile, Listing, list_files};
pub use tracker::{WatchPosition, WatchRestriction, WatchTracker};
