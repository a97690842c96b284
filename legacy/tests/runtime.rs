//! The seed's CountingSource through `BoundedSourceSdf` on the embedded runtime: one bundle,
//! two workers, so the idle worker must split the running read; every record exactly once.

use sdf_legacy::BoundedSourceSdf;
use sdf_legacy::examples::CountingSource;
use sdf_runtime::{Executor, Pipeline};

#[test]
fn counting_source_runs_on_the_runtime_with_dynamic_splits() {
    const N: i64 = 1_000_000;
    let mut p = Pipeline::new();
    let source = p.from_iter("impulse", vec![()]);
    let read = p.apply(
        "read",
        source,
        BoundedSourceSdf::new(CountingSource::new(N)),
    );
    let out = p.collect("out", read);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let metrics = runtime.block_on(async {
        let handle = Executor::builder()
            .workers(2)
            .max_outputs_per_call(1 << 40)
            .build()
            .run(p);
        while out.len() < N as usize {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let metrics = handle.metrics();
        handle.wait().await.unwrap();
        metrics
    });
    let mut values = out.values();
    values.sort_unstable();
    assert_eq!(
        values,
        (0..N).collect::<Vec<_>>(),
        "every record exactly once"
    );
    let read = &metrics[0];
    assert!(
        read.dynamic_splits > 0,
        "the idle worker never split the read: {read:?}"
    );
}
