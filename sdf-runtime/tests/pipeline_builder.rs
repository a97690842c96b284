//! `Pipeline` as an `sdf_core::PipelineBuilder`: a composite transform written against the
//! trait builds the same steps as the inherent methods, and runs.

use sdf_core::PipelineBuilder;
use sdf_core::testing::CountFn;
use sdf_runtime::{Executor, Pipeline};

/// A composite transform as a connector writes one: a source and a step named after it.
fn counts<P: PipelineBuilder>(
    p: &mut P,
    name: &str,
    keys: Vec<(String, i64)>,
) -> P::Collection<(String, i64)> {
    let keys = p.from_iter(&format!("{name}/keys"), keys);
    p.apply(name, keys, CountFn)
}

#[test]
fn a_composite_written_against_the_trait_runs_on_the_pipeline() {
    let mut p = Pipeline::new();
    let counted = counts(&mut p, "count", vec![("a".into(), 300), ("b".into(), 2)]);
    let out = p.collect("out", counted);
    let metrics = Executor::builder()
        .workers(2)
        .build()
        .run_blocking(p)
        .unwrap();
    let mut values = out.values();
    values.sort();
    let expected: Vec<(String, i64)> = (0..300)
        .map(|i| ("a".to_string(), i))
        .chain((0..2).map(|i| ("b".to_string(), i)))
        .collect();
    assert_eq!(values, expected);
    // The step carries the name given to the composite.
    assert!(metrics.iter().any(|m| m.name == "count"), "{metrics:?}");
}

#[test]
fn two_uses_under_one_name_are_refused() {
    let mut p = Pipeline::new();
    let a = counts(&mut p, "count", vec![("a".into(), 1)]);
    let b = counts(&mut p, "count", vec![("b".into(), 1)]);
    let _a = p.collect("a", a);
    let _b = p.collect("b", b);
    let error = Executor::builder().build().run_blocking(p).unwrap_err();
    assert!(error.to_string().contains("two steps are named"), "{error}");
}
