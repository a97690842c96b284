//! `ReadAvro` on files written by the reference library (`apache-avro`'s `Writer`), every
//! schema and codec: the same records as the reference `Reader`, at every byte split point,
//! through the conformance kit, and in the runtime.
#![cfg(feature = "avro")]

mod avro_support;
mod read_support;

use std::collections::HashMap;

use apache_avro::types::Value;
use avro_support::{
    NESTED, codecs, markers, read_range, reference, reference_records, schemas, write_file,
};
use read_support::TempDir;
use sdf_connectors::ReadAvro;
use sdf_connectors::avro::{AvroRecord, to_json};
use sdf_core::testing::{
    ConcurrentOptions, ExhaustiveOptions, check_concurrent_splits_expecting,
    check_sdf_exhaustive_expecting, fresh, run_to_completion,
};
use sdf_core::{OffsetRange, Timestamp};
use sdf_runtime::{Executor, Pipeline};
use serde::Deserialize;

fn values(records: Vec<sdf_core::Timestamped<Value>>) -> Vec<Value> {
    records.into_iter().map(|t| t.value).collect()
}

#[test]
fn every_schema_and_codec_reads_what_the_reference_reader_reads() {
    let dir = TempDir::new("avro-reference");
    for (schema_name, schema) in schemas() {
        for (codec_name, codec) in codecs() {
            let bytes = write_file(schema, codec, 300, 200);
            let blocks = markers(&bytes).len() - 1;
            assert!(
                blocks >= 10,
                "{schema_name}/{codec_name}: only {blocks} blocks"
            );
            let file = dir.file("a.avro", &bytes);
            for buffer in [64, 1000, 1 << 20] {
                let got = run_to_completion(&ReadAvro::new().buffer_size(buffer), &file).unwrap();
                assert_eq!(
                    got,
                    reference(&bytes),
                    "{schema_name}/{codec_name}, buffer {buffer}"
                );
            }
        }
    }
}

#[test]
fn every_byte_is_a_split_point() {
    let dir = TempDir::new("avro-every-byte");
    let cases = [
        (schemas()[0], codecs()[0]),
        (schemas()[1], codecs()[1]),
        (schemas()[2], codecs()[2]),
        (schemas()[0], codecs()[3]),
        (schemas()[1], codecs()[4]),
    ];
    for ((schema_name, schema), (codec_name, codec)) in cases {
        let bytes = write_file(schema, codec, 24, 100);
        let file = dir.file("a.avro", &bytes);
        let want = reference(&bytes);
        let size = bytes.len() as i64;
        // A 64-byte buffer: markers straddle buffer boundaries in many of the scans.
        let read = ReadAvro::new().buffer_size(64);
        for m in 0..=size {
            let mut got = values(read_range(&read, &file, OffsetRange::new(0, m)).unwrap());
            got.extend(values(
                read_range(&read, &file, OffsetRange::new(m, size)).unwrap(),
            ));
            assert_eq!(got, want, "{schema_name}/{codec_name} split at byte {m}");
        }
    }
}

#[test]
fn a_block_belongs_to_the_range_holding_the_marker_before_it() {
    let dir = TempDir::new("avro-positions");
    let bytes = write_file(NESTED, codecs()[0].1, 40, 150);
    let file = dir.file("a.avro", &bytes);
    let positions = markers(&bytes);
    let read = ReadAvro::new().with_metadata();
    let all: Vec<AvroRecord<Value>> = run_to_completion(&read, &file).unwrap();
    let mut seen: Vec<u64> = all.iter().map(|r| r.block).collect();
    seen.dedup();
    // Every marker but the last (which ends the file) starts a block.
    assert_eq!(seen, positions[..positions.len() - 1]);
    for w in positions.windows(2) {
        let (p, next) = (w[0] as i64, w[1] as i64);
        // [p, p + 1) holds exactly the block at p; so does [p, next).
        for end in [p + 1, next] {
            let got = read_range(&read, &file, OffsetRange::new(p, end)).unwrap();
            assert!(
                got.iter().all(|r| r.value.block == p as u64),
                "[{p}, {end})"
            );
            let want = all.iter().filter(|r| r.block == p as u64).count();
            assert_eq!(got.len(), want, "[{p}, {end})");
        }
        // A range starting one byte after a marker does not read its block.
        let got = read_range(&read, &file, OffsetRange::new(p + 1, next)).unwrap();
        assert!(got.is_empty(), "[{}, {next})", p + 1);
    }
    // Indices count records within each block, from 0.
    let mut expected_index: HashMap<u64, u64> = HashMap::new();
    for r in &all {
        let i = expected_index.entry(r.block).or_default();
        assert_eq!(r.index, *i);
        *i += 1;
    }
}

/// The reader the kit checks: values compared as their JSON (they have no `Eq`: floats; maps in
/// sorted order), with the block and index, so a record read twice or lost is seen. Built anew
/// for each instance, as a new worker would.
fn json_records(buffer: usize) -> ReadAvro<AvroRecord<String>> {
    ReadAvro::map_values(|v| Ok(to_json(v).to_string()))
        .with_metadata()
        .min_split_size(1)
        .buffer_size(buffer)
}

/// What [`json_records`] must read: the reference reader's values, in the blocks the file's
/// markers delimit.
fn expected_json(bytes: &[u8], file: &sdf_connectors::FileMetadata) -> Vec<AvroRecord<String>> {
    reference_records(bytes, &file.path, |v| to_json(v).to_string())
}

#[test]
fn every_codec_passes_the_exhaustive_kit() {
    let dir = TempDir::new("avro-kit");
    for (codec_name, codec) in codecs() {
        // 24 records in 7 blocks: each case runs twice (residuals warm, then on fresh
        // instances), as long as 40 records took once.
        let bytes = write_file(NESTED, codec, 24, 250);
        let file = dir.file("a.avro", &bytes);
        let want = expected_json(&bytes, &file);
        assert_eq!(want.len(), 24);
        // Residuals and pieces also on fresh instances, which open the file, read its header
        // and scan for the first marker of their range; a 100-byte buffer, in which blocks
        // (about 250 bytes) span reads and markers straddle refills.
        let read = fresh(|| json_records(100));
        let report =
            check_sdf_exhaustive_expecting(&read, &file, want, &ExhaustiveOptions::default())
                .unwrap_or_else(|v| panic!("{codec_name}: {v}"));
        println!("{codec_name}: {report}");
        assert_eq!(report.records, 24, "{codec_name}");
        assert!(report.splits > 50, "{codec_name}: {report}");
        assert!(report.fresh_instances > 0, "{codec_name}: {report}");
    }
}

#[test]
fn splits_from_another_thread_lose_and_duplicate_nothing() {
    let dir = TempDir::new("avro-concurrent");
    let bytes = write_file(NESTED, codecs()[1].1, 200, 300);
    let file = dir.file("a.avro", &bytes);
    let want = expected_json(&bytes, &file);
    assert_eq!(want.len(), 200);
    let read = fresh(|| json_records(64));
    let report =
        check_concurrent_splits_expecting(&read, &file, want, &ConcurrentOptions::default())
            .unwrap();
    println!("{report}");
    assert!(report.splits > 0 && report.interleaved > 0, "{report}");
}

#[derive(Debug, PartialEq, Deserialize)]
struct Reading {
    id: i64,
    sensor: String,
    value: f64,
    ok: bool,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Item {
    sku: String,
    qty: i32,
    price: Option<f64>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Customer {
    name: String,
    tags: Vec<String>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Order {
    id: i64,
    customer: Customer,
    items: Vec<Item>,
    note: Option<String>,
    attrs: HashMap<String, i64>,
    backup: Option<Customer>,
}

#[test]
fn typed_records_are_what_serde_makes_of_the_reference_values() {
    let dir = TempDir::new("avro-typed");
    let bytes = write_file(avro_support::FLAT, codecs()[2].1, 100, 200);
    let file = dir.file("flat.avro", &bytes);
    let got = run_to_completion(&ReadAvro::<Reading>::typed(), &file).unwrap();
    let want: Vec<Reading> = reference(&bytes)
        .iter()
        .map(|v| apache_avro::from_value(v).unwrap())
        .collect();
    assert_eq!(got, want);
    assert_eq!(got[3].sensor, "sensor-3");

    let bytes = write_file(NESTED, codecs()[1].1, 100, 200);
    let file = dir.file("nested.avro", &bytes);
    let got = run_to_completion(&ReadAvro::<Order>::typed(), &file).unwrap();
    assert_eq!(got.len(), 100);
    assert_eq!(
        got[5].backup.as_ref().map(|c| c.name.as_str()),
        Some("customer 6 é")
    );
    assert_eq!(got[4].items[2].price, Some(2.5));
    assert_eq!(got[4].items[1].price, None);
    assert_eq!(got[4].note, None);

    // A type that does not fit fails, naming the file and the block.
    let e = run_to_completion(
        &ReadAvro::<Order>::typed(),
        &dir.file(
            "x.avro",
            write_file(avro_support::FLAT, codecs()[0].1, 3, 100),
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("x.avro") && e.contains("does not convert"),
        "{e}"
    );
}

#[test]
fn event_time_and_metadata_come_from_the_record() {
    let dir = TempDir::new("avro-time");
    let bytes = write_file(avro_support::FLAT, codecs()[0].1, 30, 100);
    let file = dir.file("t.avro", &bytes);
    let read = ReadAvro::<Reading>::typed()
        .event_time_from(|r| Some(Timestamp::from_millis(1_000 + r.id)))
        .with_metadata();
    let got = read_range(&read, &file, OffsetRange::new(0, bytes.len() as i64)).unwrap();
    assert_eq!(got.len(), 30);
    for t in &got {
        assert_eq!(
            t.timestamp,
            Timestamp::from_millis(1_000 + t.value.value.id)
        );
        assert_eq!(&*t.value.path, file.path.as_path());
    }
    let from_file = ReadAvro::new().event_time_from_file();
    let got = read_range(&from_file, &file, OffsetRange::new(0, bytes.len() as i64)).unwrap();
    assert!(got.iter().all(|t| t.timestamp == file.modified));
}

#[test]
fn json_output_is_to_json_of_each_value() {
    let dir = TempDir::new("avro-json");
    let bytes = write_file(NESTED, codecs()[3].1, 50, 200);
    let file = dir.file("j.avro", &bytes);
    let got = run_to_completion(&ReadAvro::json(), &file).unwrap();
    let want: Vec<_> = reference(&bytes).into_iter().map(to_json).collect();
    assert_eq!(got, want);
    assert_eq!(got[1]["note"], "note ");
    assert_eq!(got[0]["status"], "NEW");
}

#[test]
fn a_reader_schema_resolves_each_record() {
    let dir = TempDir::new("avro-resolve");
    let bytes = write_file(avro_support::FLAT, codecs()[1].1, 20, 100);
    let file = dir.file("r.avro", &bytes);
    let reader_schema = apache_avro::Schema::parse_str(
        r#"{"type": "record", "name": "Reading", "fields": [
            {"name": "id", "type": "long"},
            {"name": "unit", "type": "string", "default": "celsius"}
        ]}"#,
    )
    .unwrap();
    let got = run_to_completion(&ReadAvro::new().reader_schema(reader_schema), &file).unwrap();
    assert_eq!(got.len(), 20);
    assert_eq!(
        got[2],
        Value::Record(vec![
            ("id".into(), Value::Long(2 * 7 - 100)),
            ("unit".into(), Value::String("celsius".into())),
        ])
    );
}

#[test]
fn files_read_in_a_pipeline_deliver_every_record_once() {
    let dir = TempDir::new("avro-pipeline");
    let mut files = Vec::new();
    let mut want = Vec::new();
    for (f, (_, codec)) in codecs().into_iter().enumerate() {
        let bytes = write_file(NESTED, codec, 400 * (f as u64 + 1), 300);
        want.extend(
            reference(&bytes)
                .into_iter()
                .map(|v| to_json(v).to_string()),
        );
        files.push(dir.file(&format!("part-{f}.avro"), &bytes));
    }
    let mut p = Pipeline::new();
    let inputs = p.from_iter("files", files);
    let read = ReadAvro::map_values(|v| Ok(to_json(v).to_string())).min_split_size(1);
    let records = p.apply("read", inputs, read);
    let out = p.collect("out", records);
    // Small calls: many checkpoints and rebalancing splits of running calls.
    let executor = Executor::builder()
        .workers(3)
        .max_outputs_per_call(50)
        .build();
    executor.run_blocking(p).unwrap();
    let count = |v: Vec<String>| {
        let mut m: HashMap<String, usize> = HashMap::new();
        for x in v {
            *m.entry(x).or_default() += 1;
        }
        m
    };
    let got = out.values();
    assert_eq!(got.len(), want.len());
    assert_eq!(count(got), count(want));
}
