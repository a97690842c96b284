//! The embedded runtime's `Pipeline`, translated with `into_beam` and run on Beam's
//! FnApiRunner (the Python job service, and the runner run directly with `bundle_repeat`):
//! the records it collects are the embedded run's, each once however the runner repeats
//! bundles; a step with no translation is refused by name.

use std::net::SocketAddr;
use std::time::Duration;

use sdf_beam::BeamRunner;
use sdf_beam::harness::PoolListener;
use sdf_beam::local::PythonJobService;
use sdf_beam::translate::external_environment;
use sdf_core::map;
use sdf_core::testing::CountFn;
use sdf_runtime::{Collected, Error, Executor, Pipeline};

/// Keys and counts → every `(key, i)` → `i * 10 + key length`, collected.
fn pipeline() -> (Pipeline, Collected<i64>) {
    let mut p = Pipeline::new();
    let keys: Vec<(String, i64)> = (0..6).map(|k| ("k".repeat(k + 1), 50 + k as i64)).collect();
    let inputs = p.from_iter("inputs", keys);
    let counted = p.apply("count", inputs, CountFn);
    let scaled = p.apply(
        "scale",
        counted,
        map(|(key, i): &(String, i64)| i * 10 + key.len() as i64),
    );
    let out = p.collect("out", scaled);
    (p, out)
}

fn sorted(out: &Collected<i64>) -> Vec<i64> {
    let mut values = out.values();
    values.sort();
    values
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_pipeline_collects_on_beam_what_it_collects_embedded() {
    let (embedded, out) = pipeline();
    tokio::task::spawn_blocking(move || Executor::builder().build().run_blocking(embedded))
        .await
        .unwrap()
        .unwrap();
    let expected = sorted(&out);
    assert_eq!(expected.len(), (50..56).sum::<i64>() as usize);

    let service = PythonJobService::start().unwrap_or_else(|e| panic!("{e}"));
    let (p, out) = pipeline();
    let run = BeamRunner::new(service.endpoint())
        .timeout(Duration::from_secs(300))
        .run(p.into_beam().unwrap())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", service.log()));
    assert!(run.workers.bundles > 0);
    assert_eq!(sorted(&out), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collected_records_are_exact_though_the_runner_repeats_every_bundle() {
    let (p, out) = pipeline();
    let mut beam = p.into_beam().unwrap();
    let listener = PoolListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    beam.set_environment(external_environment(&listener.address().to_string()));
    let (proto, registry) = beam.build();
    let pool = listener.serve(registry);
    let result = tokio::task::spawn_blocking(move || {
        sdf_beam::local::run_on_fn_api_runner(&proto, 1).unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .unwrap();
    assert_eq!(result["state"], "DONE", "{result}");
    // Every bundle ran twice (one run discarded), and each record was collected once.
    let bundles = sdf_beam::harness::HarnessStats::get(&pool.stats().bundles);
    assert!(bundles >= 4, "{bundles} bundles");
    let expected: Vec<i64> = {
        let mut v: Vec<i64> = (0..6)
            .flat_map(|k| (0..50 + k as i64).map(move |i| i * 10 + k as i64 + 1))
            .collect();
        v.sort();
        v
    };
    assert_eq!(sorted(&out), expected);
}

#[test]
fn a_step_with_no_translation_is_refused_by_name() {
    let mut p = Pipeline::new();
    let inputs = p.from_iter("inputs", vec![("a".to_string(), 3i64)]);
    let (counted, _letters) = p.apply_with_dead_letters("count", inputs, CountFn);
    let _ = p.collect("out", counted);
    match p.into_beam() {
        Err(Error::NotPortable { step, reason }) => {
            assert_eq!(step, "count");
            assert!(reason.contains("dead-letter"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let mut p = Pipeline::new();
    let inputs = p.from_iter("inputs", vec![1i64]);
    p.sink("files", inputs, sdf_runtime_test_sink());
    match p.into_beam() {
        Err(Error::NotPortable { step, reason }) => {
            assert_eq!(step, "files");
            assert!(reason.contains("Sink::attempts"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// A sink that accepts everything (its translation is what is tested).
fn sdf_runtime_test_sink() -> impl sdf_core::Sink<i64> {
    struct Nowhere;
    #[async_trait::async_trait]
    impl sdf_core::Sink<i64> for Nowhere {
        type Commit = ();
        async fn write(&mut self, _: Vec<sdf_core::Timestamped<i64>>) -> sdf_core::Result<()> {
            Ok(())
        }
        async fn prepare(&mut self, _: u64) -> sdf_core::Result<()> {
            Ok(())
        }
        async fn commit(&mut self, _: u64, _: ()) -> sdf_core::Result<()> {
            Ok(())
        }
    }
    Nowhere
}
