//! [`FileFormat`]: how records become the bytes of a file, with its header and footer; and the
//! three formats of this crate, [`Text`], [`Json`] and [`Csv`].

use std::fmt::Display;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

/// Why a format could not encode a record.
pub type EncodeError = Box<dyn std::error::Error + Send + Sync>;

/// How records of type `T` are written to a file.
///
/// A sink creates a file only for its first record, so every file has a header, at least one
/// record and a footer. Names come from the sink's naming policy, never from here.
///
/// ```
/// use sdf_connectors::{EncodeError, FileFormat};
///
/// /// One `key=value` line per record, with a count-free banner.
/// struct KeyValue;
///
/// impl FileFormat<(String, i64)> for KeyValue {
///     fn suffix(&self) -> &str {
///         ".kv"
///     }
///     fn header(&mut self, _first: &(String, i64), out: &mut Vec<u8>) -> Result<(), EncodeError> {
///         out.extend_from_slice(b"# key=value\n");
///         Ok(())
///     }
///     fn record(&mut self, (k, v): &(String, i64), _index: u64, out: &mut Vec<u8>) -> Result<(), EncodeError> {
///         if k.contains(['=', '\n']) {
///             return Err(format!("key {k:?} has '=' or a newline").into());
///         }
///         out.extend_from_slice(format!("{k}={v}\n").as_bytes());
///         Ok(())
///     }
/// }
/// ```
pub trait FileFormat<T>: Send + 'static {
    /// The suffix of default file names, e.g. `".jsonl"`.
    fn suffix(&self) -> &str;

    /// Appends what a file starts with, given its first record (a CSV header, `[`).
    fn header(&mut self, _first: &T, _out: &mut Vec<u8>) -> Result<(), EncodeError> {
        Ok(())
    }

    /// Appends `record`, the `index`-th of its file (0 for the first).
    fn record(&mut self, record: &T, index: u64, out: &mut Vec<u8>) -> Result<(), EncodeError>;

    /// Appends what a file ends with.
    fn footer(&mut self, _out: &mut Vec<u8>) {}

    /// Appends what a file ends with, or fails (a footer that encodes the file's contents, like
    /// Parquet's). The default calls [`footer`](Self::footer); the sink calls this one.
    fn try_footer(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.footer(out);
        Ok(())
    }

    /// Says which file the calls that follow are about, until the next call of this: `file`
    /// numbers the files a sink creates, and several may be open at once (with shards). A
    /// format that keeps state per file (an encoder that buffers, like Parquet's) keys it by
    /// this; the default ignores it.
    fn switch_file(&mut self, _file: u64) {}

    /// A copy in its initial state, for another sink writing the same way (a Beam runner's
    /// sink per bundle attempt, [`WriteFiles`](crate::WriteFiles)'s `Sink::attempts`). `None`,
    /// the default: such sinks cannot be made, and `WriteFiles` runs on the embedded runtime
    /// only.
    fn fresh(&self) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

/// One line per record, written with `Display`, plus optional fixed header and footer text.
/// Records are written as they are: one that contains a newline reads back as several lines.
#[derive(Debug, Clone, Default)]
pub struct Text {
    header: String,
    footer: String,
}

impl Text {
    /// Lines, no header or footer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Text at the start of every file, written as given (end it with `\n`).
    pub fn header(mut self, text: impl Into<String>) -> Self {
        self.header = text.into();
        self
    }

    /// Text at the end of every file, written as given.
    pub fn footer(mut self, text: impl Into<String>) -> Self {
        self.footer = text.into();
        self
    }
}

impl<T: Display> FileFormat<T> for Text {
    fn suffix(&self) -> &str {
        ".txt"
    }
    fn header(&mut self, _first: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.extend_from_slice(self.header.as_bytes());
        Ok(())
    }
    fn record(&mut self, record: &T, _index: u64, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        writeln!(out, "{record}")?;
        Ok(())
    }
    fn footer(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.footer.as_bytes());
    }

    fn fresh(&self) -> Option<Self> {
        Some(self.clone())
    }
}

/// JSON with serde: one document per line (`.jsonl`), or one array per file (`.json`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json {
    array: bool,
}

impl Json {
    /// JSON lines: one document per line.
    pub fn lines() -> Self {
        Json { array: false }
    }

    /// One JSON array per file, one element per line: `[`, the records separated by `,`, `]`.
    pub fn array() -> Self {
        Json { array: true }
    }
}

impl<T: Serialize> FileFormat<T> for Json {
    fn suffix(&self) -> &str {
        if self.array { ".json" } else { ".jsonl" }
    }
    fn fresh(&self) -> Option<Self> {
        Some(*self)
    }
    fn header(&mut self, _first: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if self.array {
            out.extend_from_slice(b"[\n");
        }
        Ok(())
    }
    fn record(&mut self, record: &T, index: u64, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if self.array && index > 0 {
            out.extend_from_slice(b",\n");
        }
        serde_json::to_writer(&mut *out, record)?;
        if !self.array {
            out.push(b'\n');
        }
        Ok(())
    }
    fn footer(&mut self, out: &mut Vec<u8>) {
        if self.array {
            out.extend_from_slice(b"\n]\n");
        }
    }
}

/// CSV with serde (structs, tuples, sequences of fields), quoting as needed; a header row
/// given, taken from the field names of each file's first record, or none.
#[derive(Debug)]
pub struct Csv {
    header: CsvHeader,
    delimiter: u8,
    tap: Tap,
    writer: csv::Writer<Tap>,
}

#[derive(Debug, Clone)]
enum CsvHeader {
    None,
    Given(Vec<String>),
    FromRecords,
}

impl Csv {
    /// CSV without a header row.
    pub fn new() -> Self {
        Self::build(CsvHeader::None, b',')
    }

    /// CSV whose files start with `columns` as a header row.
    pub fn with_header<I: IntoIterator<Item = S>, S: Into<String>>(columns: I) -> Self {
        let columns = columns.into_iter().map(Into::into).collect();
        Self::build(CsvHeader::Given(columns), b',')
    }

    /// CSV whose files start with the field names of their first record (a struct with named
    /// fields; tuples and sequences have none, and get no header).
    pub fn with_header_from_records() -> Self {
        Self::build(CsvHeader::FromRecords, b',')
    }

    /// Separates fields with `delimiter` instead of `,`.
    pub fn delimiter(self, delimiter: u8) -> Self {
        Self::build(self.header, delimiter)
    }

    fn build(header: CsvHeader, delimiter: u8) -> Self {
        let tap = Tap::default();
        let writer = Self::builder(delimiter, false).from_writer(tap.clone());
        Csv {
            header,
            delimiter,
            tap,
            writer,
        }
    }

    fn builder(delimiter: u8, headers: bool) -> csv::WriterBuilder {
        let mut builder = csv::WriterBuilder::new();
        builder.delimiter(delimiter).has_headers(headers);
        builder
    }
}

impl Default for Csv {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Serialize> FileFormat<T> for Csv {
    fn suffix(&self) -> &str {
        ".csv"
    }

    fn fresh(&self) -> Option<Self> {
        Some(Self::build(self.header.clone(), self.delimiter))
    }

    fn header(&mut self, first: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match &self.header {
            CsvHeader::None => {}
            CsvHeader::Given(columns) => {
                let mut w = Self::builder(self.delimiter, false).from_writer(&mut *out);
                w.write_record(columns)?;
                w.flush()?;
            }
            CsvHeader::FromRecords => {
                // The header is what a header-writing writer puts before the record.
                let mut both = Self::builder(self.delimiter, true).from_writer(Vec::new());
                both.serialize(first)?;
                let both = both.into_inner().map_err(|e| e.into_error())?;
                let mut alone = Self::builder(self.delimiter, false).from_writer(Vec::new());
                alone.serialize(first)?;
                let alone = alone.into_inner().map_err(|e| e.into_error())?;
                out.extend_from_slice(&both[..both.len().saturating_sub(alone.len())]);
            }
        }
        Ok(())
    }

    fn record(&mut self, record: &T, _index: u64, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let written = self.writer.serialize(record).and_then(|()| {
            self.writer.flush()?;
            Ok(())
        });
        if let Err(e) = written {
            // A half-written record may remain in the writer: start afresh, drop its bytes.
            self.writer = Self::builder(self.delimiter, false).from_writer(self.tap.clone());
            self.tap.take();
            return Err(e.into());
        }
        out.append(&mut self.tap.take());
        Ok(())
    }
}

/// Where the CSV writer puts its bytes, so that each record's can be taken without
/// rebuilding the writer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tap(Arc<Mutex<Vec<u8>>>);

impl Tap {
    pub(crate) fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Write for Tap {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut buf = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;

/// CSV of [`CsvRow`](crate::read::CsvRow)s, as [`ReadCsv::rows`](crate::ReadCsv::rows) reads
/// them: each file starts with the header of its first row, and every row is written in that
/// header's order, by name, so files whose columns come in another order are merged correctly.
/// A row whose names are not the file's (other columns, or none) is an error, never a row
/// under the wrong header; rows without a header make files without one.
#[derive(Debug)]
pub struct CsvRows {
    delimiter: u8,
    /// The header of each open file, by the sink's file number.
    headers: std::collections::HashMap<u64, Option<Arc<crate::read::CsvHeader>>>,
    file: u64,
    /// For a row of another header: where each of the file's columns is in the row.
    order: Vec<usize>,
}

impl CsvRows {
    /// CSV rows separated by `,`.
    pub fn new() -> Self {
        CsvRows {
            delimiter: b',',
            headers: Default::default(),
            file: 0,
            order: Vec::new(),
        }
    }

    /// Separates fields with `delimiter` instead of `,`.
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    fn write<I: IntoIterator<Item = impl AsRef<[u8]>>>(
        &self,
        fields: I,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let mut w = csv::WriterBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(false)
            .from_writer(&mut *out);
        w.write_record(fields)?;
        w.flush()?;
        Ok(())
    }
}

impl Default for CsvRows {
    fn default() -> Self {
        Self::new()
    }
}

impl FileFormat<crate::read::CsvRow> for CsvRows {
    fn suffix(&self) -> &str {
        ".csv"
    }

    fn fresh(&self) -> Option<Self> {
        Some(CsvRows::new().delimiter(self.delimiter))
    }

    fn switch_file(&mut self, file: u64) {
        self.file = file;
    }

    fn footer(&mut self, _out: &mut Vec<u8>) {
        self.headers.remove(&self.file);
    }

    fn header(
        &mut self,
        first: &crate::read::CsvRow,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        self.headers.insert(self.file, first.header().cloned());
        if let Some(header) = first.header() {
            self.write(header.names(), out)?;
        }
        Ok(())
    }

    fn record(
        &mut self,
        row: &crate::read::CsvRow,
        _index: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let Some(file_header) = self.headers.get(&self.file) else {
            return Err("a CSV row before its file's header".into());
        };
        let same = match (file_header, row.header()) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a.names() == b.names(),
            _ => false,
        };
        if same {
            return self.write(row.fields(), out);
        }
        let names = |h: Option<&Arc<crate::read::CsvHeader>>| match h {
            Some(h) => format!("{:?}", h.names()),
            None => "no header".to_string(),
        };
        let mismatch = || -> EncodeError {
            format!(
                "a row with columns {} cannot go into a CSV file whose header is {}: the \
                 inputs have different columns; write them to separate outputs",
                names(row.header()),
                names(file_header.as_ref())
            )
            .into()
        };
        let (Some(file_header), Some(header)) = (file_header, row.header()) else {
            return Err(mismatch());
        };
        // The same names in another order: each of the file's columns, found by name.
        self.order.clear();
        if header.names().len() != file_header.names().len() {
            return Err(mismatch());
        }
        for name in file_header.names() {
            match header.names().iter().position(|n| n == name) {
                Some(i) => self.order.push(i),
                None => return Err(mismatch()),
            }
        }
        let fields = row.fields();
        if fields.len() != self.order.len() {
            return Err(format!(
                "a row with {} fields under a header of {} cannot be written by name",
                fields.len(),
                self.order.len()
            )
            .into());
        }
        let reordered: Vec<&str> = self.order.iter().map(|&i| fields[i].as_str()).collect();
        self.write(reordered, out)
    }
}
