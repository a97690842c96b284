//! Parsing throughput of the readers on one core, files in the page cache.
//!
//! ```text
//! CARGO_TARGET_DIR=... cargo bench -p sdf-connectors --bench read_parse
//! ```
//!
//! Each file (32 MiB of generated text, CSV or JSON lines, like `shared/bench/gen_data.py`'s)
//! is written once and read whole by one `process` call per iteration, output dropped in
//! batches of 1,024: the reader's cost per byte without the runtime. `memchr lines` is the
//! floor on the same file: the same 1 MiB reads and a memchr line count, nothing built. The
//! `plain ... loop` entries are the `csv` and `serde_json` crates driven by a plain loop on
//! the same files, what the readers' CSV and JSON parsing is built on.
//! Throughput is in bytes of file per second (criterion prints MiB/s or GiB/s).

use std::hint::black_box;
use std::io::Read;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sdf_connectors::read::{Format, Framing, ReadFile, ReadTextBytes, RecordContext};
use sdf_connectors::{FileMetadata, ReadCsv, ReadJsonLines, ReadText};
use sdf_core::{
    Emitter, Finalizer, ManualWatermarkEstimator, Output, SharedTracker, SplittableDoFn, Timestamp,
    Timestamped, WatermarkEstimator,
};
use serde::Deserialize;

const SIZE: usize = 32 << 20;

/// A tiny deterministic generator (xorshift), so the data is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    /// `words` words at most: ASCII, with one in 20 multi-byte (as in `gen_data.py`).
    fn text(&mut self, words: usize) -> String {
        const ASCII: &[&str] = &[
            "data",
            "stream",
            "split",
            "range",
            "offset",
            "file",
            "record",
            "the",
            "a",
            "of",
            "reader",
            "byte",
            "window",
            "watermark",
            "checkpoint",
            "pipeline",
            "runner",
            "key",
        ];
        const MULTI: &[&str] = &["naïve", "café", "数据", "🙂", "straße", "мир", "€100"];
        let n = 1 + self.next(words as u64) as usize;
        let mut out = String::new();
        for i in 0..n {
            if i > 0 {
                out.push(' ');
            }
            let word = if self.next(20) == 0 {
                MULTI[self.next(MULTI.len() as u64) as usize]
            } else {
                ASCII[self.next(ASCII.len() as u64) as usize]
            };
            out.push_str(word);
        }
        out
    }
}

fn generate(kind: &str) -> String {
    let mut rng = Rng(0x5eed);
    let mut out = String::with_capacity(SIZE + 4096);
    if kind == "csv" {
        out.push_str("id,name,score,text\n");
    }
    let mut id = 0u64;
    while out.len() < SIZE {
        id += 1;
        let text = rng.text(40);
        let line = match kind {
            "text" => format!("{text}{}\n", ["", "\r"][rng.next(2) as usize]),
            "csv" => format!(
                "{id},{},{}.{},\"{}\"\n",
                rng.text(1),
                rng.next(1000),
                rng.next(1000),
                text.replace('"', "\"\"")
            ),
            _ => format!(
                "{{\"id\":{id},\"file\":3,\"name\":\"{}\",\"score\":{}.{},\"tags\":[\"{}\"],\"text\":\"{text}\"}}\n",
                rng.text(1),
                rng.next(1000),
                rng.next(1000),
                rng.text(1)
            ),
        };
        out.push_str(&line);
    }
    out
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct CsvRow {
    id: u64,
    name: String,
    score: f64,
    text: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct JsonRow {
    id: u64,
    file: u32,
    name: String,
    score: f64,
    tags: Vec<String>,
    text: String,
}

/// Lines as their length: the readers' own cost per record, with no value to allocate.
struct LineLength;

impl Format for LineLength {
    type Output = usize;
    type State = ();
    fn framing(&self) -> &Framing {
        &Framing::Lines
    }
    fn start(&self, _: &FileMetadata, _: Vec<Vec<u8>>) -> sdf_connectors::Result<()> {
        Ok(())
    }
    fn decode(
        &self,
        _: &mut (),
        _: RecordContext<'_>,
        bytes: &[u8],
    ) -> sdf_connectors::Result<Option<usize>> {
        Ok(Some(bytes.len()))
    }
}

/// Drops what it is given, counting it.
struct Discard(u64);

#[async_trait]
impl<T: Send> Emitter<T> for Discard {
    async fn emit_batch(&mut self, batch: &mut Vec<Timestamped<T>>) -> sdf_core::Result<()> {
        self.0 += batch.len() as u64;
        batch.clear();
        Ok(())
    }
    fn register_finalizer(&mut self, _: Finalizer) {}
}

/// Reads `file` whole in one call; returns the number of records.
fn read_all<F: Format>(read: &ReadFile<F>, file: &FileMetadata) -> u64 {
    let restriction = read.initial_restriction(file).unwrap();
    let mut tracker = SharedTracker::new(read.new_tracker(file, restriction));
    let mut sink = Discard(0);
    let mut watermark = ManualWatermarkEstimator::from_state(Timestamp::MIN);
    futures::executor::block_on(async {
        let mut output = Output::new(&mut sink, Timestamp::MIN, 1024);
        read.process(file, &mut tracker, &mut output, &mut watermark)
            .await
            .unwrap();
        output.flush().await.unwrap();
    });
    sink.0
}

/// The floor: 1 MiB reads and a memchr line count.
fn memchr_lines(path: &Path) -> u64 {
    let mut file = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 0;
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            return lines;
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
}

/// The `csv` crate driven by a plain loop: the yardstick of `ReadCsv`.
fn plain_csv(path: &Path) -> u64 {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let mut n = 0;
    for row in reader.deserialize::<CsvRow>() {
        black_box(row.unwrap());
        n += 1;
    }
    n
}

/// `serde_json` driven by a plain loop over lines: the yardstick of `ReadJsonLines`.
fn plain_jsonl(path: &Path) -> u64 {
    use std::io::BufRead;
    let file = std::io::BufReader::with_capacity(256 << 10, std::fs::File::open(path).unwrap());
    let mut n = 0;
    for line in file.split(b'\n') {
        let _: JsonRow = serde_json::from_slice(&line.unwrap()).unwrap();
        n += 1;
    }
    n
}

fn write(dir: &Path, name: &str, kind: &str) -> FileMetadata {
    let path = dir.join(name);
    std::fs::write(&path, generate(kind)).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    FileMetadata {
        path,
        size: meta.len(),
        modified: Timestamp::from_system_time(meta.modified().unwrap()),
    }
}

fn parse(c: &mut Criterion) {
    let dir: PathBuf = std::env::temp_dir().join(format!("sdf-read-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = write(&dir, "a.txt", "text");
    let csv = write(&dir, "a.csv", "csv");
    let jsonl = write(&dir, "a.jsonl", "jsonl");

    let mut g = c.benchmark_group("parse");
    g.sample_size(10);
    for (name, file) in [("text", &text), ("csv", &csv), ("jsonl", &jsonl)] {
        g.throughput(Throughput::Bytes(file.size));
        g.bench_function(format!("memchr lines ({name} file)"), |b| {
            b.iter(|| black_box(memchr_lines(&file.path)))
        });
    }
    g.throughput(Throughput::Bytes(text.size));
    let read = ReadText::new();
    g.bench_function("ReadText (String)", |b| {
        b.iter(|| black_box(read_all(&read, &text)))
    });
    for kib in [64, 256, 1024] {
        let read = ReadFile::with_format(LineLength).buffer_size(kib << 10);
        g.bench_function(format!("ReadFile (line lengths, {kib} KiB)"), |b| {
            b.iter(|| black_box(read_all(&read, &text)))
        });
    }
    let read = ReadTextBytes::new();
    g.bench_function("ReadTextBytes (Vec<u8>)", |b| {
        b.iter(|| black_box(read_all(&read, &text)))
    });
    g.throughput(Throughput::Bytes(csv.size));
    g.bench_function("plain csv::Reader loop (struct)", |b| {
        b.iter(|| black_box(plain_csv(&csv.path)))
    });
    let read = ReadCsv::<CsvRow>::new();
    g.bench_function("ReadCsv (struct)", |b| {
        b.iter(|| black_box(read_all(&read, &csv)))
    });
    let read = ReadCsv::<Vec<String>>::new();
    g.bench_function("ReadCsv (Vec<String>)", |b| {
        b.iter(|| black_box(read_all(&read, &csv)))
    });
    g.throughput(Throughput::Bytes(jsonl.size));
    g.bench_function("plain serde_json loop (struct)", |b| {
        b.iter(|| black_box(plain_jsonl(&jsonl.path)))
    });
    let read = ReadJsonLines::<JsonRow>::new();
    g.bench_function("ReadJsonLines (struct)", |b| {
        b.iter(|| black_box(read_all(&read, &jsonl)))
    });
    let read = ReadJsonLines::<serde_json::Value>::new();
    g.bench_function("ReadJsonLines (Value)", |b| {
        b.iter(|| black_box(read_all(&read, &jsonl)))
    });
    #[cfg(feature = "sonic")]
    {
        let read = sdf_connectors::read::ReadJsonValues::new();
        g.bench_function("ReadJsonValues (sonic_rs::Value)", |b| {
            b.iter(|| black_box(read_all(&read, &jsonl)))
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, parse);
criterion_main!(benches);
