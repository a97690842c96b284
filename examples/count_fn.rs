//! The `CountFn` of the SDF design doc, run and checked.
//!
//! `(key, n)` → `(key, 0), …, (key, n − 1)`. This example runs it on a few inputs, then proves
//! with the conformance kit that splitting its work anywhere (after every claim, at every
//! fraction, and from another thread at random moments) loses and duplicates nothing.
//!
//! ```text
//! cargo run --example count_fn
//! ```

use sdf_core::testing::{
    ConcurrentOptions, CountFn, check_concurrent_splits_with, check_sdf_exhaustive,
    run_to_completion,
};

/// Runs the example and returns what it printed.
fn run() -> Result<String, Box<dyn std::error::Error>> {
    let mut out = String::new();
    for (key, n) in [("apples", 3), ("pears", 0), ("plums", 5)] {
        let records = run_to_completion(&CountFn, &(key.to_string(), n))?;
        let numbers: Vec<i64> = records.iter().map(|(_, i)| *i).collect();
        out += &format!("{key:>7} × {n}: {numbers:?}\n");
    }
    let input = ("plums".to_string(), 40);
    let exhaustive = check_sdf_exhaustive(&CountFn, &input)?;
    out += &format!(
        "split after every claim at every fraction: {} cases, {} process calls, {} splits ({} checkpoints): exact\n",
        exhaustive.cases, exhaustive.calls, exhaustive.splits, exhaustive.checkpoints
    );
    let options = ConcurrentOptions::default().repetitions(50);
    let concurrent =
        check_concurrent_splits_with(&CountFn, &("plums".to_string(), 5_000), &options)?;
    out += &format!(
        "splits from another thread: {} repetitions, {} of {} split requests landed mid-call: exact\n",
        concurrent.repetitions, concurrent.splits, concurrent.requested
    );
    Ok(out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    print!("{}", run()?);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn example_runs_and_counts() {
        let out = super::run().unwrap();
        assert!(out.contains("apples × 3: [0, 1, 2]"), "{out}");
        assert!(out.contains("pears × 0: []"), "{out}");
        assert!(out.contains(": exact"), "{out}");
    }
}
