//! An UnboundedSource test double, a growing in-memory log with acknowledgements, through
//! `UnboundedSourceSdf`: checkpoints, a restart from a serialized residual, finalization only
//! after commit, de-duplication of redelivered records, and sdf-core's conformance kit.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use async_trait::async_trait;
use futures::executor::block_on;
use sdf_core::testing::{
    ConcurrentOptions, ExhaustiveOptions, check_concurrent_splits_with, check_sdf_exhaustive_with,
    run_to_completion,
};
use sdf_core::{
    CollectEmitter, Finalizer, Output, ProcessContinuation, RestrictionTracker, SharedTracker,
    SplittableDoFn, Timestamp,
};
use sdf_legacy::{
    CheckpointMark, Error, UnboundedReader, UnboundedRecord, UnboundedSource,
    UnboundedSourceRestriction, UnboundedSourceSdf,
};
use serde::{Deserialize, Serialize};

/// A topic: partitions of records `"p{partition}-{offset}"` at timestamp `offset` ms, the
/// offset acknowledged per partition, and a log of every acknowledgement.
#[derive(Default)]
struct Topic {
    partitions: Vec<Vec<String>>,
    acked: Vec<usize>,
    acks: Vec<(usize, usize)>,
    closed: bool,
}

fn topics() -> &'static Mutex<HashMap<String, Topic>> {
    static TOPICS: OnceLock<Mutex<HashMap<String, Topic>>> = OnceLock::new();
    TOPICS.get_or_init(Default::default)
}

fn with_topic<T>(name: &str, f: impl FnOnce(&mut Topic) -> T) -> T {
    let mut topics = topics().lock().unwrap();
    f(topics.entry(name.to_string()).or_default())
}

fn create_topic(name: &str, partitions: usize) {
    with_topic(name, |t| {
        t.partitions = vec![Vec::new(); partitions];
        t.acked = vec![0; partitions];
    });
}

fn append(name: &str, partition: usize, n: usize) {
    with_topic(name, |t| {
        let records = &mut t.partitions[partition];
        for _ in 0..n {
            let offset = records.len();
            records.push(format!("p{partition}-{offset}"));
        }
    });
}

fn acks(name: &str) -> Vec<(usize, usize)> {
    with_topic(name, |t| t.acks.clone())
}

/// Reads some partitions of a topic, round robin. A Kafka-like source resumes at its mark; a
/// queue-like one (`redelivers`) at the first unacknowledged record, so that what was read
/// but not acknowledged comes again.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LogSource {
    topic: String,
    partitions: Vec<usize>,
    redelivers: bool,
}

/// The next offset of each partition read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LogMark {
    topic: String,
    next: Vec<(usize, usize)>,
}

#[async_trait]
impl CheckpointMark for LogMark {
    async fn finalize(self) -> Result<(), Error> {
        with_topic(&self.topic, |t| {
            for &(partition, offset) in &self.next {
                t.acked[partition] = t.acked[partition].max(offset);
                t.acks.push((partition, offset));
            }
        });
        Ok(())
    }
}

struct LogReader {
    source: LogSource,
    next: Vec<(usize, usize)>,
    turn: usize,
    last_timestamp: Timestamp,
    finished: bool,
}

impl UnboundedSource for LogSource {
    type Output = String;
    type CheckpointMark = LogMark;
    type Reader = LogReader;

    fn split(&self, desired: usize) -> Result<Vec<Self>, Error> {
        let per = self.partitions.len().div_ceil(desired.max(1)).max(1);
        Ok(self
            .partitions
            .chunks(per)
            .map(|chunk| LogSource {
                partitions: chunk.to_vec(),
                ..self.clone()
            })
            .collect())
    }

    fn create_reader(&self, mark: Option<LogMark>) -> Result<LogReader, Error> {
        let acked = with_topic(&self.topic, |t| t.acked.clone());
        let next = self
            .partitions
            .iter()
            .map(|&p| {
                let from_mark = mark
                    .as_ref()
                    .and_then(|m| m.next.iter().find(|(q, _)| *q == p))
                    .map(|&(_, offset)| offset);
                let offset = match (self.redelivers, from_mark) {
                    (false, Some(offset)) => offset,
                    _ => acked[p],
                };
                (p, offset)
            })
            .collect();
        Ok(LogReader {
            source: self.clone(),
            next,
            turn: 0,
            last_timestamp: Timestamp::MIN,
            finished: false,
        })
    }

    fn requires_deduping(&self) -> bool {
        self.redelivers
    }
}

impl UnboundedReader for LogReader {
    type Output = String;
    type CheckpointMark = LogMark;

    fn advance(&mut self) -> Result<Option<UnboundedRecord<String>>, Error> {
        let n = self.next.len();
        let found = with_topic(&self.source.topic, |t| {
            for i in 0..n {
                let slot = (self.turn + i) % n;
                let (p, offset) = self.next[slot];
                if let Some(record) = t.partitions[p].get(offset) {
                    return Some((slot, record.clone(), offset));
                }
            }
            self.finished = t.closed;
            None
        });
        let Some((slot, value, offset)) = found else {
            return Ok(None);
        };
        self.next[slot].1 += 1;
        self.turn = slot + 1;
        self.last_timestamp = Timestamp::from_millis(offset as i64);
        let id = value.clone().into_bytes();
        Ok(Some(
            UnboundedRecord::new(value, self.last_timestamp).with_id(id),
        ))
    }

    fn watermark(&self) -> Timestamp {
        // Partitions are read in turn, so the last record's time is no bound on the others:
        // the earliest record still to come is the next one of the partition furthest behind
        // (offset o is stamped o ms).
        if self.finished {
            Timestamp::MAX
        } else {
            let behind = self.next.iter().map(|&(_, offset)| offset).min();
            behind.map_or(Timestamp::MAX, |offset| {
                Timestamp::from_millis(offset as i64)
            })
        }
    }

    fn checkpoint_mark(&mut self) -> LogMark {
        LogMark {
            topic: self.source.topic.clone(),
            next: self.next.clone(),
        }
    }

    fn backlog(&self) -> Option<u64> {
        with_topic(&self.source.topic, |t| {
            Some(
                self.next
                    .iter()
                    .map(|&(p, offset)| t.partitions[p].len().saturating_sub(offset) as u64)
                    .sum(),
            )
        })
    }
}

type Sdf = UnboundedSourceSdf<LogSource>;
type Restriction = UnboundedSourceRestriction<LogSource>;

/// What one `process` call did, as a runner sees it.
struct Call {
    records: Vec<String>,
    continuation: ProcessContinuation,
    residual: Option<Restriction>,
    finalizers: Vec<Finalizer>,
}

/// Runs one `process` call. With `checkpoint_after_first`, a checkpoint request waits in the
/// tracker's mailbox and is served at the second claim. After `Resume`, the runner's
/// checkpoint (`try_split(0.0)`) gives the residual.
fn call(sdf: &Sdf, restriction: Restriction, checkpoint_after_first: bool) -> Call {
    let mut watermark = sdf.new_watermark_estimator(sdf.initial_watermark_state(&(), &restriction));
    let mut tracker = SharedTracker::new(sdf.new_tracker(&(), restriction));
    let mut requested =
        checkpoint_after_first.then(|| tracker.split_handle().try_split_after_first_claim(0.0));
    let mut sink = CollectEmitter::default();
    let continuation = block_on(async {
        let mut output = Output::new(&mut sink, Timestamp::MIN, 8);
        let c = sdf
            .process(&(), &mut tracker, &mut output, &mut watermark)
            .await
            .unwrap();
        output.flush().await.unwrap();
        c
    });
    let (mut tracker, orphans) = tracker.finish();
    assert!(orphans.is_empty(), "every split was awaited");
    let mut residual = requested
        .as_mut()
        .and_then(|r| r.try_take())
        .and_then(|r| r.unwrap())
        .map(|split| split.residual);
    if let ProcessContinuation::Resume { .. } = continuation {
        residual = tracker.try_split(0.0).unwrap().map(|split| split.residual);
    }
    tracker.check_done().unwrap();
    Call {
        records: sink.records.into_iter().map(|r| r.value).collect(),
        continuation,
        residual,
        finalizers: sink.finalizers,
    }
}

/// The runtime commits a call's output: only then do its finalizers run.
fn commit(finalizers: Vec<Finalizer>) {
    for finalize in finalizers {
        block_on(finalize()).unwrap();
    }
}

/// What the runtime persists and a restarted worker reads back.
fn restart(residual: &Restriction) -> Restriction {
    let json = serde_json::to_string(residual).unwrap();
    serde_json::from_str(&json).unwrap()
}

fn source(topic: &str, partitions: usize, redelivers: bool) -> LogSource {
    LogSource {
        topic: topic.to_string(),
        partitions: (0..partitions).collect(),
        redelivers,
    }
}

#[test]
fn every_record_exactly_once_across_checkpoints_and_a_restart() {
    let topic = "kafka-like";
    create_topic(topic, 2);
    append(topic, 0, 3);
    append(topic, 1, 2);
    let sdf = UnboundedSourceSdf::new(source(topic, 2, false)).desired_splits(2);
    let pieces = sdf
        .split_restriction(&(), sdf.initial_restriction(&()).unwrap(), 1.0)
        .unwrap();
    assert_eq!(pieces.len(), 2, "one restriction per partition");
    let mut output = Vec::new();

    // Partition 0: a checkpoint while reading, served after the first record.
    let first = call(&sdf, pieces[0].clone(), true);
    assert_eq!(first.records, ["p0-0"]);
    assert_eq!(first.continuation, ProcessContinuation::Stop);
    assert_eq!(first.finalizers.len(), 1);
    assert!(
        acks(topic).is_empty(),
        "nothing is acknowledged before the commit"
    );
    commit(first.finalizers);
    assert_eq!(
        acks(topic),
        [(0, 1)],
        "the mark covers the one record emitted"
    );
    output.extend(first.records);

    // The residual resumes after it: the rest of partition 0, then nothing for now.
    let second = call(&sdf, first.residual.unwrap(), false);
    assert_eq!(second.records, ["p0-1", "p0-2"]);
    assert!(matches!(
        second.continuation,
        ProcessContinuation::Resume { .. }
    ));
    let residual = second.residual.unwrap();
    // Partition 0's next record will be stamped 3 ms.
    assert_eq!(residual.watermark, Timestamp::from_millis(3));
    output.extend(second.records);

    // The worker dies after the commit of the second call; its finalizers run late, once.
    append(topic, 0, 2);
    let restored = restart(&residual);
    assert_eq!(format!("{restored:?}"), format!("{residual:?}"));
    commit(second.finalizers);
    assert_eq!(acks(topic), [(0, 1), (0, 3)]);
    let third = call(&sdf, restored, false);
    assert_eq!(third.records, ["p0-3", "p0-4"]);
    output.extend(third.records);

    // Partition 1, then the topic closes: the last call ends the stream and still finalizes.
    let p1 = call(&sdf, pieces[1].clone(), false);
    output.extend(p1.records);
    with_topic(topic, |t| t.closed = true);
    let end = call(&sdf, restart(&third.residual.unwrap()), false);
    assert!(end.records.is_empty());
    assert_eq!(end.continuation, ProcessContinuation::Stop);
    assert!(end.residual.is_none());
    commit(third.finalizers);
    commit(p1.finalizers);
    assert_eq!(acks(topic), [(0, 1), (0, 3), (0, 5), (1, 2)]);

    output.sort();
    assert_eq!(
        output,
        ["p0-0", "p0-1", "p0-2", "p0-3", "p0-4", "p1-0", "p1-1"]
    );
}

#[test]
fn redelivered_records_are_dropped_by_id_after_a_restart() {
    let topic = "queue-like";
    create_topic(topic, 1);
    append(topic, 0, 4);
    let sdf = UnboundedSourceSdf::new(source(topic, 1, true));
    let first = call(&sdf, sdf.initial_restriction(&()).unwrap(), false);
    assert_eq!(first.records, ["p0-0", "p0-1", "p0-2", "p0-3"]);
    let residual = first.residual.unwrap();
    assert_eq!(residual.seen_ids.len(), 4);

    // The output was committed with the residual, but the acknowledgement was lost: the
    // queue redelivers all four after the restart; the window drops them.
    drop(first.finalizers);
    append(topic, 0, 2);
    let second = call(&sdf, restart(&residual), false);
    assert_eq!(second.records, ["p0-4", "p0-5"]);
    assert!(acks(topic).is_empty());
    commit(second.finalizers);
    assert_eq!(
        acks(topic),
        [(0, 6)],
        "one acknowledgement covers the redelivered records"
    );

    // Without the window, the redelivered records would be emitted again.
    let forgetful = UnboundedSourceSdf::new(source(topic, 1, true)).dedup_window(0);
    with_topic(topic, |t| t.acked[0] = 0);
    let again = call(&forgetful, restart(&residual), false);
    assert_eq!(again.records.len(), 6);
}

#[test]
fn a_checkpoint_before_the_first_claim_hands_back_the_whole_restriction() {
    let topic = "untouched";
    create_topic(topic, 1);
    append(topic, 0, 3);
    let sdf = UnboundedSourceSdf::new(source(topic, 1, false));
    let mut tracker = sdf.new_tracker(&(), sdf.initial_restriction(&()).unwrap());
    let split = tracker.try_split(0.5).unwrap().unwrap();
    assert!(split.primary.done && !split.residual.done);
    assert!(split.residual.checkpoint.is_none());
    assert!(!tracker.try_claim(sdf_legacy::ReadStep::Next).unwrap());
    tracker.check_done().unwrap();
    assert!(tracker.try_split(0.0).unwrap().is_none());
}

#[test]
fn the_log_passes_the_sdf_kit() {
    for (topic, redelivers) in [("kit-kafka", false), ("kit-queue", true)] {
        create_topic(topic, 3);
        for p in 0..3 {
            append(topic, p, 4 + p);
        }
        with_topic(topic, |t| t.closed = true);
        let sdf = UnboundedSourceSdf::new(source(topic, 3, redelivers));
        // The checkpoint mark's finalizer commits the topic: run, it would leave nothing for
        // the next case to read. The kit counts and places it without running it.
        let keep = ExhaustiveOptions::default().run_finalizers(false);
        let report = check_sdf_exhaustive_with(&sdf, &(), &keep).unwrap();
        println!("{topic}: {report}");
        assert_eq!(report.records, 15);
        assert!(
            report.checkpoints > 0 && report.finalizers == 1,
            "{report:?}"
        );
        let concurrent = check_concurrent_splits_with(
            &sdf,
            &(),
            &ConcurrentOptions::default()
                .repetitions(30)
                .run_finalizers(false),
        )
        .unwrap();
        println!("{topic}: {concurrent}");
        assert!(
            acks(topic).is_empty(),
            "finalizers not run: nothing acknowledged"
        );
        // run_to_completion runs it, as a runner does once the output is committed.
        let mut records = run_to_completion(&sdf, &()).unwrap();
        records.sort();
        assert_eq!(records.len(), 15);
        assert!(
            !acks(topic).is_empty(),
            "the finalizer acknowledged the reads"
        );
    }
}
