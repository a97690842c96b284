//! [`Control`]: what every running step shares: drain and stop signals, the checkpoint gate,
//! the registry of checkpointed steps and links, and the finalizers of committed work.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sdf_core::Finalizer;
use tokio::sync::{Notify, RwLock, watch};

use crate::error::Result;
use crate::link::LinkCounters;

/// A step whose state goes into checkpoints: a source's position, a stage's queued work.
pub(crate) trait Checkpointed: Send + Sync {
    /// The step's name, unique in the pipeline.
    fn name(&self) -> &str;
    /// Asks running work to stop soon (a checkpoint is coming).
    fn interrupt(&self) {}
    /// The step's state. Called only while the pipeline is quiescent.
    fn snapshot(&self) -> Result<serde_json::Value>;
}

pub(crate) struct Control {
    drain: watch::Sender<bool>,
    stop: watch::Sender<bool>,
    stopped: watch::Sender<bool>,
    cancelled: watch::Sender<bool>,
    /// Worker threads still running, and the signal of one ending.
    live_workers: AtomicUsize,
    worker_exited: Notify,
    /// A checkpoint is being taken: take no new work.
    pausing: AtomicBool,
    paused: Notify,
    resumed: Notify,
    /// Workers and sources hold a read guard for each unit of work; a checkpoint holds the write
    /// guard, so while it is taken nothing runs.
    pub gate: RwLock<()>,
    finalizers: Mutex<Vec<Finalizer>>,
    steps: Mutex<Vec<Arc<dyn Checkpointed>>>,
    links: Mutex<Vec<Arc<LinkCounters>>>,
}

impl Default for Control {
    fn default() -> Self {
        Control {
            drain: watch::Sender::new(false),
            stop: watch::Sender::new(false),
            stopped: watch::Sender::new(false),
            cancelled: watch::Sender::new(false),
            live_workers: AtomicUsize::new(0),
            worker_exited: Notify::new(),
            pausing: AtomicBool::new(false),
            paused: Notify::new(),
            resumed: Notify::new(),
            gate: RwLock::new(()),
            finalizers: Mutex::new(Vec::new()),
            steps: Mutex::new(Vec::new()),
            links: Mutex::new(Vec::new()),
        }
    }
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control")
            .field("draining", &self.is_draining())
            .field("stopped", &self.is_stopped())
            .field("pausing", &self.is_pausing())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Control {
    pub fn drain(&self) {
        self.drain.send_replace(true);
    }

    pub fn is_draining(&self) -> bool {
        *self.drain.borrow()
    }

    /// Resolves once a drain is requested.
    pub async fn draining(&self) {
        let mut rx = self.drain.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }

    /// Asks for a final checkpoint that keeps all pending work, then a stop.
    pub fn request_stop(&self) {
        self.stop.send_replace(true);
    }

    /// Resolves once a stop is requested.
    pub async fn stopping(&self) {
        let mut rx = self.stop.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Stops every step: a step failed or the pipeline was cancelled.
    pub fn fail(&self) {
        self.stopped.send_replace(true);
        self.resumed.notify_waiters();
    }

    pub fn is_stopped(&self) -> bool {
        *self.stopped.borrow()
    }

    /// Resolves once the pipeline is stopped ([`fail`](Self::fail)).
    pub async fn stopped(&self) {
        let mut rx = self.stopped.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Stops every step because the user cancelled the pipeline.
    pub fn cancel(&self) {
        self.cancelled.send_replace(true);
        self.fail();
    }

    /// Resolves once the pipeline is cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.cancelled.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// A worker thread starts: the pipeline does not end before it has exited.
    pub fn worker_started(&self) {
        self.live_workers.fetch_add(1, Ordering::AcqRel);
    }

    /// A worker thread is about to exit: it touches the runtime no more.
    pub fn worker_exiting(&self) {
        self.live_workers.fetch_sub(1, Ordering::AcqRel);
        self.worker_exited.notify_waiters();
    }

    /// Resolves once every worker thread has exited.
    pub async fn workers_exited(&self) {
        loop {
            let exited = self.worker_exited.notified();
            tokio::pin!(exited);
            exited.as_mut().enable();
            if self.live_workers.load(Ordering::Acquire) == 0 {
                return;
            }
            exited.await;
        }
    }

    pub fn set_pausing(&self, pausing: bool) {
        self.pausing.store(pausing, Ordering::Release);
        if pausing {
            self.paused.notify_waiters();
        } else {
            self.resumed.notify_waiters();
        }
    }

    /// Resolves when a checkpoint starts pausing the pipeline (enable it before checking
    /// `is_pausing`, as with any `Notify`).
    pub fn pause_started(&self) -> tokio::sync::futures::Notified<'_> {
        self.paused.notified()
    }

    pub fn is_pausing(&self) -> bool {
        self.pausing.load(Ordering::Acquire)
    }

    /// Waits while a checkpoint is being taken.
    pub async fn wait_while_pausing(&self) {
        loop {
            let resumed = self.resumed.notified();
            tokio::pin!(resumed);
            resumed.as_mut().enable();
            if !self.is_pausing() || self.is_stopped() {
                return;
            }
            resumed.await;
        }
    }

    pub fn register(&self, step: Arc<dyn Checkpointed>) {
        lock(&self.steps).push(step);
    }

    pub fn steps(&self) -> Vec<Arc<dyn Checkpointed>> {
        lock(&self.steps).clone()
    }

    pub fn register_link(&self, counters: Arc<LinkCounters>) {
        lock(&self.links).push(counters);
    }

    /// No message is in flight on any link.
    pub fn links_drained(&self) -> bool {
        lock(&self.links).iter().all(|l| l.drained())
    }

    pub fn add_finalizers(&self, finalizers: Vec<Finalizer>) {
        if !finalizers.is_empty() {
            lock(&self.finalizers).extend(finalizers);
        }
    }

    pub fn take_finalizers(&self) -> Vec<Finalizer> {
        std::mem::take(&mut *lock(&self.finalizers))
    }
}
