//! One SDF stage: a queue of work items, a set of delayed ones, the calls running now, and `N`
//! workers that take work, run `process`, and split running work when they are idle.
//!
//! A work item is (element, restriction, watermark-estimator state). The stage's state sits
//! behind one `std` mutex that is never held across an `.await`.

mod call;
mod carry;
mod persist;
mod rebalance;
mod state;

use std::sync::Arc;
use std::time::Duration;

use sdf_core::{SplittableDoFn, Timestamp, Timestamped, WatermarkEstimator, WatermarkState};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::config::Config;
use crate::control::Control;
use crate::error::{Error, Result};
use crate::lineage::Lineage;
use crate::link::{LinkReceiver, LinkSender};
use crate::message::Message;
use crate::metrics::Counters;
use crate::policy;
use state::State;

/// An input element of a stage, with the finalizers upstream that wait for its work
/// (`lineage.rs`): they are released when the last work item of the element is gone.
pub(crate) struct Element<I> {
    record: Timestamped<I>,
    lineage: Lineage,
}

impl<I> Element<I> {
    pub fn new(record: Timestamped<I>, lineage: Lineage) -> Self {
        Element { record, lineage }
    }

    /// The finalizers waiting for this element's work.
    pub fn lineage(&self) -> &Lineage {
        &self.lineage
    }
}

impl<I> std::ops::Deref for Element<I> {
    type Target = Timestamped<I>;

    fn deref(&self) -> &Timestamped<I> {
        &self.record
    }
}

/// An element and the restriction of it still to process.
pub(crate) struct Work<F: SplittableDoFn> {
    pub element: Arc<Element<F::Input>>,
    pub restriction: F::Restriction,
    pub watermark: WatermarkState<F>,
    /// The watermark this item holds back: its estimator's watermark.
    pub hold: Timestamp,
    pub size: f64,
    pub attempts: u32,
}

impl<F: SplittableDoFn> Work<F> {
    fn new(
        dofn: &F,
        element: Arc<Element<F::Input>>,
        restriction: F::Restriction,
        watermark: WatermarkState<F>,
    ) -> Self {
        let hold = dofn
            .new_watermark_estimator(watermark.clone())
            .current_watermark();
        let size = dofn.restriction_size(&element.value, &restriction);
        Work {
            element,
            restriction,
            watermark,
            hold,
            size,
            attempts: 0,
        }
    }
}

/// What a stage shares between its intake, its workers and the pipeline.
pub(crate) struct Stage<F: SplittableDoFn> {
    pub name: String,
    pub dofn: Arc<F>,
    pub config: Config,
    pub state: std::sync::Mutex<State<F>>,
    /// Signalled whenever work is added or the stage's state changes.
    pub wake: Notify,
    /// Signalled when queue space frees up (intake backpressure).
    pub space: Notify,
    pub counters: Arc<Counters>,
    pub output: LinkSender<F::Output>,
    pub control: Arc<Control>,
    /// Only one worker rebalances at a time.
    pub rebalancing: tokio::sync::Mutex<()>,
    /// Where elements go whose work failed on every attempt; `None`: the pipeline fails.
    pub dead_letters: crate::dead_letter::DeadLetterOutput<F>,
}

impl<F: SplittableDoFn> Stage<F> {
    pub fn new(
        name: String,
        dofn: Arc<F>,
        config: Config,
        output: LinkSender<F::Output>,
        control: Arc<Control>,
        counters: Arc<Counters>,
        dead_letters: crate::dead_letter::DeadLetterOutput<F>,
    ) -> Arc<Self> {
        Arc::new(Stage {
            name,
            dofn,
            config,
            state: std::sync::Mutex::new(State::default()),
            wake: Notify::new(),
            space: Notify::new(),
            counters,
            output,
            control,
            rebalancing: tokio::sync::Mutex::new(()),
            dead_letters,
        })
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State<F>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs the stage to completion: setup, intake and workers, teardown, then +∞ downstream.
    pub async fn run(self: Arc<Self>, input: LinkReceiver<F::Input>) -> Result<()> {
        self.dofn
            .setup()
            .await
            .map_err(|e| self.dofn_error("setup", e))?;
        // Workers run on threads of their own: `process` may compute or block for as long as it
        // likes without starving the tasks that must answer it (tokio would put a task woken by
        // a busy worker in that worker's unstealable LIFO slot). Each thread drives its worker
        // loop with the runtime's handle, so timers and tokio I/O work inside `process`.
        {
            let room = input.room();
            room.set_limit(self.queue_limit());
            let mut s = self.lock();
            s.room = Some(room);
            s.sync_room();
        }
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(Arc::clone(&self).intake(input));
        // Outside the set: it only serves running calls, and is stopped when the workers are
        // done rather than waited for.
        let watcher = tokio::spawn(Arc::clone(&self).watch_deadlines());
        let runtime = tokio::runtime::Handle::current();
        for i in 0..self.config.workers.max(1) {
            let (done, finished) = tokio::sync::oneshot::channel();
            let stage = Arc::clone(&self);
            let runtime = runtime.clone();
            // Counted until it exits: the pipeline does not end (and the runtime is not shut
            // down) under a worker still using it.
            self.control.worker_started();
            let started = std::thread::Builder::new()
                .name(format!("sdf-{}-{i}", self.name))
                .spawn(move || {
                    let control = Arc::clone(&stage.control);
                    // A stopped pipeline drops its worker at its next await, whatever it was
                    // waiting for: nothing it does after a stop can be committed.
                    let result = runtime.block_on(async {
                        tokio::select! {
                            biased;
                            result = Arc::clone(&stage).worker() => result,
                            _ = control.stopped() => Ok(()),
                        }
                    });
                    tracing::debug!(stage = %stage.name, worker = i, "worker thread exits");
                    drop(stage);
                    control.worker_exiting();
                    let _ = done.send(result);
                });
            if let Err(e) = started {
                self.control.worker_exiting();
                return Err(Error::Internal(format!(
                    "cannot start a worker thread: {e}"
                )));
            }
            tasks.spawn(async move {
                finished
                    .await
                    .unwrap_or_else(|_| Err(Error::Internal("a worker thread panicked".into())))
            });
        }
        let mut result = Ok(());
        while let Some(joined) = tasks.join_next().await {
            let r = flatten(joined);
            if result.is_ok() && r.is_err() {
                self.control.fail();
                self.wake.notify_waiters();
                self.space.notify_waiters();
                result = r;
            }
        }
        watcher.abort();
        if let Some(fatal) = self.lock().fatal.take() {
            result = Err(fatal);
        }
        self.dofn
            .teardown()
            .await
            .map_err(|e| self.dofn_error("teardown", e))?;
        if result.is_ok() {
            // The end of the output, sent once: `publish_watermark` may have sent it already.
            let first = {
                let mut s = self.lock();
                std::mem::replace(&mut s.emitted_watermark, Timestamp::MAX) < Timestamp::MAX
            };
            if first {
                self.advance_watermark(Timestamp::MAX).await;
            }
        }
        result
    }

    /// Takes input elements, pairs each with its initial restriction, splits it and queues the
    /// pieces. Stops taking input while the queue is full.
    async fn intake(self: Arc<Self>, mut input: LinkReceiver<F::Input>) -> Result<()> {
        let limit = self.queue_limit();
        loop {
            // A stage reads its input until upstream closes it, drain or not: only sources stop
            // on a drain, and what upstream still produces must be handled (and counted, or the
            // last checkpoint would wait for it for ever).
            let message = input.recv().await;
            match message {
                Some(Message::Batch(batch, lineage)) => {
                    for element in batch {
                        self.accept(element, &lineage)?;
                        self.wait_for_space(limit).await;
                    }
                }
                Some(Message::Watermark(w)) => {
                    {
                        let mut s = self.lock();
                        s.input_watermark = s.input_watermark.max(w);
                    }
                    if w == Timestamp::MAX {
                        // The end of the input: every producer sends +∞ when it finishes (the
                        // channel itself may stay open: a finished stage stays registered for
                        // checkpoints, and with it its sender).
                        input.handled();
                        break;
                    }
                    self.publish_watermark().await;
                }
                None => break,
            }
            input.handled();
        }
        self.lock().input_closed = true;
        self.wake.notify_waiters();
        self.publish_watermark().await;
        Ok(())
    }

    /// Restrictions queued before the intake stops taking input.
    fn queue_limit(&self) -> usize {
        self.config.queue_per_worker * self.config.workers.max(1)
    }

    fn accept(&self, element: Timestamped<F::Input>, lineage: &Lineage) -> Result<()> {
        Counters::add(&self.counters.elements, 1);
        let element = Arc::new(Element::new(element, lineage.clone()));
        let dofn = &*self.dofn;
        let root = dofn.initial_restriction(&element.value).map_err(|e| {
            self.dofn_error(&format!("initial_restriction of {:?}", element.value), e)
        })?;
        let size = dofn.restriction_size(&element.value, &root);
        let total = {
            let mut s = self.lock();
            s.total_seen += if size.is_finite() { size } else { 0.0 };
            s.total_seen
        };
        let desired = policy::desired_piece_size(
            total,
            self.config.workers,
            self.config.initial_pieces_per_worker,
        );
        let pieces = dofn
            .split_restriction(&element.value, root, desired)
            .map_err(|e| {
                self.dofn_error(&format!("split_restriction of {:?}", element.value), e)
            })?;
        let draining = self.control.is_draining();
        let mut s = self.lock();
        for restriction in pieces {
            let restriction = if draining {
                match dofn.truncate_restriction(&element.value, restriction) {
                    Some(r) => r,
                    None => continue,
                }
            } else {
                restriction
            };
            let watermark = dofn.initial_watermark_state(&element.value, &restriction);
            s.enqueue(Work::new(
                dofn,
                Arc::clone(&element),
                restriction,
                watermark,
            ));
        }
        s.publish_counters(&self.counters);
        drop(s);
        self.wake.notify_waiters();
        Ok(())
    }

    async fn wait_for_space(&self, limit: usize) {
        loop {
            // Woken when workers free space, or when a checkpoint starts: while it is taken the
            // workers free nothing, and the queue must take in-flight messages whatever its
            // size (the checkpoint waits for every link to drain).
            let space = self.space.notified();
            let paused = self.control.pause_started();
            tokio::pin!(space, paused);
            space.as_mut().enable();
            paused.as_mut().enable();
            if self.lock().queue.len() < limit
                || self.control.is_stopped()
                || self.control.is_pausing()
            {
                return;
            }
            tokio::select! {
                _ = space => {}
                _ = paused => {}
            }
        }
    }

    /// A worker: takes work until the stage is done.
    async fn worker(self: Arc<Self>) -> Result<()> {
        let mut backoff = Duration::from_millis(1);
        let mut carry = carry::Carry::new(self.config.batch_size);
        // Held while this worker takes and runs work, and while it carries output: a checkpoint
        // waits for it.
        let mut unit = None;
        loop {
            if self.control.is_stopped() {
                // A stop during a checkpoint leaves the pipeline paused for good: looking for
                // work again would spin.
                self.wake.notify_waiters();
                return Ok(());
            }
            if unit.is_none() {
                self.control.wait_while_pausing().await;
                unit = Some(self.control.gate.read().await);
            }
            if self.control.is_pausing() {
                // A checkpoint is waiting: hand over what this worker carries, then step aside.
                self.flush(&mut carry).await?;
                unit = None;
                continue;
            }
            if self.output.is_full() {
                // The next stage's queue is full: work started now would only pile up in
                // front of it (see `link::Room`). Hand over what this worker carries and wait,
                // holding nothing a checkpoint waits for.
                self.flush(&mut carry).await?;
                unit = None;
                tokio::select! {
                    _ = self.output.room() => {}
                    _ = tokio::time::sleep(IDLE_RECHECK) => {}
                }
                continue;
            }
            let wake = self.wake.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            let next = {
                let mut s = self.lock();
                if s.fatal.is_some() || self.control.is_stopped() {
                    drop(s);
                    self.wake.notify_waiters();
                    return Ok(());
                }
                let now = Instant::now();
                match s.take(now) {
                    Some(work) => Next::Work(work),
                    None if s.is_done() => Next::Done,
                    None => Next::Idle {
                        deadline: s.next_ready(),
                        running: !s.running.is_empty() || s.starting > 0,
                    },
                }
            };
            match next {
                Next::Work(work) => {
                    self.space.notify_one();
                    backoff = Duration::from_millis(1);
                    self.run_call(work, &mut carry).await?;
                    if carry.has_full_batch() {
                        self.flush(&mut carry).await?;
                    }
                }
                Next::Done => {
                    self.wake.notify_waiters();
                    return Ok(());
                }
                Next::Idle { deadline, running } => {
                    if running && self.config.rebalance && self.rebalance().await {
                        backoff = Duration::from_millis(1);
                        continue;
                    }
                    // Nothing to do now: what this worker carries must not wait for more work.
                    self.flush(&mut carry).await?;
                    unit = None;
                    let retry = if running && self.config.rebalance {
                        backoff = (backoff * 2).min(Duration::from_millis(50));
                        Some(Instant::now() + backoff)
                    } else {
                        None
                    };
                    let until = match (deadline, retry) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    let until = until.unwrap_or_else(|| Instant::now() + IDLE_RECHECK);
                    tokio::select! {
                        _ = &mut wake => {}
                        _ = tokio::time::sleep_until(until) => {}
                    }
                }
            }
        }
    }

    /// Asks every call that has run longer than `max_call_duration` to checkpoint at its next
    /// claim, until the stage is done. One task per stage: a call pays nothing for its bound.
    async fn watch_deadlines(self: Arc<Self>) -> Result<()> {
        let bound = self.config.max_call_duration;
        let tick = (bound / 4).clamp(Duration::from_millis(1), Duration::from_millis(100));
        loop {
            tokio::time::sleep(tick).await;
            let mut s = self.lock();
            if s.is_done() || s.fatal.is_some() || self.control.is_stopped() {
                return Ok(());
            }
            let now = Instant::now();
            for running in s.running.values_mut() {
                if !running.timed_out && now.duration_since(running.started) >= bound {
                    running.timed_out = true;
                    running.handle.request_checkpoint_after_first_claim();
                }
            }
        }
    }

    /// Sends what the worker carries downstream, then releases the holds of those calls.
    async fn flush(&self, carry: &mut carry::Carry<F::Output>) -> Result<()> {
        if carry.is_empty() {
            return Ok(());
        }
        let (batches, holds, lineage) = carry.take();
        for batch in batches {
            self.output
                .send(Message::Batch(batch, lineage.clone()))
                .await
                .map_err(|_| Error::Cancelled)?;
        }
        {
            let mut s = self.lock();
            for hold in holds {
                s.release(hold);
            }
        }
        self.wake.notify_waiters();
        self.publish_watermark().await;
        Ok(())
    }

    /// Sends the stage's watermark downstream if it advanced.
    pub(crate) async fn publish_watermark(&self) {
        let next = {
            let mut s = self.lock();
            let w = s.output_watermark();
            if w <= s.emitted_watermark {
                return;
            }
            s.emitted_watermark = w;
            w
        };
        self.advance_watermark(next).await;
    }

    async fn advance_watermark(&self, w: Timestamp) {
        self.counters
            .watermark
            .fetch_max(w.as_micros(), std::sync::atomic::Ordering::Relaxed);
        // A closed downstream means the pipeline is stopping; nothing to tell it.
        let _ = self.output.send(Message::Watermark(w)).await;
        if let Some(letters) = &self.dead_letters {
            letters.watermark(w).await;
        }
    }

    pub(crate) fn dofn_error(&self, what: &str, source: sdf_core::Error) -> Error {
        Error::DoFn {
            stage: self.name.clone(),
            what: what.to_string(),
            source: Box::new(source),
        }
    }
}

/// An idle worker with nothing to wait for still looks again this often, so that a stop
/// request always reaches it.
const IDLE_RECHECK: Duration = Duration::from_millis(100);

enum Next<F: SplittableDoFn> {
    Work(Work<F>),
    Done,
    Idle {
        deadline: Option<Instant>,
        running: bool,
    },
}

fn flatten(joined: std::result::Result<Result<()>, tokio::task::JoinError>) -> Result<()> {
    match joined {
        Ok(result) => result,
        Err(e) if e.is_cancelled() => Err(Error::Cancelled),
        Err(e) => Err(Error::Internal(format!("a stage task panicked: {e}"))),
    }
}
