//! Where a CSV range's first record starts when quoted fields may hold newlines: the quote
//! state at the byte before the range, decided from the bytes after it.
//!
//! A range `[a, b)` owns the records that start in it. A record starts after a `\n` that is
//! outside quotes, and since quotes are checked as they are read ([`Framing::Csv`]), the quote
//! state at any byte is the parity of the quotes before it: a fact of the file, the same for
//! every way of splitting it. A range that starts at `a` needs the state before byte `a − 1`
//! without reading `[0, a)`, and gets it by testing the two possibilities against what follows:
//!
//! - **Inside quotes** is ruled out by a quote followed by anything but a delimiter, a line end,
//!   another quote or the end of the file (it would have to close the field), by the end of
//!   the file (the field would never close), or, when too-long records are errors, by no record
//!   ending within the record-length limit (the record would be too long, and its own range
//!   fails the read).
//! - **Outside quotes** is ruled out by a quote after anything but a delimiter or a line end
//!   (it would have to open a field), or by a lone `\r`.
//!
//! Each possibility is followed with the framer's rules until one breaks them; in real files a
//! few quotes decide it (a quote next to a letter does). The one that survives is the file's
//! state, because the file's real state never breaks a rule in a file that keeps them; and in a
//! file that does not keep them, the range whose record breaks a rule fails the read, so
//! no split reads a file differently from a reader that starts at byte 0 without failing.
//! When neither breaks within the look-ahead (the limit, or 64 MiB when long records are
//! skipped) or both break, the quotes of `[0, a − 1)` are counted: the exact answer, at the
//! price of reading the start of the file.
//!
//! [`Framing::Csv`]: super::frame::Framing::Csv

use super::options::TooLong;
use super::source::Source;
use crate::error::Result;

/// The look-ahead when long records are skipped (no length rules the inside state out).
const SKIPPING_LOOK_AHEAD: u64 = 64 << 20;

/// How far one possibility has got.
#[derive(Debug, Clone, Copy)]
struct Hypothesis {
    inside: bool,
    /// A quote inside quotes, or a `\r` outside, was the last byte read: its meaning depends
    /// on the next byte.
    pending: Option<u8>,
    /// Whether a record ended (a `\n` outside quotes) since the start.
    record_ended: bool,
    broken: bool,
}

impl Hypothesis {
    fn new(inside: bool) -> Self {
        Hypothesis {
            inside,
            pending: None,
            record_ended: false,
            broken: false,
        }
    }

    /// Follows the rules over `chunk`, whose previous byte is `prev`; `eof` if the file ends
    /// after it.
    fn step(&mut self, chunk: &[u8], prev: u8, eof: bool, rules: &Rules) {
        let mut i = 0;
        if let Some(byte) = self.pending.take() {
            match chunk.first() {
                None if !eof => {
                    self.pending = Some(byte);
                    return;
                }
                first => {
                    if !self.resolve(byte, first.copied(), rules, &mut i) {
                        self.broken = true;
                        return;
                    }
                }
            }
        }
        while i < chunk.len() {
            let found = if self.inside {
                memchr::memchr(rules.quote, &chunk[i..])
            } else {
                memchr::memchr3(rules.quote, b'\n', b'\r', &chunk[i..])
            };
            let Some(j) = found.map(|j| i + j) else {
                break;
            };
            let byte = chunk[j];
            let before = if j == 0 { prev } else { chunk[j - 1] };
            if byte == b'\n' {
                self.record_ended = true;
                i = j + 1;
            } else if byte == rules.quote && !self.inside {
                if before != rules.delimiter && before != b'\n' {
                    self.broken = true;
                    return;
                }
                self.inside = true;
                i = j + 1;
            } else {
                // A quote inside quotes, or a `\r` outside: what follows decides.
                i = j + 1;
                match chunk.get(j + 1) {
                    None if !eof => {
                        self.pending = Some(byte);
                        break;
                    }
                    next => {
                        if !self.resolve(byte, next.copied(), rules, &mut i) {
                            self.broken = true;
                            return;
                        }
                    }
                }
            }
        }
        if eof && self.inside {
            // The file ends inside a quoted field that never closes.
            self.broken = true;
        }
    }

    /// The meaning of `byte` (a quote inside quotes, or a `\r` outside) given the byte after it
    /// (`None`: the end of the file), which is at index `*i` of the chunk; `false` if none.
    fn resolve(&mut self, byte: u8, next: Option<u8>, rules: &Rules, i: &mut usize) -> bool {
        if byte == b'\r' {
            // `\r\n` is a line end (the `\n` is read next), a `\r` at the end of the file too.
            return matches!(next, None | Some(b'\n'));
        }
        match next {
            Some(n) if n == rules.quote => {
                *i += 1;
                true
            }
            None => {
                self.inside = false;
                true
            }
            Some(n) if n == rules.delimiter || n == b'\n' || n == b'\r' => {
                self.inside = false;
                true
            }
            Some(_) => false,
        }
    }
}

/// The bytes that matter.
struct Rules {
    quote: u8,
    delimiter: u8,
}

/// Whether byte `at` of the file is inside a quoted field, for `at > 0` (with `at − 1` a byte
/// of a data record or the header's last byte). The source is left anywhere: seek it after.
pub(crate) fn quoted_before(
    source: &mut Source,
    at: u64,
    quote: u8,
    delimiter: u8,
    max_len: usize,
    too_long: TooLong,
) -> Result<bool> {
    let rules = Rules { quote, delimiter };
    let look_ahead = match too_long {
        TooLong::Fail => max_len as u64,
        TooLong::Skip => SKIPPING_LOOK_AHEAD,
    };
    source.seek(at - 1)?;
    let mut byte = [0u8; 1];
    if source.read(&mut byte)? == 0 {
        return Ok(false);
    }
    let mut prev = byte[0];
    let mut buf = vec![0u8; 16 << 10];
    let (mut inside, mut outside) = (Hypothesis::new(true), Hypothesis::new(false));
    let mut read: u64 = 0;
    loop {
        let n = fill(source, &mut buf)?;
        let eof = n < buf.len();
        let chunk = &buf[..n];
        read += n as u64;
        inside.step(chunk, prev, eof, &rules);
        if !inside.broken {
            outside.step(chunk, prev, eof, &rules);
        }
        if !inside.broken && !inside.record_ended && too_long == TooLong::Fail && read > look_ahead
        {
            // Inside quotes, the record holding `at` would be longer than the limit.
            inside.broken = true;
        }
        match (inside.broken, outside.broken) {
            (true, false) => return Ok(false),
            (false, true) => return Ok(true),
            (true, true) => break,
            (false, false) if eof || read > look_ahead => break,
            (false, false) => {}
        }
        prev = chunk.last().copied().unwrap_or(prev);
        if buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
        }
    }
    // Undecided (or the file breaks the rules either way): count the quotes before `at`.
    source.seek(0)?;
    let mut left = at;
    let mut odd = false;
    buf.resize(1 << 20, 0);
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = source.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        odd ^= memchr::memchr_iter(quote, &buf[..n]).count() % 2 == 1;
        left -= n as u64;
    }
    Ok(odd)
}

/// Reads until `buf` is full or the file ends; the bytes read.
fn fill(source: &mut Source, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let got = source.read(&mut buf[n..])?;
        if got == 0 {
            break;
        }
        n += got;
    }
    Ok(n)
}
