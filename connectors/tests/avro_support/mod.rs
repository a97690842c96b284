//! Helpers of the Avro tests: schemas, values, files written by the reference `apache-avro`
//! writer, and a one-call driver over any byte range.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use apache_avro::types::Value;
use apache_avro::{
    Bzip2Settings, Codec, DeflateSettings, Reader, Schema, Writer, ZstandardSettings,
};
use sdf_connectors::avro::AvroRecord;
use sdf_connectors::{FileMetadata, ReadAvro};
use sdf_core::{
    CollectEmitter, OffsetRange, Output, SharedTracker, SplittableDoFn, Timestamp, Timestamped,
    WatermarkEstimator,
};

/// Every codec the reader reads, as the reference writer names them.
pub fn codecs() -> Vec<(&'static str, Codec)> {
    vec![
        ("null", Codec::Null),
        ("deflate", Codec::Deflate(DeflateSettings::default())),
        ("snappy", Codec::Snappy),
        ("zstandard", Codec::Zstandard(ZstandardSettings::default())),
        ("bzip2", Codec::Bzip2(Bzip2Settings::default())),
    ]
}

/// A flat record of scalars.
pub const FLAT: &str = r#"{"type": "record", "name": "Reading", "fields": [
    {"name": "id", "type": "long"},
    {"name": "sensor", "type": "string"},
    {"name": "value", "type": "double"},
    {"name": "ok", "type": "boolean"}
]}"#;

/// Nested records, arrays of records, unions, a map, an enum, fixed and bytes.
pub const NESTED: &str = r#"{"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "id", "type": "long"},
    {"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [
        {"name": "name", "type": "string"},
        {"name": "tags", "type": {"type": "array", "items": "string"}}
    ]}},
    {"name": "items", "type": {"type": "array", "items": {"type": "record", "name": "Item",
        "fields": [
            {"name": "sku", "type": "string"},
            {"name": "qty", "type": "int"},
            {"name": "price", "type": ["null", "double"]}
        ]}}},
    {"name": "note", "type": ["null", "string"]},
    {"name": "attrs", "type": {"type": "map", "values": "long"}},
    {"name": "status", "type": {"type": "enum", "name": "Status",
        "symbols": ["NEW", "PAID", "SHIPPED"]}},
    {"name": "digest", "type": {"type": "fixed", "name": "Digest", "size": 4}},
    {"name": "raw", "type": "bytes"},
    {"name": "backup", "type": ["null", "Customer"]}
]}"#;

/// A top-level union of a long and a string.
pub const UNION: &str = r#"["long", "string"]"#;

/// The schemas of the tests, named.
pub fn schemas() -> Vec<(&'static str, &'static str)> {
    vec![("flat", FLAT), ("nested", NESTED), ("union", UNION)]
}

/// The `i`th value of `schema` (one of [`schemas`]).
pub fn value(schema: &str, i: u64) -> Value {
    let s = |x: &str| Value::String(x.to_string());
    match schema {
        FLAT => Value::Record(vec![
            ("id".into(), Value::Long(i as i64 * 7 - 100)),
            ("sensor".into(), s(&format!("sensor-{}", i % 13))),
            ("value".into(), Value::Double(i as f64 / 3.0)),
            ("ok".into(), Value::Boolean(i.is_multiple_of(3))),
        ]),
        NESTED => {
            let customer = |n: u64| {
                Value::Record(vec![
                    ("name".into(), s(&format!("customer {n} é"))),
                    (
                        "tags".into(),
                        Value::Array((0..n % 4).map(|t| s(&format!("t{t}"))).collect()),
                    ),
                ])
            };
            let items = (0..i % 5)
                .map(|k| {
                    let price = if k % 2 == 0 {
                        Value::Union(1, Box::new(Value::Double(k as f64 + 0.5)))
                    } else {
                        Value::Union(0, Box::new(Value::Null))
                    };
                    Value::Record(vec![
                        ("sku".into(), s(&format!("sku-{i}-{k}"))),
                        ("qty".into(), Value::Int(k as i32 + 1)),
                        ("price".into(), price),
                    ])
                })
                .collect();
            let note = if i.is_multiple_of(4) {
                Value::Union(0, Box::new(Value::Null))
            } else {
                Value::Union(1, Box::new(s(&"note ".repeat(i as usize % 6))))
            };
            let attrs: HashMap<String, Value> = (0..i % 3)
                .map(|k| (format!("k{k}"), Value::Long(k as i64 * i as i64)))
                .collect();
            let symbols = ["NEW", "PAID", "SHIPPED"];
            let backup = if i.is_multiple_of(5) {
                Value::Union(1, Box::new(customer(i + 1)))
            } else {
                Value::Union(0, Box::new(Value::Null))
            };
            Value::Record(vec![
                ("id".into(), Value::Long(i as i64)),
                ("customer".into(), customer(i)),
                ("items".into(), Value::Array(items)),
                ("note".into(), note),
                ("attrs".into(), Value::Map(attrs)),
                (
                    "status".into(),
                    Value::Enum((i % 3) as u32, symbols[i as usize % 3].into()),
                ),
                (
                    "digest".into(),
                    Value::Fixed(4, (i as u32).to_be_bytes().to_vec()),
                ),
                ("raw".into(), Value::Bytes(vec![i as u8; i as usize % 9])),
                ("backup".into(), backup),
            ])
        }
        UNION => {
            if i.is_multiple_of(2) {
                Value::Union(0, Box::new(Value::Long(i as i64)))
            } else {
                Value::Union(1, Box::new(s(&format!("string {i}"))))
            }
        }
        other => panic!("no values for schema {other}"),
    }
}

/// A file of `n` values of `schema`, written by the reference writer with `codec` and a small
/// block size (`block_size` bytes of encoded records per block), so it has many blocks.
pub fn write_file(text: &str, codec: Codec, n: u64, block_size: usize) -> Vec<u8> {
    let schema = Schema::parse_str(text).unwrap();
    let mut writer = Writer::builder()
        .schema(&schema)
        .writer(Vec::new())
        .codec(codec)
        .block_size(block_size)
        .build()
        .unwrap();
    for i in 0..n {
        writer.append_value(value(text, i)).unwrap();
    }
    writer.into_inner().unwrap()
}

/// What the reference reader reads from `bytes`.
pub fn reference(bytes: &[u8]) -> Vec<Value> {
    Reader::new(bytes)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// The offsets of the sync markers of `bytes` (the header's first): the block positions, and
/// the end marker.
pub fn markers(bytes: &[u8]) -> Vec<u64> {
    let sync = &bytes[bytes.len() - 16..];
    (0..=bytes.len() - 16)
        .filter(|&i| &bytes[i..i + 16] == sync)
        .map(|i| i as u64)
        .collect()
}

/// The blocks of `bytes`, found without the reader under test: each block's position (the
/// offset of the sync marker before it, see [`markers`]) and its record count (the zig-zag
/// varint `long` right after that marker).
pub fn blocks(bytes: &[u8]) -> Vec<(u64, u64)> {
    let positions = markers(bytes);
    positions[..positions.len() - 1]
        .iter()
        .map(|&at| {
            let mut value = 0u64;
            for (i, &b) in bytes[at as usize + 16..].iter().take(10).enumerate() {
                value |= u64::from(b & 0x7f) << (7 * i);
                if b & 0x80 == 0 {
                    break;
                }
            }
            let count = (value >> 1) as i64 ^ -((value & 1) as i64);
            (
                at,
                u64::try_from(count).expect("a block of a negative count"),
            )
        })
        .collect()
}

/// What `ReadAvro::map_values(f).with_metadata()` must read from `bytes` listed as `path`: the
/// reference reader's values, in order, each mapped by `f` and placed in its block by
/// [`blocks`] (its position and its index there).
pub fn reference_records<T>(
    bytes: &[u8],
    path: &Path,
    f: impl Fn(Value) -> T,
) -> Vec<AvroRecord<T>> {
    let path: Arc<Path> = Arc::from(path);
    let mut values = reference(bytes).into_iter();
    let mut out = Vec::new();
    for (block, count) in blocks(bytes) {
        for index in 0..count {
            let value = values
                .next()
                .expect("the blocks count more records than the file");
            out.push(AvroRecord {
                path: Arc::clone(&path),
                block,
                index,
                value: f(value),
            });
        }
    }
    assert!(
        values.next().is_none(),
        "the blocks count fewer records than the file"
    );
    out
}

/// One `process` call of `read` on `range` of `file`, run to its end (no splits): its outputs
/// with their timestamps.
pub fn read_range<O: Send + 'static>(
    read: &ReadAvro<O>,
    file: &FileMetadata,
    range: OffsetRange,
) -> sdf_core::Result<Vec<Timestamped<O>>> {
    let mut tracker = SharedTracker::new(read.new_tracker(file, range));
    let mut emitter = CollectEmitter::default();
    let mut watermark =
        <ReadAvro<O> as SplittableDoFn>::WatermarkEstimator::from_state(Timestamp::MIN);
    futures::executor::block_on(async {
        let mut output = Output::new(&mut emitter, Timestamp::MIN, 64);
        read.process(file, &mut tracker, &mut output, &mut watermark)
            .await?;
        output.flush().await
    })?;
    let (tracker, residuals) = tracker.finish();
    assert!(residuals.is_empty(), "no split was asked for");
    sdf_core::RestrictionTracker::check_done(&tracker)?;
    Ok(emitter.records)
}
