//! [`WatchState`]: what a continuous match remembers between polls, and the pure poll logic
//! that turns a listing into the files to emit (the rule is stated on
//! [`ContinuousMatch`](super::ContinuousMatch)).

use std::collections::BTreeMap;
use std::time::Duration;

use sdf_core::Timestamp;
use serde::{Deserialize, Serialize};

use super::admission::{Admission, Selection};
use super::relpath::RelPath;
use super::storage::ListedFile;
use crate::file::FileMetadata;

/// When a continuous match stops polling. Whatever the condition, a watch does not stop while
/// admission control holds files back for a later poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Termination {
    /// Never: the watch runs until the pipeline is drained or cancelled.
    #[default]
    Never,
    /// Once this much wall-clock time has passed since the first poll.
    After(Duration),
    /// After this many polls in a row that emitted no file.
    AfterPollsWithoutNewFile(u32),
}

impl Termination {
    fn reached(self, state: &WatchState, now: Timestamp) -> bool {
        match self {
            Termination::Never => false,
            Termination::After(d) => state.started.is_some_and(|s| s.saturating_add(d) <= now),
            Termination::AfterPollsWithoutNewFile(n) => state.idle_polls >= n,
        }
    }
}

/// What decides a poll's outcome, besides the state and the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchPolicy {
    /// How far below the cursor a file's modification time may be and still be caught.
    pub late_allowance: Duration,
    /// Emit a file again when its modification time changes (key `(path, mtime)`), instead of
    /// once per path.
    pub match_updated_files: bool,
    /// Limits on what one poll emits.
    pub admission: Admission,
    /// When to stop polling.
    pub termination: Termination,
    /// How long a local file's size and modification time must hold still before it is taken
    /// as complete (unless a notification said it was closed after writing or renamed into
    /// place). Zero takes every listed file as complete. Objects in object stores are always
    /// complete: an upload is atomic.
    pub settle: Duration,
}

/// The default [`WatchPolicy::settle`]: Vector's default glob cool-down, long enough for a
/// writer's buffered flushes, short enough to go unnoticed behind the poll interval.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(1);

impl Default for WatchPolicy {
    fn default() -> Self {
        WatchPolicy {
            late_allowance: Duration::from_secs(300),
            match_updated_files: false,
            admission: Admission::default(),
            termination: Termination::Never,
            settle: DEFAULT_SETTLE,
        }
    }
}

/// A file listed but not yet complete: how it looked, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Settling {
    size: u64,
    modified: Timestamp,
    /// The wall-clock time of the first poll that listed it with this size and time.
    since: Timestamp,
}

/// The state of a continuous match: a cursor on modification times and the files remembered
/// above the horizon. Its size follows the files modified within the late allowance, not the
/// files ever seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchState {
    /// Polls done so far (the number of the next poll).
    polls: u64,
    /// The greatest modification time seen, each capped at the wall clock of its poll.
    cursor: Timestamp,
    /// The oldest modification time among files held back by admission control.
    floor: Option<Timestamp>,
    /// Files remembered: path below the root → modification time when last listed.
    seen: BTreeMap<RelPath, Timestamp>,
    /// Polls in a row that emitted nothing.
    idle_polls: u32,
    /// Wall-clock time of the first poll.
    started: Option<Timestamp>,
    /// Wall-clock time of the last poll.
    last_poll: Option<Timestamp>,
    /// New files not yet complete (still being written), not yet emitted: they hold the
    /// horizon down until they are.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    settling: BTreeMap<RelPath, Settling>,
    /// The notification count the last poll started from (not persisted: a restored watch
    /// polls at once).
    #[serde(skip)]
    events: u64,
}

impl WatchState {
    /// The state before the first poll: nothing seen, every file eligible.
    pub fn new() -> Self {
        WatchState::default()
    }

    /// The number of the next poll.
    pub fn polls(&self) -> u64 {
        self.polls
    }

    /// The cursor: the greatest modification time seen (capped at the wall clock).
    pub fn cursor(&self) -> Timestamp {
        self.cursor
    }

    /// The horizon: files modified before it are ignored. `cursor − allowance`, held at the
    /// oldest file that admission control deferred.
    pub fn horizon(&self, allowance: Duration) -> Timestamp {
        let horizon = self.cursor.saturating_sub(allowance);
        let horizon = self.floor.map_or(horizon, |floor| horizon.min(floor));
        self.settling
            .values()
            .map(|s| s.modified)
            .fold(horizon, Timestamp::min)
    }

    /// How many new files are waiting to be complete.
    pub fn settling(&self) -> usize {
        self.settling.len()
    }

    /// When the file that has waited longest will have held still for `settle`: a poll is due
    /// then, notifications or not.
    pub fn settle_due(&self, settle: Duration) -> Option<Timestamp> {
        self.settling
            .values()
            .map(|s| s.since.saturating_add(settle))
            .min()
    }

    /// How many files are remembered.
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }

    /// Whether files were held back by admission control for the next poll.
    pub fn has_deferred(&self) -> bool {
        self.floor.is_some()
    }

    /// Wall-clock time of the last poll.
    pub fn last_poll(&self) -> Option<Timestamp> {
        self.last_poll
    }

    pub(crate) fn events(&self) -> u64 {
        self.events
    }

    pub(crate) fn set_events(&mut self, events: u64) {
        self.events = events;
    }

    /// One poll: from the listing (any order), the files to emit and the state after them.
    /// Files emitted before and modified since are counted in
    /// [`PollRound::changed_after_emit`].
    /// Pure: the same state, listing, time and policy give the same round.
    ///
    /// A listed file is emitted when its modification time is at or above
    /// [`horizon`](Self::horizon) (of the state before the poll) and its path is not
    /// remembered (with `match_updated_files`: not remembered with this modification time),
    /// within the admission limits. A remembered path's time is refreshed, so a file that keeps
    /// changing stays remembered. After the poll, the cursor moves up and remembered files
    /// below the new horizon are forgotten.
    ///
    /// A new local file is emitted only once it is complete: its size and modification time
    /// were the same at a poll at least [`WatchPolicy::settle`] earlier (it is remembered as
    /// settling meanwhile, and holds the horizon down). [`poll_notified`](Self::poll_notified)
    /// also takes the files a notification said are complete.
    pub fn poll<E>(
        &self,
        listing: impl IntoIterator<Item = Result<ListedFile, E>>,
        now: Timestamp,
        policy: &WatchPolicy,
    ) -> Result<PollRound, E> {
        self.poll_notified(listing, now, policy, |_| false)
    }

    /// [`poll`](Self::poll), where `complete(file)` says whether a notification showed `file`
    /// closed after its last write or renamed into place: such a file needs no settle time.
    pub fn poll_notified<E>(
        &self,
        listing: impl IntoIterator<Item = Result<ListedFile, E>>,
        now: Timestamp,
        policy: &WatchPolicy,
        complete: impl Fn(&FileMetadata) -> bool,
    ) -> Result<PollRound, E> {
        let horizon = self.horizon(policy.late_allowance);
        let mut settling = BTreeMap::new();
        let mut still_settling = 0;
        let (mut changed, mut first_changed) = (0, None);
        let mut seen = self.seen.clone();
        let mut cursor = self.cursor;
        let mut selection = Selection::new(policy.admission);
        let mut below_horizon = 0;
        for listed in listing {
            let ListedFile { rel, file } = listed?;
            let modified = file.modified;
            if modified < horizon {
                below_horizon += 1;
                continue;
            }
            match seen.get_mut(&rel) {
                Some(known) if !policy.match_updated_files => {
                    if *known != modified {
                        changed += 1;
                        first_changed.get_or_insert_with(|| Box::new(file.path.clone()));
                    }
                    *known = modified;
                    cursor = cursor.max(modified.min(now));
                }
                Some(known) if *known == modified => {}
                _ => match self.settled(&rel, &file, now, policy, &complete) {
                    Ok(()) => selection.offer(rel, file),
                    Err(since) => {
                        still_settling += 1;
                        settling.insert(
                            rel,
                            Settling {
                                size: file.size,
                                modified,
                                since,
                            },
                        );
                    }
                },
            }
        }
        let (admitted, floor) = selection.finish();
        for (rel, file) in &admitted {
            seen.insert(rel.clone(), file.modified);
            cursor = cursor.max(file.modified.min(now));
        }
        let mut next = WatchState {
            polls: self.polls + 1,
            cursor,
            floor,
            seen,
            idle_polls: if admitted.is_empty() {
                self.idle_polls.saturating_add(1)
            } else {
                0
            },
            started: self.started.or(Some(now)),
            last_poll: Some(now),
            settling,
            events: self.events,
        };
        let forget_below = next.horizon(policy.late_allowance);
        next.seen.retain(|_, modified| *modified >= forget_below);
        let stop = floor.is_none() && still_settling == 0 && policy.termination.reached(&next, now);
        Ok(PollRound {
            poll: self.polls,
            files: admitted.into_iter().map(|(_, file)| file).collect(),
            below_horizon,
            settling: still_settling,
            changed_after_emit: changed,
            first_changed,
            next: (!stop).then_some(next),
        })
    }

    /// `Ok` if `file` (new, at or above the horizon) is complete; otherwise since when it has
    /// looked as it does now.
    fn settled(
        &self,
        rel: &RelPath,
        file: &FileMetadata,
        now: Timestamp,
        policy: &WatchPolicy,
        complete: impl Fn(&FileMetadata) -> bool,
    ) -> Result<(), Timestamp> {
        if policy.settle.is_zero() || file.is_remote() || complete(file) {
            return Ok(());
        }
        match self.settling.get(rel) {
            Some(s) if s.size == file.size && s.modified == file.modified => {
                if s.since.saturating_add(policy.settle) <= now {
                    Ok(())
                } else {
                    Err(s.since)
                }
            }
            _ => Err(now),
        }
    }
}

/// The outcome of one poll: what a continuous match claims as one position and emits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollRound {
    /// The number of the poll (0 for the first).
    pub poll: u64,
    /// The files to emit, in admission order.
    pub files: Vec<FileMetadata>,
    /// Files listed but modified before the horizon: forgotten, or too late to be caught.
    pub below_horizon: u64,
    /// New files not emitted because they are not complete yet (still being written).
    pub settling: u64,
    /// Files emitted before whose modification time changed since the last poll: their
    /// changes are not read (without `match_updated_files`, a file is read once).
    #[serde(default)]
    pub changed_after_emit: u64,
    /// One of them, for the warning.
    #[serde(default)]
    pub first_changed: Option<Box<std::path::PathBuf>>,
    /// The state to poll from next; `None` when the watch terminates.
    pub next: Option<WatchState>,
}

impl PollRound {
    /// The watermark after this round: the horizon of the next state (no file below it will be
    /// emitted), or +∞ when the watch terminates.
    pub fn watermark(&self, allowance: Duration) -> Timestamp {
        self.next
            .as_ref()
            .map_or(Timestamp::MAX, |next| next.horizon(allowance))
    }
}

#[cfg(test)]
mod tests;
