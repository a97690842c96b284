//! The yardsticks of the end-to-end benchmark (`benches/e2e/run.py`): what a plain program does
//! with the same files on the same number of threads, so that every `sdf` figure has a
//! baseline measured in the same run.
//!
//! ```text
//! limit lines    --threads 2 FILE...   # memchr line count over byte ranges (the limit)
//! limit checksum --threads 2 FILE...   # the same, plus XXH64 (seed 42) of every line
//! limit text     --threads 2 FILE...   # every line framed, UTF-8 checked per buffer, counted
//! limit csv      --threads 2 FILE...   # csv crate: a reused StringRecord per row, id parsed
//! limit jsonl    --threads 2 FILE...   # serde_json::Value per line, id read
//! ```
//!
//! Prints one JSON object on stdout: `records`, and `checksum` (the sum of the lines' XXH64
//! mod 2⁶⁴, as in the data's manifest) or `id_sum`.
//!
//! `text` is what `sdf read --count` does, as a plain loop: each line found with `memchr` (not
//! only counted), each buffer checked for UTF-8 in one SIMD pass up to its last `\n`, the lines
//! counted. `checksum` does not check UTF-8.
//!
//! `lines`, `checksum` and `text` split the files into byte ranges, as a splittable reader does: a
//! line belongs to the range in which it starts, each range is read with large positioned
//! reads (1 MiB), and the threads take ranges from one queue, so one big file never leaves a
//! thread idle. Lines follow the data's contract (and `ReadText`'s): `\n` ends a line, a `\r`
//! before it is not part of it, a last line without `\n` counts. `csv` and `jsonl` are the
//! loops a user would write with the crates, one whole file at a time per thread.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use xxhash_rust::xxh64::xxh64;

const BLOCK: usize = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Lines,
    Checksum,
    Text,
    Csv,
    Jsonl,
}

/// What one thread found.
#[derive(Default)]
struct Tally {
    records: u64,
    sum: u64,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A piece of a file: the lines that start in `[start, end)`.
struct Range {
    file: usize,
    start: u64,
    end: u64,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("limit: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: limit lines|checksum|text|csv|jsonl --threads N FILE...";
    let mode = match args.next().as_deref() {
        Some("lines") => Mode::Lines,
        Some("checksum") => Mode::Checksum,
        Some("text") => Mode::Text,
        Some("csv") => Mode::Csv,
        Some("jsonl") => Mode::Jsonl,
        _ => return Err(usage.into()),
    };
    let mut threads = 2;
    let mut paths = Vec::new();
    while let Some(arg) = args.next() {
        if arg == "--threads" {
            threads = args
                .next()
                .and_then(|n| n.parse().ok())
                .filter(|&n: &usize| n > 0)
                .ok_or(usage)?;
        } else {
            paths.push(PathBuf::from(arg));
        }
    }
    if paths.is_empty() {
        return Err(usage.into());
    }
    let files: Vec<(PathBuf, u64)> = paths
        .into_iter()
        .map(|p| {
            let size = std::fs::metadata(&p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .len();
            Ok::<_, Error>((p, size))
        })
        .collect::<Result<_, _>>()?;
    let total = match mode {
        Mode::Lines | Mode::Checksum | Mode::Text => by_ranges(&files, threads, mode)?,
        Mode::Csv | Mode::Jsonl => by_files(&files, threads, mode)?,
    };
    let key = if matches!(mode, Mode::Lines | Mode::Checksum) {
        "checksum"
    } else {
        "id_sum"
    };
    if matches!(mode, Mode::Lines | Mode::Text) {
        println!("{{\"records\": {}}}", total.records);
    } else {
        println!(
            "{{\"records\": {}, \"{key}\": {}}}",
            total.records, total.sum
        );
    }
    Ok(())
}

/// Runs `work` on `threads` threads, each taking items from `0..n` until none is left, and
/// adds up their tallies.
fn on_threads(
    threads: usize,
    n: usize,
    work: impl Fn(usize, &mut Tally) -> Result<(), Error> + Sync,
) -> Result<Tally, Error> {
    let next = AtomicUsize::new(0);
    let total = Mutex::new(Tally::default());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<(), Error> {
                    let mut tally = Tally::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        work(i, &mut tally)?;
                    }
                    let mut t = total.lock().map_err(|_| "a thread panicked")?;
                    t.records += tally.records;
                    t.sum = t.sum.wrapping_add(tally.sum);
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().map_err(|_| Error::from("a thread panicked"))?)
    })?;
    total.into_inner().map_err(|_| "a thread panicked".into())
}

fn by_ranges(files: &[(PathBuf, u64)], threads: usize, mode: Mode) -> Result<Tally, Error> {
    let total: u64 = files.iter().map(|f| f.1).sum();
    // About 16 pieces per thread, between 1 MiB and 64 MiB: enough for a big file to be
    // shared, few enough that a piece's first partial line is noise.
    let piece = (total / (threads as u64 * 16)).clamp(1 << 20, 64 << 20);
    let mut ranges = Vec::new();
    for (file, (_, size)) in files.iter().enumerate() {
        let mut start = 0;
        while start < *size {
            let end = (start + piece).min(*size);
            ranges.push(Range { file, start, end });
            start = end;
        }
    }
    let opened: Vec<File> = files
        .iter()
        .map(|(p, _)| File::open(p).map_err(|e| format!("{}: {e}", p.display()).into()))
        .collect::<Result<_, Error>>()?;
    on_threads(threads, ranges.len(), |i, tally| {
        let r = &ranges[i];
        let (file, size) = (&opened[r.file], files[r.file].1);
        match mode {
            Mode::Lines => count_lines(file, r, tally),
            Mode::Text => frame_lines(file, size, r, tally, true, |_| 0),
            _ => frame_lines(file, size, r, tally, false, |line| xxh64(line, 42)),
        }
        .map_err(|e| format!("{}: {e}", files[r.file].0.display()).into())
    })
}

/// Lines starting in `[s, e)`: one at offset 0, and one after each `\n` at `p` in
/// `[s − 1, e − 1)` (such a line starts at `p + 1 < e ≤ size`).
fn count_lines(file: &File, r: &Range, tally: &mut Tally) -> std::io::Result<()> {
    if r.start == 0 {
        tally.records += 1;
    }
    let mut buf = vec![0; BLOCK];
    let mut at = r.start.saturating_sub(1);
    let end = r.end - 1;
    while at < end {
        let want = ((end - at) as usize).min(BLOCK);
        file.read_exact_at(&mut buf[..want], at)?;
        tally.records += memchr::memchr_iter(b'\n', &buf[..want]).count() as u64;
        at += want as u64;
    }
    Ok(())
}

/// Frames the lines starting in `[s, e)`, reading past `e` to finish the last one, and adds
/// `digest` of each (without its line end) to the tally; with `utf8`, checks each buffer for
/// UTF-8 up to its last `\n` (the last line: to the end of the file).
fn frame_lines(
    file: &File,
    size: u64,
    r: &Range,
    tally: &mut Tally,
    utf8: bool,
    digest: impl Fn(&[u8]) -> u64,
) -> std::io::Result<()> {
    let mut buf: Vec<u8> = vec![0; BLOCK];
    // `buf[..len]` holds the file from offset `base`; `pos` is where the next line starts.
    let mut base = r.start.saturating_sub(1);
    let mut len = fill(file, size, base, &mut buf, 0)?;
    let mut pos = 0;
    if r.start > 0 {
        // Skip through the first `\n` at or after `start − 1`: the line before it started
        // in the previous range.
        loop {
            if let Some(i) = memchr::memchr(b'\n', &buf[pos..len]) {
                pos += i + 1;
                break;
            }
            if base + len as u64 >= size {
                return Ok(());
            }
            base += len as u64;
            len = fill(file, size, base, &mut buf, 0)?;
            pos = 0;
        }
    }
    // `buf[..checked]` was checked for UTF-8.
    let mut checked = pos;
    while base + (pos as u64) < r.end {
        if utf8 && checked <= pos {
            let eof = base + len as u64 >= size;
            let cut = match memchr::memrchr(b'\n', &buf[pos..len]) {
                _ if eof => len,
                Some(i) => pos + i + 1,
                None => pos,
            };
            if simdutf8::basic::from_utf8(&buf[pos..cut]).is_err() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("not UTF-8 in the buffer at offset {}", base + pos as u64),
                ));
            }
            checked = cut;
        }
        match memchr::memchr(b'\n', &buf[pos..len]) {
            Some(i) => {
                let line = &buf[pos..pos + i];
                tally.records += 1;
                tally.sum = tally.sum.wrapping_add(digest(strip_cr(line)));
                pos += i + 1;
            }
            None if base + len as u64 >= size => {
                // The last line, without a `\n`.
                if pos < len {
                    tally.records += 1;
                    tally.sum = tally.sum.wrapping_add(digest(strip_cr(&buf[pos..len])));
                }
                break;
            }
            None => {
                // Keep the partial line, grow for a long one, read on.
                buf.copy_within(pos..len, 0);
                len -= pos;
                base += pos as u64;
                checked = 0;
                pos = 0;
                if len * 2 > buf.len() {
                    buf.resize(buf.len() * 2, 0);
                }
                len = fill(file, size, base, &mut buf, len)?;
            }
        }
    }
    Ok(())
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Reads the file from `base + kept` into `buf[kept..]`, up to its end; returns the bytes held.
fn fill(file: &File, size: u64, base: u64, buf: &mut [u8], kept: usize) -> std::io::Result<usize> {
    let from = base + kept as u64;
    let want = ((size - from.min(size)) as usize).min(buf.len() - kept);
    file.read_exact_at(&mut buf[kept..kept + want], from)?;
    Ok(kept + want)
}

fn by_files(files: &[(PathBuf, u64)], threads: usize, mode: Mode) -> Result<Tally, Error> {
    on_threads(threads, files.len(), |i, tally| {
        let path = &files[i].0;
        let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let result = match mode {
            Mode::Csv => csv_file(file, tally),
            _ => jsonl_file(file, tally),
        };
        result.map_err(|e| format!("{}: {e}", path.display()).into())
    })
}

/// Every row parsed into a reused `StringRecord` (fields split, unquoted, UTF-8 checked),
/// its `id` column parsed.
fn csv_file(file: File, tally: &mut Tally) -> Result<(), Error> {
    let mut reader = csv::ReaderBuilder::new()
        .buffer_capacity(256 << 10)
        .from_reader(file);
    let mut row = csv::StringRecord::new();
    while reader.read_record(&mut row)? {
        let id: u64 = row.get(0).ok_or("a row without an id")?.parse()?;
        tally.records += 1;
        tally.sum = tally.sum.wrapping_add(id);
    }
    Ok(())
}

/// Every line parsed into a `serde_json::Value` (what `sdf read --format jsonl` emits), its
/// `id` read.
fn jsonl_file(file: File, tally: &mut Tally) -> Result<(), Error> {
    let mut reader = BufReader::with_capacity(256 << 10, file);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let value: serde_json::Value = serde_json::from_slice(&line)?;
        let id = value["id"].as_u64().ok_or("a record without an id")?;
        tally.records += 1;
        tally.sum = tally.sum.wrapping_add(id);
    }
}
