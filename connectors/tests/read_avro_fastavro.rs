//! `ReadAvro` on files written by another implementation, Python's fastavro
//! (`tests/data/avro/make_fastavro.py` made them and the expected records next to them): the
//! same records, through the conformance kit.
#![cfg(feature = "avro")]

mod avro_support;
mod read_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use read_support::listed;
use sdf_connectors::ReadAvro;
use sdf_connectors::avro::{AvroRecord, to_json};
use sdf_core::testing::{
    ExhaustiveOptions, check_sdf_exhaustive_expecting, fresh, run_to_completion,
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/avro")
        .join(name)
}

fn expected() -> Vec<serde_json::Value> {
    std::fs::read_to_string(data("fastavro.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn fastavro_files_read_as_fastavro_wrote_them() {
    let want = expected();
    assert_eq!(want.len(), 300);
    for codec in ["null", "deflate", "bzip2"] {
        let file = listed(&data(&format!("fastavro-{codec}.avro")));
        let got = run_to_completion(&ReadAvro::json(), &file).unwrap();
        assert_eq!(got, want, "{codec}");
    }
}

/// What the kit's reader must read from `path`: fastavro's records (as JSON text), each in the
/// block the file's sync markers and record counts put it in.
fn expected_records(path: &Path) -> Vec<AvroRecord<String>> {
    let bytes = std::fs::read(path).unwrap();
    let path: Arc<Path> = Arc::from(path);
    let mut want = expected().into_iter();
    let mut out = Vec::new();
    for (block, count) in avro_support::blocks(&bytes) {
        for index in 0..count {
            out.push(AvroRecord {
                path: Arc::clone(&path),
                block,
                index,
                value: want.next().unwrap().to_string(),
            });
        }
    }
    assert!(want.next().is_none(), "the blocks hold fewer records");
    out
}

#[test]
fn fastavro_files_pass_the_exhaustive_kit() {
    for codec in ["null", "deflate"] {
        let file = listed(&data(&format!("fastavro-{codec}.avro")));
        let want = expected_records(&file.path);
        assert_eq!(want.len(), 300, "{codec}");
        // Built anew for each instance: residuals and pieces also run cold, opening the file
        // and scanning for their first marker through a 64-byte buffer. Initial pieces of 16
        // bytes (a marker's length: each marker has a piece boundary inside it or at its
        // start), not 1: byte-sized pieces, each now run twice, took 27,000 of the 30,000
        // calls and twice the time; every byte as a split point is `read_avro`'s test.
        let read = fresh(|| {
            ReadAvro::map_values(|v| Ok(to_json(v).to_string()))
                .with_metadata()
                .min_split_size(16)
                .buffer_size(64)
        });
        let options = ExhaustiveOptions::default().max_split_points(12);
        let report = check_sdf_exhaustive_expecting(&read, &file, want, &options)
            .unwrap_or_else(|v| panic!("{codec}: {v}"));
        println!("{codec}: {report}");
        assert_eq!(report.records, 300, "{codec}");
        assert!(report.claims >= 10, "{codec}: {report}");
        assert!(report.fresh_instances > 0, "{codec}: {report}");
    }
}
