//! Failures while a checkpoint is being taken end the pipeline; they never hang it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sdf_core::testing::CountFn;
use sdf_core::{Result, Timestamped};
use sdf_runtime::{Error, Executor, MemoryStore, Pipeline, Sink};

/// Slow (so that checkpoints spend their time waiting for it to drain its input), and fails on
/// its `fail_at`-th batch: while a checkpoint waits.
struct FailingSink {
    batches: u64,
    fail_at: u64,
}

#[async_trait]
impl Sink<(String, i64)> for FailingSink {
    type Commit = ();

    async fn write(&mut self, _batch: Vec<Timestamped<(String, i64)>>) -> Result<()> {
        tokio::time::sleep(Duration::from_millis(2)).await;
        self.batches += 1;
        if self.batches == self.fail_at {
            return Err(sdf_core::Error::message("the disk is full"));
        }
        Ok(())
    }
    async fn prepare(&mut self, _: u64) -> Result<()> {
        Ok(())
    }
    async fn commit(&mut self, _: u64, _: ()) -> Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_failing_during_a_checkpoint_fails_the_pipeline() {
    for attempt in 0..5 {
        let mut p = Pipeline::new();
        let inputs = p.from_iter("inputs", vec![("k".to_string(), 200_000)]);
        let counted = p.apply("count", inputs, CountFn);
        p.sink(
            "sink",
            counted,
            FailingSink {
                batches: 0,
                fail_at: 20,
            },
        );
        let handle = Executor::builder()
            .workers(2)
            .batch_size(64)
            .max_outputs_per_call(256)
            .checkpoint_store(Arc::new(MemoryStore::default()))
            .checkpoint_interval(Duration::from_millis(1))
            .build()
            .run(p);
        let result = tokio::time::timeout(Duration::from_secs(20), handle.wait())
            .await
            .unwrap_or_else(|_| {
                panic!("attempt {attempt}: the pipeline hung after its sink failed")
            });
        let err = result.expect_err("the sink failed");
        assert!(
            matches!(&err, Error::Sink { .. }) || err.to_string().contains("sink"),
            "attempt {attempt}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chained_stages_end_and_their_last_checkpoint_completes() {
    // Stage → stage → sink, many times: a stage that sent its end (+∞) twice, or a link left
    // with an unread message, made the last checkpoint wait for ever, now and then.
    for round in 0..40 {
        let mut p = Pipeline::new();
        let inputs = p.from_iter(
            "inputs",
            vec![("k".to_string(), 300), ("j".to_string(), 50)],
        );
        let counted = p.apply("count", inputs, CountFn);
        let doubled = p.apply(
            "double",
            counted,
            sdf_core::map(|(k, i): &(String, i64)| (k.clone(), i * 2)),
        );
        let out = p.collect("out", doubled);
        let handle = Executor::builder()
            .workers(2)
            .checkpoint_store(Arc::new(MemoryStore::default()))
            .checkpoint_interval(Duration::from_millis(2))
            .build()
            .run(p);
        tokio::time::timeout(Duration::from_secs(20), handle.wait())
            .await
            .unwrap_or_else(|_| panic!("round {round}: the pipeline never finished"))
            .unwrap();
        assert_eq!(out.len(), 350, "round {round}");
    }
}
