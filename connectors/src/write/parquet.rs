//! [`Parquet`]: the file format of [`WriteParquet`], Arrow `RecordBatch`es into Parquet files.

use std::collections::HashMap;

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use super::format::{EncodeError, FileFormat, Tap};
use super::sink::WriteFiles;

/// A [`WriteFiles`] of Parquet files: each record is a `RecordBatch`, each staged file one
/// Parquet file, with the same atomic commit as every file sink (staging, `fsync` at prepare,
/// rename at commit, recover). Build it with
/// `WriteFiles::builder(dir, Parquet::new()).build()`.
///
/// ```
/// use arrow_array::{Int64Array, RecordBatch};
/// use sdf_connectors::{Parquet, WriteFiles, WriteParquet};
/// use sdf_runtime::{Executor, Pipeline};
/// use std::sync::Arc;
///
/// let out = std::env::temp_dir().join(format!("sdf-write-parquet-doc-{}", std::process::id()));
/// let batches = (0..4).map(|i| {
///     let n = Int64Array::from_iter_values(i * 10..(i + 1) * 10);
///     RecordBatch::try_from_iter([("n", Arc::new(n) as _)]).unwrap()
/// });
/// let mut p = Pipeline::new();
/// let records = p.from_iter("batches", batches);
/// let sink: WriteParquet = WriteFiles::builder(&out, Parquet::new().row_group_rows(20)).build()?;
/// p.sink("parquet", records, sink);
/// Executor::builder().build().run_blocking(p)?;
/// assert!(out.join("part-000001-000.parquet").exists());
/// # std::fs::remove_dir_all(&out)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type WriteParquet = WriteFiles<RecordBatch, Parquet>;

/// Parquet as a [`FileFormat`] of Arrow `RecordBatch`es, written by the `parquet` crate's
/// [`ArrowWriter`].
///
/// A file's schema is its first batch's; a batch of another schema fails the epoch
/// ([`Error::Encode`](crate::Error::Encode)). Rows are buffered in memory and written as a row
/// group once [`row_group_rows`](Self::row_group_rows) of them are in (default 1 Mi rows, the
/// crate's default), and when the file closes, where its footer is written: a file is only
/// readable after its epoch's `prepare`, which is also when its last bytes reach the disk. So
/// with [`max_file_bytes`](super::WriteFilesBuilder::max_file_bytes) a file rolls over after the
/// row group that crosses the limit, not at the limit. Several shards hold one encoder each.
#[derive(Debug)]
pub struct Parquet {
    properties: WriterProperties,
    tap: Tap,
    writers: HashMap<u64, ArrowWriter<Tap>>,
    file: u64,
}

impl Default for Parquet {
    fn default() -> Self {
        Self::new()
    }
}

impl Parquet {
    /// Parquet with the `parquet` crate's default properties (no compression unless a codec is
    /// set through [`properties`](Self::properties)).
    pub fn new() -> Self {
        Parquet {
            properties: WriterProperties::default(),
            tap: Tap::default(),
            writers: HashMap::new(),
            file: 0,
        }
    }

    /// The most rows in a row group (at least 1).
    pub fn row_group_rows(mut self, rows: usize) -> Self {
        self.properties = self
            .properties
            .into_builder()
            .set_max_row_group_row_count(Some(rows.max(1)))
            .build();
        self
    }

    /// The writer's properties (codec, row group size, statistics, dictionary encoding...),
    /// replacing those set before.
    pub fn properties(mut self, properties: WriterProperties) -> Self {
        self.properties = properties;
        self
    }

    fn writer(&mut self) -> Result<&mut ArrowWriter<Tap>, EncodeError> {
        self.writers.get_mut(&self.file).ok_or_else(|| {
            format!(
                "no Parquet writer for file {}: its header was not written",
                self.file
            )
            .into()
        })
    }
}

impl FileFormat<RecordBatch> for Parquet {
    fn suffix(&self) -> &str {
        ".parquet"
    }

    fn fresh(&self) -> Option<Self> {
        Some(Parquet {
            properties: self.properties.clone(),
            ..Parquet::new()
        })
    }

    fn switch_file(&mut self, file: u64) {
        self.file = file;
    }

    /// Starts an encoder with the first batch's schema; it writes the leading magic number.
    fn header(&mut self, first: &RecordBatch, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let writer = ArrowWriter::try_new(
            self.tap.clone(),
            first.schema(),
            Some(self.properties.clone()),
        )?;
        self.writers.insert(self.file, writer);
        out.append(&mut self.tap.take());
        Ok(())
    }

    /// Buffers the batch; writes a row group when one is full.
    fn record(
        &mut self,
        batch: &RecordBatch,
        _: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let written = self.writer()?.write(batch);
        out.append(&mut self.tap.take());
        Ok(written?)
    }

    /// Writes the last row group and the footer.
    fn try_footer(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let writer = self.writers.remove(&self.file).ok_or_else(|| {
            EncodeError::from(format!("no Parquet writer for file {}", self.file))
        })?;
        let closed = writer.close();
        out.append(&mut self.tap.take());
        closed?;
        Ok(())
    }
}
