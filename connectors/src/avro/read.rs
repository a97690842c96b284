//! [`ReadAvro`]: the splittable DoFn that reads Avro object container files block by block.

use std::path::Path;
use std::sync::Arc;

use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use async_trait::async_trait;
use sdf_core::{
    ManualWatermarkEstimator, OffsetRange, OffsetRangeTracker, Output, ProcessContinuation,
    SharedTracker, SplittableDoFn, Timestamp,
};
use serde::de::DeserializeOwned;

use super::block::{BlockRecord, Blocks};
use super::header::Header;
use super::input::{FORMAT, Input};
use crate::error::Error;
use crate::file::FileMetadata;
use crate::read::OnChange;

/// Turns a decoded value into an output; the error says why it does not fit.
type DecodeFn<O> = Arc<dyn Fn(Value, &BlockRecord<'_>) -> Result<O, String> + Send + Sync>;

/// A function from an output to its event timestamp.
type TimestampFn<O> = Arc<dyn Fn(&O) -> Option<Timestamp> + Send + Sync>;

/// The event timestamp of each record.
enum EventTime<O> {
    /// The input element's.
    Input,
    /// The file's listed modification time.
    FileModified,
    /// Computed from the output; `None` falls back to the input element's.
    Extract(TimestampFn<O>),
}

impl<O> Clone for EventTime<O> {
    fn clone(&self) -> Self {
        match self {
            EventTime::Input => EventTime::Input,
            EventTime::FileModified => EventTime::FileModified,
            EventTime::Extract(f) => EventTime::Extract(Arc::clone(f)),
        }
    }
}

/// The options of [`ReadAvro`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    buffer_size: usize,
    max_block_bytes: u64,
    max_header_bytes: u64,
    on_change: OnChange,
    min_split_size: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            buffer_size: 256 << 10,
            max_block_bytes: 256 << 20,
            max_header_bytes: 64 << 20,
            on_change: OnChange::Fail,
            min_split_size: 64 << 10,
        }
    }
}

/// A record with where it was read: the file, the block and its index in the block.
/// `(block, index)` identifies a record within its file. Made by
/// [`ReadAvro::with_metadata`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AvroRecord<T> {
    /// The file.
    pub path: Arc<Path>,
    /// The block's position: the offset of the sync marker before it (see the module docs).
    pub block: u64,
    /// The record's index in its block, from 0.
    pub index: u64,
    /// The value.
    pub value: T,
}

/// Reads the records of Avro object container files: an SDF from [`FileMetadata`] to records
/// whose restriction is an [`OffsetRange`] of block positions, split at block boundaries. See
/// the [module docs](super) for the block rule, codecs and limits.
///
/// - [`ReadAvro::new`]: [`Value`]s, as the file's schema (or a reader schema) describes them;
/// - [`ReadAvro::typed`]: your type, through serde ([`apache_avro::from_value`]);
/// - [`ReadAvro::json`]: JSON values ([`to_json`](super::to_json));
/// - [`ReadAvro::map_values`]: anything else computed from a value.
pub struct ReadAvro<O> {
    decode: DecodeFn<O>,
    event_time: EventTime<O>,
    options: Options,
    reader_schema: Option<Arc<Schema>>,
}

impl ReadAvro<Value> {
    /// A reader of Avro [`Value`]s.
    pub fn new() -> Self {
        ReadAvro::map_values(Ok)
    }
}

impl Default for ReadAvro<Value> {
    fn default() -> Self {
        ReadAvro::new()
    }
}

impl ReadAvro<serde_json::Value> {
    /// A reader of JSON values ([`to_json`](super::to_json) of each record).
    pub fn json() -> Self {
        ReadAvro::map_values(|v| Ok(super::to_json(v)))
    }
}

impl<T: DeserializeOwned + Send + 'static> ReadAvro<T> {
    /// A reader of `T`s, deserialized from each value with [`apache_avro::from_value`]. A
    /// record that does not fit `T` is an [`Error::BadRecord`] naming the file and block.
    pub fn typed() -> Self {
        ReadAvro::map_values(|v| apache_avro::from_value::<T>(&v).map_err(|e| e.to_string()))
    }
}

impl<O: Send + 'static> ReadAvro<O> {
    /// A reader whose outputs are `f` of each value; an `Err` fails the call with an
    /// [`Error::BadRecord`] naming the file and block and giving the message.
    pub fn map_values(f: impl Fn(Value) -> Result<O, String> + Send + Sync + 'static) -> Self {
        ReadAvro {
            decode: Arc::new(move |v, _| f(v)),
            event_time: EventTime::Input,
            options: Options::default(),
            reader_schema: None,
        }
    }

    /// Resolves each record to `schema` (Avro schema resolution: fields added with defaults,
    /// removed, promoted) instead of reading it as the file's writer schema describes it.
    /// A file whose schema cannot be resolved to it fails with [`Error::BadRecord`].
    pub fn reader_schema(mut self, schema: Schema) -> Self {
        self.reader_schema = Some(Arc::new(schema));
        self
    }

    /// The size of each read and of the buffer the sync marker is searched in (default 256
    /// KiB, at least 64 bytes). Blocks larger than it are read straight into their own buffer.
    pub fn buffer_size(mut self, bytes: usize) -> Self {
        self.options.buffer_size = bytes.clamp(64, 1 << 30);
        self
    }

    /// The largest block, compressed or decoded (default 256 MiB). A
    /// block that declares or decodes to more is an [`Error::BadFile`] naming the file and
    /// offset, never an allocation: memory per call is about twice this at most.
    pub fn max_block_bytes(mut self, bytes: u64) -> Self {
        self.options.max_block_bytes = bytes.max(1);
        self
    }

    /// The largest header, metadata and schema included (default 64 MiB). A header that
    /// declares more is an [`Error::BadFile`].
    pub fn max_header_bytes(mut self, bytes: u64) -> Self {
        self.options.max_header_bytes = bytes.max(1);
        self
    }

    /// What to do with a file that is not as listed (default: fail).
    pub fn on_change(mut self, on_change: OnChange) -> Self {
        self.options.on_change = on_change;
        self
    }

    /// The smallest piece `split_restriction` cuts a file into up front (default 64 KiB).
    pub fn min_split_size(mut self, bytes: u64) -> Self {
        self.options.min_split_size = bytes.max(1);
        self
    }

    /// Stamps each record with the file's listed modification time.
    pub fn event_time_from_file(mut self) -> Self {
        self.event_time = EventTime::FileModified;
        self
    }

    /// Stamps each record with a timestamp computed from it (`None`: the input's).
    pub fn event_time_from(
        mut self,
        f: impl Fn(&O) -> Option<Timestamp> + Send + Sync + 'static,
    ) -> Self {
        self.event_time = EventTime::Extract(Arc::new(f));
        self
    }

    /// The same reader, emitting [`AvroRecord`]s: each output with its file, block and index.
    pub fn with_metadata(self) -> ReadAvro<AvroRecord<O>> {
        let inner = self.decode;
        let event_time = match self.event_time {
            EventTime::Input => EventTime::Input,
            EventTime::FileModified => EventTime::FileModified,
            EventTime::Extract(f) => {
                EventTime::Extract(Arc::new(move |r: &AvroRecord<O>| f(&r.value)) as _)
            }
        };
        ReadAvro {
            decode: Arc::new(move |v, at| {
                Ok(AvroRecord {
                    path: Arc::clone(at.path),
                    block: at.block,
                    index: at.index,
                    value: inner(v, at)?,
                })
            }),
            event_time,
            options: self.options,
            reader_schema: self.reader_schema,
        }
    }

    fn timestamp(&self, file: &FileMetadata, value: &O) -> Option<Timestamp> {
        match &self.event_time {
            EventTime::Input => None,
            EventTime::FileModified => Some(file.modified),
            EventTime::Extract(f) => f(value),
        }
    }
}

impl<O> Clone for ReadAvro<O> {
    fn clone(&self) -> Self {
        ReadAvro {
            decode: Arc::clone(&self.decode),
            event_time: self.event_time.clone(),
            options: self.options.clone(),
            reader_schema: self.reader_schema.clone(),
        }
    }
}

impl<O> std::fmt::Debug for ReadAvro<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadAvro")
            .field("options", &self.options)
            .field("reader_schema", &self.reader_schema.is_some())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<O: Send + 'static> SplittableDoFn for ReadAvro<O> {
    type Input = FileMetadata;
    type Output = O;
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = ManualWatermarkEstimator;

    /// `[0, size)`: every byte of the file, so every block position is in it.
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

    /// Pieces of about `desired_size` bytes, at least the minimum split size.
    fn split_restriction(
        &self,
        _file: &FileMetadata,
        restriction: OffsetRange,
        desired_size: f64,
    ) -> sdf_core::Result<Vec<OffsetRange>> {
        let desired = if desired_size.is_finite() && desired_size >= 1.0 {
            desired_size as u64
        } else {
            1
        };
        Ok(restriction.split(desired, self.options.min_split_size))
    }

    fn new_tracker(&self, _file: &FileMetadata, restriction: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(restriction)
    }

    async fn process(
        &self,
        file: &FileMetadata,
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, O>,
        _watermark: &mut ManualWatermarkEstimator,
    ) -> sdf_core::Result<ProcessContinuation> {
        let range = tracker.current_restriction();
        let start = range.start().max(0) as u64;
        let limit = self.options.max_block_bytes;
        let mut input = Input::open(file, self.options.on_change, self.options.buffer_size)?;
        let header = Header::read(&mut input, self.options.max_header_bytes)?;
        let datum = GenericDatumReader::builder(&header.schema)
            .maybe_reader_schema(self.reader_schema.as_deref())
            .build()
            .map_err(|e| Error::BadRecord {
                at: input.at(0),
                format: FORMAT,
                reason: format!(
                    "the file's schema cannot be resolved to the reader schema: {e}; use a \
                     reader schema that the writer schema can be resolved to"
                ),
            })?;
        // The first block position of this range: the header's marker, or the first marker
        // that starts at or after `start`.
        let mut next = if start <= header.sync_offset {
            Some(header.sync_offset)
        } else {
            input.seek(start)?;
            input.find(&header.sync, range.end().max(0) as u64)?
        };
        let path: Arc<Path> = Arc::from(file.path.as_path());
        let mut blocks = Blocks::new(&header, limit);
        loop {
            // `next` is a marker's offset and the input is just past it.
            let Some(at) = next.filter(|_| !input.at_end()) else {
                // The end of the file (or of the range's markers): claim the end to finish.
                let end = tracker.current_restriction().end();
                tracker.try_claim(end)?;
                input.check(input.offset())?;
                return Ok(ProcessContinuation::Stop);
            };
            let position = i64::try_from(at).unwrap_or(i64::MAX);
            if !tracker.try_claim(position)? {
                input.check(at)?;
                return Ok(ProcessContinuation::Stop);
            }
            let mut block = blocks.read(&mut input, at)?;
            while let Some(value) = block.next_value(&datum, &input)? {
                let record = BlockRecord {
                    path: &path,
                    block: at,
                    index: block.index() - 1,
                };
                let value = (self.decode)(value, &record).map_err(|reason| Error::BadRecord {
                    at: input.at(at),
                    format: FORMAT,
                    reason: format!(
                        "record {} of the block that starts there does not convert: {reason}; \
                         make the output type match the file's schema",
                        record.index
                    ),
                })?;
                match self.timestamp(file, &value) {
                    Some(t) => output.emit_at(value, t).await?,
                    None => output.emit(value).await?,
                }
            }
            next = Some(block.end());
        }
    }
}
