//! The throughput cost of runner-initiated checkpoints: calls bounded by 1 s and by 10,000
//! outputs (the defaults), by one of them, or by neither.
//!
//! ```text
//! CARGO_TARGET_DIR=... cargo bench --bench checkpoint
//! ```
//!
//! A plain bench binary (`harness = false`, see `benches/common/mod.rs` for why not criterion):
//! in interleaved rounds it runs the same workload under each checkpoint setting and prints the
//! medians, each setting's throughput relative to **none** measured in the same run, and the
//! marginal cost of one checkpoint. Target (issue 4): 1 s checkpoints cost ≤ 10% of the
//! throughput. Without `--bench` (as under `cargo test --benches`) it runs a quick smoke version
//! whose figures mean nothing. The summary is printed over all rounds and over the clean ones
//! (see `benches/common/mod.rs`).
//!
//! The workload is `CountFn` with `u64` records (`CountU64`): one element of `2 × N` offsets,
//! one record per offset, cut up front into one piece per worker (`initial_pieces_per_worker(1)`)
//! so that every call would run for seconds if nothing checkpointed it. The `u64` records keep
//! the per-record work small, so that the cost of a checkpoint shows, and the memory small.
//!
//! Settings: "unlimited" outputs is `max_outputs_per_call(u64::MAX)`, "1 h" a one-hour
//! `max_call_duration` (no time bound). **none** has neither bound; **1 s only** and
//! **N outputs only** one each; **default** both.
//!
//! Then a timer check, once: a selective scan (one output per 2^18 offsets, so a call never
//! reaches 10,000 outputs) under the default settings, with calls of seconds, run with a
//! CPU-bound DoFn and with one that yields to the executor every 1,024 claims
//! (`tokio::task::yield_now`), as one awaiting I/O would. It prints how many checkpoints each
//! got: the runtime polls its call timer only while `process` is pending.
//!
//! A call holds its output until it ends (so that a retry duplicates nothing; the runtime's
//! `max_held_outputs` follows `max_outputs_per_call`), and sends it downstream only then. So
//! the longer the calls, the more a worker holds and the longer it waits, at each call's end,
//! for the sink to take it all: **none** also measures that, not only the absence of
//! checkpoints. The marginal cost of a checkpoint is therefore taken between two settings whose
//! holds both fit in the channel to the sink (16 batches of 1,024): 1,000 and 10,000 outputs per
//! call, `(wall(1,000) − wall(10,000)) / (checkpoints(1,000) − checkpoints(10,000))`, a worker's
//! time per checkpoint being twice that with 2 workers. A checkpoint every second then costs a
//! worker that fraction of its second.

// Each bench uses a part of the shared harness.
#[allow(dead_code)]
mod common;

use std::time::Duration;

use common::{Bench, CountU64, Rounds, Tally, describe, median, rounds, spread};
use sdf_runtime::Executor;

const WORKERS: usize = 2;
/// Records per worker in a full run (a run takes a few seconds); a smoke run divides by `SMOKE`.
const RECORDS_PER_WORKER: i64 = 60_000_000;
const SMOKE: i64 = 100;
const NO_TIME_BOUND: Duration = Duration::from_secs(3600);
/// The timer check: offsets per worker, and one output per `SPARSE` offsets.
const SPARSE_CLAIMS_PER_WORKER: i64 = 1_000_000_000;
const SPARSE: i64 = 1 << 18;

struct Setting {
    name: &'static str,
    duration: Duration,
    outputs: u64,
}

const SETTINGS: [Setting; 7] = [
    Setting {
        name: "none (1 h, unlimited outputs)",
        duration: NO_TIME_BOUND,
        outputs: u64::MAX,
    },
    Setting {
        name: "1 s only (unlimited outputs)",
        duration: Duration::from_secs(1),
        outputs: u64::MAX,
    },
    Setting {
        name: "default (1 s, 10,000 outputs)",
        duration: Duration::from_secs(1),
        outputs: 10_000,
    },
    Setting {
        name: "1,000 outputs only (1 h)",
        duration: NO_TIME_BOUND,
        outputs: 1_000,
    },
    Setting {
        name: "10,000 outputs only (1 h)",
        duration: NO_TIME_BOUND,
        outputs: 10_000,
    },
    Setting {
        name: "100,000 outputs only (1 h)",
        duration: NO_TIME_BOUND,
        outputs: 100_000,
    },
    Setting {
        name: "1,000,000 outputs only (1 h)",
        duration: NO_TIME_BOUND,
        outputs: 1_000_000,
    },
];
/// Indices into `SETTINGS`.
const NONE: usize = 0;
const ONE_SECOND: usize = 1;
const DEFAULT: usize = 2;
const SMALL: usize = 3;
const TEN_K: usize = 4;

fn main() {
    let rounds = rounds(5);
    let per_worker = RECORDS_PER_WORKER / if common::full_run() { 1 } else { SMOKE };
    let n = per_worker * WORKERS as i64;
    let expected = Tally {
        records: n as u64,
        checksum: (0..n as u64).fold(0u64, u64::wrapping_add),
    };
    let bench = Bench::new();
    println!(
        "checkpoint: CountU64 over one element of {n} records, {WORKERS} workers, \
         initial_pieces_per_worker(1), {rounds} rounds, medians (min–max); load {}",
        common::load()
    );
    let mut samples = Rounds::default();
    let mut checkpoints = vec![Vec::new(); SETTINGS.len()];
    let mut last = vec![String::new(); SETTINGS.len()];
    for round in 0..rounds {
        let mut timings = vec![None; SETTINGS.len()];
        // Each round starts with another setting, so that whatever the first run of a round
        // pays (fresh memory from the system, a cold cache) is not always paid by the same one.
        for k in 0..SETTINGS.len() {
            let i = (round + k) % SETTINGS.len();
            let setting = &SETTINGS[i];
            let executor = Executor::builder()
                .workers(WORKERS)
                .initial_pieces_per_worker(1)
                .max_call_duration(setting.duration)
                .max_outputs_per_call(setting.outputs)
                .build();
            let dofn = CountU64::default();
            let run = bench.run(
                &executor,
                |x: &u64| *x,
                |p, sink| {
                    let inputs = p.from_iter("inputs", [n]);
                    let counted = p.apply("count", inputs, dofn);
                    p.sink("tally", counted, sink);
                },
            );
            assert_eq!(run.tally, expected, "{}", setting.name);
            timings[i] = Some(run.timed);
            checkpoints[i].push(run.metrics[0].checkpoints as f64);
            last[i] = describe(&run);
        }
        samples.push(timings.into_iter().map(Option::unwrap).collect());
    }
    let checkpoints = |i: usize| median(&checkpoints[i]);
    let rate = |i: usize| n as f64 / median(&samples.secs(i, false));
    for (i, setting) in SETTINGS.iter().enumerate() {
        let secs = samples.secs(i, false);
        let (min, max) = spread(&secs);
        println!(
            "  {:<30} {:>7.2} M records/s ({:.2}–{:.2}, others {:>2.0}%)  vs none {:.3}  \
             checkpoints {:>6}",
            setting.name,
            rate(i) / 1e6,
            n as f64 / max / 1e6,
            n as f64 / min / 1e6,
            samples.foreign(i) * 100.0,
            rate(i) / rate(NONE),
            checkpoints(i),
        );
    }
    println!("  metrics of the last round:");
    for (setting, last) in SETTINGS.iter().zip(&last) {
        println!("    {:<30} {last}", setting.name);
    }
    let (clean, all) = samples.clean();
    for clean_only in [false, true] {
        if clean_only && clean == 0 {
            println!("checkpoint cost: no clean round");
            continue;
        }
        let wall = |i: usize| median(&samples.secs(i, clean_only));
        // The marginal cost of a checkpoint, in a worker's time.
        let per_checkpoint = (wall(SMALL) - wall(TEN_K))
            / (checkpoints(SMALL) - checkpoints(TEN_K))
            * WORKERS as f64;
        let at_default = checkpoints(TEN_K) * per_checkpoint / WORKERS as f64 / wall(TEN_K);
        let vs_none = |i: usize| wall(NONE) / wall(i);
        println!(
            "checkpoint cost ({}): default vs none {:.3} ({:+.1}% throughput); 1 s only vs none \
             {:.3} with {} checkpoints; marginal cost {:.1} µs of a worker per checkpoint: one \
             every 1 s costs {:.4}%, every 10,000 outputs here {:.1}% (target ≤ 10% loss)",
            if clean_only {
                format!("{clean} clean rounds of {all}")
            } else {
                format!("all {all} rounds")
            },
            vs_none(DEFAULT),
            (vs_none(DEFAULT) - 1.0) * 100.0,
            vs_none(ONE_SECOND),
            checkpoints(ONE_SECOND),
            per_checkpoint * 1e6,
            per_checkpoint * 100.0,
            at_default * 100.0,
        );
    }
    let scale = if common::full_run() { 1 } else { SMOKE };
    timer_check(&bench, SPARSE_CLAIMS_PER_WORKER * WORKERS as i64 / scale);
    println!("checkpoint: load at the end {}", common::load());
}

/// Does the 1 s bound checkpoint a call that runs for seconds? A selective scan (`CountU64`
/// emitting one offset in `SPARSE`) under the default settings never reaches 10,000 outputs in
/// a call, so only the timer can checkpoint it. Run once with a CPU-bound DoFn and once with
/// one that yields every 1,024 claims; a count of checkpoints, not a timing.
fn timer_check(bench: &Bench, n: i64) {
    let expected = (0..n)
        .step_by(SPARSE as usize)
        .fold(Tally::default(), |t, i| Tally {
            records: t.records + 1,
            checksum: t.checksum.wrapping_add(i as u64),
        });
    let executor = Executor::builder()
        .workers(WORKERS)
        .initial_pieces_per_worker(1)
        .build();
    for yield_every in [0, 1024] {
        let dofn = CountU64 {
            emit_every: SPARSE,
            yield_every,
        };
        let run = bench.run(
            &executor,
            |x: &u64| *x,
            |p, sink| {
                let inputs = p.from_iter("inputs", [n]);
                let counted = p.apply("scan", inputs, dofn);
                p.sink("tally", counted, sink);
            },
        );
        assert_eq!(
            run.tally, expected,
            "timer check, yield_every {yield_every}"
        );
        let m = &run.metrics[0];
        println!(
            "checkpoint timer: default settings, a selective scan of {n} offsets ({} outputs), \
             DoFn {}: {:.2} s, {} calls, {} checkpoints (a 1 s bound should give about {})",
            expected.records,
            if yield_every == 0 {
                "CPU-bound".to_string()
            } else {
                format!("yielding every {yield_every} claims")
            },
            run.wall.as_secs_f64(),
            m.calls,
            m.checkpoints,
            // One per worker per whole second of its calls, at most.
            (run.wall.as_secs_f64().floor() as u64) * WORKERS as u64,
        );
    }
}
