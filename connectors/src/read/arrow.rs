//! Arrow output for the line formats: [`ReadCsvBatches`] and [`ReadJsonBatches`]. The guide is on
//! [`ReadCsvBatches`].

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};

use super::cache::ListingCache;
use super::codec::Compression;
use super::cursor::BOM;
use super::format::{Format, RecordContext};
use super::frame::Framing;
use super::reader::ReadFile;
use super::source::{OnChange, Source};
use crate::error::{Error, Location, Result};
use crate::file::FileMetadata;

/// Reads CSV files into `RecordBatch`es ([`CsvBatches`]).
///
/// `ReadCsvBatches` and [`ReadJsonBatches`] read CSV and JSON lines into `RecordBatch`es of a
/// configurable number of rows, with a schema given or inferred from a sample of each file.
/// They are [`ReadFile`]s like the row readers: the same byte ranges, per-record claims,
/// checkpoints, parked readers and compressed files. A format gathers the records a call
/// claims and decodes them with `arrow-csv` / `arrow-json` once a batch is full; the last,
/// partial batch of a call is emitted when the call ends ([`Format::end_call`]): at the end of
/// its range, and at a refused claim (a split or checkpoint) before its reader is parked. So a
/// batch never holds a record of another call, and every record is in exactly one batch
/// whatever the splits; batches are as full as calls are long.
///
/// **Schemas.** Given with `.schema(...)`, or inferred per file from its first records
/// ([`infer_records`](ReadFile::infer_records), 1000 by default, within the first MiB;
/// compressed files are decoded for it): every call on a file infers the same schema from the
/// same sample, whatever its range, and the result is cached per file listing. CSV columns are
/// matched by position; the header names the inferred columns. A record that does not fit the
/// schema fails the call with [`Error::BadRecord`](crate::Error::BadRecord), naming the file
/// and the offset of the first record of its batch.
///
/// ```
/// use sdf_connectors::read::ReadCsvBatches;
/// use sdf_connectors::FileMetadata;
/// use sdf_core::{Timestamp, testing::run_to_completion};
///
/// let path = std::env::temp_dir().join(format!("sdf-arrow-doc-{}.csv", std::process::id()));
/// std::fs::write(&path, "id,name\n1,a\n2,b\n3,c\n")?;
/// let listed = std::fs::metadata(&path)?;
/// let file = FileMetadata {
///     path: path.clone(),
///     size: listed.len(),
///     modified: Timestamp::from_system_time(listed.modified()?),
/// };
/// let batches = run_to_completion(&ReadCsvBatches::new().batch_rows(2), &file)?;
/// assert_eq!(batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [2, 1]);
/// assert_eq!(batches[0].schema().field(0).name(), "id");
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type ReadCsvBatches = ReadFile<CsvBatches>;

/// Reads JSON-lines files into `RecordBatch`es ([`JsonBatches`]); the rules are
/// [`ReadCsvBatches`]'.
pub type ReadJsonBatches = ReadFile<JsonBatches>;

/// The bytes of a file's start that a schema is inferred from, at most.
const SAMPLE_BYTES: u64 = 1 << 20;

/// What both batch formats share: batch size and schema.
#[derive(Debug, Clone)]
struct Batching {
    rows: usize,
    schema: Option<SchemaRef>,
    infer_records: usize,
    inferred: Arc<ListingCache<SchemaRef>>,
}

impl Default for Batching {
    fn default() -> Self {
        Batching {
            rows: 8192,
            schema: None,
            infer_records: 1000,
            inferred: Arc::new(ListingCache::new(16)),
        }
    }
}

impl Batching {
    /// The schema of `file`: the one given, or inferred from its sample by `infer`.
    fn schema(
        &self,
        file: &FileMetadata,
        format: &'static str,
        infer: impl FnOnce(&[u8]) -> Result<SchemaRef, ArrowError>,
    ) -> Result<SchemaRef> {
        if let Some(schema) = &self.schema {
            return Ok(Arc::clone(schema));
        }
        let schema = self.inferred.get_or_try(file, || {
            let bytes = sample(file)?;
            infer(&bytes).map_err(|e| Error::BadRecord {
                at: at(file, 0, false),
                format,
                reason: format!(
                    "cannot infer a schema from the first records: {e}; give one with \
                     `.schema(...)`"
                ),
            })
        })?;
        Ok(Arc::clone(&schema))
    }
}

fn at(file: &FileMetadata, offset: u64, decoded: bool) -> Location {
    Location {
        path: file.path.clone(),
        offset,
        decoded,
    }
}

/// The first bytes of `file` (decoded, for a compressed file), without a byte-order mark, cut
/// after the last complete line when the file is longer.
fn sample(file: &FileMetadata) -> Result<Vec<u8>> {
    // A local file or an object, decoded if compressed; the reads themselves check the listing.
    let codec = Compression::Auto.detect(&file.path)?;
    let mut source = Source::open(file, codec, OnChange::ReadListed, 0)?;
    let mut bytes = vec![0; SAMPLE_BYTES as usize];
    let mut filled = 0;
    while filled < bytes.len() {
        match source.read(&mut bytes[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    bytes.truncate(filled);
    if bytes.len() as u64 == SAMPLE_BYTES
        && let Some(last) = memchr::memrchr(b'\n', &bytes)
    {
        bytes.truncate(last + 1);
    }
    if bytes.starts_with(BOM) {
        bytes.drain(..BOM.len());
    }
    Ok(bytes)
}

macro_rules! batching_options {
    () => {
        /// The most rows in a batch (default 8192; at least 1). A call's last batch holds
        /// what is left.
        pub fn batch_rows(mut self, rows: usize) -> Self {
            self.format_mut().batching.rows = rows.max(1);
            self
        }

        /// The schema of every file, instead of one inferred per file.
        pub fn schema(mut self, schema: SchemaRef) -> Self {
            self.format_mut().batching.schema = Some(schema);
            self
        }

        /// How many records at the start of each file a schema is inferred from (default
        /// 1000, within the first MiB).
        pub fn infer_records(mut self, records: usize) -> Self {
            let batching = &mut self.format_mut().batching;
            batching.infer_records = records.max(1);
            batching.inferred = Arc::new(ListingCache::new(16));
            self
        }
    };
}

/// CSV into `RecordBatch`es: the framing of [`Csv`](super::Csv) (a header record by default,
/// `,` and `"`, strict quoting, newlines in quoted fields allowed, split anywhere), decoded by
/// `arrow-csv`.
#[derive(Debug, Clone)]
pub struct CsvBatches {
    framing: Framing,
    delimiter: u8,
    has_headers: bool,
    batching: Batching,
}

impl ReadFile<CsvBatches> {
    /// A CSV reader into batches of 8192 rows, schema inferred.
    pub fn new() -> Self {
        ReadFile::with_format(CsvBatches {
            framing: Framing::Csv {
                quote: b'"',
                delimiter: b',',
                multiline: true,
            },
            delimiter: b',',
            has_headers: true,
            batching: Batching::default(),
        })
    }

    /// The field delimiter (default `,`).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        let format = self.format_mut();
        format.delimiter = delimiter;
        if let Framing::Csv { delimiter: d, .. } = &mut format.framing {
            *d = delimiter;
        }
        self
    }

    /// The quote character (default `"`).
    pub fn quote(mut self, quote: u8) -> Self {
        if let Framing::Csv { quote: q, .. } = &mut self.format_mut().framing {
            *q = quote;
        }
        self
    }

    /// Whether the first record of each file is a header (default: yes).
    pub fn has_headers(mut self, yes: bool) -> Self {
        self.format_mut().has_headers = yes;
        self
    }

    /// Whether quoted fields may hold newlines (default: yes), as with
    /// [`ReadCsv`](super::ReadCsv).
    pub fn multiline(mut self, yes: bool) -> Self {
        if let Framing::Csv { multiline, .. } = &mut self.format_mut().framing {
            *multiline = yes;
        }
        self
    }

    batching_options!();
}

impl Default for ReadFile<CsvBatches> {
    fn default() -> Self {
        Self::new()
    }
}

/// JSON lines into `RecordBatch`es, decoded by `arrow-json`; blank lines are skipped.
#[derive(Debug, Clone, Default)]
pub struct JsonBatches {
    batching: Batching,
}

impl ReadFile<JsonBatches> {
    /// A JSON-lines reader into batches of 8192 rows, schema inferred.
    pub fn new() -> Self {
        ReadFile::with_format(JsonBatches::default())
    }

    batching_options!();
}

impl Default for ReadFile<JsonBatches> {
    fn default() -> Self {
        Self::new()
    }
}

enum Decoder {
    /// Boxed: it is four times the size of the JSON one.
    Csv(Box<arrow_csv::reader::Decoder>),
    Json(arrow_json::reader::Decoder),
}

/// A call's batch being gathered: the records claimed since the last batch, and the decoder.
pub struct BatchState {
    decoder: Decoder,
    format: &'static str,
    /// Every record of the batch, each followed by `\n`.
    buf: Vec<u8>,
    rows: usize,
    limit: usize,
    /// Where its first record starts.
    first: u64,
}

impl BatchState {
    fn new(decoder: Decoder, format: &'static str, limit: usize) -> Self {
        BatchState {
            decoder,
            format,
            buf: Vec::new(),
            rows: 0,
            limit,
            first: 0,
        }
    }

    /// Adds a record; decodes the batch once it is full.
    fn push(&mut self, cx: RecordContext<'_>, bytes: &[u8]) -> Result<Option<RecordBatch>> {
        if self.rows == 0 {
            self.first = cx.offset;
        }
        self.buf.extend_from_slice(bytes);
        self.buf.push(b'\n');
        self.rows += 1;
        if self.rows < self.limit {
            return Ok(None);
        }
        self.finish(cx)
    }

    /// Decodes the records gathered into a batch (none if there are none).
    fn finish(&mut self, cx: RecordContext<'_>) -> Result<Option<RecordBatch>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let rows = std::mem::take(&mut self.rows);
        let decoded = self.decode();
        self.buf.clear();
        decoded.map_err(|e| Error::BadRecord {
            at: at(cx.file, self.first, cx.decoded),
            format: self.format,
            reason: format!(
                "in the batch of {rows} records that starts here: {e}; check the records \
                 against the schema"
            ),
        })
    }

    fn decode(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        let mut at = 0;
        while at < self.buf.len() {
            let n = match &mut self.decoder {
                Decoder::Csv(d) => d.decode(&self.buf[at..])?,
                Decoder::Json(d) => d.decode(&self.buf[at..])?,
            };
            if n == 0 {
                return Err(ArrowError::ParseError(format!(
                    "the decoder stopped {} bytes before the end of the batch",
                    self.buf.len() - at
                )));
            }
            at += n;
        }
        match &mut self.decoder {
            Decoder::Csv(d) => d.flush(),
            Decoder::Json(d) => d.flush(),
        }
    }
}

impl Format for CsvBatches {
    type Output = RecordBatch;
    type State = BatchState;

    fn framing(&self) -> &Framing {
        &self.framing
    }

    fn header_records(&self) -> usize {
        usize::from(self.has_headers)
    }

    fn start(&self, file: &FileMetadata, _headers: Vec<Vec<u8>>) -> Result<BatchState> {
        let Framing::Csv { quote, .. } = self.framing else {
            return Err(Error::InvalidOption {
                option: "framing",
                reason: "CSV needs CSV framing".into(),
            });
        };
        let schema = self.batching.schema(file, "CSV", |bytes| {
            let format = arrow_csv::reader::Format::default()
                .with_header(self.has_headers)
                .with_delimiter(self.delimiter)
                .with_quote(quote);
            let (schema, _) = format.infer_schema(bytes, Some(self.batching.infer_records))?;
            Ok(Arc::new(schema))
        })?;
        let decoder = arrow_csv::ReaderBuilder::new(schema)
            .with_header(false)
            .with_delimiter(self.delimiter)
            .with_quote(quote)
            .with_batch_size(self.batching.rows)
            .build_decoder();
        Ok(BatchState::new(
            Decoder::Csv(Box::new(decoder)),
            "CSV",
            self.batching.rows,
        ))
    }

    #[inline]
    fn decode(
        &self,
        state: &mut BatchState,
        cx: RecordContext<'_>,
        bytes: &[u8],
    ) -> Result<Option<RecordBatch>> {
        if bytes.is_empty() {
            return Ok(None);
        }
        state.push(cx, bytes)
    }

    fn end_call(
        &self,
        state: &mut BatchState,
        cx: RecordContext<'_>,
    ) -> Result<Option<RecordBatch>> {
        state.finish(cx)
    }
}

impl Format for JsonBatches {
    type Output = RecordBatch;
    type State = BatchState;

    fn framing(&self) -> &Framing {
        &Framing::Lines
    }

    fn start(&self, file: &FileMetadata, _headers: Vec<Vec<u8>>) -> Result<BatchState> {
        let schema = self.batching.schema(file, "JSON lines", |bytes| {
            let (schema, _) =
                arrow_json::reader::infer_json_schema(bytes, Some(self.batching.infer_records))?;
            Ok(Arc::new(schema))
        })?;
        let decoder = arrow_json::ReaderBuilder::new(schema)
            .with_batch_size(self.batching.rows)
            .build_decoder()
            .map_err(|e| Error::InvalidOption {
                option: "schema",
                reason: format!("arrow-json cannot decode it: {e}"),
            })?;
        Ok(BatchState::new(
            Decoder::Json(decoder),
            "JSON lines",
            self.batching.rows,
        ))
    }

    #[inline]
    fn decode(
        &self,
        state: &mut BatchState,
        cx: RecordContext<'_>,
        bytes: &[u8],
    ) -> Result<Option<RecordBatch>> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        state.push(cx, bytes)
    }

    fn end_call(
        &self,
        state: &mut BatchState,
        cx: RecordContext<'_>,
    ) -> Result<Option<RecordBatch>> {
        state.finish(cx)
    }
}
