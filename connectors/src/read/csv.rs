//! [`ReadCsv`]: CSV records, typed with serde.

use std::marker::PhantomData;

use csv_core::{ReadRecordResult, Terminator};
use serde::de::DeserializeOwned;

use super::format::{Format, RecordContext};
use super::frame::Framing;
use super::reader::ReadFile;
use crate::error::{Error, Result};
use crate::file::FileMetadata;

/// Reads CSV records as `T` (default: the fields as `Vec<String>`); see [`Csv`] for the rules.
///
/// ```
/// use sdf_connectors::ReadCsv;
/// #[derive(serde::Deserialize)]
/// struct Row { id: u64, text: String }
/// let read = ReadCsv::<Row>::new().delimiter(b';').multiline(true);
/// # let _ = read;
/// ```
pub type ReadCsv<T = Vec<String>> = ReadFile<Csv<T>>;

/// The CSV format (RFC 4180): fields separated by a delimiter (`,`), quoted with `"` where
/// needed (`""` is a quote inside a quoted field), records ending with `\n` or `\r\n`.
///
/// - **Headers** (default on): the first record of each file names the columns; a struct `T`
///   is filled by name. Every call reads the header record from the start of the file (one small
///   read), so ranges that start anywhere deserialize the same way.
/// - **Newlines inside quoted fields.** By default files are split at any byte and a range finds
///   its first record after the first newline, so a quoted field must not hold a newline: a
///   reader that meets one fails, naming the file and offset ([`Error::BadRecord`]), and never
///   emits a record cut in two without failing the file. With
///   [`multiline(true)`](ReadFile::multiline) each file is read whole by one call chain, from its start, with
///   quotes tracked across lines: any valid CSV reads correctly, checkpoints included, at the
///   price of no parallelism within a file.
/// - Empty lines are skipped; a `\r` before `\n` ends the record, a lone `\r` is data.
/// - Values that do not fit `T` fail with [`Error::BadRecord`] naming the file and offset.
#[derive(Debug, Clone)]
pub struct Csv<T> {
    framing: Framing,
    delimiter: u8,
    has_headers: bool,
    value: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + Send + 'static> ReadFile<Csv<T>> {
    /// A CSV reader: `,`, `"`, a header record, no newlines in quoted fields.
    pub fn new() -> Self {
        ReadFile::with_format(Csv {
            framing: Framing::Csv {
                quote: b'"',
                multiline: false,
            },
            delimiter: b',',
            has_headers: true,
            value: PhantomData,
        })
    }

    /// The field delimiter (default `,`).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.format_mut().delimiter = delimiter;
        self
    }

    /// The quote character (default `"`).
    pub fn quote(mut self, quote: u8) -> Self {
        if let Framing::Csv { quote: q, .. } = &mut self.format_mut().framing {
            *q = quote;
        }
        self
    }

    /// Whether the first record of each file is a header (default: yes). Without one, a struct
    /// `T` is filled by position.
    pub fn has_headers(mut self, yes: bool) -> Self {
        self.format_mut().has_headers = yes;
        self
    }

    /// Whether quoted fields may hold newlines (default: no). With `true`, files are read whole,
    /// from the start; see [`Csv`].
    pub fn multiline(mut self, yes: bool) -> Self {
        if let Framing::Csv { multiline, .. } = &mut self.format_mut().framing {
            *multiline = yes;
        }
        self
    }
}

impl<T: DeserializeOwned + Send + 'static> Default for ReadFile<Csv<T>> {
    fn default() -> Self {
        Self::new()
    }
}

/// A call's CSV state: the parser, the header, and buffers reused from record to record.
pub struct CsvState {
    parser: csv_core::Reader,
    headers: Option<csv::ByteRecord>,
    record: csv::ByteRecord,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl CsvState {
    /// Parses `bytes` (one record, without its terminator) into `self.record`.
    fn parse(&mut self, bytes: &[u8]) {
        self.parser.reset();
        let (mut input, mut out_at, mut ends_at) = (bytes, 0, 0);
        let mut eof = false;
        loop {
            let (result, nin, nout, nend) =
                self.parser
                    .read_record(input, &mut self.out[out_at..], &mut self.ends[ends_at..]);
            input = &input[nin..];
            out_at += nout;
            ends_at += nend;
            match result {
                ReadRecordResult::InputEmpty if !eof => eof = true,
                ReadRecordResult::OutputFull => self.out.resize(self.out.len() * 2, 0),
                ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                _ => break,
            }
        }
        self.record.clear();
        let mut field = 0;
        for &end in &self.ends[..ends_at] {
            self.record.push_field(&self.out[field..end]);
            field = end;
        }
    }
}

impl<T: DeserializeOwned + Send + 'static> Format for Csv<T> {
    type Output = T;
    type State = CsvState;

    fn framing(&self) -> &Framing {
        &self.framing
    }

    fn header_records(&self) -> usize {
        usize::from(self.has_headers)
    }

    fn start(&self, _: &FileMetadata, headers: Vec<Vec<u8>>) -> Result<CsvState> {
        let Framing::Csv { quote, .. } = self.framing else {
            return Err(Error::InvalidOption {
                option: "framing",
                reason: "CSV needs CSV framing".into(),
            });
        };
        let parser = csv_core::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .quote(quote)
            .terminator(Terminator::Any(b'\n'))
            .build();
        let mut state = CsvState {
            parser,
            headers: None,
            record: csv::ByteRecord::new(),
            out: vec![0; 4096],
            ends: vec![0; 64],
        };
        if let Some(header) = headers.first() {
            state.parse(header);
            state.headers = Some(state.record.clone());
        }
        Ok(state)
    }

    fn decode(
        &self,
        state: &mut CsvState,
        cx: RecordContext<'_>,
        bytes: &[u8],
    ) -> Result<Option<T>> {
        if bytes.is_empty() {
            return Ok(None);
        }
        state.parse(bytes);
        state
            .record
            .deserialize(state.headers.as_ref())
            .map(Some)
            .map_err(|e| {
                cx.bad_record(
                    "CSV",
                    format!("{e}; check the columns against the type read"),
                )
            })
    }
}
