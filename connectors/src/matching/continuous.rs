//! [`ContinuousMatch`]: an unbounded SDF per pattern that emits each new file once; its docs
//! hold the late-file rule and the notification design.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sdf_core::{
    ByteKeyRange, Clock, ManualWatermarkEstimator, Output, ProcessContinuation, SharedTracker,
    SplittableDoFn, SystemClock,
};

use super::admission::{Admission, AdmissionOrder};
use super::cleanup::CleanUp;
use super::match_all::{MatchAll, MatchFiles, MatchOptions};
use super::notifier::Notifier;
use super::pattern::Pattern;
use super::state::{PollRound, Termination, WatchPolicy, WatchState};
use super::storage::list;
use super::tracker::{WatchPosition, WatchRestriction, WatchTracker};
use crate::file::FileMetadata;

/// The shortest poll interval: a watch never polls in a tight loop.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Watches each pattern of its input: emits every new matching file once (with
/// [`match_updated_files`](Self::match_updated_files), again when its modification time
/// changes), stamped with its modification time, until the [`Termination`] condition.
///
/// Built with [`MatchAll::continuously`] or [`MatchFiles::continuously`]; every option has a
/// default that works. Empty matches are allowed (a watched directory may be empty for a
/// while); an invalid pattern or an unreadable directory fails the call, which the runtime
/// retries.
///
/// ```
/// use std::time::Duration;
/// use sdf_connectors::{MatchFiles, Termination};
/// use sdf_runtime::{Executor, Pipeline};
/// let dir = std::env::temp_dir().join(format!("sdf-watch-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("a.log"), "a")?;
/// let mut p = Pipeline::new();
/// let files = MatchFiles::new([format!("{}/*.log", dir.display())])
///     .continuously(Duration::from_millis(10), Termination::AfterPollsWithoutNewFile(3))
///     .configure(|watch| watch.late_allowance(Duration::from_secs(600)).max_files_per_poll(1_000))
///     .apply(&mut p, "watch");
/// let out = p.collect("out", files);
/// Executor::builder().workers(2).build().run_blocking(p)?;
/// assert_eq!(out.len(), 1);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Which files are caught: the late-file rule
///
/// The state is bounded: a watch does not remember every file it has seen. With
/// - **C**, the cursor: the greatest modification time of the files the watch has listed at or
///   above its horizon, each capped at the wall-clock time of the poll that listed it;
/// - **L**, the [late allowance](Self::late_allowance) (default 5 minutes);
/// - **H = C − L**, the horizon (held lower while admission control defers older files);
///
/// a poll emits a listed file **if and only if** its modification time is ≥ H (H of the state
/// before the poll) and its path is not remembered (with `match_updated_files`: not remembered
/// with that modification time). A file is remembered from its emission, with the time it had
/// when last listed, until that time falls below H. Hence, exactly:
///
/// - **Caught**: every file whose modification time is ≥ H at the first poll that lists it: new
///   files; files landing out of order up to L older than the newest file seen; files renamed
///   into place, which keep the time they were written (write `.name.tmp`, then rename: hidden
///   names are not matched by `*`); files created while the pipeline was down, if they are
///   still ≥ H when it resumes; files with a future time (emitted at once; they move C only up
///   to the wall clock).
/// - **Never caught**: a file whose modification time is already below H at the first poll
///   that lists it, e.g. copied or extracted with its old time kept (`cp -p`, `rsync -t`,
///   `tar x`, `mv` from another directory) more than L older than the newest file. Raise L to
///   catch those. [`PollRound::below_horizon`] counts the files listed below H (these, and
///   files emitted long ago and forgotten).
/// - **Emitted again** (once per path): a file forgotten (its time fell below H: it was not
///   modified for about L while newer files arrived) and then modified so that its time is
///   ≥ H again. Bounded state cannot tell it from a new file. A file that keeps changing is
///   refreshed at every poll and is *not* emitted again.
///
/// After a restart from a checkpoint no file is emitted twice and none is missed beyond this
/// rule: the state is the restriction and the watermark is the estimator's state, both in the
/// runtime's checkpoint. What a checkpoint costs is the files modified within L (about 57 bytes
/// each with 40-byte paths): ~200 KB for 1 M files a day with the default 5 minutes, ~2.4 MB
/// with an hour (`tests/watch_state_size.rs`).
///
/// **Watermark.** Files are emitted with their modification time as event time, and after each
/// poll the watermark moves to H: no later emission is older. It is +∞ once the watch stops.
///
/// # Files still being written
///
/// A file is emitted only once it is complete, so that no reader sees half of it:
///
/// - with notifications (local directories), as soon as the file is **renamed into place**
///   (`IN_MOVED_TO`) or **closed after writing** (`IN_CLOSE_WRITE`), with no write since;
/// - otherwise (a file that was already there when the watch started, notifications off or
///   lost, a hard link), once its size and modification time have **held still for the
///   [settle time](Self::settle)** (default 1 s) across two polls;
/// - objects in object stores at once: an upload appears whole.
///
/// Until then the file is remembered as *settling* (and holds the horizon down, so it is not
/// forgotten however long it takes). A file that is written again after it was emitted is
/// not read again (see the late-file rule); a reader with
/// [`OnChange::ReadListed`](crate::read::OnChange::ReadListed) reads the bytes that were
/// listed and refuses a last record that the file continues past them. Compare Spark's file
/// source, which assumes files appear atomically and reads whatever it lists, and Vector,
/// which tails files and so never needs them whole: this rule gives whole files without
/// asking writers to rename.
///
/// # Notifications, and polling as the fallback
///
/// Each DoFn instance keeps one watcher (`notify`: inotify on Linux) per watched root, shared by
/// every pattern below it and reduced to an event counter. A call reads the counter (one atomic
/// load): if nothing happened since its last listing and the poll interval is not due, it
/// returns `Resume { delay: notify_check }` (10 ms) at once, with no listing and no claim, and
/// the runner reschedules the untouched restriction on a timer; otherwise it lists and polls.
/// So a renamed-in file is seen within about `notify_check` plus one listing (p50 ≈ 12 ms from
/// rename to sink in `tests/watch_continuous.rs`), an idle watch costs one short call per
/// 10 ms, and nothing spins. Waiting inside `process` instead would hold a worker thread and
/// delay the runner's split requests, which are answered at claims.
///
/// Listing still happens every poll interval (events can be lost, network file systems send
/// none), and without a watcher every call lists and resumes after the poll interval: when
/// notifications are off, for an object store (a URL pattern: objects are polled, with their
/// `last_modified` as modification time, under the same late-file rule), for a literal path, for a root that does not exist yet (retried at
/// each poll), or when the platform refuses a watcher (the inotify watch limit; logged).
/// Access events are ignored, and content changes wake the watch only with
/// `match_updated_files`.
///
/// # Admission control and clean-up
///
/// At most N files or B bytes per poll ([`Admission`], default 10,000 files, oldest first): the
/// rest waits for the next poll, which comes at once, and stays eligible however far the cursor
/// moves. Files can be deleted or archived once committed downstream ([`CleanUp`], from a bundle
/// finalizer, never before).
#[derive(Clone)]
pub struct ContinuousMatch {
    options: MatchOptions,
    poll_interval: Duration,
    policy: WatchPolicy,
    cleanup: CleanUp,
    notifications: bool,
    notify_check: Duration,
    clock: Arc<dyn Clock>,
    notifier: Notifier,
}

impl std::fmt::Debug for ContinuousMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContinuousMatch")
            .field("options", &self.options)
            .field("poll_interval", &self.poll_interval)
            .field("policy", &self.policy)
            .field("cleanup", &self.cleanup)
            .field("notifications", &self.notifications)
            .field("notify_check", &self.notify_check)
            .finish_non_exhaustive()
    }
}

impl MatchAll {
    /// Matches each pattern again every `poll_interval` (at least 1 ms) until `termination`,
    /// emitting only new files. Local directories are also watched for notifications.
    pub fn continuously(
        self,
        poll_interval: Duration,
        termination: Termination,
    ) -> ContinuousMatch {
        ContinuousMatch {
            options: self.options(),
            poll_interval: poll_interval.max(MIN_INTERVAL),
            policy: WatchPolicy {
                termination,
                ..WatchPolicy::default()
            },
            cleanup: CleanUp::Keep,
            notifications: true,
            notify_check: Duration::from_millis(10),
            clock: Arc::new(SystemClock),
            notifier: Notifier::default(),
        }
    }
}

impl MatchFiles<MatchAll> {
    /// These patterns, watched: see [`MatchAll::continuously`].
    pub fn continuously(
        self,
        poll_interval: Duration,
        termination: Termination,
    ) -> MatchFiles<ContinuousMatch> {
        let (patterns, dofn) = self.into_parts();
        MatchFiles::from_parts(patterns, dofn.continuously(poll_interval, termination))
    }
}

impl ContinuousMatch {
    /// How much older than the newest file seen a new file may be and still be caught
    /// (default 5 minutes). The state remembers the files modified within it.
    pub fn late_allowance(mut self, allowance: Duration) -> Self {
        self.policy.late_allowance = allowance;
        self
    }

    /// How long a local file's size and modification time must hold still before it is read
    /// (default 1 s; zero reads every listed file at once). A file that a notification shows
    /// closed after writing, or renamed into place, is read at once: see "Files still being
    /// written" above.
    pub fn settle(mut self, settle: Duration) -> Self {
        self.policy.settle = settle;
        self
    }

    /// Emits a file again when its modification time changes (default: once per path).
    pub fn match_updated_files(mut self, updates: bool) -> Self {
        self.policy.match_updated_files = updates;
        self
    }

    /// Per-poll limits (default: at most 10,000 files, oldest first).
    pub fn admission(mut self, admission: Admission) -> Self {
        self.policy.admission = admission;
        self
    }

    /// At most `files` new files per poll.
    pub fn max_files_per_poll(self, files: usize) -> Self {
        let admission = self.policy.admission.max_files(files);
        self.admission(admission)
    }

    /// At most `bytes` bytes of new files per poll (at least one file).
    pub fn max_bytes_per_poll(self, bytes: u64) -> Self {
        let admission = self.policy.admission.max_bytes(bytes);
        self.admission(admission)
    }

    /// Which new files a limited poll emits first.
    pub fn admission_order(self, order: AdmissionOrder) -> Self {
        let admission = self.policy.admission.order(order);
        self.admission(admission)
    }

    /// Deletes each file once the output that carried it is committed.
    pub fn delete_after_commit(mut self) -> Self {
        self.cleanup = CleanUp::Delete;
        self
    }

    /// Moves each file into `dir` once the output that carried it is committed.
    pub fn archive_after_commit(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cleanup = CleanUp::Archive(dir.into());
        self
    }

    /// Whether local directories are watched for notifications (default: yes). Off, every call
    /// lists the directory and resumes after the poll interval.
    pub fn notifications(mut self, on: bool) -> Self {
        self.notifications = on;
        self
    }

    /// How often a watch with notifications checks its event counter (default 10 ms, at least
    /// 1 ms): the latency of a notified file, and the cost of an idle watch (one short call).
    pub fn notify_check(mut self, every: Duration) -> Self {
        self.notify_check = every.max(MIN_INTERVAL);
        self
    }

    /// The wall clock (tests pass a fake one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The poll logic's settings.
    pub fn policy(&self) -> &WatchPolicy {
        &self.policy
    }

    /// The poll interval.
    pub fn poll_interval(&self) -> Duration {
        self.poll_interval
    }

    /// Emits a round's files, registers their clean-up, and moves the watermark to the round's.
    async fn emit(
        &self,
        pattern: &Pattern,
        round: &PollRound,
        output: &mut Output<'_, FileMetadata>,
        watermark: &mut ManualWatermarkEstimator,
    ) -> sdf_core::Result<()> {
        for file in &round.files {
            output.emit_at(file.clone(), file.modified).await?;
        }
        if let Some(finalizer) = self.cleanup.finalizer(pattern, &round.files)? {
            output.after_commit(finalizer).await?;
        }
        // The horizon never goes down, so this is never refused; a replay sets the same value.
        let _ = watermark.set_watermark(round.watermark(self.policy.late_allowance));
        Ok(())
    }

    /// When to be called again after a poll at `now` that leaves `next`.
    fn delay(&self, next: &WatchState, notified: bool, now: sdf_core::Timestamp) -> Duration {
        if next.has_deferred() {
            return Duration::ZERO;
        }
        let wait = if notified {
            self.notify_check
        } else {
            self.poll_interval
        };
        match next.settle_due(self.policy.settle) {
            // A file still settling is looked at again once it may have settled.
            Some(due) => {
                let until = due.as_micros().saturating_sub(now.as_micros()).max(0) as u64;
                wait.min(Duration::from_micros(until).max(MIN_INTERVAL))
            }
            None => wait,
        }
    }
}

#[async_trait]
impl SplittableDoFn for ContinuousMatch {
    type Input = String;
    type Output = FileMetadata;
    type Restriction = WatchRestriction;
    type Tracker = WatchTracker;
    type WatermarkEstimator = ManualWatermarkEstimator;

    fn initial_restriction(&self, _pattern: &String) -> sdf_core::Result<WatchRestriction> {
        Ok(WatchRestriction::Polling(WatchState::new()))
    }

    fn new_tracker(&self, _pattern: &String, restriction: WatchRestriction) -> WatchTracker {
        WatchTracker::new(restriction)
    }

    async fn process(
        &self,
        pattern: &String,
        tracker: &mut SharedTracker<WatchTracker>,
        output: &mut Output<'_, FileMetadata>,
        watermark: &mut ManualWatermarkEstimator,
    ) -> sdf_core::Result<ProcessContinuation> {
        let pattern = Pattern::parse(pattern)?;
        let mut state = match tracker.current_restriction() {
            WatchRestriction::Polling(state) => state,
            WatchRestriction::Replay { rounds, .. } => {
                for round in rounds {
                    if !tracker.try_claim(WatchPosition::Round(round.clone()))? {
                        return Ok(ProcessContinuation::Stop);
                    }
                    self.emit(&pattern, &round, output, watermark).await?;
                }
                tracker.try_claim(WatchPosition::End)?;
                return Ok(ProcessContinuation::Stop);
            }
            WatchRestriction::Done => {
                tracker.try_claim(WatchPosition::End)?;
                return Ok(ProcessContinuation::Stop);
            }
        };
        let now = self.clock.now();
        let recursive = pattern.max_depth().is_none_or(|depth| depth > 1);
        let watched = if self.notifications && !pattern.is_literal() && !pattern.is_remote() {
            self.notifier.watch(pattern.root(), recursive)
        } else {
            None
        };
        if let Some(watched) = &watched {
            let events = watched.events(self.policy.match_updated_files);
            let due = state
                .last_poll()
                .is_none_or(|last| last.saturating_add(self.poll_interval) <= now)
                || state
                    .settle_due(self.policy.settle)
                    .is_some_and(|due| due <= now);
            if events == state.events() && !due && !state.has_deferred() {
                // Nothing happened: no listing, no claim; the runner checkpoints the whole
                // restriction and calls again after the check interval.
                return Ok(ProcessContinuation::resume_after(self.notify_check));
            }
            state.set_events(events);
        }
        // Taken before the listing: a file closed after it may have been listed half-written.
        let mark = watched.as_ref().map(|w| w.mark());
        let listing = list(&pattern, &ByteKeyRange::all(), self.options.list).await;
        let complete = |file: &FileMetadata| match (&watched, mark) {
            (Some(watched), Some(mark)) => watched.complete_before(&file.path, mark),
            _ => false,
        };
        let round = state.poll_notified(listing, now, &self.policy, complete)?;
        if let Some(path) = &round.first_changed {
            tracing::warn!(
                files = round.changed_after_emit,
                example = %path.display(),
                "files were modified after they were read; a watch reads each file once, so \
                 the changes are not read (follow growing files with a tail instead)"
            );
        }
        if round.settling > 0 {
            tracing::debug!(
                pattern = pattern.as_str(),
                files = round.settling,
                "files still being written: read once they are complete"
            );
        }
        if !tracker.try_claim(WatchPosition::Round(round.clone()))? {
            return Ok(ProcessContinuation::Stop);
        }
        self.emit(&pattern, &round, output, watermark).await?;
        match &round.next {
            Some(next) => Ok(ProcessContinuation::resume_after(self.delay(
                next,
                watched.is_some(),
                now,
            ))),
            None => {
                tracker.try_claim(WatchPosition::End)?;
                Ok(ProcessContinuation::Stop)
            }
        }
    }
}
