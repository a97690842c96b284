//! Finalizers that wait for the work their output causes downstream.
//!
//! A call's finalizers ([`Output::after_commit`](sdf_core::Output::after_commit)) often act on
//! what the *next* step still has to read: a watch deletes a file once it is ingested, a reader
//! acknowledges messages once they are handled. Running them after the checkpoint that commits
//! the call's own output would be too early: that checkpoint may still hold the downstream work
//! that reads the file, and a crash after the delete would lose it.
//!
//! So the finalizers of a call travel with its output. They are kept in a [`Pending`] that every
//! batch of the call's records refers to ([`Lineage`]); the next stage keeps the reference with
//! each element it makes from those records, for as long as any of that element's work is
//! queued, delayed, running or held; a sink drops it when it has taken the batch. When the last
//! reference goes, the finalizers join the pipeline's pending finalizers, which the next
//! checkpoint takes and runs after it commits. By then everything the downstream work produced
//! is in that checkpoint (queued further down, or in a sink's prepared epoch).
//!
//! A finalizer never runs for output that was not committed: a failed call's `Pending` is
//! [spoiled](Pending::spoil), and so is one whose downstream work was sent to a dead-letter
//! output (the thing it would clean up is what the dead letter points at). Finalizers are
//! best-effort across crashes, as Beam's are: pending ones live in memory, so a crash before
//! they ran means they never run.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use sdf_core::Finalizer;

use crate::control::Control;

/// The finalizers of one call, released when the last reference to them is dropped.
pub(crate) struct Pending {
    finalizers: Mutex<Vec<Finalizer>>,
    /// Set once the call succeeded: before that, dropping means the call failed.
    sealed: AtomicBool,
    spoiled: AtomicBool,
    /// Weak: the pipeline's steps hold the elements that hold this.
    control: Weak<Control>,
}

impl Pending {
    pub fn new(control: &Arc<Control>) -> Arc<Self> {
        Arc::new(Pending {
            finalizers: Mutex::new(Vec::new()),
            sealed: AtomicBool::new(false),
            spoiled: AtomicBool::new(false),
            control: Arc::downgrade(control),
        })
    }

    pub fn add(&self, finalizer: Finalizer) {
        lock(&self.finalizers).push(finalizer);
    }

    /// The call succeeded: its finalizers run once everything referring to them is done.
    pub fn seal(&self) {
        self.sealed.store(true, Ordering::Release);
    }

    /// Its finalizers must never run: the call failed, or its downstream work went to a dead
    /// letter.
    pub fn spoil(&self) {
        self.spoiled.store(true, Ordering::Release);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let finalizers = std::mem::take(&mut *lock(&self.finalizers));
        if finalizers.is_empty() {
            return;
        }
        if self.spoiled.load(Ordering::Acquire) {
            tracing::info!(
                finalizers = finalizers.len(),
                "not running the finalizers of work that was sent to a dead-letter output"
            );
        } else if self.sealed.load(Ordering::Acquire)
            && let Some(control) = self.control.upgrade()
        {
            control.add_finalizers(finalizers);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The finalizers a batch of records (or an element made from one) keeps waiting. Mostly
/// empty: only calls that register finalizers create any.
#[derive(Clone, Default)]
pub(crate) struct Lineage(Vec<Arc<Pending>>);

impl Lineage {
    pub fn push(&mut self, pending: Arc<Pending>) {
        if !self.0.iter().any(|p| Arc::ptr_eq(p, &pending)) {
            self.0.push(pending);
        }
    }

    /// Work made from these records went to a dead letter: none of their finalizers may run.
    pub fn spoil(&self) {
        for pending in &self.0 {
            pending.spoil();
        }
    }
}

impl fmt::Debug for Lineage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lineage({})", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting(control: &Arc<Control>) -> (Arc<Pending>, Arc<std::sync::atomic::AtomicUsize>) {
        let pending = Pending::new(control);
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&runs);
        pending.add(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        }));
        (pending, runs)
    }

    fn run_pending(control: &Control) {
        for finalizer in control.take_finalizers() {
            futures::executor::block_on(finalizer()).unwrap();
        }
    }

    #[test]
    fn finalizers_are_released_by_the_last_reference_of_a_sealed_call_only() {
        let control = Arc::new(Control::default());
        let (pending, runs) = counting(&control);
        let mut a = Lineage::default();
        a.push(Arc::clone(&pending));
        let b = a.clone();
        pending.seal();
        drop(pending);
        drop(a);
        run_pending(&control);
        assert_eq!(runs.load(Ordering::SeqCst), 0, "b still refers to it");
        drop(b);
        run_pending(&control);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn failed_or_dead_lettered_work_never_runs_its_finalizers() {
        let control = Arc::new(Control::default());
        let (unsealed, runs) = counting(&control);
        drop(unsealed);
        let (spoiled, spoiled_runs) = counting(&control);
        spoiled.seal();
        let mut lineage = Lineage::default();
        lineage.push(Arc::clone(&spoiled));
        drop(spoiled);
        lineage.spoil();
        drop(lineage);
        run_pending(&control);
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        assert_eq!(spoiled_runs.load(Ordering::SeqCst), 0);
    }
}
