//! Columnar reads against their reference libraries, in the same run, on one core, files in
//! the page cache:
//!
//! - `ReadParquet` (one `process` call over the whole file) vs the `parquet` crate's own
//!   `ParquetRecordBatchReader` on the same file, same batch size (target: within 10%);
//! - `ReadCsvBatches` vs a single-threaded `arrow-csv` `Reader` on the same file and schema;
//! - `ReadJsonBatches` vs a single-threaded `arrow-json` `Reader` likewise.
//!
//! ```text
//! CARGO_TARGET_DIR=... cargo bench -p sdf-connectors --features parquet --bench columnar
//! ```
//!
//! Each pair runs interleaved (ours, theirs, ours, ...) `ROUNDS` times; the table gives the
//! median of each and the ratio of medians (ours / theirs: below 1.10 meets the target).

use std::fs::File;
use std::hint::black_box;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::SchemaRef;
use async_trait::async_trait;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use sdf_connectors::read::{ReadCsvBatches, ReadJsonBatches};
use sdf_connectors::{FileMetadata, ReadParquet};
use sdf_core::{
    Emitter, Finalizer, ManualWatermarkEstimator, Output, SharedTracker, SplittableDoFn, Timestamp,
    Timestamped, WatermarkEstimator,
};

const ROUNDS: usize = 9;
const ROWS: usize = 1_000_000;
const BATCH: usize = 8192;

/// Counts the rows of the batches a call emits.
struct CountRows(u64);

#[async_trait]
impl Emitter<RecordBatch> for CountRows {
    async fn emit_batch(
        &mut self,
        batch: &mut Vec<Timestamped<RecordBatch>>,
    ) -> sdf_core::Result<()> {
        self.0 += batch
            .drain(..)
            .map(|b| b.value.num_rows() as u64)
            .sum::<u64>();
        Ok(())
    }
    fn register_finalizer(&mut self, _: Finalizer) {}
}

/// One `process` call of `dofn` over the whole file: the rows it emits.
fn ours<D>(dofn: &D, file: &FileMetadata) -> u64
where
    D: SplittableDoFn<
            Input = FileMetadata,
            Output = RecordBatch,
            WatermarkEstimator = ManualWatermarkEstimator,
        >,
{
    let restriction = dofn.initial_restriction(file).unwrap();
    let mut tracker = SharedTracker::new(dofn.new_tracker(file, restriction));
    let mut emitter = CountRows(0);
    let mut wm = ManualWatermarkEstimator::from_state(Timestamp::MIN);
    futures::executor::block_on(async {
        let mut out = Output::new(&mut emitter, Timestamp::MIN, 64);
        dofn.process(file, &mut tracker, &mut out, &mut wm)
            .await
            .unwrap();
        out.flush().await.unwrap();
    });
    emitter.0
}

fn parquet_crate(path: &Path) -> u64 {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .with_batch_size(BATCH)
        .build()
        .unwrap();
    reader.map(|b| b.unwrap().num_rows() as u64).sum()
}

fn arrow_csv(path: &Path, schema: SchemaRef) -> u64 {
    let reader = arrow_csv::ReaderBuilder::new(schema)
        .with_header(true)
        .with_batch_size(BATCH)
        .build(File::open(path).unwrap())
        .unwrap();
    reader.map(|b| b.unwrap().num_rows() as u64).sum()
}

fn arrow_json(path: &Path, schema: SchemaRef) -> u64 {
    let reader = arrow_json::ReaderBuilder::new(schema)
        .with_batch_size(BATCH)
        .build(BufReader::new(File::open(path).unwrap()))
        .unwrap();
    reader.map(|b| b.unwrap().num_rows() as u64).sum()
}

fn table() -> RecordBatch {
    let ids: Int64Array = (0..ROWS as i64).collect::<Vec<_>>().into();
    let names: StringArray = (0..ROWS)
        .map(|i| (i % 11 != 0).then(|| format!("user-{}-{}", i % 9973, "ab".repeat(i % 7))))
        .collect();
    let scores: Float64Array = (0..ROWS)
        .map(|i| (i % 5 != 0).then_some(i as f64 * 0.37))
        .collect();
    RecordBatch::try_from_iter([
        ("id", Arc::new(ids) as ArrayRef),
        ("name", Arc::new(names) as ArrayRef),
        ("score", Arc::new(scores) as ArrayRef),
    ])
    .unwrap()
}

fn listed(path: &Path) -> FileMetadata {
    let meta = std::fs::metadata(path).unwrap();
    FileMetadata {
        path: path.to_path_buf(),
        size: meta.len(),
        modified: Timestamp::from_system_time(meta.modified().unwrap()),
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Runs `a` and `b` interleaved, checks they count the same rows, prints the medians.
fn compare(name: &str, bytes: u64, a: impl Fn() -> u64, b: impl Fn() -> u64) {
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    let want = b();
    assert_eq!(a(), want, "{name}: both read the same rows");
    for _ in 0..ROUNDS {
        let t = Instant::now();
        black_box(a());
        ta.push(t.elapsed());
        let t = Instant::now();
        black_box(b());
        tb.push(t.elapsed());
    }
    let (ma, mb) = (median(ta), median(tb));
    let mib = |d: Duration| bytes as f64 / d.as_secs_f64() / (1 << 20) as f64;
    println!(
        "{name:<34} ours {:>8.1} ms {:>7.1} MiB/s | reference {:>8.1} ms {:>7.1} MiB/s | ratio {:.3}",
        ma.as_secs_f64() * 1e3,
        mib(ma),
        mb.as_secs_f64() * 1e3,
        mib(mb),
        ma.as_secs_f64() / mb.as_secs_f64()
    );
}

fn main() {
    let dir = std::env::temp_dir().join(format!("sdf-bench-columnar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let batch = table();
    println!(
        "{ROWS} rows (id int64, name utf8 with nulls, score f64 with nulls), batches of {BATCH}, {ROUNDS} rounds"
    );

    for (codec, name) in [
        (Compression::SNAPPY, "snappy"),
        (Compression::UNCOMPRESSED, "plain"),
    ] {
        let path = dir.join(format!("t-{name}.parquet"));
        let props = WriterProperties::builder()
            .set_compression(codec)
            .set_max_row_group_row_count(Some(65536))
            .build();
        let mut w = ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), Some(props))
            .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let file = listed(&path);
        let read = ReadParquet::new().batch_size(BATCH);
        compare(
            &format!("parquet {name}, 16 row groups"),
            file.size,
            || ours(&read, &file),
            || parquet_crate(&path),
        );
    }

    let csv = dir.join("t.csv");
    let mut w = arrow_csv::WriterBuilder::new()
        .with_header(true)
        .build(File::create(&csv).unwrap());
    w.write(&batch).unwrap();
    drop(w);
    let file = listed(&csv);
    let read = ReadCsvBatches::new()
        .batch_rows(BATCH)
        .schema(batch.schema());
    compare(
        "csv to arrow",
        file.size,
        || ours(&read, &file),
        || arrow_csv(&csv, batch.schema()),
    );

    let jsonl = dir.join("t.jsonl");
    let mut w = arrow_json::LineDelimitedWriter::new(File::create(&jsonl).unwrap());
    w.write(&batch).unwrap();
    w.finish().unwrap();
    drop(w);
    let file = listed(&jsonl);
    let read = ReadJsonBatches::new()
        .batch_rows(BATCH)
        .schema(batch.schema());
    compare(
        "json lines to arrow",
        file.size,
        || ours(&read, &file),
        || arrow_json(&jsonl, batch.schema()),
    );

    std::fs::remove_dir_all(&dir).unwrap();
}
