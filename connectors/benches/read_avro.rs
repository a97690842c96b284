//! `ReadAvro` against the `apache-avro` crate's own `Reader` on the same files, one core,
//! files in the page cache.
//!
//! ```text
//! CARGO_TARGET_DIR=... cargo bench -p sdf-connectors --features avro --bench read_avro
//! ```
//!
//! A plain bench binary: each file (16 MiB, of records of a flat schema or of a nested one,
//! codecs null, deflate, snappy and zstandard, 64 KiB blocks, written once by the reference
//! writer) is read whole, in interleaved rounds, by a plain loop over
//! `apache_avro::Reader` (a 256 KiB `BufReader`, each value dropped at once) and by one
//! `ReadAvro` `process` call, the reader's cost without the runtime, twice: output in batches of
//! 1 record (each value dropped at once, like the loop) and of 1,024 (the runtime's default:
//! 1,024 live values cost the allocator and the cache), and once more dropping each value as it
//! is decoded and emitting `()` (framing, reads and decoding alone). It prints the median
//! throughput of each, in MiB of file per second, and `ReadAvro`'s relative to the `Reader`'s
//! measured in the same run. Both decode records with the same `apache-avro` code;
//! they differ in framing, reads, and block decompression (the `Reader` uses the C `zstd`
//! library, `ReadAvro` pure-Rust `ruzstd`). Without `--bench` (as under `cargo test --benches`)
//! it runs one small round whose figures mean nothing.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::{Duration, Instant};

use apache_avro::types::Value;
use apache_avro::{Codec, DeflateSettings, Reader, Schema, Writer, ZstandardSettings};
use async_trait::async_trait;
use sdf_connectors::{FileMetadata, ReadAvro};
use sdf_core::{
    Emitter, Finalizer, ManualWatermarkEstimator, Output, SharedTracker, SplittableDoFn, Timestamp,
    Timestamped, WatermarkEstimator,
};

const FLAT: &str = r#"{"type": "record", "name": "Reading", "fields": [
    {"name": "id", "type": "long"}, {"name": "sensor", "type": "string"},
    {"name": "value", "type": "double"}, {"name": "ok", "type": "boolean"},
    {"name": "at", "type": "long"}]}"#;

const NESTED: &str = r#"{"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "long"},
    {"name": "note", "type": ["null", "string"]},
    {"name": "items", "type": {"type": "array", "items": {"type": "record", "name": "Item",
        "fields": [{"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}]}}}]}"#;

fn value(schema: &str, i: u64) -> Value {
    let s = |x: String| Value::String(x);
    if schema == FLAT {
        Value::Record(vec![
            ("id".into(), Value::Long(i as i64)),
            ("sensor".into(), s(format!("sensor-{}", i % 977))),
            ("value".into(), Value::Double(i as f64 * 0.37)),
            ("ok".into(), Value::Boolean(i.is_multiple_of(3))),
            ("at".into(), Value::Long(1_798_761_600_000 + i as i64)),
        ])
    } else {
        let note = if i.is_multiple_of(3) {
            Value::Union(0, Box::new(Value::Null))
        } else {
            Value::Union(1, Box::new(s(format!("note {i}"))))
        };
        let items = (0..i % 4)
            .map(|k| {
                Value::Record(vec![
                    ("sku".into(), s(format!("sku-{}", (i + k) % 5000))),
                    ("qty".into(), Value::Int(k as i32 + 1)),
                ])
            })
            .collect();
        Value::Record(vec![
            ("id".into(), Value::Long(i as i64)),
            ("note".into(), note),
            ("items".into(), Value::Array(items)),
        ])
    }
}

/// Writes records of `schema` until about `bytes` of encoded records, with `codec`.
fn write(dir: &Path, name: &str, schema: &str, codec: Codec, bytes: usize) -> FileMetadata {
    let parsed = Schema::parse_str(schema).unwrap();
    let mut writer = Writer::builder()
        .schema(&parsed)
        .writer(Vec::new())
        .codec(codec)
        .block_size(64 << 10)
        .build()
        .unwrap();
    let mut written = 0;
    let mut i = 0;
    while written < bytes {
        written += writer.append_value(value(schema, i)).unwrap();
        i += 1;
    }
    let path = dir.join(name);
    std::fs::write(&path, writer.into_inner().unwrap()).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    FileMetadata {
        path,
        size: meta.len(),
        modified: Timestamp::from_system_time(meta.modified().unwrap()),
    }
}

/// Drops what it is given.
struct Discard;

#[async_trait]
impl<T: Send> Emitter<T> for Discard {
    async fn emit_batch(&mut self, batch: &mut Vec<Timestamped<T>>) -> sdf_core::Result<()> {
        batch.clear();
        Ok(())
    }

    fn register_finalizer(&mut self, _: Finalizer) {}
}

/// One `process` call over the whole file, output in batches of `batch`; the number of records.
fn read_avro<O: Send + 'static>(read: &ReadAvro<O>, file: &FileMetadata, batch: usize) -> u64 {
    let restriction = read.initial_restriction(file).unwrap();
    let mut tracker = SharedTracker::new(read.new_tracker(file, restriction));
    let mut emitter = Discard;
    let mut watermark = ManualWatermarkEstimator::from_state(Timestamp::MIN);
    futures::executor::block_on(async {
        let mut output = Output::new(&mut emitter, Timestamp::MIN, batch);
        read.process(file, &mut tracker, &mut output, &mut watermark)
            .await
            .unwrap();
        let n = output.emitted();
        output.flush().await.unwrap();
        n
    })
}

/// The reference: `apache_avro::Reader` over a buffered file.
fn reference(file: &FileMetadata) -> u64 {
    let input = BufReader::with_capacity(256 << 10, File::open(&file.path).unwrap());
    let mut n = 0;
    for value in Reader::new(input).unwrap() {
        std::hint::black_box(value.unwrap());
        n += 1;
    }
    n
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn mib_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / d.as_secs_f64()
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (size, rounds) = if bench { (16 << 20, 5) } else { (256 << 10, 1) };
    let dir = std::env::temp_dir().join(format!("sdf-bench-avro-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let codecs = [
        ("null", Codec::Null),
        ("deflate", Codec::Deflate(DeflateSettings::default())),
        ("snappy", Codec::Snappy),
        ("zstandard", Codec::Zstandard(ZstandardSettings::default())),
    ];
    let mut files = Vec::new();
    for (schema_name, schema) in [("flat", FLAT), ("nested", NESTED)] {
        for (codec_name, codec) in codecs {
            let name = format!("{schema_name}-{codec_name}");
            let file = write(&dir, &format!("{name}.avro"), schema, codec, size);
            files.push((name, file));
        }
    }
    let read = ReadAvro::new();
    // Each value dropped as it is decoded, `()` emitted: framing and decoding alone.
    let unit = ReadAvro::map_values(|v| {
        drop(std::hint::black_box(v));
        Ok(())
    });
    let mut times = vec![[const { Vec::new() }; 4]; files.len()];
    for _ in 0..rounds {
        for (i, (name, file)) in files.iter().enumerate() {
            let mut counts = [0; 4];
            for (k, count) in counts.iter_mut().enumerate() {
                let start = Instant::now();
                *count = match k {
                    0 => reference(file),
                    1 => read_avro(&read, file, 1),
                    2 => read_avro(&read, file, 1024),
                    _ => read_avro(&unit, file, 1024),
                };
                times[i][k].push(start.elapsed());
            }
            assert!(counts.iter().all(|&c| c == counts[0]), "{name}: {counts:?}");
        }
    }
    println!("read_avro: median of {rounds} interleaved rounds, MiB of file per second, one core");
    println!(
        "  {:<18} {:>8} {:>8} {:>15} {:>15} {:>15}",
        "file", "size", "Reader", "ReadAvro (1)", "ReadAvro (1024)", "ReadAvro ()"
    );
    for ((name, file), times) in files.iter().zip(times) {
        let [theirs, one, batched, unit] = times.map(median);
        let cell = |ours: Duration| {
            format!(
                "{:.1} {:.2}×",
                mib_per_s(file.size, ours),
                theirs.as_secs_f64() / ours.as_secs_f64()
            )
        };
        println!(
            "  {:<18} {:>6.1}Mi {:>8.1} {:>15} {:>15} {:>15}",
            name,
            file.size as f64 / (1 << 20) as f64,
            mib_per_s(file.size, theirs),
            cell(one),
            cell(batched),
            cell(unit),
        );
    }
    println!(
        "  ReadAvro (n): values emitted in batches of n; ReadAvro (): each value dropped as it is \
         decoded (framing and decoding alone); n×: throughput / Reader's (above 1: faster)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
