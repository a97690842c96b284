//! Helpers of the columnar tests: Parquet files written by the `parquet` crate, and
//! [`BatchRows`], which lets the conformance kit compare `RecordBatch`es row by row.
#![allow(dead_code)]

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, ListArray, RecordBatch, StringArray,
    StructArray, types::Int32Type,
};
use arrow_schema::{DataType, Field, Fields};
use async_trait::async_trait;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use sdf_core::{
    Emitter, Finalizer, Output, ProcessContinuation, SharedTracker, SplittableDoFn, Timestamped,
};

/// The rows of `batches` as JSON lines (`arrow-json`'s writer; null fields left out).
pub fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    {
        let mut w = arrow_json::LineDelimitedWriter::new(&mut out);
        for b in batches {
            w.write(b).unwrap();
        }
        w.finish().unwrap();
    }
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A DoFn of `RecordBatch`es seen as a DoFn of their rows (JSON lines), so that the kit,
/// which compares outputs as multisets of `Eq + Hash` values, checks every row exactly once.
/// Everything but the output is the inner DoFn's: its restrictions, trackers and splits.
pub struct BatchRows<D>(pub D);

struct Rows<'o, 'a> {
    out: &'o mut Output<'a, String>,
}

#[async_trait]
impl Emitter<RecordBatch> for Rows<'_, '_> {
    async fn emit_batch(
        &mut self,
        batch: &mut Vec<Timestamped<RecordBatch>>,
    ) -> sdf_core::Result<()> {
        let batches: Vec<RecordBatch> = batch.drain(..).map(|t| t.value).collect();
        for row in rows(&batches) {
            self.out.emit(row).await?;
        }
        Ok(())
    }
    fn register_finalizer(&mut self, _: Finalizer) {}
}

#[async_trait]
impl<D> SplittableDoFn for BatchRows<D>
where
    D: SplittableDoFn<Output = RecordBatch>,
{
    type Input = D::Input;
    type Output = String;
    type Restriction = D::Restriction;
    type Tracker = D::Tracker;
    type WatermarkEstimator = D::WatermarkEstimator;

    fn initial_restriction(&self, input: &D::Input) -> sdf_core::Result<D::Restriction> {
        self.0.initial_restriction(input)
    }
    fn split_restriction(
        &self,
        input: &D::Input,
        r: D::Restriction,
        desired: f64,
    ) -> sdf_core::Result<Vec<D::Restriction>> {
        self.0.split_restriction(input, r, desired)
    }
    fn new_tracker(&self, input: &D::Input, r: D::Restriction) -> D::Tracker {
        self.0.new_tracker(input, r)
    }
    async fn process(
        &self,
        input: &D::Input,
        tracker: &mut SharedTracker<D::Tracker>,
        output: &mut Output<'_, String>,
        watermark: &mut D::WatermarkEstimator,
    ) -> sdf_core::Result<ProcessContinuation> {
        let timestamp = output.default_timestamp();
        let mut rows = Rows { out: output };
        let mut inner = Output::new(&mut rows, timestamp, 1);
        let done = self
            .0
            .process(input, tracker, &mut inner, watermark)
            .await?;
        inner.flush().await?;
        Ok(done)
    }
}

/// Writes `batches` with the parquet crate's `ArrowWriter`, row groups of `rows_per_group`.
pub fn write_parquet(
    path: &Path,
    batches: &[RecordBatch],
    rows_per_group: usize,
    codec: Compression,
) {
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows_per_group))
        .set_compression(codec)
        .build();
    let mut w = ArrowWriter::try_new(
        File::create(path).unwrap(),
        batches[0].schema(),
        Some(props),
    )
    .unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

/// The rows of the file as the parquet crate's own reader reads them.
pub fn reference_rows(path: &Path) -> Vec<String> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    rows(&batches)
}

/// Ints, strings and floats with nulls, `n` rows from `from`.
pub fn flat_batch(from: i64, n: usize) -> RecordBatch {
    let ids: Int64Array = (from..from + n as i64).collect::<Vec<_>>().into();
    let names: StringArray = (from..from + n as i64)
        .map(|i| (i % 7 != 3).then(|| format!("name-{i}-{}", "x".repeat((i % 5) as usize))))
        .collect();
    let scores: Float64Array = (from..from + n as i64)
        .map(|i| (i % 4 != 0).then_some(i as f64 / 3.0))
        .collect();
    RecordBatch::try_from_iter([
        ("id", Arc::new(ids) as ArrayRef),
        ("name", Arc::new(names) as ArrayRef),
        ("score", Arc::new(scores) as ArrayRef),
    ])
    .unwrap()
}

/// An id with a struct and a list column (nested), `n` rows from `from`.
pub fn nested_batch(from: i64, n: usize) -> RecordBatch {
    let ids: Int64Array = (from..from + n as i64).collect::<Vec<_>>().into();
    let xs: Int32Array = (0..n as i32).collect::<Vec<_>>().into();
    let tags: StringArray = (0..n)
        .map(|i| (i % 3 != 0).then(|| format!("t{i}")))
        .collect();
    let point = StructArray::new(
        Fields::from(vec![
            Field::new("x", DataType::Int32, false),
            Field::new("tag", DataType::Utf8, true),
        ]),
        vec![Arc::new(xs) as ArrayRef, Arc::new(tags) as ArrayRef],
        None,
    );
    let lists = ListArray::from_iter_primitive::<Int32Type, _, _>(
        (0..n as i32).map(|i| (i % 5 != 0).then(|| (0..i % 4).map(Some).collect::<Vec<_>>())),
    );
    RecordBatch::try_from_iter([
        ("id", Arc::new(ids) as ArrayRef),
        ("point", Arc::new(point) as ArrayRef),
        ("values", Arc::new(lists) as ArrayRef),
    ])
    .unwrap()
}
