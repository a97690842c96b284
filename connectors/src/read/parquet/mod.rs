//! [`ReadParquet`]: Parquet files as Arrow [`RecordBatch`]es, split at row groups. The guide is
//! on the type.

mod blob;
mod footer;

use std::sync::Arc;

use arrow_array::RecordBatch;
use async_trait::async_trait;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sdf_core::{
    ManualWatermarkEstimator, OffsetRange, OffsetRangeTracker, Output, ProcessContinuation,
    SharedTracker, SplittableDoFn,
};

use self::blob::Blob;
use self::footer::{Footer, bad, read_footer};
use super::cache::ListingCache;
use crate::error::{Error, Result};
use crate::file::FileMetadata;

/// Reads Parquet files as Arrow [`RecordBatch`]es: an SDF from [`FileMetadata`] whose
/// restriction is a byte range of the file, split at row group starts.
///
/// ## Row groups are the blocks
///
/// The restriction is a byte range of the file, `[0, size)` at first, and the split points
/// are the **starts of row groups**. A row group starts at the lowest offset of its column
/// chunks, that is the first page of its first chunk in the file (its dictionary page, if it has
/// one). A row group belongs to the range that contains its start: a call claims each start in
/// its range, in file order, and reads that row group only after the claim succeeds. Ranges
/// are cut at any byte and still never share or lose a row group; a range with no start in it
/// reads nothing. Progress is in bytes.
///
/// Every call reads the footer (the last 8 bytes, then the metadata before them) and checks
/// it: both magic numbers, the footer length, every row group inside the data region, no two
/// starting at one offset. Footers are cached per file listing (the last 16 files by default,
/// [`ReadParquet::cached_footers`]), so the many calls on the pieces of one file decode its
/// footer once. `split_restriction` cuts a file into pieces of about the desired size at row
/// group starts, so no initial piece is empty. Dynamic splits and checkpoints fall anywhere
/// in the remaining bytes; the row groups starting after the split point go to the residual.
///
/// ## Projection and batches
///
/// [`columns`](ReadParquet::columns) selects top-level columns by name (a nested column comes
/// whole); only their column chunks are read, and batches hold them in the order given. A
/// name the file does not have fails the call, naming the file and the columns it has. Each
/// row group is read with the `parquet` crate's Arrow reader into batches of at most
/// [`batch_size`](ReadParquet::batch_size) rows (8192 by default); a batch never spans two
/// row groups.
///
/// ## Codecs
///
/// Column chunks compressed with any codec Parquet writers use are read: snappy, gzip,
/// LZ4 (and LZ4 raw), zstd (polars' default) and brotli. Encrypted files (Parquet modular
/// encryption, magic `PARE`) are refused as such.
///
/// ## Errors
///
/// A file that is too short, has a bad magic number, a footer length beyond the file, a
/// footer that does not decode, or a row group that does not, fails the call with
/// [`Error::BadFile`](crate::Error::BadFile) naming the file and the offset of the culprit
/// (the footer, the row group's start). A file whose size or modification time differ from
/// its listing fails with [`Error::FileChanged`](crate::Error::FileChanged).
///
/// ```
/// use arrow_array::{Int64Array, RecordBatch};
/// use parquet::arrow::ArrowWriter;
/// use parquet::file::properties::WriterProperties;
/// use sdf_connectors::read::ReadParquet;
/// use sdf_connectors::FileMetadata;
/// use sdf_core::{Timestamp, testing::run_to_completion};
/// use std::sync::Arc;
///
/// let path = std::env::temp_dir().join(format!("sdf-parquet-doc-{}.parquet", std::process::id()));
/// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from_iter_values(0..100)) as _)])?;
/// let props = WriterProperties::builder().set_max_row_group_row_count(Some(10)).build();
/// let mut writer = ArrowWriter::try_new(std::fs::File::create(&path)?, batch.schema(), Some(props))?;
/// writer.write(&batch)?;
/// writer.close()?;
///
/// let listed = std::fs::metadata(&path)?;
/// let file = FileMetadata {
///     path: path.clone(),
///     size: listed.len(),
///     modified: Timestamp::from_system_time(listed.modified()?),
/// };
/// let batches = run_to_completion(&ReadParquet::new(), &file)?;
/// assert_eq!(batches.len(), 10); // one per row group
/// assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 100);
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReadParquet {
    columns: Option<Arc<[String]>>,
    batch_size: usize,
    min_split_size: u64,
    footers: Arc<ListingCache<Footer>>,
}

impl Default for ReadParquet {
    fn default() -> Self {
        Self::new()
    }
}

impl ReadParquet {
    /// A reader of every column, in batches of 8192 rows.
    pub fn new() -> Self {
        ReadParquet {
            columns: None,
            batch_size: 8192,
            min_split_size: 1 << 20,
            footers: Arc::new(ListingCache::new(16)),
        }
    }

    /// Reads only these top-level columns, in this order.
    pub fn columns<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.columns = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// The most rows in a batch (default 8192; at least 1).
    pub fn batch_size(mut self, rows: usize) -> Self {
        self.batch_size = rows.max(1);
        self
    }

    /// The smallest piece `split_restriction` makes (default 1 MiB): a piece ends at the first
    /// row group start at least this far past its own start.
    pub fn min_split_size(mut self, bytes: u64) -> Self {
        self.min_split_size = bytes.max(1);
        self
    }

    /// How many files' footers are kept (default 16; 0: every call reads its file's footer).
    pub fn cached_footers(mut self, files: usize) -> Self {
        self.footers = Arc::new(ListingCache::new(files));
        self
    }

    /// The footer of `file`, opened as `blob` (which checked it against its listing).
    fn footer(&self, file: &FileMetadata, blob: &Blob) -> Result<Arc<Footer>> {
        self.footers.get_or_try(file, || read_footer(file, blob))
    }

    /// The projection of a call: the mask of root columns, and where each requested column is
    /// in the batches the mask gives (which keep the file's order).
    fn projection(
        &self,
        file: &FileMetadata,
        footer: &Footer,
    ) -> Result<(ProjectionMask, Option<Vec<usize>>)> {
        let Some(names) = &self.columns else {
            return Ok((ProjectionMask::all(), None));
        };
        let fields = footer.arrow.parquet_schema().root_schema().get_fields();
        let mut roots = Vec::with_capacity(names.len());
        for name in names.iter() {
            match fields.iter().position(|f| f.name() == name) {
                Some(i) if !roots.contains(&i) => roots.push(i),
                Some(_) => {}
                None => {
                    let have: Vec<&str> = fields.iter().map(|f| f.name()).collect();
                    return Err(bad(
                        file,
                        0,
                        format!(
                            "it has no column {name:?}; its columns are {have:?}: fix the \
                             projection"
                        ),
                    ));
                }
            }
        }
        let mut sorted = roots.clone();
        sorted.sort_unstable();
        let order = roots
            .iter()
            .map(|r| sorted.binary_search(r).unwrap_or_default())
            .collect();
        let mask = ProjectionMask::roots(footer.arrow.parquet_schema(), roots);
        Ok((mask, Some(order)))
    }
}

#[async_trait]
impl SplittableDoFn for ReadParquet {
    type Input = FileMetadata;
    type Output = RecordBatch;
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = ManualWatermarkEstimator;

    /// `[0, size)`.
    fn initial_restriction(&self, file: &FileMetadata) -> sdf_core::Result<OffsetRange> {
        let size = i64::try_from(file.size).map_err(|_| Error::InvalidOption {
            option: "file size",
            reason: format!(
                "{} is listed with {} bytes, past i64::MAX",
                file.path.display(),
                file.size
            ),
        })?;
        Ok(OffsetRange::new(0, size))
    }

    /// Pieces cut at row group starts, each ending at the first start at least
    /// `max(desired_size, min_split_size)` bytes past its own start.
    fn split_restriction(
        &self,
        file: &FileMetadata,
        restriction: OffsetRange,
        desired_size: f64,
    ) -> sdf_core::Result<Vec<OffsetRange>> {
        let blob = Blob::open(file)?;
        let footer = self.footer(file, &blob)?;
        let desired = if desired_size.is_finite() && desired_size >= 1.0 {
            desired_size as i64
        } else {
            1
        };
        let desired = desired.max(self.min_split_size as i64);
        let mut pieces = Vec::new();
        let mut start = restriction.start();
        // Whether the piece being built holds a row group start: only then may it end.
        let mut holds_one = false;
        for rg in &footer.row_groups {
            let at = rg.start as i64;
            if at < start || at >= restriction.end() {
                continue;
            }
            if holds_one && at - start >= desired {
                pieces.push(OffsetRange::new(start, at));
                start = at;
            }
            holds_one = true;
        }
        pieces.push(OffsetRange::new(start, restriction.end()));
        Ok(pieces)
    }

    fn new_tracker(&self, _file: &FileMetadata, restriction: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(restriction)
    }

    async fn process(
        &self,
        file: &FileMetadata,
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, RecordBatch>,
        _watermark: &mut ManualWatermarkEstimator,
    ) -> sdf_core::Result<ProcessContinuation> {
        let range = tracker.current_restriction();
        let blob = Blob::open(file)?;
        let footer = self.footer(file, &blob)?;
        let (mask, order) = self.projection(file, &footer)?;
        let first = footer
            .row_groups
            .partition_point(|rg| (rg.start as i64) < range.start());
        for rg in &footer.row_groups[first..] {
            if !tracker.try_claim(rg.start as i64)? {
                return Ok(ProcessContinuation::Stop);
            }
            let opened = blob.try_clone(file)?;
            let bad_group = |e: &dyn std::fmt::Display| {
                bad(
                    file,
                    rg.start,
                    format!(
                        "row group {} does not decode: {e}; the file is corrupt",
                        rg.index
                    ),
                )
            };
            let reader =
                ParquetRecordBatchReaderBuilder::new_with_metadata(opened, footer.arrow.clone())
                    .with_row_groups(vec![rg.index])
                    .with_projection(mask.clone())
                    .with_batch_size(self.batch_size)
                    .build()
                    .map_err(|e| bad_group(&e))?;
            for batch in reader {
                let batch = batch.map_err(|e| bad_group(&e))?;
                let batch = match &order {
                    Some(order) => batch.project(order).map_err(|e| bad_group(&e))?,
                    None => batch,
                };
                output.emit(batch).await?;
            }
        }
        // Past the last row group: claim the end to finish the range.
        let end = range.end().max(file.size as i64);
        tracker.try_claim(end)?;
        Ok(ProcessContinuation::Stop)
    }
}
