//! Per-item scheduling overhead of the runtime, against a raw loop doing the same work.
//!
//! ```text
//! CARGO_TARGET_DIR=... cargo bench --bench overhead
//! ```
//!
//! A plain bench binary (`harness = false`, see `benches/common/mod.rs` for why not criterion):
//! it runs, in interleaved rounds, each pipeline and its raw baseline, and prints medians and
//! the ratios of medians measured in the same run. Without `--bench` (as under `cargo test
//! --benches`) it runs a quick smoke version whose figures mean nothing.
//!
//! - **map**: many small elements (`u64`) through `sdf_core::map(|x| *x)`, each element a
//!   restriction `[0, 1)` of its own: one work item, one `process` call per element. The
//!   baseline applies the same closure in a plain loop. This is the runtime's cost per work
//!   item (intake, queue, call, output batching, channels).
//! - **count**: `CountFn` over a few large elements (records/s). The baseline is the same
//!   claim-and-emit work without the runtime: an `OffsetRangeTracker` claim loop building the
//!   same `(String, i64)` records into batches of 1,024, on as many threads as the pipeline has
//!   workers, one element per thread in turn.
//! - **count64**: the same with `CountU64` (`CountFn` emitting `u64`): records that cost no heap
//!   allocation, so the figure is the runtime's own per-record cost, without the allocator's
//!   (a `String` made on a worker and dropped in the sink is a cross-thread free).
//!
//! Both pipelines run on 2 workers (this machine has 2 cores) with the default settings, and
//! end in a sink that counts and checksums the records, so a figure is only printed for
//! complete, exact output. Ratios are printed over all rounds and over the clean ones (see
//! `benches/common/mod.rs`). `SDF_BENCH_ONLY=map` (`count`, `count64`) runs one part, e.g. to
//! profile it.

// Each bench uses a part of the shared harness.
#[allow(dead_code)]
mod common;

use std::hint::black_box;

use common::{
    Bench, CountU64, Rounds, Run, Tally, Timed, describe, median, parallel, rounds, spread, timed,
};
use sdf_core::testing::CountFn;
use sdf_core::{OffsetRange, OffsetRangeTracker, RestrictionTracker, Timestamp, Timestamped};
use sdf_runtime::Executor;

const WORKERS: usize = 2;
/// What a full run sizes its inputs to; a smoke run divides by `SMOKE`.
const MAP_ITEMS: u64 = 400_000;
const COUNT_ELEMENTS: usize = 4;
const COUNT_RECORDS: i64 = 10_000_000;
const COUNT64_RECORDS: i64 = 25_000_000;
const SMOKE: u64 = 100;
const BATCH: usize = 1024;

fn main() {
    let rounds = rounds(5);
    let scale = if common::full_run() { 1 } else { SMOKE };
    let bench = Bench::new();
    let executor = Executor::builder().workers(WORKERS).build();
    println!(
        "overhead: {WORKERS} workers, {rounds} rounds, medians (min–max); load {}; {:?}",
        common::load(),
        executor.config()
    );
    if common::selected("map") {
        map(&bench, &executor, rounds, MAP_ITEMS / scale);
    }
    if common::selected("count") {
        count(&bench, &executor, rounds, COUNT_RECORDS / scale as i64);
    }
    if common::selected("count64") {
        count64(&bench, &executor, rounds, COUNT64_RECORDS / scale as i64);
    }
    println!("overhead: load at the end {}", common::load());
}

fn map(bench: &Bench, executor: &Executor, rounds: usize, items: u64) {
    let expected = Tally {
        records: items,
        checksum: (0..items).fold(0u64, u64::wrapping_add),
    };
    compare(
        Part {
            name: "map",
            unit: "item",
            count: items,
            baseline: "raw loop, 1 thread",
            expected,
        },
        rounds,
        || timed(|| raw_map(items)),
        || {
            bench.run(
                executor,
                |x: &u64| *x,
                |p, sink| {
                    let inputs = p.from_iter("inputs", 0..items);
                    let mapped = p.apply("map", inputs, sdf_core::map(|x: &u64| *x));
                    p.sink("tally", mapped, sink);
                },
            )
        },
    );
}

fn count(bench: &Bench, executor: &Executor, rounds: usize, n: i64) {
    let elements: Vec<(String, i64)> = (0..COUNT_ELEMENTS)
        .map(|i| (format!("key-{i}"), n))
        .collect();
    let expected = (0..COUNT_ELEMENTS)
        .map(|_| Tally {
            records: n as u64,
            checksum: (0..n as u64).fold(0u64, u64::wrapping_add),
        })
        .fold(Tally::default(), add);
    compare(
        Part {
            name: "count",
            unit: "record",
            count: expected.records,
            baseline: "raw claim loop, 2 threads",
            expected,
        },
        rounds,
        || {
            let (tallies, timing) = parallel(WORKERS, |w| {
                elements
                    .iter()
                    .skip(w)
                    .step_by(WORKERS)
                    .map(raw_count)
                    .fold(Tally::default(), add)
            });
            (tallies.into_iter().fold(Tally::default(), add), timing)
        },
        || {
            let inputs = elements.clone();
            bench.run(executor, count_checksum, |p, sink| {
                let inputs = p.from_iter("inputs", inputs);
                let counted = p.apply("count", inputs, CountFn);
                p.sink("tally", counted, sink);
            })
        },
    );
}

fn count64(bench: &Bench, executor: &Executor, rounds: usize, n: i64) {
    let expected = (0..COUNT_ELEMENTS)
        .map(|_| Tally {
            records: n as u64,
            checksum: (0..n as u64).fold(0u64, u64::wrapping_add),
        })
        .fold(Tally::default(), add);
    compare(
        Part {
            name: "count64",
            unit: "record",
            count: expected.records,
            baseline: "raw claim loop, 2 threads",
            expected,
        },
        rounds,
        || {
            let (tallies, timing) = parallel(WORKERS, |w| {
                (w..COUNT_ELEMENTS)
                    .step_by(WORKERS)
                    .map(|_| raw_count64(n))
                    .fold(Tally::default(), add)
            });
            (tallies.into_iter().fold(Tally::default(), add), timing)
        },
        || {
            bench.run(
                executor,
                |x: &u64| *x,
                |p, sink| {
                    let inputs = p.from_iter("inputs", vec![n; COUNT_ELEMENTS]);
                    let counted = p.apply("count64", inputs, CountU64::default());
                    p.sink("tally", counted, sink);
                },
            )
        },
    );
}

/// One part of the bench: what it counts, and what every run must deliver.
struct Part {
    name: &'static str,
    unit: &'static str,
    count: u64,
    baseline: &'static str,
    expected: Tally,
}

/// The variants of a round, in `Rounds`.
const RAW: usize = 0;
const PIPELINE: usize = 1;

/// Runs the baseline and the pipeline in `rounds` rounds and prints their rates, over all
/// rounds and over the clean ones.
fn compare(
    part: Part,
    rounds: usize,
    raw: impl Fn() -> (Tally, Timed),
    pipeline: impl Fn() -> Run,
) {
    let mut samples = Rounds::default();
    let mut last = None;
    for _ in 0..rounds {
        let (tally, raw_timing) = raw();
        assert_eq!(tally, part.expected, "{}: the raw loop", part.name);
        let run = pipeline();
        assert_eq!(run.tally, part.expected, "{}: the pipeline", part.name);
        samples.push(vec![raw_timing, run.timed]);
        last = Some(run);
    }
    let rate = |secs: f64| part.count as f64 / secs;
    let show = |v: usize| {
        let secs = samples.secs(v, false);
        let (min, max) = spread(&secs);
        format!(
            "{:.3} M {}s/s ({:.3}–{:.3}, others {:.0}%)",
            rate(median(&secs)) / 1e6,
            part.unit,
            rate(max) / 1e6,
            rate(min) / 1e6,
            samples.foreign(v) * 100.0
        )
    };
    println!(
        "{}: pipeline {}; {} {}",
        part.name,
        show(PIPELINE),
        part.baseline,
        show(RAW)
    );
    let (clean, all) = samples.clean();
    for clean_only in [false, true] {
        if clean_only && clean == 0 {
            println!("{}: no clean round", part.name);
            continue;
        }
        let p = rate(median(&samples.secs(PIPELINE, clean_only)));
        let r = rate(median(&samples.secs(RAW, clean_only)));
        println!(
            "{} ({}): pipeline/raw {:.4}; runtime cost {:.0} ns of wall time per {} \
             (1/pipeline − 1/raw)",
            part.name,
            if clean_only {
                format!("{clean} clean rounds of {all}")
            } else {
                format!("all {all} rounds")
            },
            p / r,
            (1.0 / p - 1.0 / r) * 1e9,
            part.unit,
        );
    }
    if let Some(run) = last {
        println!("  last run: {}", describe(&run));
    }
}

fn add(a: Tally, b: Tally) -> Tally {
    Tally {
        records: a.records + b.records,
        checksum: a.checksum.wrapping_add(b.checksum),
    }
}

/// `CountU64`'s work without the runtime: claim each offset, batch the record.
fn raw_count64(n: i64) -> Tally {
    let mut tracker = OffsetRangeTracker::new(OffsetRange::new(0, n));
    let mut batch: Vec<Timestamped<u64>> = Vec::with_capacity(BATCH);
    let mut tally = Tally::default();
    let drain = |batch: &mut Vec<Timestamped<u64>>, tally: &mut Tally| {
        tally.records += batch.len() as u64;
        for r in batch.drain(..) {
            tally.checksum = tally.checksum.wrapping_add(r.value);
        }
    };
    let mut i = 0;
    while tracker.try_claim(i).unwrap() {
        batch.push(Timestamped {
            value: i as u64,
            timestamp: Timestamp::MIN,
        });
        if batch.len() == BATCH {
            drain(&mut batch, &mut tally);
        }
        i += 1;
    }
    drain(&mut batch, &mut tally);
    black_box(tally)
}

fn count_checksum(record: &(String, i64)) -> u64 {
    record.1 as u64
}

/// The map's work without the runtime: the same closure on every item, checksummed.
fn raw_map(items: u64) -> Tally {
    let f = |x: &u64| *x;
    let mut tally = Tally::default();
    for x in 0..items {
        tally.records += 1;
        tally.checksum = tally.checksum.wrapping_add(black_box(f(black_box(&x))));
    }
    tally
}

/// `CountFn`'s work without the runtime: claim each offset, build the record, batch it.
fn raw_count((key, n): &(String, i64)) -> Tally {
    let mut tracker = OffsetRangeTracker::new(OffsetRange::new(0, *n));
    let mut batch: Vec<Timestamped<(String, i64)>> = Vec::with_capacity(BATCH);
    let mut tally = Tally::default();
    let drain = |batch: &mut Vec<Timestamped<(String, i64)>>, tally: &mut Tally| {
        tally.records += batch.len() as u64;
        for r in batch.drain(..) {
            tally.checksum = tally.checksum.wrapping_add(count_checksum(&r.value));
        }
    };
    let mut i = 0;
    while tracker.try_claim(i).unwrap() {
        batch.push(Timestamped {
            value: (key.clone(), i),
            timestamp: Timestamp::MIN,
        });
        if batch.len() == BATCH {
            drain(&mut batch, &mut tally);
        }
        i += 1;
    }
    drain(&mut batch, &mut tally);
    black_box(tally)
}
