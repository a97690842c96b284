//! The options every reader shares, set through [`ReadFile`](super::ReadFile)'s builder.

use std::fmt;
use std::sync::Arc;

use sdf_core::Timestamp;
use serde::{Deserialize, Serialize};

use super::codec::Compression;
use super::source::OnChange;

/// What to do with a record longer than the maximum record length.
///
/// Either way memory stays bounded: a reader never buffers more than the limit (plus its read
/// buffer) for one record, however long the record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TooLong {
    /// Fail the call with [`Error::RecordTooLong`](crate::Error::RecordTooLong), naming the file
    /// and the record's offset.
    #[default]
    Fail,
    /// Skip the record (read through it without keeping it), count it
    /// ([`ReadFile::skipped_records`](super::ReadFile::skipped_records)) and log a warning
    /// naming the file and offset.
    Skip,
}

/// The options of a reader. Defaults: 256 KiB reads, records of at most 64 MiB that fail when
/// longer, compression detected per file, files that changed since their listing fail, 8 parked
/// readers, no initial piece under 64 KiB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReadOptions {
    pub buffer_size: usize,
    pub max_record_length: usize,
    pub too_long: TooLong,
    pub compression: Compression,
    pub on_change: OnChange,
    pub parked_readers: usize,
    pub min_split_size: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            buffer_size: 256 << 10,
            max_record_length: 64 << 20,
            too_long: TooLong::Fail,
            compression: Compression::Auto,
            on_change: OnChange::Fail,
            parked_readers: 8,
            min_split_size: 64 << 10,
        }
    }
}

/// A function from a value to its event timestamp.
pub(crate) type TimestampFn<O> = Arc<dyn Fn(&O) -> Option<Timestamp> + Send + Sync>;

/// The event timestamp of each record.
pub(crate) enum EventTime<O> {
    /// The input element's (the file's, as the matching step stamped it).
    Input,
    /// The file's modification time, as listed.
    FileModified,
    /// Computed from the value; `None` falls back to the input element's.
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

impl<O> fmt::Debug for EventTime<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EventTime::Input => "Input",
            EventTime::FileModified => "FileModified",
            EventTime::Extract(_) => "Extract(..)",
        })
    }
}
