//! A Beam-style `BoundedSource`, brought over unchanged and run as a splittable DoFn.
//!
//! The seed's `CountingSource` (the numbers below `n`) goes through `BoundedSourceSdf` on the
//! embedded runtime. It is a single bundle on two workers, so the idle worker splits the running
//! read through the source's own `RangeTracker`: dynamic rebalancing that Beam's wrapper never
//! gave legacy sources.
//!
//! ```text
//! cargo run --example legacy_source
//! ```

use sdf_legacy::BoundedSourceSdf;
use sdf_legacy::examples::CountingSource;
use sdf_runtime::{Executor, Pipeline};

/// Reads the numbers below `n`; returns them sorted and the read stage's dynamic splits.
fn run(n: i64) -> Result<(Vec<i64>, u64), Box<dyn std::error::Error>> {
    let mut p = Pipeline::new();
    let impulse = p.from_iter("impulse", vec![()]);
    let read = p.apply(
        "read",
        impulse,
        BoundedSourceSdf::new(CountingSource::new(n)),
    );
    let out = p.collect("out", read);
    // Output-count checkpoints off, so one long call is the only work: the idle worker must
    // split it.
    let metrics = Executor::builder()
        .workers(2)
        .max_outputs_per_call(1 << 40)
        .build()
        .run_blocking(p)?;
    let mut values = out.values();
    values.sort_unstable();
    Ok((values, metrics[0].dynamic_splits))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = 1_000_000;
    let (values, splits) = run(n)?;
    let exact = values.iter().copied().eq(0..n);
    println!(
        "CountingSource({n}) through BoundedSourceSdf: {} records, exact: {exact}",
        values.len()
    );
    println!("the running read was split {splits} time(s) for the idle worker");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_number_once() {
        let (values, _) = super::run(50_000).unwrap();
        assert_eq!(values, (0..50_000).collect::<Vec<_>>());
    }
}
