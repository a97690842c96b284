//! [`Config`]: the executor's knobs, with defaults that work.

use std::time::Duration;

/// Settings of an [`Executor`](crate::Executor); build one with
/// [`Executor::builder`](crate::Executor::builder).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Concurrent `process` calls per stage. Default: the number of cores.
    pub workers: usize,
    /// A call is checkpointed (`try_split(0.0)`) once it has emitted this many records.
    /// Default 10,000, as Beam's classic runners.
    pub max_outputs_per_call: u64,
    /// A call is checkpointed once it has run this long. Default 1 s.
    pub max_call_duration: Duration,
    /// Records per batch between stages. Default 1,024.
    pub batch_size: usize,
    /// Restrictions a stage queues before it stops taking input (backpressure). Default 64 per
    /// worker.
    pub queue_per_worker: usize,
    /// Attempts of a failing call before the pipeline fails (or the element is dead-lettered).
    /// Default 3.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled for each further one. Default 100 ms.
    pub retry_backoff: Duration,
    /// Whether idle workers split running work (dynamic rebalancing). Default on.
    pub rebalance: bool,
    /// Pieces per worker that an element's restriction is cut into up front. Default 4.
    pub initial_pieces_per_worker: usize,
    /// Records a call may hold back (to keep its output atomic under retries) before it streams
    /// them downstream and becomes non-retryable. Default 4 × `max_outputs_per_call`, within
    /// 40,000 and 1,000,000: a memory bound whatever the checkpoint cadence.
    pub max_held_outputs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_outputs_per_call: 10_000,
            max_call_duration: Duration::from_secs(1),
            batch_size: 1024,
            queue_per_worker: 64,
            max_attempts: 3,
            retry_backoff: Duration::from_millis(100),
            rebalance: true,
            initial_pieces_per_worker: 4,
            max_held_outputs: 40_000,
        }
    }
}
