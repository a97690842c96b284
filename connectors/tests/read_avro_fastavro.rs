//! `ReadAvro` on files written by another implementation, Python's fastavro
//! (`tests/data/avro/make_fastavro.py` made them and the expected records next to them): the
//! same records, through the conformance kit.
#![cfg(feature = "avro")]

mod read_support;

use std::path::PathBuf;

use read_support::listed;
use sdf_connectors::ReadAvro;
use sdf_connectors::avro::to_json;
use sdf_core::testing::{ExhaustiveOptions, check_sdf_exhaustive_with, run_to_completion};

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

#[test]
fn fastavro_files_pass_the_exhaustive_kit() {
    for codec in ["null", "deflate"] {
        let file = listed(&data(&format!("fastavro-{codec}.avro")));
        let read = ReadAvro::map_values(|v| Ok(to_json(v).to_string()))
            .with_metadata()
            .min_split_size(1);
        let options = ExhaustiveOptions::default().max_split_points(12);
        let report = check_sdf_exhaustive_with(&read, &file, &options).unwrap();
        assert_eq!(report.records, 300, "{codec}");
        assert!(report.claims >= 10, "{codec}: {report:?}");
    }
}
