//! The state of a stage: queued, delayed and running work, and the watermark holds.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

use sdf_core::{SplitHandle, SplittableDoFn, Timestamp, WatermarkState};
use tokio::time::Instant;

use super::Work;
use crate::error::Error;
use crate::link::Room;
use crate::metrics::Counters;

/// A call in progress.
pub(crate) struct Running<F: SplittableDoFn> {
    pub handle: SplitHandle<F::Restriction>,
    pub element: Arc<super::Element<F::Input>>,
    /// The estimator state the call started from: what a dynamic split's residual carries.
    pub watermark: WatermarkState<F>,
    /// When the call started, for the time bound.
    pub started: Instant,
    /// Whether a checkpoint was requested because the call ran past the time bound.
    pub timed_out: bool,
    /// Whether the call refused a dynamic split (unsplittable work, or too little left): it
    /// is not asked again, so other calls can be split instead.
    pub refused_split: bool,
}

/// Work waiting for its resume time.
pub(crate) struct Delayed<F: SplittableDoFn> {
    pub ready: Instant,
    pub seq: u64,
    pub work: Work<F>,
}

impl<F: SplittableDoFn> PartialEq for Delayed<F> {
    fn eq(&self, other: &Self) -> bool {
        (self.ready, self.seq) == (other.ready, other.seq)
    }
}
impl<F: SplittableDoFn> Eq for Delayed<F> {}
impl<F: SplittableDoFn> PartialOrd for Delayed<F> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<F: SplittableDoFn> Ord for Delayed<F> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.ready, self.seq).cmp(&(other.ready, other.seq))
    }
}

pub(crate) struct State<F: SplittableDoFn> {
    pub queue: VecDeque<Work<F>>,
    pub delayed: BinaryHeap<Reverse<Delayed<F>>>,
    pub running: HashMap<u64, Running<F>>,
    /// Workers between taking a residual from a running call and queueing it.
    pub rebalancing: usize,
    /// Work taken from the queue and not yet registered as running.
    pub starting: usize,
    /// Watermark holds of every queued, delayed and running item: a multiset.
    pub holds: BTreeMap<Timestamp, usize>,
    pub input_watermark: Timestamp,
    pub input_closed: bool,
    pub emitted_watermark: Timestamp,
    pub total_seen: f64,
    pub backlog: f64,
    pub next_id: u64,
    pub fatal: Option<Error>,
    /// Where this stage tells its producers how full its queue is; set when it runs.
    pub room: Option<Arc<Room>>,
}

impl<F: SplittableDoFn> Default for State<F> {
    fn default() -> Self {
        State {
            queue: VecDeque::new(),
            delayed: BinaryHeap::new(),
            running: HashMap::new(),
            rebalancing: 0,
            starting: 0,
            holds: BTreeMap::new(),
            input_watermark: Timestamp::MIN,
            input_closed: false,
            emitted_watermark: Timestamp::MIN,
            total_seen: 0.0,
            backlog: 0.0,
            next_id: 0,
            fatal: None,
            room: None,
        }
    }
}

impl<F: SplittableDoFn> State<F> {
    pub fn hold(&mut self, at: Timestamp) {
        *self.holds.entry(at).or_insert(0) += 1;
    }

    pub fn release(&mut self, at: Timestamp) {
        if let Some(n) = self.holds.get_mut(&at) {
            *n -= 1;
            if *n == 0 {
                self.holds.remove(&at);
            }
        }
    }

    pub fn enqueue(&mut self, work: Work<F>) {
        self.hold(work.hold);
        self.backlog += finite(work.size);
        self.queue.push_back(work);
        self.sync_room();
    }

    /// Tells the producers how full the queue is.
    pub fn sync_room(&self) {
        if let Some(room) = &self.room {
            room.set_queued(self.queue.len());
        }
    }

    pub fn enqueue_at(&mut self, ready: Instant, work: Work<F>) {
        self.hold(work.hold);
        self.backlog += finite(work.size);
        let seq = self.next_id;
        self.next_id += 1;
        self.delayed.push(Reverse(Delayed { ready, seq, work }));
    }

    /// The next work to run: queued first, then delayed work whose time has come. Its hold
    /// stays: the caller registers it as running.
    pub fn take(&mut self, now: Instant) -> Option<Work<F>> {
        let work = match self.queue.pop_front() {
            Some(work) => {
                self.sync_room();
                work
            }
            None if self.delayed.peek().is_some_and(|d| d.0.ready <= now) => {
                self.delayed.pop()?.0.work
            }
            None => return None,
        };
        self.backlog = (self.backlog - finite(work.size)).max(0.0);
        self.starting += 1;
        Some(work)
    }

    /// When the earliest delayed work becomes ready.
    pub fn next_ready(&self) -> Option<Instant> {
        self.delayed.peek().map(|d| d.0.ready)
    }

    /// No input will come, and no work is queued, delayed, running, being handed over, or
    /// carried by a worker (every such item holds the watermark).
    pub fn is_done(&self) -> bool {
        self.input_closed
            && self.holds.is_empty()
            && self.queue.is_empty()
            && self.delayed.is_empty()
            && self.running.is_empty()
            && self.starting == 0
            && self.rebalancing == 0
    }

    /// min(input watermark, every hold); +∞ once done.
    pub fn output_watermark(&self) -> Timestamp {
        if self.is_done() {
            return Timestamp::MAX;
        }
        let held = self.holds.keys().next().copied().unwrap_or(Timestamp::MAX);
        self.input_watermark.min(held)
    }

    pub fn publish_counters(&self, counters: &Counters) {
        use std::sync::atomic::Ordering::Relaxed;
        let pending = self.queue.len() + self.delayed.len();
        counters.residuals_pending.store(pending as u64, Relaxed);
        counters.backlog.store(self.backlog.to_bits(), Relaxed);
    }
}

fn finite(size: f64) -> f64 {
    if size.is_finite() { size.max(0.0) } else { 0.0 }
}
