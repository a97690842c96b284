//! [`SharedTracker`]: the tracker handle `process` claims through, and [`SplitHandle`], through
//! which a runner splits the same tracker from another thread.
//!
//! # Design: cooperative splitting, lock-free claims
//!
//! Every Beam SDK wraps the tracker in a mutex, so each claim pays a lock. Here the claiming side
//! *owns* the tracker. A runner that wants a split posts a request to a mailbox and raises a
//! flag; the next `try_claim` sees the flag (one relaxed atomic load), performs the request on
//! the tracker it owns, and replies. A claim therefore costs the raw tracker's claim plus one
//! load and one branch.
//!
//! The price: a request is answered at the next claim, or when the `process` call ends and the
//! runner takes the tracker back ([`SharedTracker::into_inner`] answers what is left). A DoFn
//! that awaits for a long time between claims delays splits, never their correctness. Long waits
//! belong in `ProcessContinuation::Resume { delay }`, not inside `process`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures::channel::oneshot;

use crate::error::TrackerError;
use crate::tracker::{Progress, RestrictionTracker, SplitResult};

type SplitReply<R> = Result<Option<SplitResult<R>>, TrackerError>;

/// A point-in-time view of a running tracker, for a runner's split policy and metrics.
#[derive(Debug, Clone)]
pub struct TrackerSnapshot<R> {
    /// The current restriction.
    pub restriction: R,
    /// Its progress.
    pub progress: Progress,
    /// Successful claims so far in this call.
    pub claims: u64,
    /// Whether the restriction is bounded.
    pub bounded: bool,
}

enum Request<R> {
    Split {
        fraction: f64,
        /// Defer the split until at least one claim succeeded (Beam PR #32044: a checkpoint
        /// before the first claim makes no progress and can livelock).
        after_first_claim: bool,
        /// Where the answer goes; `None`: the residual is kept for the tracker's owner.
        reply: Option<oneshot::Sender<SplitReply<R>>>,
    },
    Snapshot {
        reply: oneshot::Sender<TrackerSnapshot<R>>,
    },
}

struct Mailbox<R> {
    /// Raised while a request waits; read with one relaxed load per claim.
    pending: AtomicBool,
    /// Set when the `process` call's handle is gone; later requests are answered at once.
    closed: AtomicBool,
    requests: Mutex<Vec<Request<R>>>,
    /// Residuals of splits whose requester stopped waiting: kept for the runner, never dropped.
    orphans: Mutex<Vec<R>>,
}

impl<R> Mailbox<R> {
    fn lock(&self) -> MutexGuard<'_, Vec<Request<R>>> {
        // A panic while holding this lock cannot leave the Vec inconsistent.
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn orphan(&self, residual: R) {
        self.orphans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(residual);
    }
}

/// The tracker handle that `process` claims through.
///
/// It implements [`RestrictionTracker`] by delegating to the tracker it owns, and answers the
/// requests of its [`SplitHandle`]s at each claim. See the module docs for the design.
///
/// ```
/// use sdf_core::{OffsetRange, OffsetRangeTracker, RestrictionTracker, SharedTracker};
/// let mut tracker = SharedTracker::new(OffsetRangeTracker::new(OffsetRange::new(0, 100)));
/// let splitter = tracker.split_handle();
/// assert!(tracker.try_claim(0)?);
///
/// // Another thread (here: this one) asks for half of the remaining work...
/// let reply = splitter.try_split(0.5);
/// // ...which the next claim performs before claiming.
/// assert!(tracker.try_claim(1)?);
/// let split = futures::executor::block_on(reply)?.unwrap();
/// assert_eq!(split.residual, OffsetRange::new(50, 100));
/// assert!(!tracker.try_claim(50)?);
/// # Ok::<(), sdf_core::TrackerError>(())
/// ```
pub struct SharedTracker<T: RestrictionTracker> {
    tracker: T,
    claims: u64,
    /// Splits the conformance kit schedules at exact claim counts: `(claims, fraction)`, in
    /// the order they happen.
    scheduled: std::collections::VecDeque<(u64, f64)>,
    scheduled_results: Vec<SplitReply<T::Restriction>>,
    #[cfg(feature = "testing")]
    kit: Option<Box<KitHooks<T::Restriction>>>,
    closer: Closer<T::Restriction>,
}

/// What the conformance kit watches in a call: every claim's outcome, and each scheduled
/// split as it happens.
#[cfg(feature = "testing")]
pub(crate) struct KitHooks<R> {
    pub probe: Arc<ClaimProbe>,
    /// Called with each successful scheduled split the moment it is made, before the claim
    /// that follows it: the kit may run the residual there, interleaved with the running call.
    pub on_split: Option<OnSplit<R>>,
}

/// The kit's hook for a scheduled split: see [`KitHooks::on_split`].
#[cfg(feature = "testing")]
pub(crate) type OnSplit<R> = Box<dyn FnMut(&SplitResult<R>) + Send>;

/// The claims of one call as they happen, for the kit's emitter to place each record.
#[cfg(feature = "testing")]
#[derive(Debug, Default)]
pub(crate) struct ClaimProbe {
    /// Successful claims so far.
    pub claims: std::sync::atomic::AtomicU64,
    /// Whether a claim returned `false`.
    pub refused: AtomicBool,
    /// Whether `process` has returned (the runner's own flush follows).
    pub returned: AtomicBool,
}

/// Answers the requests still in the mailbox when the claiming side goes away.
struct Closer<R>(Arc<Mailbox<R>>);

impl<R> Drop for Closer<R> {
    fn drop(&mut self) {
        let mut requests = self.0.lock();
        self.0.closed.store(true, Ordering::Release);
        self.0.pending.store(false, Ordering::Relaxed);
        for request in requests.drain(..) {
            match request {
                Request::Split {
                    reply: Some(reply), ..
                } => {
                    let _ = reply.send(Ok(None));
                }
                Request::Split { reply: None, .. } => {}
                // Dropping the sender tells the requester the call has ended.
                Request::Snapshot { .. } => {}
            }
        }
    }
}

impl<T: RestrictionTracker> SharedTracker<T> {
    /// Wraps `tracker`.
    pub fn new(tracker: T) -> Self {
        SharedTracker {
            tracker,
            claims: 0,
            scheduled: std::collections::VecDeque::new(),
            scheduled_results: Vec::new(),
            #[cfg(feature = "testing")]
            kit: None,
            closer: Closer(Arc::new(Mailbox {
                pending: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                requests: Mutex::new(Vec::new()),
                orphans: Mutex::new(Vec::new()),
            })),
        }
    }

    /// A handle through which other threads and tasks split this tracker.
    pub fn split_handle(&self) -> SplitHandle<T::Restriction> {
        SplitHandle {
            mailbox: Arc::clone(&self.closer.0),
        }
    }

    /// Successful claims made through this handle.
    pub fn claims(&self) -> u64 {
        self.claims
    }

    /// The wrapped tracker.
    pub fn get_ref(&self) -> &T {
        &self.tracker
    }

    /// Answers every waiting request now. Runners call this when they hold the tracker outside
    /// `process` (before handing it over, or after the call returned).
    pub fn serve_requests(&mut self) {
        if self.closer.0.pending.load(Ordering::Relaxed) {
            self.serve();
        }
    }

    /// Answers what is waiting, closes the split handles (later requests get `Ok(None)`), and
    /// returns the tracker with the [orphaned residuals](Self::orphaned_residuals).
    pub fn finish(mut self) -> (T, Vec<T::Restriction>) {
        self.serve_requests();
        let orphans = self.orphaned_residuals();
        (self.tracker, orphans)
    }

    /// Closes the split handles *without* serving what waits: every pending split is answered
    /// `Ok(None)` and the restriction stays whole. For a runner whose call failed before its
    /// first claim: splitting its untouched restriction now would retry (or dead-letter) an
    /// empty primary and run the whole rest again, failing twice for one element.
    pub fn finish_unserved(self) -> T {
        self.tracker
    }

    /// Residuals of splits whose requester dropped its [`SplitReplyFuture`] after the split was
    /// made. The work is no longer in this tracker's restriction: the runner must schedule it.
    ///
    /// A requester should await its replies while the call runs: a reply dropped after the
    /// runner took the tracker back with [`finish`](Self::finish) has nowhere to go.
    pub fn orphaned_residuals(&mut self) -> Vec<T::Restriction> {
        std::mem::take(
            &mut *self
                .closer
                .0
                .orphans
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }

    /// Schedules a split of `fraction` just before claim number `claims + 1` is attempted, i.e.
    /// after exactly `claims` successful claims. Splits are made in the order scheduled, each
    /// once its claim count is reached (several may fall at the same count). The results are
    /// in [`Self::take_scheduled_splits`].
    #[cfg(feature = "testing")]
    pub(crate) fn schedule_split(&mut self, claims: u64, fraction: f64) {
        self.scheduled.push_back((claims, fraction));
        let _guard = self.closer.0.lock();
        self.closer.0.pending.store(true, Ordering::Relaxed);
    }

    /// The outcomes of the splits set with `schedule_split` that happened, in order.
    #[cfg(feature = "testing")]
    pub(crate) fn take_scheduled_splits(&mut self) -> Vec<SplitReply<T::Restriction>> {
        std::mem::take(&mut self.scheduled_results)
    }

    /// Installs the kit's hooks for this call.
    #[cfg(feature = "testing")]
    pub(crate) fn set_kit_hooks(&mut self, hooks: KitHooks<T::Restriction>) {
        self.kit = Some(Box::new(hooks));
    }

    #[cold]
    #[inline(never)]
    fn serve(&mut self) {
        while let Some(&(at, fraction)) = self.scheduled.front() {
            if at != self.claims {
                break;
            }
            self.scheduled.pop_front();
            let result = self.tracker.try_split(fraction);
            #[cfg(feature = "testing")]
            if let (Ok(Some(split)), Some(kit)) = (&result, self.kit.as_mut())
                && let Some(hook) = kit.on_split.as_mut()
            {
                hook(split);
            }
            self.scheduled_results.push(result);
        }
        let mut requests = self.closer.0.lock();
        let mut deferred = Vec::new();
        for request in requests.drain(..) {
            match request {
                Request::Split {
                    after_first_claim: true,
                    fraction,
                    reply,
                } if self.claims == 0 => deferred.push(Request::Split {
                    fraction,
                    after_first_claim: true,
                    reply,
                }),
                Request::Split {
                    fraction,
                    reply: Some(reply),
                    ..
                } => {
                    if reply.is_canceled() {
                        continue;
                    }
                    if let Err(Ok(Some(split))) = reply.send(self.tracker.try_split(fraction)) {
                        self.closer.0.orphan(split.residual);
                    }
                }
                Request::Split {
                    fraction,
                    reply: None,
                    ..
                } => {
                    if let Ok(Some(split)) = self.tracker.try_split(fraction) {
                        self.closer.0.orphan(split.residual);
                    }
                }
                Request::Snapshot { reply } => {
                    let _ = reply.send(TrackerSnapshot {
                        restriction: self.tracker.current_restriction(),
                        progress: self.tracker.progress(),
                        claims: self.claims,
                        bounded: self.tracker.is_bounded(),
                    });
                }
            }
        }
        *requests = deferred;
        let still_pending = !requests.is_empty() || !self.scheduled.is_empty();
        self.closer
            .0
            .pending
            .store(still_pending, Ordering::Relaxed);
    }
}

/// The claim side, what `process` uses. There is deliberately no `try_split`: a DoFn that split
/// its own tracker would have no way to hand the residual to the runner, and the work would be
/// lost. Splitting is the runner's, through a [`SplitHandle`]; a DoFn that wants to stop early
/// returns [`ProcessContinuation::Resume`](crate::ProcessContinuation::Resume).
impl<T: RestrictionTracker> SharedTracker<T> {
    /// Claims `position`: see [`RestrictionTracker::try_claim`]. Answers waiting split requests
    /// first.
    #[inline]
    pub fn try_claim(&mut self, position: T::Position) -> Result<bool, TrackerError> {
        if self.closer.0.pending.load(Ordering::Relaxed) {
            self.serve();
        }
        let claimed = self.tracker.try_claim(position)?;
        self.claims += u64::from(claimed);
        #[cfg(feature = "testing")]
        if let Some(kit) = &self.kit {
            kit.probe.claims.store(self.claims, Ordering::Relaxed);
            if !claimed {
                kit.probe.refused.store(true, Ordering::Relaxed);
            }
        }
        Ok(claimed)
    }

    /// The current restriction: see [`RestrictionTracker::current_restriction`].
    pub fn current_restriction(&self) -> T::Restriction {
        self.tracker.current_restriction()
    }

    /// See [`RestrictionTracker::check_done`].
    pub fn check_done(&self) -> Result<(), TrackerError> {
        self.tracker.check_done()
    }

    /// See [`RestrictionTracker::progress`].
    pub fn progress(&self) -> Progress {
        self.tracker.progress()
    }

    /// See [`RestrictionTracker::is_bounded`].
    pub fn is_bounded(&self) -> bool {
        self.tracker.is_bounded()
    }
}

impl<T: RestrictionTracker + fmt::Debug> fmt::Debug for SharedTracker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTracker")
            .field("tracker", &self.tracker)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

/// Splits a [`SharedTracker`] from another thread or task. Cheap to clone; `Send + Sync`.
///
/// Requests are answered at the tracker's next claim (see the module docs). Once the `process`
/// call has ended and its handle was dropped or unwrapped, splits answer `Ok(None)` and
/// snapshots `None`.
pub struct SplitHandle<R> {
    mailbox: Arc<Mailbox<R>>,
}

impl<R> Clone for SplitHandle<R> {
    fn clone(&self) -> Self {
        SplitHandle {
            mailbox: Arc::clone(&self.mailbox),
        }
    }
}

impl<R> fmt::Debug for SplitHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SplitHandle")
            .field("closed", &self.mailbox.closed.load(Ordering::Relaxed))
            .finish()
    }
}

impl<R: Send + 'static> SplitHandle<R> {
    /// Asks for a split keeping `fraction` of the remaining work in the primary.
    ///
    /// The request is posted at once; the returned future resolves when the tracker answered.
    /// It need not be awaited at once, so code running *inside* the `process` call can post a
    /// checkpoint request (fraction 0) without waiting for itself.
    pub fn try_split(&self, fraction: f64) -> SplitReplyFuture<R> {
        self.post_split(fraction, false)
    }

    /// Like [`try_split`](Self::try_split), but the split waits until the call has claimed at
    /// least once. A runner's checkpoint uses this: a checkpoint before the first claim would
    /// hand the whole restriction back without progress.
    pub fn try_split_after_first_claim(&self, fraction: f64) -> SplitReplyFuture<R> {
        self.post_split(fraction, true)
    }

    fn post_split(&self, fraction: f64, after_first_claim: bool) -> SplitReplyFuture<R> {
        let (reply, receiver) = oneshot::channel();
        self.post(Request::Split {
            fraction,
            after_first_claim,
            reply: Some(reply),
        });
        SplitReplyFuture {
            receiver,
            mailbox: Arc::clone(&self.mailbox),
            returned: false,
        }
    }

    /// Asks the call to checkpoint at its next claim (`try_split(0.0)`) without waiting for the
    /// answer: the residual is kept for the tracker's owner, which gets it from
    /// [`SharedTracker::finish`]. For a runner that must stop every running call at once.
    pub fn request_checkpoint(&self) {
        self.post_checkpoint(false);
    }

    /// Like [`request_checkpoint`](Self::request_checkpoint), but the checkpoint waits until the
    /// call has claimed at least once: what a runner's time bound on a call uses.
    pub fn request_checkpoint_after_first_claim(&self) {
        self.post_checkpoint(true);
    }

    fn post_checkpoint(&self, after_first_claim: bool) {
        self.post(Request::Split {
            fraction: 0.0,
            after_first_claim,
            reply: None,
        });
    }

    /// Asks for the tracker's restriction, progress and claim count; `None` if the call ended.
    pub async fn snapshot(&self) -> Option<TrackerSnapshot<R>> {
        let (reply, receiver) = oneshot::channel();
        self.post(Request::Snapshot { reply });
        receiver.await.ok()
    }

    /// Whether the `process` call this handle belongs to has ended.
    pub fn is_closed(&self) -> bool {
        self.mailbox.closed.load(Ordering::Acquire)
    }

    fn post(&self, request: Request<R>) {
        let mut requests = self.mailbox.lock();
        if self.mailbox.closed.load(Ordering::Acquire) {
            // Dropping the request answers it: splits resolve to Ok(None), snapshots to None.
            return;
        }
        requests.push(request);
        self.mailbox.pending.store(true, Ordering::Relaxed);
    }
}

/// The answer to a [`SplitHandle::try_split`]: `Ok(None)` if no split was possible or the call
/// had ended.
///
/// Dropping it without taking the answer does not lose work: a residual that arrived is kept as
/// orphaned ([`SharedTracker::orphaned_residuals`]).
#[must_use = "await this to learn the residual; if dropped, the residual is kept as orphaned"]
pub struct SplitReplyFuture<R> {
    receiver: oneshot::Receiver<SplitReply<R>>,
    mailbox: Arc<Mailbox<R>>,
    returned: bool,
}

impl<R> Drop for SplitReplyFuture<R> {
    fn drop(&mut self) {
        if !self.returned
            && let Ok(Some(Ok(Some(split)))) = self.receiver.try_recv()
        {
            self.mailbox.orphan(split.residual);
        }
    }
}

impl<R> SplitReplyFuture<R> {
    /// The answer if it has arrived, without waiting: `None` while the request is pending.
    pub fn try_take(&mut self) -> Option<SplitReply<R>> {
        let answer = match self.receiver.try_recv() {
            Ok(Some(reply)) => Some(reply),
            Ok(None) => None,
            Err(oneshot::Canceled) => Some(Ok(None)),
        };
        self.returned |= answer.is_some();
        answer
    }
}

impl<R> Future for SplitReplyFuture<R> {
    type Output = SplitReply<R>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let answer = Pin::new(&mut self.receiver)
            .poll(cx)
            .map(|r| r.unwrap_or(Ok(None)));
        self.returned |= answer.is_ready();
        answer
    }
}

impl<R> fmt::Debug for SplitReplyFuture<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SplitReplyFuture")
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::offset_range::{OffsetRange, OffsetRangeTracker};

    fn tracker(end: i64) -> SharedTracker<OffsetRangeTracker> {
        SharedTracker::new(OffsetRangeTracker::new(OffsetRange::new(0, end)))
    }

    #[test]
    fn a_request_is_answered_at_the_next_claim_before_claiming() {
        let mut t = tracker(10);
        let handle = t.split_handle();
        assert!(t.try_claim(0).unwrap());
        let mut reply = handle.try_split(0.0);
        assert!(
            reply.try_take().is_none(),
            "nothing answers until the next claim"
        );
        assert!(
            !t.try_claim(1).unwrap(),
            "the checkpoint was taken before claim 1"
        );
        let split = reply.try_take().unwrap().unwrap().unwrap();
        assert_eq!(split.residual, OffsetRange::new(1, 10));
    }

    #[test]
    fn after_first_claim_requests_wait_for_a_claim() {
        let mut t = tracker(10);
        let handle = t.split_handle();
        let mut deferred = handle.try_split_after_first_claim(0.0);
        let mut immediate = handle.try_split(0.9);
        assert!(
            t.try_claim(0).unwrap(),
            "claim 0 is not refused: the checkpoint waited"
        );
        assert!(deferred.try_take().is_none());
        let first = immediate.try_take().unwrap().unwrap().unwrap();
        assert_eq!(
            first.primary,
            OffsetRange::new(0, 8),
            "-1 + floor(11 × 0.9) = 8"
        );
        assert!(!t.try_claim(1).unwrap(), "now the checkpoint is taken");
        assert_eq!(
            deferred.try_take().unwrap().unwrap().unwrap().residual,
            OffsetRange::new(1, 8)
        );
    }

    #[test]
    fn requests_after_the_call_ended_get_none() {
        let t = tracker(10);
        let handle = t.split_handle();
        let pending = handle.try_split(0.5);
        let (inner, _) = t.finish();
        // Served by finish: the tracker had claimed nothing, so 0.5 splits the range.
        assert_eq!(
            block_on(pending).unwrap().unwrap().residual,
            OffsetRange::new(4, 10)
        );
        assert_eq!(inner.current_restriction(), OffsetRange::new(0, 4));
        assert!(handle.is_closed());
        assert_eq!(block_on(handle.try_split(0.5)).unwrap(), None);
        assert!(block_on(handle.snapshot()).is_none());
    }

    #[test]
    fn a_request_whose_requester_gave_up_is_skipped() {
        let mut t = tracker(10);
        let handle = t.split_handle();
        assert!(t.try_claim(0).unwrap());
        // The reply future is dropped before the tracker serves: the request is skipped.
        drop(handle.try_split(0.5));
        assert!(t.try_claim(1).unwrap());
        assert!(t.orphaned_residuals().is_empty());
        assert_eq!(
            t.current_restriction(),
            OffsetRange::new(0, 10),
            "no split was made"
        );
    }

    #[test]
    fn a_reply_dropped_after_the_split_keeps_its_residual() {
        let mut t = tracker(10);
        let handle = t.split_handle();
        assert!(t.try_claim(0).unwrap());
        let reply = handle.try_split(0.5);
        assert!(
            t.try_claim(1).unwrap(),
            "the split happens before this claim"
        );
        assert_eq!(t.current_restriction(), OffsetRange::new(0, 5));
        drop(reply); // as a timeout or a select! would
        assert_eq!(t.orphaned_residuals(), vec![OffsetRange::new(5, 10)]);
        let (_, orphans) = t.finish();
        assert!(orphans.is_empty(), "handed over once");
    }

    #[test]
    fn a_requested_checkpoint_goes_to_the_owner() {
        let mut t = tracker(10);
        let handle = t.split_handle();
        assert!(t.try_claim(0).unwrap());
        handle.request_checkpoint();
        assert!(!t.try_claim(1).unwrap(), "the checkpoint came first");
        let (_, orphans) = t.finish();
        assert_eq!(orphans, vec![OffsetRange::new(1, 10)]);
    }

    #[test]
    fn snapshots_report_restriction_progress_and_claims() {
        let mut t = tracker(10);
        let handle = t.split_handle();
        assert!(t.try_claim(0).unwrap());
        let snapshot = std::thread::scope(|s| {
            let asker = s.spawn(|| block_on(handle.snapshot()));
            while !t.closer.0.pending.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
            assert!(t.try_claim(1).unwrap());
            asker.join().unwrap().unwrap()
        });
        assert_eq!(snapshot.restriction, OffsetRange::new(0, 10));
        assert_eq!(snapshot.claims, 1, "taken before claim 1");
        assert_eq!(snapshot.progress, Progress::new(1.0, 9.0));
        assert!(snapshot.bounded);
    }
}
