//! A fast stage feeding a slow one, checkpointed often: what waits in front of the slow stage
//! stays bounded. A checkpoint moves everything in flight into the slow stage's queue; before
//! producers waited for room (`link::Room`), each checkpoint moved a channel's worth more
//! (16 batches), and the queue, the checkpoint and the time to take it grew without bound.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sdf_core::testing::CountFn;
use sdf_runtime::{CheckpointError, CheckpointStore, Executor, MemoryStore, Pipeline};

/// A memory store that remembers the most work any saved checkpoint held for one stage.
#[derive(Default)]
struct Watching {
    inner: MemoryStore,
    most: Mutex<(usize, u64)>,
}

impl CheckpointStore for Watching {
    fn load(&self) -> Result<Option<Vec<u8>>, CheckpointError> {
        self.inner.load()
    }

    fn save(&self, checkpoint: &[u8]) -> Result<(), CheckpointError> {
        let value: serde_json::Value = serde_json::from_slice(checkpoint).unwrap();
        let queued = value["state"]["slow"]["work"]
            .as_array()
            .map_or(0, |work| work.len());
        let mut most = self.most.lock().unwrap();
        most.0 = most.0.max(queued);
        most.1 += 1;
        self.inner.save(checkpoint)
    }
}

const WORKERS: usize = 2;
const QUEUE_PER_WORKER: usize = 16;
const OUTPUTS_PER_CALL: u64 = 200;
const BATCH: usize = 50;

#[test]
fn frequent_checkpoints_do_not_pile_work_up_in_front_of_a_slow_stage() {
    let store = Arc::new(Watching::default());
    let mut p = Pipeline::new();
    let inputs = p.from_iter(
        "inputs",
        (0..4).map(|k| (format!("k{k}"), 5_000)).collect::<Vec<_>>(),
    );
    let counted = p.apply("count", inputs, CountFn);
    let slow = p.apply(
        "slow",
        counted,
        sdf_core::map(|(k, i): &(String, i64)| {
            std::thread::sleep(Duration::from_micros(50));
            format!("{k},{i}")
        }),
    );
    let out = p.collect("out", slow);
    Executor::builder()
        .workers(WORKERS)
        .queue_per_worker(QUEUE_PER_WORKER)
        .max_outputs_per_call(OUTPUTS_PER_CALL)
        .batch_size(BATCH)
        .checkpoint_store(Arc::clone(&store) as Arc<dyn CheckpointStore>)
        .checkpoint_interval(Duration::from_millis(5))
        .build()
        .run_blocking(p)
        .unwrap();

    let records: Vec<String> = out.records().into_iter().map(|r| r.value).collect();
    let distinct: HashSet<_> = records.iter().collect();
    assert_eq!(records.len(), 20_000, "every record, once");
    assert_eq!(distinct.len(), 20_000, "every record, once");

    let (most, checkpoints) = *store.most.lock().unwrap();
    eprintln!("most {most} checkpoints {checkpoints}");
    assert!(
        checkpoints >= 20,
        "the test needs many checkpoints while the slow stage is behind ({checkpoints} taken)"
    );
    // Room for: the slow stage's queue and channel at its limit, the calls the fast stage had
    // started (one per worker, each emitting at most `OUTPUTS_PER_CALL`), what each of its
    // workers carries and the batch the intake holds. Without waiting for room, the queue grew
    // by up to a channel's worth (16 × BATCH) at every checkpoint.
    let limit = WORKERS * QUEUE_PER_WORKER;
    let bound = 2 * limit + WORKERS * (OUTPUTS_PER_CALL as usize + BATCH) + BATCH;
    assert!(
        most <= bound,
        "a checkpoint held {most} work items for the slow stage; at most {bound} may wait"
    );
}
