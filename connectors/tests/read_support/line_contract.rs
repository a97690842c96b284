//! The line contract as an oracle: the records of a text file computed from its bytes as the
//! module docs of `sdf_connectors::read` (and `Framing`'s) define them, by a plain scan that
//! shares nothing with the reader: no buffer, no seek, no `memchr`, one byte at a time.

/// The UTF-8 byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Where the records of a file end.
#[derive(Debug, Clone, Copy)]
pub enum Ends<'a> {
    /// Lines (`Framing::Lines`): a record ends at `\n`; one `\r` at the end of a record (before
    /// its `\n`, or at the end of the last one) is not part of it; a lone `\r` is text.
    Lines,
    /// A delimiter of the reader's `delimiter(…)`, taken as is (no `\r` is dropped).
    Delimiter(&'a [u8]),
}

/// The records of a file of `bytes`, in order:
/// - each delimiter ends a record (the delimiter is not part of it); scanning from the left,
///   the first complete delimiter wins (delimiters do not overlap themselves);
/// - what follows the last delimiter is a last record if it is not empty;
/// - with [`Ends::Lines`], one `\r` at the end of each record is dropped;
/// - a byte-order mark at the start of the file is dropped from the first record;
/// - the first `header_lines` records are headers, not records.
pub fn line_records(bytes: &[u8], ends: Ends<'_>, header_lines: usize) -> Vec<Vec<u8>> {
    let delimiter: &[u8] = match ends {
        Ends::Lines => b"\n",
        Ends::Delimiter(d) => d,
    };
    assert!(!delimiter.is_empty());
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(delimiter) {
            records.push(std::mem::take(&mut record));
            i += delimiter.len();
        } else {
            record.push(bytes[i]);
            i += 1;
        }
    }
    if !record.is_empty() {
        records.push(record);
    }
    if let Ends::Lines = ends {
        for record in &mut records {
            if record.last() == Some(&b'\r') {
                record.pop();
            }
        }
    }
    if let Some(first) = records.first_mut()
        && first.starts_with(BOM)
    {
        first.drain(..BOM.len());
    }
    records.drain(..header_lines.min(records.len()));
    records
}

/// [`line_records`] as strings (the records must be UTF-8).
pub fn line_strings(bytes: &[u8], ends: Ends<'_>, header_lines: usize) -> Vec<String> {
    line_records(bytes, ends, header_lines)
        .into_iter()
        .map(|r| String::from_utf8(r).expect("the records of the oracle's input are UTF-8"))
        .collect()
}
