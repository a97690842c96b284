//! [`ReadCsv`]: CSV records, typed with serde or as [`CsvRow`]s keyed by the header.

use std::marker::PhantomData;
use std::sync::Arc;

use csv_core::{ReadRecordResult, Terminator};
use serde::de::DeserializeOwned;
use serde::ser::{SerializeMap, SerializeSeq};

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
/// let read = ReadCsv::<Row>::new().delimiter(b';');
/// # let _ = read;
/// ```
pub type ReadCsv<T = Vec<String>> = ReadFile<Csv<T>>;

/// The CSV format (RFC 4180): fields separated by a delimiter (`,`), quoted with `"` where
/// needed (`""` is a quote inside a quoted field), records ending with `\n` or `\r\n`.
///
/// - **Headers** (default on): the first record of each file names the columns; a struct `T`
///   is filled by name, a [`CsvRow`] keeps them. Every call reads the header record from the
///   start of the file (one small read), so ranges that start anywhere deserialize the same way.
/// - **Quoted fields may hold newlines, and files still split at any byte.** A range finds its
///   first record by deciding whether the byte before it is inside quotes, from the bytes that
///   follow (see the reader's module docs); every split reads the records a reader from byte 0
///   reads. [`multiline(false)`](ReadFile::multiline) refuses newlines in quoted fields instead.
/// - **Strict quoting**: a quote only opens a field at its start and only closes it before a
///   delimiter or a line end; a `\r` outside quotes only comes before `\n` (CR-only line ends
///   are refused, never read as one long record); a quoted field still open at the end of the
///   file is an error. Each of these fails the read, naming the file and offset
///   ([`Error::BadRecord`]).
/// - **Ragged rows**: with a header, a record with another number of fields than the header is
///   an error, unless [`flexible(true)`](ReadFile::flexible).
/// - Empty lines are skipped.
/// - Values that do not fit `T` fail with [`Error::BadRecord`] naming the file and offset.
pub struct Csv<T> {
    framing: Framing,
    delimiter: u8,
    has_headers: bool,
    flexible: bool,
    /// Whether the header's names must differ (rows keyed by them).
    keyed: bool,
    build: Build<T>,
    value: PhantomData<fn() -> T>,
}

/// How a parsed record becomes a `T`.
type Build<T> = fn(&CsvState) -> std::result::Result<T, String>;

impl<T> Clone for Csv<T> {
    fn clone(&self) -> Self {
        Csv {
            framing: self.framing.clone(),
            delimiter: self.delimiter,
            has_headers: self.has_headers,
            flexible: self.flexible,
            keyed: self.keyed,
            build: self.build,
            value: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Csv<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Csv")
            .field("framing", &self.framing)
            .field("delimiter", &self.delimiter)
            .field("has_headers", &self.has_headers)
            .field("flexible", &self.flexible)
            .finish()
    }
}

fn deserialize<T: DeserializeOwned>(state: &CsvState) -> std::result::Result<T, String> {
    state
        .record
        .deserialize(state.header.as_ref().map(|h| &h.record))
        .map_err(|e| format!("{e}; check the columns against the type read"))
}

fn csv_with<T>(build: Build<T>, keyed: bool) -> Csv<T> {
    Csv {
        framing: Framing::Csv {
            quote: b'"',
            delimiter: b',',
            multiline: true,
        },
        delimiter: b',',
        has_headers: true,
        flexible: false,
        keyed,
        build,
        value: PhantomData,
    }
}

impl<T: DeserializeOwned + Send + 'static> ReadFile<Csv<T>> {
    /// A CSV reader: `,`, `"`, a header record, newlines allowed in quoted fields.
    pub fn new() -> Self {
        ReadFile::with_format(csv_with(deserialize::<T>, false))
    }
}

impl ReadFile<Csv<CsvRow>> {
    /// A CSV reader of [`CsvRow`]s: each record's fields with the header's names, printed
    /// (serialized) as an object keyed by them, or as an array without a header.
    pub fn rows() -> Self {
        ReadFile::with_format(csv_with(CsvRow::build, true))
    }
}

impl<T: Send + 'static> ReadFile<Csv<T>> {
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

    /// Whether the first record of each file is a header (default: yes). Without one, a struct
    /// `T` is filled by position.
    pub fn has_headers(mut self, yes: bool) -> Self {
        self.format_mut().has_headers = yes;
        self
    }

    /// Whether quoted fields may hold newlines (default: yes; files split at any byte either
    /// way). With `false`, such a newline fails the read.
    pub fn multiline(mut self, yes: bool) -> Self {
        if let Framing::Csv { multiline, .. } = &mut self.format_mut().framing {
            *multiline = yes;
        }
        self
    }

    /// Whether records may have another number of fields than the header (default: no, it is
    /// an error naming the record).
    pub fn flexible(mut self, yes: bool) -> Self {
        self.format_mut().flexible = yes;
        self
    }
}

impl<T: DeserializeOwned + Send + 'static> Default for ReadFile<Csv<T>> {
    fn default() -> Self {
        Self::new()
    }
}

/// A file's header: its column names, parsed once per call.
#[derive(Debug, PartialEq, Eq)]
pub struct CsvHeader {
    record: csv::ByteRecord,
    names: Vec<String>,
}

impl CsvHeader {
    /// The column names, in the file's order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// A CSV record: its fields, and the header of its file (none without headers).
///
/// It serializes as an object from the header's names to the fields, in the file's order (a
/// field past the header's, in a [flexible](ReadFile::flexible) read, is keyed by its column
/// number, from 1), or as an array of the fields without a header. Every call of one file
/// shares one header (`Arc`), so rows of the same file compare their headers in one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRow {
    header: Option<Arc<CsvHeader>>,
    fields: Vec<String>,
}

impl CsvRow {
    /// A row of `fields` under `header` (column names).
    pub fn new(header: Option<Vec<String>>, fields: Vec<String>) -> Self {
        let header = header.map(|names| {
            Arc::new(CsvHeader {
                record: csv::ByteRecord::from(names.clone()),
                names,
            })
        });
        CsvRow { header, fields }
    }

    /// The header of the row's file, if it has one.
    pub fn header(&self) -> Option<&Arc<CsvHeader>> {
        self.header.as_ref()
    }

    /// The fields, in the file's order.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// The field of column `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let header = self.header.as_ref()?;
        let i = header.names.iter().position(|n| n == name)?;
        self.fields.get(i).map(String::as_str)
    }

    fn build(state: &CsvState) -> std::result::Result<CsvRow, String> {
        let mut fields = Vec::with_capacity(state.record.len());
        for (i, field) in state.record.iter().enumerate() {
            match std::str::from_utf8(field) {
                Ok(text) => fields.push(text.to_string()),
                Err(e) => {
                    return Err(format!(
                        "field {} is not UTF-8 (byte {} of the field): {e}",
                        i + 1,
                        e.valid_up_to()
                    ));
                }
            }
        }
        Ok(CsvRow {
            header: state.header.clone(),
            fields,
        })
    }
}

impl serde::Serialize for CsvRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match &self.header {
            None => {
                let mut seq = s.serialize_seq(Some(self.fields.len()))?;
                for field in &self.fields {
                    seq.serialize_element(field)?;
                }
                seq.end()
            }
            Some(header) => {
                let mut map = s.serialize_map(Some(self.fields.len()))?;
                for (i, field) in self.fields.iter().enumerate() {
                    match header.names.get(i) {
                        Some(name) => map.serialize_entry(name, field)?,
                        None => map.serialize_entry(&(i + 1).to_string(), field)?,
                    }
                }
                map.end()
            }
        }
    }
}

/// The inverse of the serialization: an object is a row under a header of its keys, an array
/// a row without a header (so a row crosses a runner that encodes values with serde; each
/// decoded row then holds its own copy of the header).
impl<'de> serde::Deserialize<'de> for CsvRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = CsvRow;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a CSV row: an object of fields by column, or an array of fields")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<CsvRow, A::Error> {
                let mut fields = Vec::new();
                while let Some(field) = seq.next_element::<String>()? {
                    fields.push(field);
                }
                Ok(CsvRow::new(None, fields))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<CsvRow, A::Error> {
                let (mut names, mut fields) = (Vec::new(), Vec::new());
                while let Some((name, field)) = map.next_entry::<String, String>()? {
                    names.push(name);
                    fields.push(field);
                }
                Ok(CsvRow::new(Some(names), fields))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A call's CSV state: the parser, the header, and buffers reused from record to record.
pub struct CsvState {
    parser: csv_core::Reader,
    header: Option<Arc<CsvHeader>>,
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

impl<T: Send + 'static> Format for Csv<T> {
    type Output = T;
    type State = CsvState;

    fn framing(&self) -> &Framing {
        &self.framing
    }

    fn header_records(&self) -> usize {
        usize::from(self.has_headers)
    }

    fn start(&self, file: &FileMetadata, headers: Vec<Vec<u8>>) -> Result<CsvState> {
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
            header: None,
            record: csv::ByteRecord::new(),
            out: vec![0; 4096],
            ends: vec![0; 64],
        };
        if let Some(header) = headers.first() {
            state.parse(header);
            let bad = |reason: String| Error::BadRecord {
                at: crate::error::Location {
                    path: file.path.clone(),
                    offset: 0,
                    decoded: false,
                },
                format: "CSV",
                reason,
            };
            let record = csv::StringRecord::from_byte_record(state.record.clone())
                .map_err(|e| bad(format!("the header is not UTF-8: {e}")))?;
            let names: Vec<String> = record.iter().map(str::to_string).collect();
            let record = record.into_byte_record();
            for (i, name) in names.iter().enumerate().filter(|_| self.keyed) {
                if let Some(j) = names[..i].iter().position(|n| n == name) {
                    return Err(bad(format!(
                        "the header names column {name:?} twice (columns {} and {}), so rows \
                         cannot be keyed by it; rename one, or read the header as a record \
                         (ReadCsv::has_headers(false))",
                        j + 1,
                        i + 1
                    )));
                }
            }
            state.header = Some(Arc::new(CsvHeader { record, names }));
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
        if let Some(header) = &state.header
            && !self.flexible
            && state.record.len() != header.names.len()
        {
            return Err(cx.bad_record(
                "CSV",
                format!(
                    "the record has {} fields, the header {}; accept such records with \
                     ReadCsv::flexible(true)",
                    state.record.len(),
                    header.names.len()
                ),
            ));
        }
        (self.build)(state)
            .map(Some)
            .map_err(|e| cx.bad_record("CSV", e))
    }
}
