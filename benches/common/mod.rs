//! What the runtime benches share: running a pipeline and timing it, a sink that counts and
//! checksums what it receives (so every bench proves it measured complete, exact output),
//! deterministic busy work, and medians.
//!
//! Each runtime bench is a plain binary (`harness = false`) with its own `main`: its runs take
//! seconds each, which criterion's sampling model does not fit, so the bench repeats the
//! comparison itself in interleaved rounds (baseline, then each variant, per round), so that
//! noise from other work on the machine hits every variant alike, and prints medians and the
//! ratios of medians measured in the same run.
//!
//! This 2-core machine is shared with other sessions' builds, which take a core for seconds at a
//! time. Every measurement therefore also records how much of the machine other processes used
//! meanwhile ([`Timed::foreign`], from `/proc`), and a bench prints its ratios twice: over all
//! rounds, and over the clean rounds, in which others used at most [`CLEAN`] of the machine
//! during every measurement.

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sdf_core::{
    MonotonicWatermarkEstimator, OffsetRange, OffsetRangeTracker, Output, ProcessContinuation,
    SharedTracker, SplittableDoFn, Timestamped,
};
use sdf_runtime::{Executor, Pipeline, Sink, StageMetrics};

/// Whether to run the full measurement. `cargo bench` passes `--bench`; without it (e.g.
/// `cargo test --benches`, or running the binary by hand) a bench runs a quick smoke version
/// that checks the pipelines end to end and prints figures that mean nothing.
pub fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Rounds of the comparison: `SDF_BENCH_ROUNDS`, else `default` (else 1 in a smoke run).
pub fn rounds(default: usize) -> usize {
    std::env::var("SDF_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(if full_run() { default } else { 1 })
        .max(1)
}

/// Whether to run the part of a bench called `name`: all of them unless `SDF_BENCH_ONLY` names
/// some (comma-separated), e.g. to profile one.
pub fn selected(name: &str) -> bool {
    std::env::var("SDF_BENCH_ONLY").map_or(true, |only| only.split(',').any(|n| n == name))
}

/// What a sink saw: how many records and the wrapping sum of their checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub records: u64,
    pub checksum: u64,
}

/// A sink that counts records and adds up `checksum(record)`, keeping nothing. It also adds up
/// the time it spends in `write` (taking, checksumming and dropping batches): near the wall time,
/// the sink's one task is what limits the pipeline.
pub struct TallySink<T> {
    records: u64,
    checksum: u64,
    busy: Duration,
    of: fn(&T) -> u64,
    into: Arc<Mutex<Option<(Tally, Duration)>>>,
    done: Option<tokio::sync::oneshot::Sender<()>>,
}

#[async_trait]
impl<T: Send + 'static> Sink<T> for TallySink<T> {
    type Commit = ();

    async fn prepare(&mut self, _epoch: u64) -> sdf_core::Result<()> {
        Ok(())
    }

    /// Without a checkpoint store the pipeline commits once, after the last record: the end.
    async fn commit(&mut self, _epoch: u64, _commit: ()) -> sdf_core::Result<()> {
        self.finish()
    }

    async fn write(&mut self, batch: Vec<Timestamped<T>>) -> sdf_core::Result<()> {
        let start = Instant::now();
        self.records += batch.len() as u64;
        for record in &batch {
            self.checksum = self.checksum.wrapping_add((self.of)(&record.value));
        }
        drop(batch);
        self.busy += start.elapsed();
        Ok(())
    }
}

impl<T> TallySink<T> {
    fn finish(&mut self) -> sdf_core::Result<()> {
        *self.into.lock().unwrap() = Some((
            Tally {
                records: self.records,
                checksum: self.checksum,
            },
            self.busy,
        ));
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
        Ok(())
    }
}

/// One timed run: wall time from start to completion, the tally of the sink and the time it
/// spent writing, and the metrics of every stage read after the last record reached the sink.
#[derive(Debug)]
pub struct Run {
    pub wall: Duration,
    /// The wall time again, with the machine's load by others during the run.
    pub timed: Timed,
    pub tally: Tally,
    pub sink_busy: Duration,
    pub metrics: Vec<StageMetrics>,
}

/// Runs pipelines the way `Executor::run_blocking` does (a tokio runtime of two threads; each
/// stage's `process` calls on worker threads of their own), but keeps the runtime across runs
/// and reads the stage metrics at the end, which `run_blocking` does not return.
pub struct Bench {
    runtime: tokio::runtime::Runtime,
}

impl Bench {
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .expect("a tokio runtime");
        Bench { runtime }
    }

    /// Builds a pipeline with `build`, which ends it in the sink it is given, runs it with
    /// `executor` and times it. Panics if the pipeline fails or the sink saw no end: a bench
    /// must never report a figure for incomplete work.
    pub fn run<T: Send + 'static>(
        &self,
        executor: &Executor,
        checksum: fn(&T) -> u64,
        build: impl FnOnce(&mut Pipeline, TallySink<T>),
    ) -> Run {
        let into = Arc::new(Mutex::new(None));
        let (done, finished) = tokio::sync::oneshot::channel();
        let sink = TallySink {
            records: 0,
            checksum: 0,
            busy: Duration::ZERO,
            of: checksum,
            into: Arc::clone(&into),
            done: Some(done),
        };
        let mut pipeline = Pipeline::new();
        build(&mut pipeline, sink);
        let ((wall, metrics), timed) = timed(|| {
            self.runtime.block_on(async {
                let start = Instant::now();
                let handle = executor.run(pipeline);
                // The stages finish before the sink's input closes, so the metrics read once the
                // sink has its tally are final. `wait` consumes the handle: read them before. A
                // failed pipeline may never finish its sink: give up after `GIVE_UP`.
                if tokio::time::timeout(GIVE_UP, finished).await.is_err() {
                    handle.cancel();
                    panic!("the pipeline did not finish within {GIVE_UP:?}");
                }
                let metrics = handle.metrics();
                handle.wait().await.expect("the pipeline failed");
                (start.elapsed(), metrics)
            })
        });
        let (tally, sink_busy) = into.lock().unwrap().expect("the sink never finished");
        Run {
            wall,
            timed,
            tally,
            sink_busy,
            metrics,
        }
    }
}

/// How long one run may take before the bench gives up on it.
const GIVE_UP: Duration = Duration::from_secs(300);

/// `iterations` rounds of a 64-bit xorshift-multiply mix seeded with `seed`: deterministic
/// work that the optimizer cannot remove, with a result to checksum.
#[inline]
pub fn busy(seed: u64, iterations: u32) -> u64 {
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    for _ in 0..iterations {
        x ^= x >> 33;
        x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x ^= x >> 29;
    }
    black_box(x)
}

/// Iterations of [`busy`] that take about `target` on this machine, measured now.
pub fn calibrate(target: Duration) -> u32 {
    let probe = 200_000u32;
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        black_box(busy(black_box(1), probe));
        best = best.min(start.elapsed());
    }
    let per_iteration = best.as_secs_f64() / f64::from(probe);
    (target.as_secs_f64() / per_iteration).round().max(1.0) as u32
}

/// The median of `samples` (the mean of the middle two for an even count).
pub fn median(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// `min–max` of `samples`, for the spread printed next to a median.
pub fn spread(samples: &[f64]) -> (f64, f64) {
    let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let max = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

/// How long something took, and how much of the machine other processes used meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub secs: f64,
    /// The CPU time of every other process (and time stolen by the hypervisor) during the
    /// measurement, as a share of all the machine's cores: 0.5 is one of 2 cores. NaN if
    /// `/proc` is not readable. Builds of other sessions on this 2-core machine slow the
    /// 2-thread runs down far more than they do the single-threaded baseline.
    pub foreign: f64,
}

/// A share of the machine used by others up to which a measurement counts as clean.
pub const CLEAN: f64 = 0.05;

impl Timed {
    pub fn clean(&self) -> bool {
        self.foreign <= CLEAN
    }
}

/// Times `f`, and measures the CPU the rest of the machine used meanwhile.
pub fn timed<R>(f: impl FnOnce() -> R) -> (R, Timed) {
    let before = cpu_ticks();
    let start = Instant::now();
    let r = f();
    let secs = start.elapsed().as_secs_f64();
    let foreign = match (before, cpu_ticks()) {
        (Some((busy0, own0)), Some((busy1, own1))) => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
            let others = busy1
                .saturating_sub(busy0)
                .saturating_sub(own1.saturating_sub(own0));
            others as f64 / TICKS_PER_SECOND / (secs * cores)
        }
        _ => f64::NAN,
    };
    (r, Timed { secs, foreign })
}

/// Measurements of several variants of a bench, taken in rounds: `rounds[r][v]` is variant
/// `v` in round `r`. A round is clean if others used at most [`CLEAN`] of the machine during
/// every measurement of it; a bench prints its figures over all rounds and over the clean ones.
#[derive(Debug, Default)]
pub struct Rounds {
    rounds: Vec<Vec<Timed>>,
}

impl Rounds {
    pub fn push(&mut self, round: Vec<Timed>) {
        self.rounds.push(round);
    }

    /// The seconds of variant `v` in every round, or only in the clean rounds.
    pub fn secs(&self, v: usize, clean_only: bool) -> Vec<f64> {
        self.rounds
            .iter()
            .filter(|r| !clean_only || r.iter().all(Timed::clean))
            .map(|r| r[v].secs)
            .collect()
    }

    /// `(clean rounds, rounds)`.
    pub fn clean(&self) -> (usize, usize) {
        let clean = self
            .rounds
            .iter()
            .filter(|r| r.iter().all(Timed::clean))
            .count();
        (clean, self.rounds.len())
    }

    /// The median share of the machine others used during the measurements of variant `v`.
    pub fn foreign(&self, v: usize) -> f64 {
        let shares: Vec<f64> = self.rounds.iter().map(|r| r[v].foreign).collect();
        median(&shares)
    }
}

/// `USER_HZ`, the unit of `/proc/stat` and `/proc/self/stat`: 100 on Linux.
const TICKS_PER_SECOND: f64 = 100.0;

/// Busy ticks of the whole machine (user, nice, system, irq, softirq, steal) and of this
/// process (user and system time of all its threads), from `/proc`.
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal ...
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| fields.get(i))
        .sum();
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the `(comm)`: state is field 3, utime 14 and stime 15.
    let after = own.rsplit_once(')')?.1;
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((busy, utime + stime))
}

/// Runs `work(i)` for `i` in `0..threads` on that many threads at once and returns the results
/// and the timing.
pub fn parallel<R: Send>(threads: usize, work: impl Fn(usize) -> R + Sync) -> (Vec<R>, Timed) {
    timed(|| {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|i| {
                    let work = &work;
                    scope.spawn(move || work(i))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    })
}

/// The one metric line of a run's first stage, and how busy its sink was: what explains a
/// figure.
pub fn describe(run: &Run) -> String {
    let m = &run.metrics[0];
    format!(
        "calls {}, dynamic_splits {}, checkpoints {}, claims {}, outputs {}; sink busy {:.0}% of \
         the wall time; others used {:.0}% of the machine",
        m.calls,
        m.dynamic_splits,
        m.checkpoints,
        m.claims,
        m.outputs,
        run.sink_busy.as_secs_f64() / run.wall.as_secs_f64() * 100.0,
        run.timed.foreign * 100.0,
    )
}

/// The machine's load averages (1, 5, 15 min) from `/proc/loadavg`, printed with the results:
/// other work on this 2-core machine slows the 2-thread runs more than the 1-thread ones.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_string())
}

/// `n` → `0, 1, …, n − 1` as `u64`: `CountFn` without the key, so a record costs no heap
/// allocation (a `(String, i64)` record costs one, freed by whoever consumes it).
///
/// With `emit_every: k > 1` it emits only the offsets that are multiples of `k` (a selective
/// scan: many claims, few outputs). With `yield_every: k > 0` its `process` also yields to the
/// executor (`yield_now`) after every `k` claims, as a DoFn that awaits I/O would. The
/// checkpoint bench uses both to show when the runtime's call timer fires.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountU64 {
    pub emit_every: i64,
    pub yield_every: i64,
}

#[async_trait]
impl SplittableDoFn for CountU64 {
    type Input = i64;
    type Output = u64;
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, n: &i64) -> sdf_core::Result<OffsetRange> {
        Ok(OffsetRange::try_new(0, *n)?)
    }

    fn split_restriction(
        &self,
        _n: &i64,
        restriction: OffsetRange,
        desired_size: f64,
    ) -> sdf_core::Result<Vec<OffsetRange>> {
        Ok(restriction.split(desired_size.max(1.0) as u64, 1))
    }

    fn new_tracker(&self, _n: &i64, restriction: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(restriction)
    }

    async fn process(
        &self,
        _n: &i64,
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, u64>,
        _watermark: &mut MonotonicWatermarkEstimator,
    ) -> sdf_core::Result<ProcessContinuation> {
        let mut i = tracker.current_restriction().start();
        while tracker.try_claim(i)? {
            if self.emit_every <= 1 || i % self.emit_every == 0 {
                output.emit(i as u64).await?;
            }
            i += 1;
            if self.yield_every > 0 && i % self.yield_every == 0 {
                tokio::task::yield_now().await;
            }
        }
        Ok(ProcessContinuation::Stop)
    }
}
