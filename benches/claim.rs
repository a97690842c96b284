//! Claim cost: the raw tracker, our `SharedTracker` handle, and a tracker behind a mutex (what
//! every Beam SDK does: `LockRTracker`, `ThreadsafeRestrictionTracker`, synchronized wrappers).
//!
//! `cargo bench --bench claim` prints criterion's figures and then the ratios against the raw
//! tracker measured in the same run. Target: handle <= 2x raw.

use std::hint::black_box;
use std::sync::Mutex;

use criterion::{Criterion, Throughput};
use sdf_core::{OffsetRange, OffsetRangeTracker, RestrictionTracker, SharedTracker};

const CLAIMS: i64 = 1_000;

fn claim_loop(c: &mut Criterion) {
    let mut group = c.benchmark_group("claim");
    group.throughput(Throughput::Elements(CLAIMS as u64));

    group.bench_function("raw", |b| {
        let mut tracker = OffsetRangeTracker::new(OffsetRange::new(0, i64::MAX));
        let mut next = 0i64;
        b.iter(|| {
            for _ in 0..CLAIMS {
                black_box(tracker.try_claim(black_box(next)).unwrap());
                next += 1;
            }
        });
    });

    group.bench_function("shared", |b| {
        let mut tracker =
            SharedTracker::new(OffsetRangeTracker::new(OffsetRange::new(0, i64::MAX)));
        // A live split handle, as during a real run: the claim path must still be cheap.
        let _splitter = tracker.split_handle();
        let mut next = 0i64;
        b.iter(|| {
            for _ in 0..CLAIMS {
                black_box(tracker.try_claim(black_box(next)).unwrap());
                next += 1;
            }
        });
    });

    group.bench_function("mutex", |b| {
        let tracker = Mutex::new(OffsetRangeTracker::new(OffsetRange::new(0, i64::MAX)));
        let mut next = 0i64;
        b.iter(|| {
            for _ in 0..CLAIMS {
                black_box(tracker.lock().unwrap().try_claim(black_box(next)).unwrap());
                next += 1;
            }
        });
    });
    group.finish();
}

fn split_cost(c: &mut Criterion) {
    c.bench_function("split/offset 0.5", |b| {
        b.iter(|| {
            let mut tracker = OffsetRangeTracker::new(OffsetRange::new(0, 1 << 40));
            tracker.try_claim(black_box(12_345)).unwrap();
            black_box(tracker.try_split(black_box(0.5)).unwrap())
        });
    });
}

/// Reads criterion's point estimate (mean, ns per iteration) of `claim/<name>`.
fn mean_ns(name: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = format!("{dir}/criterion/claim/{name}/new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let at = text.find("\"mean\"")?;
    let rest = &text[at..];
    let at = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
    let end = rest[at..].find([',', '}'])?;
    rest[at..at + end].trim().parse().ok()
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    claim_loop(&mut criterion);
    split_cost(&mut criterion);
    criterion.final_summary();
    if let (Some(raw), Some(shared), Some(mutex)) =
        (mean_ns("raw"), mean_ns("shared"), mean_ns("mutex"))
    {
        let per = |ns: f64| ns / CLAIMS as f64;
        println!("\nclaim cost per claim (mean of this run):");
        println!("  raw     {:>7.2} ns", per(raw));
        println!(
            "  shared  {:>7.2} ns   {:.2}x raw   (target <= 2x)",
            per(shared),
            shared / raw
        );
        println!("  mutex   {:>7.2} ns   {:.2}x raw", per(mutex), mutex / raw);
    }
}
