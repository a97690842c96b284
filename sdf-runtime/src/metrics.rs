//! Per-stage metrics: counters updated with relaxed atomics, read as a [`StageMetrics`] snapshot.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use sdf_core::Timestamp;

/// A point-in-time view of one stage.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct StageMetrics {
    /// The stage's name.
    pub name: String,
    /// Input elements received.
    pub elements: u64,
    /// Records emitted (by calls that succeeded).
    pub outputs: u64,
    /// Successful claims.
    pub claims: u64,
    /// `process` calls made.
    pub calls: u64,
    /// Splits of running work given to idle workers.
    pub dynamic_splits: u64,
    /// Runner-initiated checkpoints that split a call (output or time bound reached).
    pub checkpoints: u64,
    /// Self-checkpoints: calls that returned `Resume`.
    pub resumes: u64,
    /// Calls that failed and were retried.
    pub retries: u64,
    /// Elements sent to the dead-letter output.
    pub dead_letters: u64,
    /// Work completed by successful calls, in the DoFn's size unit (bytes for byte-range
    /// readers, records for counters): the sum of their progress.
    pub work_completed: f64,
    /// Restrictions waiting (queued or delayed).
    pub residuals_pending: u64,
    /// Sum of the sizes of waiting restrictions, in the DoFn's size unit.
    pub backlog: f64,
    /// The stage's output watermark.
    pub watermark: Timestamp,
}

/// The live counters behind [`StageMetrics`].
#[derive(Debug)]
pub(crate) struct Counters {
    pub name: String,
    pub elements: AtomicU64,
    pub outputs: AtomicU64,
    pub claims: AtomicU64,
    pub calls: AtomicU64,
    pub dynamic_splits: AtomicU64,
    pub checkpoints: AtomicU64,
    pub resumes: AtomicU64,
    pub retries: AtomicU64,
    pub dead_letters: AtomicU64,
    /// f64 bits.
    pub work_completed: AtomicU64,
    pub residuals_pending: AtomicU64,
    /// f64 bits.
    pub backlog: AtomicU64,
    pub watermark: AtomicI64,
}

impl Counters {
    pub fn new(name: &str) -> Self {
        Counters {
            name: name.to_string(),
            elements: AtomicU64::new(0),
            outputs: AtomicU64::new(0),
            claims: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            dynamic_splits: AtomicU64::new(0),
            checkpoints: AtomicU64::new(0),
            resumes: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            dead_letters: AtomicU64::new(0),
            work_completed: AtomicU64::new(0f64.to_bits()),
            residuals_pending: AtomicU64::new(0),
            backlog: AtomicU64::new(0f64.to_bits()),
            watermark: AtomicI64::new(Timestamp::MIN.as_micros()),
        }
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn add_f64(counter: &AtomicU64, x: f64) {
        if x.is_finite() && x > 0.0 {
            let _ = counter.fetch_update(Relaxed, Relaxed, |bits| {
                Some((f64::from_bits(bits) + x).to_bits())
            });
        }
    }

    pub fn snapshot(&self) -> StageMetrics {
        StageMetrics {
            name: self.name.clone(),
            elements: self.elements.load(Relaxed),
            outputs: self.outputs.load(Relaxed),
            claims: self.claims.load(Relaxed),
            calls: self.calls.load(Relaxed),
            dynamic_splits: self.dynamic_splits.load(Relaxed),
            checkpoints: self.checkpoints.load(Relaxed),
            resumes: self.resumes.load(Relaxed),
            retries: self.retries.load(Relaxed),
            dead_letters: self.dead_letters.load(Relaxed),
            work_completed: f64::from_bits(self.work_completed.load(Relaxed)),
            residuals_pending: self.residuals_pending.load(Relaxed),
            backlog: f64::from_bits(self.backlog.load(Relaxed)),
            watermark: Timestamp::from_micros(self.watermark.load(Relaxed)),
        }
    }
}
