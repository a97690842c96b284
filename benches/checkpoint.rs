//! The throughput cost of runner-initiated checkpoints: every call bounded by 1 s and by
//! 10,000 outputs (the defaults), by one of them, or by neither.
//!
//! ```text
//! CARGO_TARGET_DIR=... cargo bench --bench checkpoint
//! ```
//!
//! A plain bench binary (`harness = false`, see `benches/common/mod.rs` for why not criterion):
//! in interleaved rounds it runs the same workload under each checkpoint setting and prints the
//! medians and each setting's throughput relative to two baselines (below), measured in the
//! same run. Target (issue 4): checkpoints cost ≤ 10% of the throughput. Without `--bench` (as
//! under `cargo test --benches`) it runs a quick smoke version whose figures mean nothing.
//!
//! The workload is `CountFn` with `u64` records (`CountU64`): one element of `2 × N` offsets,
//! one record per offset, cut up front into one piece per worker (`initial_pieces_per_worker(1)`)
//! so that every call would run for seconds if nothing checkpointed it. The `u64` records keep
//! the per-record work small (so the per-call cost of a checkpoint shows) and the memory small:
//! a call holds its output until it ends, so without checkpoints each call holds all of it.
//!
//! Settings: "unlimited" outputs is `max_outputs_per_call(u64::MAX)`, "no time bound" a one-hour
//! `max_call_duration`. **none** has neither bound; **1 s only** and **10,000 outputs only** one
//! each; **default** both. A call holds its output until it ends (so that a retry duplicates
//! nothing; `max_held_outputs` follows `max_outputs_per_call`), so under **none** each call holds
//! all of its records, and its throughput includes that. **rare** checkpoints every 1,000,000
//! outputs: few enough checkpoints to cost nothing, and a bounded hold: the baseline that isolates
//! what the checkpoints themselves cost. The bench prints every setting against both.

// Each bench uses a part of the shared harness.
#[allow(dead_code)]
mod common;

use std::time::Duration;

use common::{Bench, CountU64, Tally, describe, median, rounds, spread};
use sdf_runtime::Executor;

const WORKERS: usize = 2;
/// Records per worker in a full run (a run takes a few seconds); a smoke run divides by `SMOKE`.
const RECORDS_PER_WORKER: i64 = 60_000_000;
const SMOKE: i64 = 100;
const NO_TIME_BOUND: Duration = Duration::from_secs(3600);

struct Setting {
    name: &'static str,
    duration: Duration,
    outputs: u64,
}

const SETTINGS: [Setting; 5] = [
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
        name: "10,000 outputs only (1 h)",
        duration: NO_TIME_BOUND,
        outputs: 10_000,
    },
    Setting {
        name: "default (1 s, 10,000 outputs)",
        duration: Duration::from_secs(1),
        outputs: 10_000,
    },
    Setting {
        name: "rare (1 h, 1,000,000 outputs)",
        duration: NO_TIME_BOUND,
        outputs: 1_000_000,
    },
];
/// Indices into `SETTINGS`.
const NONE: usize = 0;
const DEFAULT: usize = 3;
const RARE: usize = 4;

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
    let mut rates = vec![Vec::new(); SETTINGS.len()];
    let mut last = vec![None; SETTINGS.len()];
    for round in 0..rounds {
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
            let run = bench.run(
                &executor,
                |x: &u64| *x,
                |p, sink| {
                    let inputs = p.from_iter("inputs", [n]);
                    let counted = p.apply("count", inputs, CountU64);
                    p.sink("tally", counted, sink);
                },
            );
            assert_eq!(run.tally, expected, "{}", setting.name);
            rates[i].push(n as f64 / run.wall.as_secs_f64());
            last[i] = Some((run.wall, describe(&run)));
        }
    }
    let none = median(&rates[NONE]);
    let rare = median(&rates[RARE]);
    for (i, setting) in SETTINGS.iter().enumerate() {
        let (min, max) = spread(&rates[i]);
        let rate = median(&rates[i]);
        println!(
            "  {:<31} {:>7.2} M records/s ({:.2}–{:.2})  vs none {:.3}  vs rare {:.3}",
            setting.name,
            rate / 1e6,
            min / 1e6,
            max / 1e6,
            rate / none,
            rate / rare,
        );
    }
    println!("  metrics of the last round:");
    for (setting, last) in SETTINGS.iter().zip(&last) {
        if let Some((wall, metrics)) = last {
            println!(
                "    {:<31} {:.2} s: {metrics}",
                setting.name,
                wall.as_secs_f64()
            );
        }
    }
    let default = median(&rates[DEFAULT]);
    let loss = |base: f64| (1.0 - default / base) * 100.0;
    println!(
        "checkpoint cost: default vs none {:.3} ({:.1}% loss), default vs rare {:.3} ({:.1}% loss); \
         target ≤ 10% loss",
        default / none,
        loss(none),
        default / rare,
        loss(rare),
    );
    println!("checkpoint: load at the end {}", common::load());
}
