//! [`Framing`] (where records end) and the `Framer`: one reused buffer, refilled with large
//! reads, in which records are found with `memchr` and handed out as slices.

use memchr::memmem;

use super::source::Source;
use crate::error::{Error, Result};

/// Where the records of a file end.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Framing {
    /// Lines ending in `\n` or `\r\n` (the `\r` of a piece before `\n`, or of the last piece,
    /// is not part of the record). A lone `\r` is text, not a line end.
    Lines,
    /// Records ending with this delimiter, taken as is. Build it with
    /// [`Framing::delimiter`], which refuses empty and self-overlapping delimiters.
    Delimiter(Vec<u8>),
    /// CSV records (RFC 4180): lines as [`Lines`](Self::Lines), except that a `\n` inside a
    /// field quoted with `quote` does not end the record (unless `multiline` is off: then such
    /// a newline is an error). Quotes are checked as they are met: a quote opens a field only
    /// at its start, closes it only before `delimiter`, a line end or the end of the file, and
    /// is written twice inside one; a `\r` outside quotes must be followed by `\n`. Anything
    /// else is a [`CsvFault`], so the quote state at any byte is the parity of the quotes
    /// before it, which is what lets a file split anywhere (see [`ReadCsv`](crate::ReadCsv)).
    Csv {
        /// The quote character; `""` inside a quoted field is a quote.
        quote: u8,
        /// The field delimiter.
        delimiter: u8,
        /// Whether quoted fields may hold newlines (default: yes).
        multiline: bool,
    },
}

impl Framing {
    /// Records ending with `delimiter`. It must be non-empty and must not overlap itself (no
    /// proper prefix equal to a suffix, as `aba` or `\n\n`): then every range finds the same
    /// records whatever offset it starts at.
    ///
    /// ```
    /// use sdf_connectors::read::Framing;
    /// assert!(Framing::delimiter("||").is_err()); // "|" is both a prefix and a suffix
    /// assert!(Framing::delimiter("<>").is_ok());
    /// ```
    pub fn delimiter(delimiter: impl AsRef<[u8]>) -> Result<Framing> {
        let d = delimiter.as_ref();
        let invalid = |reason: &str| Error::InvalidOption {
            option: "delimiter",
            reason: reason.into(),
        };
        if d.is_empty() {
            return Err(invalid("it is empty"));
        }
        if (1..d.len()).any(|k| d[..k] == d[d.len() - k..]) {
            return Err(invalid(&format!(
                "{:?} overlaps itself (a prefix is also a suffix), so where records start would \
                 depend on where reading starts; choose a delimiter without such an overlap",
                String::from_utf8_lossy(d)
            )));
        }
        Ok(Framing::Delimiter(d.to_vec()))
    }
}

/// A framing compiled for searching.
enum Kind {
    /// One byte; strip a `\r` before it (lines) or not.
    Byte {
        byte: u8,
        strip_cr: bool,
    },
    Bytes(Box<memmem::Finder<'static>>),
    Csv {
        quote: u8,
        delimiter: u8,
        multiline: bool,
    },
}

/// What is wrong with the CSV at a byte (see [`Framing::Csv`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvFault {
    /// A quote inside a field that does not start with one.
    StrayQuote,
    /// A quote that closes a quoted field is followed by this byte, not a delimiter or a line end.
    AfterClosingQuote(u8),
    /// A `\r` outside quotes that is not followed by `\n`.
    LoneCr,
    /// The file ends inside the quoted field that opens at this offset.
    Unterminated {
        /// Where the quoted field opens.
        opened_at: u64,
    },
    /// A newline inside a quoted field, refused (`multiline` off).
    QuotedNewline,
}

impl CsvFault {
    /// What is wrong, for a person reading the file.
    pub fn describe(self, quote: u8) -> String {
        let q = quote as char;
        match self {
            CsvFault::StrayQuote => format!(
                "a quote ({q}) in the middle of a field that does not start with one; RFC 4180 \
                 quotes whole fields, writing a quote inside one twice ({q}5{q}{q} screen{q})"
            ),
            CsvFault::AfterClosingQuote(b) => format!(
                "the quote ({q}) that closes a quoted field is followed by {:?}, not a \
                 delimiter or a line end; a quote inside a quoted field is written twice ({q}{q})",
                b as char
            ),
            CsvFault::LoneCr => "a carriage return (\\r) not followed by a line feed, outside \
                 quotes: records end with \\n or \\r\\n, and CR-only line ends (classic Mac \
                 OS) are not read; convert them (e.g. tr '\\r' '\\n')"
                .to_string(),
            CsvFault::Unterminated { opened_at } => format!(
                "the quoted field opened at byte {opened_at} is never closed: the file ends \
                 inside it (a missing closing quote, or the file is cut)"
            ),
            CsvFault::QuotedNewline => "a quoted field holds a newline, which this reader \
                 refuses (ReadCsv::multiline(false))"
                .to_string(),
        }
    }
}

impl Kind {
    fn new(framing: &Framing) -> Kind {
        match framing {
            Framing::Lines => Kind::Byte {
                byte: b'\n',
                strip_cr: true,
            },
            Framing::Delimiter(d) if d.len() == 1 => Kind::Byte {
                byte: d[0],
                strip_cr: false,
            },
            Framing::Delimiter(d) => Kind::Bytes(Box::new(memmem::Finder::new(d).into_owned())),
            Framing::Csv {
                quote,
                delimiter,
                multiline,
            } => Kind::Csv {
                quote: *quote,
                delimiter: *delimiter,
                multiline: *multiline,
            },
        }
    }

    fn delimiter_len(&self) -> usize {
        match self {
            Kind::Bytes(f) => f.needle().len(),
            _ => 1,
        }
    }

    fn strips_cr(&self) -> bool {
        matches!(self, Kind::Byte { strip_cr: true, .. } | Kind::Csv { .. })
    }
}

/// What [`Framer::next`] found at the cursor.
pub(crate) enum Framed<'a> {
    /// A record (without its delimiter).
    Record(&'a [u8]),
    /// A record (without its delimiter) found to be UTF-8 by the framer's whole-buffer check
    /// ([`Framer::check_utf8`]).
    Text(&'a str),
    /// A record longer than the limit, skipped (only when asked to skip).
    Skipped,
    /// A record longer than the limit (when not skipping); the framer must not be used again.
    TooLong,
    /// CSV that breaks the rules at offset `at`, in the record that starts at `record`; the
    /// framer must not be used again.
    BadCsv {
        record: u64,
        at: u64,
        fault: CsvFault,
    },
}

/// The result of one search of the buffer.
enum Found {
    /// The delimiter occupies `[at, after)`.
    End { at: usize, after: usize },
    /// Not in the buffer; continue the search at this index once more bytes are in.
    Not { resume: usize },
    /// CSV that breaks the rules at this index.
    Bad { at: usize, fault: CsvFault },
}

/// Where a CSV search is: inside quotes or not, and where the open quoted field opened.
#[derive(Debug, Clone, Copy, Default)]
struct Quotes {
    inside: bool,
    opened: usize,
}

/// Finds records in a buffer refilled from a [`Source`].
pub(crate) struct Framer {
    buf: Vec<u8>,
    /// `buf[start..end]` holds bytes not yet handed out; `buf[0]` is at offset `base`.
    start: usize,
    end: usize,
    base: u64,
    eof: bool,
    kind: Kind,
    max_len: usize,
    utf8: Utf8,
}

/// What the whole-buffer UTF-8 check knows, as indices into the buffer: `buf[valid.0..valid.1]`
/// is valid UTF-8, and everything before `checked` was checked.
///
/// The check runs on a region from a record's start (or the end of the previous region) to
/// just after the last record delimiter in the buffer, once per fill: one SIMD pass over
/// 256 KiB instead of a call per record. A record inside the valid region is valid UTF-8
/// because both its ends are char boundaries: each is an end of the region or next to an ASCII
/// delimiter byte (`\n`, a one-byte ASCII delimiter, a `\r` stripped before `\n`), and in
/// valid UTF-8 an ASCII byte is never part of a multi-byte character. A region that is not
/// valid is not trusted at all: its records go to the format as bytes, and the format's own
/// check finds and reports the bad record.
#[derive(Default)]
struct Utf8 {
    /// Whether to check (asked for, and the framing's delimiter is one ASCII byte).
    on: bool,
    valid: (usize, usize),
    checked: usize,
}
impl Framer {
    /// A framer whose first byte will be at `offset`, reusing `buf` (grown to `buffer_size`).
    pub(crate) fn new(
        framing: &Framing,
        max_len: usize,
        mut buf: Vec<u8>,
        buffer_size: usize,
        offset: u64,
    ) -> Self {
        buf.resize(buffer_size.max(1), 0);
        Framer {
            buf,
            start: 0,
            end: 0,
            base: offset,
            eof: false,
            kind: Kind::new(framing),
            max_len,
            utf8: Utf8::default(),
        }
    }

    /// Checks records for UTF-8 a whole buffer at a time, and hands the valid ones out as
    /// [`Framed::Text`]. Only for framings whose delimiter is one ASCII byte (lines, CSV, a
    /// one-byte delimiter); with any other, records stay [`Framed::Record`].
    pub(crate) fn check_utf8(mut self) -> Self {
        self.utf8.on = match &self.kind {
            Kind::Byte { byte, .. } => byte.is_ascii(),
            Kind::Csv { .. } => true,
            Kind::Bytes(_) => false,
        };
        self
    }

    /// The offset of the next record.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Forgets the buffered bytes: the source was moved to `offset`.
    pub(crate) fn restart_at(&mut self, offset: u64) {
        (self.start, self.end, self.base, self.eof) = (0, 0, offset, false);
        (self.utf8.valid, self.utf8.checked) = ((0, 0), 0);
    }

    /// Gives the buffer back for reuse.
    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    /// Whether a record starts at the cursor (some byte is left before the end).
    #[inline]
    pub(crate) fn has_record(&mut self, src: &mut Source) -> Result<bool> {
        while self.start == self.end && !self.eof {
            self.fill(src)?;
        }
        Ok(self.start < self.end)
    }

    /// Skips through the first newline (or delimiter) at the cursor: after a seek to
    /// `s − delimiter length`, the cursor is then at the first record starting at `s` or later.
    /// For CSV, `quoted` says whether the cursor is inside a quoted field, and quotes are
    /// followed by parity (they are checked by the range whose record these bytes are).
    /// Returns `false` when no delimiter ends before offset `until` (the end of the range
    /// being opened): no record starts in the range, and the skip stops there instead of
    /// reading a long record to its end (a 10 GB line would otherwise be read whole by each of
    /// its ranges). The cursor is then inside a record: do not read from it.
    pub(crate) fn skip_partial(
        &mut self,
        src: &mut Source,
        until: u64,
        mut quoted: bool,
    ) -> Result<bool> {
        loop {
            let hay = &self.buf[self.start..self.end];
            let (found, keep) = match &self.kind {
                Kind::Byte { byte, .. } => (memchr::memchr(*byte, hay).map(|i| i + 1), 0),
                Kind::Csv { quote, .. } => {
                    let mut found = None;
                    for i in memchr::memchr2_iter(*quote, b'\n', hay) {
                        if hay[i] == *quote {
                            quoted = !quoted;
                        } else if !quoted {
                            found = Some(i + 1);
                            break;
                        }
                    }
                    (found, 0)
                }
                Kind::Bytes(finder) => (
                    finder.find(hay).map(|i| i + finder.needle().len()),
                    finder.needle().len() - 1,
                ),
            };
            if let Some(after) = found {
                self.start += after;
                return Ok(true);
            }
            if self.eof {
                // The file ends inside the partial record: no record starts after it.
                self.start = self.end;
                return Ok(true);
            }
            // Keep only what the search still needs: a partial delimiter.
            self.start = self.end - keep.min(self.end - self.start);
            if self.base + self.start as u64 >= until {
                return Ok(false);
            }
            self.fill(src)?;
        }
    }

    /// The CSV quote character (`"` for other framings), for messages.
    pub(crate) fn quote(&self) -> u8 {
        match self.kind {
            Kind::Csv { quote, .. } => quote,
            _ => b'"',
        }
    }

    /// The length of the delimiter: how far before a range's start to seek.
    pub(crate) fn delimiter_len(&self) -> usize {
        self.kind.delimiter_len()
    }

    /// Frames the record at the cursor (call after [`has_record`](Self::has_record) said there
    /// is one) and moves past it. A record longer than the limit is skipped when `skip_long`,
    /// otherwise `TooLong`.
    ///
    /// Always inlined: with a plain `#[inline]` the compiler kept it out of line in the reader's
    /// loop, and returning the `Framed` through memory cost text `sdf read --count` 4% (0.96×
    /// the time inlined, 20 `farm-bench` pairs; CSV 0.99×, JSON lines 1.01×).
    #[inline(always)]
    pub(crate) fn next(&mut self, src: &mut Source, skip_long: bool) -> Result<Framed<'_>> {
        // The common case, kept small enough to inline: a one-byte delimiter in the buffer.
        if let Kind::Byte { byte, strip_cr } = self.kind
            && let Some(i) = memchr::memchr(byte, &self.buf[self.start..self.end])
        {
            let from = self.start;
            let at = from + i;
            let to = if strip_cr && at > from && self.buf[at - 1] == b'\r' {
                at - 1
            } else {
                at
            };
            self.start = at + 1;
            return Ok(self.framed((from, to), false, skip_long));
        }
        self.next_slow(src, skip_long)
    }

    #[inline(never)]
    fn next_slow(&mut self, src: &mut Source, skip_long: bool) -> Result<Framed<'_>> {
        let threshold = self.max_len.saturating_add(match &self.kind {
            Kind::Bytes(f) => f.needle().len() - 1,
            _ => 1,
        });
        let mut scan = self.start;
        let mut quotes = Quotes::default();
        let mut skipping = false;
        loop {
            match self.search(scan, &mut quotes) {
                Found::End { at, after } => {
                    let record = (self.start, self.strip_cr(self.start, at));
                    self.start = after;
                    return Ok(self.framed(record, skipping, skip_long));
                }
                Found::Bad { at, fault } => {
                    return Ok(Framed::BadCsv {
                        record: self.base + self.start as u64,
                        at: self.base + at as u64,
                        fault,
                    });
                }
                Found::Not { .. } if self.eof && quotes.inside => {
                    return Ok(Framed::BadCsv {
                        record: self.base + self.start as u64,
                        at: self.base + self.start as u64,
                        fault: CsvFault::Unterminated {
                            opened_at: self.base + quotes.opened as u64,
                        },
                    });
                }
                Found::Not { resume } if self.eof => {
                    let _ = resume;
                    // A last record without its delimiter: whole only if the file ends here.
                    src.check_last_record(self.base + self.start as u64)?;
                    let record = (self.start, self.strip_cr(self.start, self.end));
                    self.start = self.end;
                    return Ok(self.framed(record, skipping, skip_long));
                }
                Found::Not { resume } => {
                    scan = resume;
                    if !skipping && self.end - self.start > threshold {
                        if !skip_long {
                            return Ok(Framed::TooLong);
                        }
                        skipping = true;
                    }
                    if skipping {
                        // Keep only what the search still needs: a partial delimiter, or the
                        // CSV byte whose meaning depends on the next.
                        let keep = (self.kind.delimiter_len() - 1).max(self.end - scan);
                        self.start = self.end - keep.min(self.end - self.start);
                        scan = self.start;
                    }
                    let offset = scan - self.start;
                    let opened = quotes.opened.saturating_sub(self.start);
                    self.fill(src)?;
                    scan = self.start + offset;
                    quotes.opened = self.start + opened;
                }
            }
        }
    }

    #[inline]
    fn framed(
        &mut self,
        (from, to): (usize, usize),
        skipping: bool,
        skip_long: bool,
    ) -> Framed<'_> {
        if skipping {
            Framed::Skipped
        } else if to - from > self.max_len {
            if skip_long {
                Framed::Skipped
            } else {
                Framed::TooLong
            }
        } else if self.utf8.on && self.is_utf8(from, to) {
            let bytes = &self.buf[from..to];
            debug_assert!(std::str::from_utf8(bytes).is_ok());
            // SAFETY: `is_utf8` says `buf[from..to]` lies in a region that was checked to be
            // valid UTF-8, and that both of its ends are char boundaries (see `Utf8`), so the
            // slice is valid UTF-8 on its own. Nothing wrote to the buffer since the check:
            // only `fill` writes, after the checked indices were moved with the bytes.
            #[allow(unsafe_code)]
            Framed::Text(unsafe { std::str::from_utf8_unchecked(bytes) })
        } else {
            Framed::Record(&self.buf[from..to])
        }
    }

    /// Whether the record `buf[from..to]` (`from` a record start, `to` its end before any
    /// delimiter) is inside the valid UTF-8 region, checking the buffer past what was checked.
    #[inline]
    fn is_utf8(&mut self, from: usize, to: usize) -> bool {
        if to > self.utf8.checked {
            self.check_region(from);
        }
        let (start, end) = self.utf8.valid;
        // Both ends are char boundaries: `from` is a region start or follows the previous
        // record's ASCII delimiter; `to` is a region end or an ASCII byte (the delimiter, or the
        // `\r` stripped before it) inside the region.
        start <= from && to <= end
    }

    /// Checks `buf[from..cut]`: from where checking stopped (or the start of the record that
    /// asks, if later) to just past the last delimiter byte in the buffer (or to its end at the
    /// end of the file), so that every region ends on a char boundary of valid text. The record
    /// that asks ends before its delimiter, which is in the buffer, so the cut is past it.
    #[cold]
    fn check_region(&mut self, record: usize) {
        let from = self.utf8.checked.max(record);
        let last = match self.kind {
            Kind::Byte { byte, .. } => byte,
            _ => b'\n',
        };
        let cut = if self.eof {
            self.end
        } else {
            match memchr::memrchr(last, &self.buf[from..self.end]) {
                Some(i) => from + i + 1,
                None => return,
            }
        };
        if cut <= from {
            return;
        }
        self.utf8.checked = cut;
        if simdutf8::basic::from_utf8(&self.buf[from..cut]).is_ok() {
            let (start, end) = self.utf8.valid;
            // Extend a valid region that ends where this one starts; else start anew.
            self.utf8.valid = if end == from && start <= from {
                (start, cut)
            } else {
                (from, cut)
            };
        }
    }

    /// The end of a record that ends before `at`, without a `\r` just before it (lines, CSV).
    #[inline]
    fn strip_cr(&self, from: usize, at: usize) -> usize {
        if self.kind.strips_cr() && at > from && self.buf[at - 1] == b'\r' {
            at - 1
        } else {
            at
        }
    }

    /// Searches `buf[scan..end]` for the end of the record at `start`.
    #[inline]
    fn search(&self, scan: usize, quotes: &mut Quotes) -> Found {
        let hay = &self.buf[scan..self.end];
        match &self.kind {
            Kind::Byte { byte, .. } => match memchr::memchr(*byte, hay) {
                Some(i) => Found::End {
                    at: scan + i,
                    after: scan + i + 1,
                },
                None => Found::Not { resume: self.end },
            },
            Kind::Bytes(finder) => match finder.find(hay) {
                Some(i) => Found::End {
                    at: scan + i,
                    after: scan + i + finder.needle().len(),
                },
                None => {
                    let keep = finder.needle().len() - 1;
                    Found::Not {
                        resume: self.end.saturating_sub(keep).max(scan),
                    }
                }
            },
            Kind::Csv {
                quote,
                delimiter,
                multiline,
            } => self.search_csv(scan, quotes, *quote, *delimiter, *multiline),
        }
    }

    /// The CSV search: the end of the record, checking each quote and `\r` on the way (see
    /// [`Framing::Csv`]). A byte whose meaning depends on the next one, when that one is not
    /// in yet, is searched again after the fill (`Not { resume }` at it, `quotes` as before it).
    #[inline]
    fn search_csv(
        &self,
        scan: usize,
        quotes: &mut Quotes,
        quote: u8,
        delimiter: u8,
        multiline: bool,
    ) -> Found {
        let (buf, end) = (&self.buf[..self.end], self.end);
        let mut i = scan;
        loop {
            let found = if !quotes.inside {
                memchr::memchr3(quote, b'\n', b'\r', &buf[i..])
            } else if multiline {
                memchr::memchr(quote, &buf[i..])
            } else {
                memchr::memchr2(quote, b'\n', &buf[i..])
            };
            let Some(j) = found.map(|j| i + j) else {
                return Found::Not { resume: end };
            };
            let byte = buf[j];
            let next = buf.get(j + 1).copied();
            if byte == quote {
                if !quotes.inside {
                    if j != self.start && buf[j - 1] != delimiter {
                        return Found::Bad {
                            at: j,
                            fault: CsvFault::StrayQuote,
                        };
                    }
                    (quotes.inside, quotes.opened) = (true, j);
                    i = j + 1;
                    continue;
                }
                match next {
                    None if !self.eof => return Found::Not { resume: j },
                    Some(n) if n == quote => i = j + 2,
                    None => {
                        quotes.inside = false;
                        i = j + 1;
                    }
                    Some(n) if n == delimiter || n == b'\n' || n == b'\r' => {
                        quotes.inside = false;
                        i = j + 1;
                    }
                    Some(n) => {
                        return Found::Bad {
                            at: j + 1,
                            fault: CsvFault::AfterClosingQuote(n),
                        };
                    }
                }
            } else if byte == b'\n' {
                if !quotes.inside {
                    return Found::End {
                        at: j,
                        after: j + 1,
                    };
                }
                return Found::Bad {
                    at: j,
                    fault: CsvFault::QuotedNewline,
                };
            } else {
                // A `\r` outside quotes: the first half of a line end, or the last byte.
                match next {
                    None if !self.eof => return Found::Not { resume: j },
                    None | Some(b'\n') => i = j + 1,
                    Some(_) => {
                        return Found::Bad {
                            at: j,
                            fault: CsvFault::LoneCr,
                        };
                    }
                }
            }
        }
    }

    /// Reads more bytes after the pending ones, moving them to the front and growing the buffer
    /// (up to what the record-length limit needs) when they fill it.
    fn fill(&mut self, src: &mut Source) -> Result<()> {
        if self.start > 0 {
            let shift = self.start;
            self.buf.copy_within(shift..self.end, 0);
            self.base += shift as u64;
            self.end -= shift;
            self.start = 0;
            // The checked bytes moved with the rest; what was before the cursor is gone (a
            // valid region starting there still holds from the cursor on).
            let (start, end) = self.utf8.valid;
            self.utf8.valid = (start.saturating_sub(shift), end.saturating_sub(shift));
            self.utf8.checked = self.utf8.checked.saturating_sub(shift);
        }
        if self.end == self.buf.len() {
            let cap = self.max_len.saturating_add(self.kind.delimiter_len() + 1);
            let len = self
                .buf
                .len()
                .saturating_mul(2)
                .min(cap)
                .max(self.buf.len() + 1);
            self.buf.resize(len, 0);
        }
        let n = src.read(&mut self.buf[self.end..])?;
        self.end += n;
        self.eof = n == 0;
        Ok(())
    }
}
