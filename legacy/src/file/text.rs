//! [`TextLines`]: newline-delimited text, the seed's text source, as a [`FileFormat`].

use std::io::BufRead;

use serde::{Deserialize, Serialize};

use super::{FileFormat, FileRange, OpenFile};
use crate::bounded::SourceReader;
use crate::error::Result;

/// Lines of UTF-8 text, one record per line, each a split point at the offset of its first
/// byte. A small example format; the text connector proper lives elsewhere.
///
/// - Lines end with `\n` or `\r\n`, which are not part of the record. A lone `\r` is text.
/// - The last line is a record even without a final newline; an empty line is a record, but
///   nothing after the final newline is.
/// - A UTF-8 byte-order mark at the start of the file is dropped.
/// - A line belongs to the range in which it starts: a range starting at `s > 0` seeks to
///   `s − 1` and skips through the first `\n`, so that its first line is the first to start at
///   or after `s` (the line before it, ending at `s − 1` or later, belongs to the range before).
/// - A line that is not UTF-8 is an error naming the file and the line's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TextLines;

/// The UTF-8 byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

impl FileFormat for TextLines {
    type Record = String;

    fn read_records<'a>(
        &'a self,
        mut file: OpenFile,
        range: FileRange,
    ) -> Result<SourceReader<'a, String>> {
        let start = range.start_position();
        if start > 0 {
            file.seek(start - 1)?;
            file.skip_until(b'\n')
                .map_err(|e| file.error(start - 1, e))?;
        }
        Ok(Box::new(Lines {
            file,
            range,
            line: Vec::new(),
            done: false,
        }))
    }
}

struct Lines {
    file: OpenFile,
    range: FileRange,
    line: Vec<u8>,
    done: bool,
}

impl Lines {
    fn next_line(&mut self) -> Result<Option<String>> {
        let offset = self.file.position();
        self.line.clear();
        let read = self.file.read_until(b'\n', &mut self.line);
        if read.map_err(|e| self.file.error(offset, e))? == 0 {
            return Ok(None);
        }
        // Claimed before it is decoded: a bad line in the next range is that range's error.
        if !self.range.try_claim(offset)? {
            return Ok(None);
        }
        let mut line = self.line.as_slice();
        if let Some(rest) = line.strip_suffix(b"\n") {
            line = rest.strip_suffix(b"\r").unwrap_or(rest);
        }
        if offset == 0 {
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        match std::str::from_utf8(line) {
            Ok(text) => Ok(Some(text.to_string())),
            Err(e) => Err(self.file.error(offset, NotUtf8(e))),
        }
    }
}

impl Iterator for Lines {
    type Item = Result<String>;

    fn next(&mut self) -> Option<Result<String>> {
        if self.done {
            return None;
        }
        let next = self.next_line().transpose();
        self.done = !matches!(next, Some(Ok(_)));
        next
    }
}

/// A line that is not UTF-8.
#[derive(Debug, thiserror::Error)]
#[error("the line is not UTF-8 ({0}); read the file with a format for its encoding")]
struct NotUtf8(std::str::Utf8Error);
