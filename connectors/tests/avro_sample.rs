//! `samples/tables/trips.avro`, the Avro file of the README's examples, holds exactly the
//! records this generator writes (the reference writer, a fixed sync marker, deterministic
//! records). To
//! write it again after changing the generator:
//!
//! ```text
//! SDF_WRITE_SAMPLES=1 cargo test -p sdf-connectors --features avro --test avro_sample
//! ```
#![cfg(feature = "avro")]

use std::path::PathBuf;

use apache_avro::types::Value;
use apache_avro::{Codec, DeflateSettings, Schema, Writer};

const SCHEMA: &str = r#"{"type": "record", "name": "Trip", "namespace": "samples", "fields": [
    {"name": "id", "type": "long"},
    {"name": "city", "type": "string"},
    {"name": "started_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "distance_km", "type": "double"},
    {"name": "passengers", "type": "int"},
    {"name": "payment", "type": {"type": "enum", "name": "Payment",
        "symbols": ["CARD", "CASH", "APP"]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "driver", "type": ["null", {"type": "record", "name": "Driver", "fields": [
        {"name": "name", "type": "string"},
        {"name": "rating", "type": "float"}
    ]}]}
]}"#;

const TRIPS: u64 = 1_000;

fn trip(i: u64) -> Value {
    let cities = ["Lyon", "Oslo", "Kraków", "Porto", "Zürich", "Tromsø"];
    let payments = ["CARD", "CASH", "APP"];
    let tags = ["airport", "night", "shared", "long"];
    let s = |x: &str| Value::String(x.to_string());
    let driver = if i.is_multiple_of(7) {
        Value::Union(0, Box::new(Value::Null))
    } else {
        Value::Union(
            1,
            Box::new(Value::Record(vec![
                ("name".into(), s(&format!("driver {}", i % 37))),
                ("rating".into(), Value::Float(3.0 + (i % 9) as f32 * 0.25)),
            ])),
        )
    };
    Value::Record(vec![
        ("id".into(), Value::Long(i as i64 + 1)),
        ("city".into(), s(cities[(i * 7 % 6) as usize])),
        (
            "started_at".into(),
            Value::TimestampMillis(1_798_761_600_000 + i as i64 * 97_000),
        ),
        (
            "distance_km".into(),
            Value::Double((i * 37 % 400) as f64 / 10.0),
        ),
        ("passengers".into(), Value::Int(1 + (i % 4) as i32)),
        (
            "payment".into(),
            Value::Enum((i % 3) as u32, payments[(i % 3) as usize].into()),
        ),
        (
            "tags".into(),
            Value::Array(
                (0..i % 3)
                    .map(|k| s(tags[((i + k) % 4) as usize]))
                    .collect(),
            ),
        ),
        ("driver".into(), driver),
    ])
}

fn generate() -> Vec<u8> {
    let schema = Schema::parse_str(SCHEMA).unwrap();
    let mut writer = Writer::builder()
        .schema(&schema)
        .writer(Vec::new())
        .codec(Codec::Deflate(DeflateSettings::default()))
        .block_size(4096)
        .marker(*b"sdf-sample-sync!")
        .build()
        .unwrap();
    for i in 0..TRIPS {
        writer.append_value(trip(i)).unwrap();
    }
    writer.into_inner().unwrap()
}

#[test]
fn the_sample_holds_what_the_generator_writes() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples/tables/trips.avro");
    let bytes = generate();
    if std::env::var_os("SDF_WRITE_SAMPLES").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    let committed = std::fs::read(&path).unwrap();
    // The records, not the bytes: deflate's output depends on which flate2 backend a build's
    // features select, so the same generator writes other (equally valid) bytes elsewhere.
    let read = |bytes: &[u8]| -> Vec<Value> {
        apache_avro::Reader::new(bytes)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let want: Vec<Value> = (0..TRIPS).map(trip).collect();
    assert_eq!(read(&bytes), want, "the generator's own output");
    assert!(
        read(&committed) == want,
        "{} does not hold the generator's records: run SDF_WRITE_SAMPLES=1 cargo test -p \
         sdf-connectors --features avro --test avro_sample",
        path.display()
    );
    // Several blocks, so the README's split reads have block boundaries to split at.
    let marker = b"sdf-sample-sync!";
    let blocks = committed.windows(16).filter(|w| w == marker).count() - 1;
    assert!(blocks >= 10, "{blocks} blocks");
}
