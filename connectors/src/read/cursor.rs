//! A call's reading position: a [`Source`] and its [`Framer`], moved to the first record of a
//! range; and the [`Parking`] where a call that was checkpointed leaves its cursor for the call
//! that resumes it.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use super::codec::Codec;
use super::csv_split;
use super::format::Format;
use super::frame::{CsvFault, Framed, Framer, Framing};
use super::options::ReadOptions;
use super::range::{Access, FileRange};
use super::source::Source;
use crate::error::{Error, Result};
use crate::file::FileMetadata;

/// The UTF-8 byte-order mark.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Where a call reads, and its format's state.
pub(crate) struct Cursor<S> {
    pub source: Source,
    pub framer: Framer,
    pub state: S,
}

impl<S> Cursor<S> {
    /// Opens `file` and moves to the first record that starts in `range` at or after its start,
    /// past the header records; `None` if no record starts in `range` (it lies inside one
    /// record, found without reading that record to its end).
    pub(crate) fn open<F: Format<State = S>>(
        format: &F,
        options: &ReadOptions,
        file: &FileMetadata,
        range: &FileRange,
        buffer: Vec<u8>,
    ) -> Result<Option<Self>> {
        let start = u64::try_from(range.range.start()).map_err(|_| Error::InvalidOption {
            option: "restriction",
            reason: format!("{range:?} starts before byte 0 of {}", file.path.display()),
        })?;
        let codec: Option<Codec> = match range.access {
            Access::Decode(codec) => Some(codec),
            Access::Seek | Access::FromStart => None,
        };
        let mut source = Source::open(file, codec, options.on_change, start)?;
        let framing = format.framing();
        let mut framer = Framer::new(
            framing,
            options.max_record_length,
            buffer,
            options.buffer_size,
            0,
        );
        if format.utf8_records() {
            framer = framer.check_utf8();
        }
        let headers = read_headers(format.header_records(), &mut source, &mut framer, options)?;
        let header_end = framer.offset();
        if start > header_end {
            if range.access.is_splittable() {
                let back = start.saturating_sub(framer.delimiter_len() as u64);
                // CSV: whether `back` is inside a quoted field (the header ends outside one).
                let quoted = match *framing {
                    Framing::Csv {
                        quote, delimiter, ..
                    } if back > header_end => csv_split::quoted_before(
                        &mut source,
                        back,
                        quote,
                        delimiter,
                        options.max_record_length,
                        options.too_long,
                    )?,
                    _ => false,
                };
                source.seek(back)?;
                framer.restart_at(back);
                let end = u64::try_from(range.range.end()).unwrap_or(0);
                if !framer.skip_partial(&mut source, end, quoted)? {
                    return Ok(None);
                }
            } else {
                // Record boundaries are known only from the start: frame up to `start`.
                while framer.has_record(&mut source)? && framer.offset() < start {
                    let offset = framer.offset();
                    let _ = offset;
                    if let Framed::BadCsv { record, at, fault } = framer.next(&mut source, true)? {
                        return Err(bad_csv(&source, framer.quote(), record, at, fault));
                    }
                }
            }
        }
        let state = format.start(file, headers)?;
        Ok(Some(Cursor {
            source,
            framer,
            state,
        }))
    }
}

/// Reads the `n` header records at the start of the file (the framer is at offset 0).
fn read_headers(
    n: usize,
    source: &mut Source,
    framer: &mut Framer,
    options: &ReadOptions,
) -> Result<Vec<Vec<u8>>> {
    let mut headers = Vec::with_capacity(n);
    while headers.len() < n && framer.has_record(source)? {
        let offset = framer.offset();
        match framer.next(source, false)? {
            Framed::Record(bytes) => headers.push(strip_bom(offset, bytes).to_vec()),
            Framed::Text(text) => headers.push(strip_bom_str(offset, text).as_bytes().to_vec()),
            Framed::BadCsv { record, at, fault } => {
                return Err(bad_csv(source, framer.quote(), record, at, fault));
            }
            Framed::TooLong | Framed::Skipped => {
                return Err(Error::RecordTooLong {
                    at: source.at(offset),
                    limit: options.max_record_length,
                });
            }
        }
    }
    Ok(headers)
}

/// `bytes` without the UTF-8 byte-order mark, which is dropped at the start of a file.
#[inline]
pub(crate) fn strip_bom(offset: u64, bytes: &[u8]) -> &[u8] {
    if offset == 0 {
        bytes.strip_prefix(BOM).unwrap_or(bytes)
    } else {
        bytes
    }
}

/// [`strip_bom`] of a record found to be UTF-8 (the mark is one whole character).
#[inline]
pub(crate) fn strip_bom_str(offset: u64, text: &str) -> &str {
    &text[text.len() - strip_bom(offset, text.as_bytes()).len()..]
}

/// The error of CSV that breaks the rules at offset `at` (see [`Framing::Csv`]).
/// The error of the record at `record` whose CSV breaks the rules at `at`.
pub(crate) fn bad_csv(source: &Source, quote: u8, record: u64, at: u64, fault: CsvFault) -> Error {
    let what = fault.describe(quote);
    Error::BadRecord {
        at: source.at(record),
        format: "CSV",
        reason: if at == record {
            what
        } else {
            format!("at byte {at}, {what}")
        },
    }
}

/// A cursor left by a call that stopped at a refused claim, for the call that resumes there.
struct Parked<S> {
    file: FileMetadata,
    /// Any range starting in `[from, next]` has its first record at `next`, where the cursor is.
    from: u64,
    next: u64,
    cursor: Cursor<S>,
}

/// Parked cursors (at most `capacity`, oldest dropped first) and spare buffers.
pub(crate) struct Parking<S> {
    parked: Mutex<VecDeque<Parked<S>>>,
    buffers: Mutex<Vec<Vec<u8>>>,
    capacity: usize,
    buffer_size: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; a poisoned one still holds consistent data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<S> Parking<S> {
    pub(crate) fn new(capacity: usize, buffer_size: usize) -> Self {
        Parking {
            parked: Mutex::new(VecDeque::new()),
            buffers: Mutex::new(Vec::new()),
            capacity,
            buffer_size,
        }
    }

    /// The cursor parked for a range of `file` starting at `start`, if any.
    pub(crate) fn take(&self, file: &FileMetadata, start: u64) -> Option<Cursor<S>> {
        let mut parked = lock(&self.parked);
        let i = parked
            .iter()
            .position(|p| p.file == *file && p.from <= start && start <= p.next)?;
        parked.remove(i).map(|p| p.cursor)
    }

    /// Parks `cursor`, at the record `next`, for ranges starting in `[from, next]`.
    pub(crate) fn park(&self, file: &FileMetadata, from: u64, next: u64, cursor: Cursor<S>) {
        if self.capacity == 0 {
            return self.recycle(cursor.framer.into_buffer());
        }
        let evicted = {
            let mut parked = lock(&self.parked);
            parked.push_back(Parked {
                file: file.clone(),
                from,
                next,
                cursor,
            });
            if parked.len() > self.capacity {
                parked.pop_front()
            } else {
                None
            }
        };
        if let Some(old) = evicted {
            self.recycle(old.cursor.framer.into_buffer());
        }
    }

    /// A read buffer: a spare one, or a new empty one.
    pub(crate) fn buffer(&self) -> Vec<u8> {
        lock(&self.buffers).pop().unwrap_or_default()
    }

    /// Keeps `buffer` for a later call, unless enough are kept or it grew for a long record.
    pub(crate) fn recycle(&self, buffer: Vec<u8>) {
        if buffer.capacity() > 2 * self.buffer_size {
            return;
        }
        let mut buffers = lock(&self.buffers);
        if buffers.len() < self.capacity.max(2) {
            buffers.push(buffer);
        }
    }
}
