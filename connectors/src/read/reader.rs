//! [`ReadFile`]: the splittable DoFn behind every reader, generic over its [`Format`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use sdf_core::{
    ManualWatermarkEstimator, OffsetRange, Output, ProcessContinuation, SharedTracker,
    SplittableDoFn, Timestamp,
};

use super::codec::Compression;
use super::cursor::{Cursor, Parking, bad_csv, strip_bom, strip_bom_str};
use super::format::{Format, RecordContext, WithMetadata};
use super::frame::Framed;
use super::options::{EventTime, ReadOptions, TooLong};
use super::range::{Access, FilePosition, FileRange, FileRangeTracker};
use super::source::OnChange;
use crate::error::Error;
use crate::file::FileMetadata;

/// Reads the records of files of format `F`: an SDF from [`FileMetadata`] to `F::Output`
/// whose restriction is a [`FileRange`]. [`ReadText`](super::ReadText),
/// [`ReadCsv`](super::ReadCsv) and [`ReadJsonLines`](super::ReadJsonLines) are this with
/// their formats; the builder methods here are shared by all of them. See the
/// [module docs](super) for how ranges, checkpoints and compressed files work.
pub struct ReadFile<F: Format> {
    format: F,
    options: ReadOptions,
    event_time: EventTime<F::Output>,
    parking: Arc<Parking<F::State>>,
    skipped: Arc<AtomicU64>,
}

impl<F: Format> ReadFile<F> {
    /// A reader of `format` with the default options.
    pub fn with_format(format: F) -> Self {
        let options = ReadOptions::default();
        ReadFile {
            parking: Arc::new(Parking::new(options.parked_readers, options.buffer_size)),
            format,
            options,
            event_time: EventTime::Input,
            skipped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The format.
    pub fn format(&self) -> &F {
        &self.format
    }

    pub(crate) fn format_mut(&mut self) -> &mut F {
        &mut self.format
    }

    fn reparked(mut self) -> Self {
        self.parking = Arc::new(Parking::new(
            self.options.parked_readers,
            self.options.buffer_size,
        ));
        self
    }

    /// The size of each read, and of the buffer records are found in (default 256 KiB: it stays
    /// in the L2 cache; in `benches/read_parse.rs` 1 MiB was as fast on a quiet machine and up to
    /// 20% slower on a busy one). The buffer grows for a record longer than it, up to the
    /// maximum record length. Clamped to `[1 byte, 1 GiB]`.
    pub fn buffer_size(mut self, bytes: usize) -> Self {
        self.options.buffer_size = bytes.clamp(1, 1 << 30);
        self.reparked()
    }

    /// The maximum length of a record, without its delimiter (default 64 MiB), and what to do
    /// with a longer one. Memory per call stays within this plus the buffer size.
    pub fn max_record_length(mut self, bytes: usize, too_long: TooLong) -> Self {
        self.options.max_record_length = bytes;
        self.options.too_long = too_long;
        self
    }

    /// How files are compressed (default: detected per file).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.options.compression = compression;
        self
    }

    /// What to do with a file that is not as listed (default: fail).
    pub fn on_change(mut self, on_change: OnChange) -> Self {
        self.options.on_change = on_change;
        self
    }

    /// How many cursors of checkpointed calls are kept for the calls that resume them
    /// (default 8; 0 turns parking off). See the module docs.
    pub fn parked_readers(mut self, n: usize) -> Self {
        self.options.parked_readers = n;
        self.reparked()
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

    /// Stamps each record with a timestamp computed from its value (`None`: the input's).
    pub fn event_time_from(
        mut self,
        f: impl Fn(&F::Output) -> Option<Timestamp> + Send + Sync + 'static,
    ) -> Self {
        self.event_time = EventTime::Extract(Arc::new(f));
        self
    }

    /// Records skipped for being too long ([`TooLong::Skip`]) by this reader so far. A metric:
    /// a call that is retried counts its skipped records again.
    pub fn skipped_records(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// The same reader, emitting [`Record`](super::Record)s: each value with its file and offset.
    pub fn with_metadata(self) -> ReadFile<WithMetadata<F>> {
        let event_time = match self.event_time {
            EventTime::Input => EventTime::Input,
            EventTime::FileModified => EventTime::FileModified,
            EventTime::Extract(f) => {
                EventTime::Extract(Arc::new(move |r: &super::Record<F::Output>| f(&r.value)))
            }
        };
        ReadFile {
            format: WithMetadata::new(self.format),
            parking: Arc::new(Parking::new(
                self.options.parked_readers,
                self.options.buffer_size,
            )),
            options: self.options,
            event_time,
            skipped: self.skipped,
        }
    }

    /// Emits what the format holds back at the end of a call ([`Format::end_call`]).
    async fn end_call(
        &self,
        file: &FileMetadata,
        state: &mut F::State,
        offset: u64,
        decoded: bool,
        output: &mut Output<'_, F::Output>,
    ) -> sdf_core::Result<()> {
        let cx = RecordContext {
            file,
            offset,
            decoded,
        };
        if let Some(value) = self.format.end_call(state, cx)? {
            match self.timestamp(file, &value) {
                Some(at) => output.emit_at(value, at).await?,
                None => output.emit(value).await?,
            }
        }
        Ok(())
    }

    fn timestamp(&self, file: &FileMetadata, value: &F::Output) -> Option<Timestamp> {
        match &self.event_time {
            EventTime::Input => None,
            EventTime::FileModified => Some(file.modified),
            EventTime::Extract(f) => f(value),
        }
    }
}

impl<F: Format + Clone> Clone for ReadFile<F> {
    /// A copy with the same options and its own parked readers and skip counter.
    fn clone(&self) -> Self {
        ReadFile {
            format: self.format.clone(),
            options: self.options.clone(),
            event_time: self.event_time.clone(),
            parking: Arc::new(Parking::new(
                self.options.parked_readers,
                self.options.buffer_size,
            )),
            skipped: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl<F: Format + std::fmt::Debug> std::fmt::Debug for ReadFile<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadFile")
            .field("format", &self.format)
            .field("options", &self.options)
            .field("event_time", &self.event_time)
            .finish()
    }
}

#[async_trait]
impl<F: Format> SplittableDoFn for ReadFile<F> {
    type Input = FileMetadata;
    type Output = F::Output;
    type Restriction = FileRange;
    type Tracker = FileRangeTracker;
    type WatermarkEstimator = ManualWatermarkEstimator;

    /// `[0, size)` of a plain file; `[0, i64::MAX)` decoded bytes of a compressed one (detected
    /// by extension, else by its first bytes: the one read this method may make).
    fn initial_restriction(&self, file: &FileMetadata) -> sdf_core::Result<FileRange> {
        if let Some(codec) = self.options.compression.detect(&file.path)? {
            return Ok(FileRange::new(
                OffsetRange::new(0, i64::MAX),
                Access::Decode(codec),
            ));
        }
        let size = i64::try_from(file.size).map_err(|_| Error::InvalidOption {
            option: "file size",
            reason: format!(
                "{} is listed with {} bytes, past i64::MAX",
                file.path.display(),
                file.size
            ),
        })?;
        Ok(FileRange::new(OffsetRange::new(0, size), Access::Seek))
    }

    /// Pieces of about `desired_size` bytes (at least the minimum split size) of a plain file;
    /// a file read from its start stays whole.
    fn split_restriction(
        &self,
        _file: &FileMetadata,
        restriction: FileRange,
        desired_size: f64,
    ) -> sdf_core::Result<Vec<FileRange>> {
        if !restriction.access.is_splittable() {
            return Ok(vec![restriction]);
        }
        let desired = if desired_size.is_finite() && desired_size >= 1.0 {
            desired_size as u64
        } else {
            1
        };
        let pieces = restriction
            .range
            .split(desired, self.options.min_split_size);
        Ok(pieces
            .into_iter()
            .map(|r| FileRange::new(r, restriction.access))
            .collect())
    }

    fn new_tracker(&self, file: &FileMetadata, restriction: FileRange) -> FileRangeTracker {
        FileRangeTracker::new(restriction, file.size)
    }

    async fn process(
        &self,
        file: &FileMetadata,
        tracker: &mut SharedTracker<FileRangeTracker>,
        output: &mut Output<'_, F::Output>,
        _watermark: &mut ManualWatermarkEstimator,
    ) -> sdf_core::Result<ProcessContinuation> {
        let range = tracker.current_restriction();
        let first = range.range.start().max(0) as u64;
        let mut cursor = match self.parking.take(file, first) {
            Some(cursor) => {
                cursor.source.check(first)?;
                cursor
            }
            None => {
                let opened = Cursor::open(
                    &self.format,
                    &self.options,
                    file,
                    &range,
                    self.parking.buffer(),
                )?;
                match opened {
                    Some(cursor) => cursor,
                    None => {
                        // The range lies inside one record, which belongs to an earlier
                        // range: nothing to read. Claim past its end to finish it.
                        let end = range.range.end();
                        tracker.try_claim(FilePosition {
                            offset: end,
                            consumed: end.max(0) as u64,
                        })?;
                        return Ok(ProcessContinuation::Stop);
                    }
                }
            }
        };
        let decoded = cursor.source.is_decoded();
        let skip_long = self.options.too_long == TooLong::Skip;
        let mut from = first;
        loop {
            let offset = cursor.framer.offset();
            if !cursor.framer.has_record(&mut cursor.source)? {
                // The end of the file: claim past the range to finish it.
                let end = tracker.current_restriction().range.end().max(offset as i64);
                let consumed = cursor.source.consumed();
                tracker.try_claim(FilePosition {
                    offset: end,
                    consumed,
                })?;
                cursor.source.check(offset)?;
                self.end_call(file, &mut cursor.state, offset, decoded, output)
                    .await?;
                self.parking.recycle(cursor.framer.into_buffer());
                return Ok(ProcessContinuation::Stop);
            }
            let position = FilePosition {
                offset: offset as i64,
                consumed: cursor.source.consumed(),
            };
            if !tracker.try_claim(position)? {
                cursor.source.check(offset)?;
                self.end_call(file, &mut cursor.state, offset, decoded, output)
                    .await?;
                self.parking.park(file, from, offset, cursor);
                return Ok(ProcessContinuation::Stop);
            }
            from = offset + 1;
            let cx = RecordContext {
                file,
                offset,
                decoded,
            };
            let value = match cursor.framer.next(&mut cursor.source, skip_long)? {
                Framed::Record(bytes) => {
                    self.format
                        .decode(&mut cursor.state, cx, strip_bom(offset, bytes))?
                }
                Framed::Text(text) => {
                    self.format
                        .decode_str(&mut cursor.state, cx, strip_bom_str(offset, text))?
                }
                Framed::Skipped => {
                    self.skipped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(at = %cursor.source.at(offset), limit = self.options.max_record_length, "skipped a record longer than the limit");
                    None
                }
                Framed::BadCsv { record, at, fault } => {
                    let quote = cursor.framer.quote();
                    return Err(bad_csv(&cursor.source, quote, record, at, fault).into());
                }
                Framed::TooLong => {
                    let limit = self.options.max_record_length;
                    return Err(Error::RecordTooLong {
                        at: cursor.source.at(offset),
                        limit,
                    }
                    .into());
                }
            };
            if let Some(value) = value {
                match self.timestamp(file, &value) {
                    Some(at) => output.emit_at(value, at).await?,
                    None => output.emit(value).await?,
                }
            }
        }
    }
}
