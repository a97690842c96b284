//! # Readers: text, CSV and JSON lines as byte-range SDFs
//!
//! Each reader is a splittable DoFn from a [`FileMetadata`](crate::FileMetadata) (what matching
//! emits) to the file's records:
//!
//! | reader | records | output |
//! |---|---|---|
//! | [`ReadText`] | lines (`\n`, `\r\n`) or a custom delimiter | `String` |
//! | [`ReadTextBytes`] | the same, any encoding | `Vec<u8>` |
//! | [`ReadCsv<T>`](ReadCsv) | CSV records, headers, quoting | `T: DeserializeOwned` (`Vec<String>`) |
//! | [`ReadJsonLines<T>`](ReadJsonLines) | one JSON value per line | `T: DeserializeOwned` (`serde_json::Value`) |
//! | `ReadJsonValues` (feature `sonic`) | one JSON value per line, untyped, 2.4× as fast | `sonic_rs::Value` |
//! | [`ReadLineDigests`] | lines, as [`ReadText`] | `u64`: each line's length or XXH64 |
//! | [`ReadFile<F>`](ReadFile) | any [`Format`] of your own | `F::Output` |
//! | `ReadCsvBatches`, `ReadJsonBatches` (feature `arrow`) | CSV, JSON lines, in batches | Arrow `RecordBatch` |
//! | `ReadParquet` (feature `parquet`) | Parquet row groups; not a `ReadFile` | Arrow `RecordBatch` |
//!
//! `.with_metadata()` turns any of them into a reader of [`Record`]s (value, file, offset);
//! `.event_time_from_file()` and `.event_time_from(f)` set each record's event timestamp.
//!
//! ```
//! use sdf_connectors::{FileMetadata, ReadText};
//! use sdf_core::{Timestamp, testing::run_to_completion};
//!
//! let dir = std::env::temp_dir().join(format!("sdf-read-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("a.txt");
//! std::fs::write(&path, "header\r\nfirst\nsecond")?;
//! let listed = std::fs::metadata(&path)?; // what matching would emit
//! let file = FileMetadata {
//!     path,
//!     size: listed.len(),
//!     modified: Timestamp::from_system_time(listed.modified()?),
//! };
//!
//! let read = ReadText::new().skip_header_lines(1);
//! assert_eq!(run_to_completion(&read, &file)?, ["first", "second"]);
//!
//! let records = run_to_completion(&ReadText::new().with_metadata(), &file)?;
//! assert_eq!((records[1].offset, records[1].value.as_str()), (8, "first"));
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Ranges
//!
//! The restriction is a [`FileRange`]: the offsets at which this piece's records **start**.
//! A plain file's initial restriction is `[0, size)`; `split_restriction` cuts it into pieces of
//! the runner's desired size, and the runner splits running pieces further. A range
//! `[s, e)` with `s > 0` **seeks** to `s − 1` (`s −` the delimiter's length) and skips through
//! the first delimiter: its first record is the first to start at or after `s`, since the one
//! before it started in the range before. It never reads the file from its beginning to get
//! there (but see headers). It claims each record's start offset before reading the record, so
//! a record belongs to the range in which it starts and progress is in bytes; at the end of
//! the file it claims the range's end to finish.
//!
//! Header lines (text) and the header record (CSV) are the first records of the file. A range
//! that starts past them never reads them. A call that needs them (a range starting at or
//! inside them, or any CSV call, which needs the column names) reads them from offset 0, a
//! small bounded read; a header line is never emitted, wherever a split fell.
//!
//! ## Reads and memory
//!
//! A call reads with large reads (256 KiB by default, [`ReadFile::buffer_size`]) into one buffer,
//! finds delimiters with `memchr`, and decodes each record from a slice of the buffer: no
//! allocation per record beyond the value itself. The buffer grows for a record longer than
//! it, up to the maximum record length ([`ReadFile::max_record_length`], 64 MiB by default);
//! a longer record is an error naming the file and offset, or is skipped and counted
//! ([`TooLong`]): a single 10 GB line costs no more memory than the limit.
//!
//! ## Checkpoints and parked readers
//!
//! The runner checkpoints calls (every 10,000 outputs or second, by default). A checkpointed
//! call stops at a refused claim, positioned at the record it was refused, and **parks** its
//! open file, buffer and decoder in the reader (at most 8; [`ReadFile::parked_readers`]). The
//! call that resumes the residual takes it back if its range starts where the parked one
//! stopped, so it continues without reopening, re-reading or re-decoding anything. Parking is
//! only a cache: output never depends on it, and a miss (another process after a restart, an
//! evicted cursor) reopens the file as described here.
//!
//! ## Compressed files
//!
//! gzip, zstd and bzip2 files ([`Compression`], detected by extension, else by magic bytes)
//! cannot be read from the middle, so they are read unsplit ([`Access::Decode`]):
//!
//! - the restriction counts **decoded** offsets, `[0, i64::MAX)`; the tracker
//!   ([`FileRangeTracker`]) only checkpoints, and reports progress in compressed bytes read;
//! - a checkpoint's residual starts after the last record emitted; the call that resumes it
//!   continues the parked decoder, or, without one, decodes the file from its start and frames
//!   the records up to its offset without emitting them. That fallback costs a decode of
//!   everything before the offset (about as long as reading the file that far), once per
//!   resume without a parked reader, so a restart in the middle of a large compressed file
//!   pays for the part already read once more.
//!
//! ## CSV split anywhere
//!
//! A CSV field may hold newlines inside quotes, so a newline after a range's start need not
//! end a record. A range finds its first record by deciding whether the byte before its start
//! is inside quotes, without reading the file before it: quotes are checked as they are read
//! (a quote opens a field only at its start and closes it only before a delimiter or a line
//! end), so the quote state of every byte is the parity of the quotes before it, and the two
//! candidate states are followed over the next bytes until one breaks the rules; usually the
//! first quote next to a letter decides. The one that survives is the file's: a file that
//! keeps the rules never breaks them in its real state, and one that does not fails the read
//! in the range whose record breaks them. The cost: the few bytes until a deciding quote;
//! up to the record-length limit of bytes without a quote (a file with no quotes at all); and,
//! where neither state breaks the rules within that look-ahead, a count of the quotes in the
//! bytes before the range. Checkpoints of CSV read before this rule ([`Access::FromStart`])
//! still resume, from the file's start.
//!
//! ## Batches
//!
//! A format may gather records and emit them together (the Arrow formats: see `arrow.rs`'s
//! guide, on `ReadCsvBatches`). Claims stay per record; what a call gathered is emitted when
//! the call ends ([`Format::end_call`]: at the end of its range, and at a refused claim before
//! its reader is parked), so a batch never holds records claimed by another call.
//!
//! Parquet is a block format: `ReadParquet` claims row group starts, not records; its guide is
//! on the type.
//!
//! ## Files that change
//!
//! A file is read as listed: bytes `[0, size)` of its [`FileMetadata`](crate::FileMetadata). It is checked when each
//! call starts and ends; see [`OnChange`] for the policy (by default a file whose size or
//! modification time changed fails the call, whose output the runtime then discards). A file
//! that ends before its listed size fails wherever that is found. Nothing is lost silently.
//!
//! ## Objects
//!
//! A [`FileMetadata`](crate::FileMetadata) whose path is an object's URL is read the same way
//! through a read-ahead reader of ranged `GET`s on the IO runtime (see
//! [`storage`](crate::storage)): ranges seek, compressed objects decode, and every response
//! is checked against the listing under [`OnChange`]. A read blocks the worker thread while
//! it waits for bytes, as a local read does.

#[cfg(feature = "arrow")]
mod arrow;
#[cfg(feature = "arrow")]
mod cache;
mod codec;
mod csv;
mod csv_split;
mod cursor;
mod digest;
mod format;
mod frame;
#[cfg(feature = "sonic")]
mod json_values;
mod jsonl;
mod options;
#[cfg(feature = "parquet")]
mod parquet;
mod range;
mod reader;
pub(crate) mod source;
mod text;

#[cfg(feature = "arrow")]
pub use self::arrow::{BatchState, CsvBatches, JsonBatches, ReadCsvBatches, ReadJsonBatches};
pub use self::csv::{Csv, CsvHeader, CsvRow, CsvState, ReadCsv};
#[cfg(feature = "parquet")]
pub use self::parquet::ReadParquet;
pub use codec::{Codec, Compression};
pub use digest::{LineDigest, LineDigests, ReadLineDigests};
pub use format::{Format, Record, RecordContext, WithMetadata};
pub use frame::{CsvFault, Framing};
#[cfg(feature = "sonic")]
pub use json_values::{DEFAULT_MAX_DEPTH, JsonValues, MAX_DEPTH_LIMIT, ReadJsonValues};
pub use jsonl::{JsonLines, ReadJsonLines};
pub use options::TooLong;
pub use range::{Access, FilePosition, FileRange, FileRangeTracker};
pub use reader::ReadFile;
pub use source::OnChange;
pub use text::{InvalidUtf8, ReadText, ReadTextBytes, Text, TextValue};
