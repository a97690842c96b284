//! Running one `process` call: output held until the call succeeds, runner-initiated
//! checkpoints by output count and by time, panics caught, retries, residuals rescheduled.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use sdf_core::{
    Emitter, Finalizer, Output, ProcessContinuation, RestrictionTracker, SharedTracker,
    SplitHandle, SplitReplyFuture, SplittableDoFn, Timestamped, WatermarkEstimator,
};
use tokio::time::Instant;

use super::state::Running;
use super::{Stage, Work};
use crate::control::Control;
use crate::error::{Error, Result};
use crate::lineage::{Lineage, Pending};
use crate::link::LinkSender;
use crate::message::Message;
use crate::metrics::Counters;

/// The emitter of one call. It holds the call's output back until the call succeeds, so that a
/// failed call can be retried without duplicates; the checkpoint cadence bounds how much it
/// holds. Past `max_held_outputs` it streams downstream and the call can no longer be retried.
struct CallEmitter<T: Send, R> {
    held: Vec<Vec<Timestamped<T>>>,
    held_records: u64,
    streamed: bool,
    outputs: u64,
    batch_size: usize,
    max_outputs: u64,
    max_held: u64,
    handle: SplitHandle<R>,
    checkpoint: Option<SplitReplyFuture<R>>,
    /// The call's finalizers, created with the first one (or when the call starts streaming):
    /// they wait for what the next step does with the call's records (`lineage.rs`).
    pending: Option<Arc<Pending>>,
    control: Arc<Control>,
    downstream: LinkSender<T>,
}

impl<T: Send, R> CallEmitter<T, R> {
    fn pending(&mut self) -> &Arc<Pending> {
        self.pending
            .get_or_insert_with(|| Pending::new(&self.control))
    }
}

#[async_trait]
impl<T: Send + 'static, R: Send + 'static> Emitter<T> for CallEmitter<T, R> {
    async fn emit_batch(&mut self, batch: &mut Vec<Timestamped<T>>) -> sdf_core::Result<()> {
        let n = batch.len() as u64;
        self.outputs += n;
        let full = std::mem::replace(batch, Vec::with_capacity(self.batch_size));
        if self.streamed || self.held_records + n > self.max_held {
            self.streamed = true;
            // Streamed records leave before the call ends: they carry its finalizers now.
            let mut lineage = Lineage::default();
            lineage.push(Arc::clone(self.pending()));
            for held in self.held.drain(..) {
                send(&self.downstream, held, &lineage).await?;
            }
            self.held_records = 0;
            send(&self.downstream, full, &lineage).await?;
        } else {
            self.held_records += n;
            self.held.push(full);
        }
        if self.outputs >= self.max_outputs && self.checkpoint.is_none() {
            self.checkpoint = Some(self.handle.try_split_after_first_claim(0.0));
        }
        Ok(())
    }

    fn register_finalizer(&mut self, finalizer: Finalizer) {
        self.pending().add(finalizer);
    }
}

async fn send<T>(
    downstream: &LinkSender<T>,
    batch: Vec<Timestamped<T>>,
    lineage: &Lineage,
) -> sdf_core::Result<()> {
    downstream
        .send(Message::Batch(batch, lineage.clone()))
        .await
        .map_err(|_| sdf_core::Error::OutputClosed)
}

impl<F: SplittableDoFn> Stage<F> {
    /// Runs `work` once and schedules what it leaves.
    pub(super) async fn run_call(
        self: &Arc<Self>,
        work: Work<F>,
        carry: &mut super::carry::Carry<F::Output>,
    ) -> Result<()> {
        let dofn = &*self.dofn;
        let input = &work.element.value;
        let mut tracker = SharedTracker::new(dofn.new_tracker(input, work.restriction.clone()));
        let handle = tracker.split_handle();
        let id = self.register(&work, handle.clone());
        Counters::add(&self.counters.calls, 1);

        let mut estimator = dofn.new_watermark_estimator(work.watermark.clone());
        let mut emitter = CallEmitter {
            held: Vec::new(),
            held_records: 0,
            streamed: false,
            outputs: 0,
            batch_size: self.config.batch_size,
            max_outputs: self.config.max_outputs_per_call,
            max_held: self.config.max_held_outputs,
            handle: handle.clone(),
            checkpoint: None,
            pending: None,
            control: Arc::clone(&self.control),
            downstream: self.output.clone(),
        };

        let buffer = std::mem::take(&mut carry.output_buffer);
        let mut output = Output::with_buffer(
            &mut emitter,
            work.element.timestamp,
            self.config.batch_size,
            buffer,
        );
        // The time bound is enforced by the stage's deadline watcher (see `Stage::watch_deadlines`),
        // which posts a checkpoint through the split handle: a CPU-bound call that never yields
        // is reached at its next claim.
        let outcome =
            AssertUnwindSafe(dofn.process(input, &mut tracker, &mut output, &mut estimator))
                .catch_unwind()
                .await;
        let result = match outcome {
            Ok(Ok(continuation)) => Ok(continuation),
            Ok(Err(e)) => Err(e),
            Err(panic) => Err(sdf_core::Error::message(format!(
                "process panicked: {}",
                panic_message(&panic)
            ))),
        };
        estimator.observe_timestamp(output.max_timestamp());
        // The last, partial batch stays in the output's buffer: the carry takes it from there.
        let mut rest = output.into_buffer();

        Counters::add(&self.counters.claims, tracker.claims());
        // A call that failed before its first claim did nothing: its restriction is retried
        // or dead-lettered whole. Serving a checkpoint that waits would split it into an empty
        // primary and a residual that fails again (one poison element dead-lettered twice).
        let (mut tracker, orphans) = if result.is_err() && tracker.claims() == 0 {
            (tracker.finish_unserved(), Vec::new())
        } else {
            tracker.serve_requests();
            tracker.finish()
        };
        let mut checkpoints = Vec::new();
        if let Some(reply) = emitter.checkpoint.take()
            && let Some(Ok(Some(split))) = finish(reply)
        {
            Counters::add(&self.counters.checkpoints, 1);
            checkpoints.push(split.residual);
        }
        if self.unregister(id) {
            // Fire-and-forget checkpoints (the time bound, a checkpoint of the pipeline) leave
            // their residual with the tracker.
            Counters::add(&self.counters.checkpoints, orphans.len() as u64);
        }

        let done = match result {
            Ok(ProcessContinuation::Stop) => tracker
                .check_done()
                .map(|_| None)
                .map_err(sdf_core::Error::from),
            Ok(ProcessContinuation::Resume { delay }) => {
                Counters::add(&self.counters.resumes, 1);
                match tracker.try_split(0.0) {
                    Ok(split) => Ok(Some((delay, split.map(|s| s.residual)))),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e),
        };
        match done {
            Ok(resume) => {
                // The output goes to the worker's carry, with the call's hold: both leave when
                // the carry is sent downstream.
                Counters::add(&self.counters.outputs, emitter.outputs + rest.len() as u64);
                // The finalizers go with the records (released when the next step is done
                // with them), or, if the call emitted none, to the next checkpoint at once.
                let pending = emitter.pending.take();
                if let Some(pending) = &pending {
                    pending.seal();
                }
                carry.absorb(
                    std::mem::take(&mut emitter.held),
                    &mut rest,
                    work.hold,
                    pending,
                );
                carry.output_buffer = rest;
                Counters::add_f64(&self.counters.work_completed, tracker.progress().completed);
                let (delay, resumed) = resume.unwrap_or((Duration::ZERO, None));
                let state = estimator.state();
                // Orphans are the residuals of fire-and-forget checkpoints: like any checkpoint,
                // they carry the estimator's state at the end of the call.
                let residuals = checkpoints.into_iter().chain(orphans).chain(resumed);
                self.reschedule(&work, residuals, state, delay);
            }
            Err(error) => {
                rest.clear();
                carry.output_buffer = rest;
                // The primary's output is discarded; the work split off during the call was
                // not processed by it and is scheduled as usual.
                self.reschedule(
                    &work,
                    checkpoints.into_iter().chain(orphans),
                    work.watermark.clone(),
                    Duration::ZERO,
                );
                let primary = tracker.current_restriction();
                let letter = self.retry_or_fail(&work, primary, error, emitter.streamed);
                // Released only once the residuals, the retry or the letter hold the
                // watermark themselves: never a moment with the work unheld.
                self.lock().release(work.hold);
                if let Some((letter, error, attempts)) = letter {
                    self.send_dead_letter(&work, letter, error, attempts).await;
                }
            }
        }
        self.wake.notify_waiters();
        self.publish_watermark().await;
        Ok(())
    }

    fn register(&self, work: &Work<F>, handle: SplitHandle<F::Restriction>) -> u64 {
        let mut s = self.lock();
        let id = s.next_id;
        s.next_id += 1;
        s.starting -= 1;
        // The item's hold moves from the queue to the running set: it was taken with its hold.
        s.running.insert(
            id,
            Running {
                handle,
                element: Arc::clone(&work.element),
                watermark: work.watermark.clone(),
                started: Instant::now(),
                timed_out: false,
                refused_split: false,
            },
        );
        s.publish_counters(&self.counters);
        drop(s);
        // Idle workers that saw nothing running may now split this call.
        self.wake.notify_waiters();
        id
    }

    /// The call is no longer running. Its hold stays until its output has left (the caller
    /// hands it to the carry, or releases it if the call failed). Returns whether the deadline
    /// watcher had asked it to checkpoint.
    fn unregister(&self, id: u64) -> bool {
        self.lock().running.remove(&id).is_some_and(|r| r.timed_out)
    }

    /// Queues residuals of `work` (after `delay`, if any), truncated if the pipeline drains.
    fn reschedule(
        &self,
        work: &Work<F>,
        residuals: impl IntoIterator<Item = F::Restriction>,
        watermark: sdf_core::WatermarkState<F>,
        delay: Duration,
    ) {
        let draining = self.control.is_draining();
        let dofn = &*self.dofn;
        let mut s = self.lock();
        for restriction in residuals {
            let restriction = if draining {
                match dofn.truncate_restriction(&work.element.value, restriction) {
                    Some(r) => r,
                    None => continue,
                }
            } else {
                restriction
            };
            let next = Work::new(
                dofn,
                Arc::clone(&work.element),
                restriction,
                watermark.clone(),
            );
            if delay.is_zero() || draining {
                s.enqueue(next);
            } else {
                s.enqueue_at(Instant::now() + delay, next);
            }
        }
        s.publish_counters(&self.counters);
    }

    /// Retries `work`'s primary after a backoff, or, after the last attempt, returns what to
    /// dead-letter (if the stage has a dead-letter output) or fails the pipeline.
    fn retry_or_fail(
        &self,
        work: &Work<F>,
        primary: F::Restriction,
        error: sdf_core::Error,
        streamed: bool,
    ) -> Option<(F::Restriction, String, u32)> {
        let attempts = work.attempts + 1;
        let mut s = self.lock();
        if attempts < self.config.max_attempts && !streamed && error.is_retryable() {
            Counters::add(&self.counters.retries, 1);
            tracing::warn!(stage = %self.name, element = ?work.element.value, attempts, %error, "process failed; retrying");
            let backoff = self.config.retry_backoff * 2u32.saturating_pow(attempts - 1);
            let mut retry = Work::new(
                &*self.dofn,
                Arc::clone(&work.element),
                primary,
                work.watermark.clone(),
            );
            retry.attempts = attempts;
            s.enqueue_at(Instant::now() + backoff, retry);
            return None;
        }
        if self.dead_letters.is_some() && !streamed {
            // Held back like a running call until the letter is sent: the watermark must not
            // pass it.
            s.hold(work.hold);
            return Some((primary, error.to_string(), attempts));
        }
        if s.fatal.is_none() {
            let error = if streamed {
                sdf_core::Error::message(format!(
                    "{error} (the call had streamed more than {} records downstream, so it could not be retried without duplicates)",
                    self.config.max_held_outputs
                ))
            } else {
                error
            };
            s.fatal = Some(Error::StageFailed {
                stage: self.name.clone(),
                element: format!("{:?}", work.element.value),
                restriction: format!("{primary:?}"),
                attempts,
                source: Box::new(error),
            });
            self.control.fail();
        }
        None
    }

    async fn send_dead_letter(
        &self,
        work: &Work<F>,
        restriction: F::Restriction,
        error: String,
        attempts: u32,
    ) {
        // What the element's upstream would clean up is what the dead letter points at.
        work.element.lineage().spoil();
        if let Some(letters) = &self.dead_letters {
            tracing::warn!(stage = %self.name, element = ?work.element.value, restriction = ?restriction, %error, attempts, "sent to the dead-letter output");
            if letters
                .send(&work.element, restriction, error, attempts)
                .await
            {
                Counters::add(&self.counters.dead_letters, 1);
            }
        }
        self.lock().release(work.hold);
    }
}

/// The answer of a checkpoint request, if the tracker gave one.
fn finish<R>(
    mut reply: SplitReplyFuture<R>,
) -> Option<Result<Option<sdf_core::SplitResult<R>>, sdf_core::TrackerError>> {
    reply.try_take()
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".to_string())
}
