//! `ReadCsvBatches` and `ReadJsonBatches`: every row exactly once in the batches whatever the
//! splits and checkpoints (the conformance kit on the batches' rows), against `arrow-csv` /
//! `arrow-json` reading the whole file; schemas given or inferred; bad records.
#![cfg(feature = "parquet")]

mod columnar_support;
mod read_support;

use std::fs::File;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema};
use columnar_support::{BatchRows, rows};
use read_support::{TempDir, one_call};
use sdf_connectors::FileMetadata;
use sdf_connectors::read::{Format, ReadCsvBatches, ReadFile, ReadJsonBatches};
use sdf_core::SplittableDoFn;
use sdf_core::testing::{
    ExhaustiveOptions, check_sdf_exhaustive_expecting, fresh, run_to_completion,
};

/// A batch format emits what its call gathered when the call ends, after the refused claim.
fn kit() -> ExhaustiveOptions {
    ExhaustiveOptions::default().flush_after_refusal(true)
}

fn csv_text(n: usize) -> String {
    let mut s = String::from("id,name,score\n");
    for i in 0..n {
        let name = if i % 6 == 2 {
            String::new()
        } else {
            format!("\"n{i}, \"\"q\"\"\"")
        };
        let score = if i % 4 == 0 {
            String::new()
        } else {
            format!("{}.5", i)
        };
        s.push_str(&format!("{i},{name},{score}\n"));
        if i % 9 == 4 {
            s.push('\n'); // blank lines are skipped
        }
    }
    s
}

fn json_text(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i % 3 == 0 {
            s.push_str(&format!(
                "{{\"id\": {i}, \"tags\": [\"a{i}\"], \"ok\": true}}\r\n"
            ));
        } else {
            s.push_str(&format!("{{\"id\": {i}, \"note\": \"line {i}\"}}\n"));
        }
        if i % 10 == 5 {
            s.push_str("   \n");
        }
    }
    s
}

/// Rows of `arrow-csv` reading the whole file with the schema our reader inferred.
fn csv_reference(file: &FileMetadata, schema: Arc<Schema>) -> Vec<String> {
    let reader = arrow_csv::ReaderBuilder::new(schema)
        .with_header(true)
        .build(File::open(&file.path).unwrap())
        .unwrap();
    rows(&reader.map(Result::unwrap).collect::<Vec<_>>())
}

fn json_reference(file: &FileMetadata, schema: Arc<Schema>) -> Vec<String> {
    let reader = arrow_json::ReaderBuilder::new(schema)
        .build(std::io::BufReader::new(File::open(&file.path).unwrap()))
        .unwrap();
    rows(&reader.map(Result::unwrap).collect::<Vec<_>>())
}

/// Reads `file` call after call, each checkpointed after its first batch, continuing from
/// the parked reader: the rows of all calls.
fn checkpointed_rows<F: Format<Output = RecordBatch>>(
    read: &ReadFile<F>,
    file: &FileMetadata,
) -> (Vec<String>, usize) {
    let mut restriction = Some(read.initial_restriction(file).unwrap());
    let (mut all, mut calls) = (Vec::new(), 0);
    while let Some(r) = restriction {
        let (batches, residual) = one_call(read, file, r, Some(1)).unwrap();
        all.extend(rows(&batches));
        restriction = residual;
        calls += 1;
    }
    (all, calls)
}

#[test]
fn csv_batches_hold_every_row_once_whatever_the_splits() {
    let dir = TempDir::new("arrow-csv");
    // 30 rows: the kit runs each case twice (residuals warm, then on fresh instances).
    let file = dir.file("a.csv", format!("\u{feff}{}", csv_text(30)));
    for batch in [1, 7, 1000] {
        let read = ReadCsvBatches::new().batch_rows(batch).min_split_size(1);
        let batches = run_to_completion(&read, &file).unwrap();
        let schema = batches[0].schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["id", "name", "score"]);
        assert_eq!(schema.field(0).data_type(), &DataType::Int64);
        assert_eq!(schema.field(2).data_type(), &DataType::Float64);
        assert!(batches.iter().all(|b| b.num_rows() <= batch));
        let want = csv_reference(&file, schema.clone());
        assert_eq!(want.len(), 30);
        assert_eq!(rows(&batches), want, "batch {batch}");
        // Built anew for each instance (a clone would share the inferred schema's cache); a
        // 64-byte buffer, in which a row spans reads (and a fresh instance costs no 256 KiB).
        let make = || {
            ReadCsvBatches::new()
                .batch_rows(batch)
                .min_split_size(1)
                .buffer_size(64)
        };
        let report = check_sdf_exhaustive_expecting(
            &fresh(|| BatchRows(make())),
            &file,
            want.clone(),
            &kit(),
        )
        .unwrap();
        assert!(report.splits > 0 && report.checkpoints > 0);
        assert!(report.fresh_instances > 0, "{report}");
        // Without parked readers a call that stops mid-batch must emit its partial batch
        // itself (`Format::end_call`), or those rows would be lost with its reader.
        let unparked = fresh(|| BatchRows(make().parked_readers(0)));
        check_sdf_exhaustive_expecting(&unparked, &file, want.clone(), &kit()).unwrap();
        let (got, calls) = checkpointed_rows(&read, &file);
        assert_eq!(got, want, "batch {batch}: checkpointed");
        if batch == 7 {
            assert_eq!(calls, 30usize.div_ceil(7), "one batch per call");
        }
    }
}

#[test]
fn json_batches_hold_every_row_once_whatever_the_splits() {
    let dir = TempDir::new("arrow-json");
    let file = dir.file("a.jsonl", json_text(30));
    let read = ReadJsonBatches::new().batch_rows(6).min_split_size(1);
    let batches = run_to_completion(&read, &file).unwrap();
    let schema = batches[0].schema();
    assert_eq!(schema.fields().len(), 4, "{schema:?}");
    let want = json_reference(&file, schema);
    assert_eq!(want.len(), 30);
    assert_eq!(rows(&batches), want);
    let make = || {
        ReadJsonBatches::new()
            .batch_rows(6)
            .min_split_size(1)
            .buffer_size(64)
    };
    check_sdf_exhaustive_expecting(&fresh(|| BatchRows(make())), &file, want.clone(), &kit())
        .unwrap();
    let unparked = fresh(|| BatchRows(make().parked_readers(0)));
    check_sdf_exhaustive_expecting(&unparked, &file, want.clone(), &kit()).unwrap();
    assert_eq!(checkpointed_rows(&read, &file).0, want);
}

#[test]
fn a_given_schema_is_used_and_a_record_that_does_not_fit_names_its_batch() {
    let dir = TempDir::new("arrow-schema");
    let file = dir.file("a.csv", "id,name\n1,a\n2,b\n3,c\nx,d\n");
    let schema = Arc::new(Schema::new(vec![
        Field::new("key", DataType::Int32, false),
        Field::new("label", DataType::Utf8, true),
    ]));
    let read = ReadCsvBatches::new().schema(schema.clone()).batch_rows(2);
    let e = run_to_completion(&read, &file).unwrap_err().to_string();
    // The batch of records 3 and x starts at byte 16.
    assert!(e.contains("byte 16 of") && e.contains("a.csv"), "{e}");
    let good = dir.file("b.csv", "id,name\n1,a\n2,b\n");
    let batches = run_to_completion(&read, &good).unwrap();
    assert_eq!(batches[0].schema(), schema);
    assert_eq!(
        rows(&batches),
        [r#"{"key":1,"label":"a"}"#, r#"{"key":2,"label":"b"}"#]
    );
}

#[test]
fn compressed_files_infer_their_schema_from_decoded_bytes() {
    use std::io::Write;
    let dir = TempDir::new("arrow-gzip");
    let text = json_text(30);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    let file = dir.file("a.jsonl.gz", gz.finish().unwrap());
    let plain = dir.file("a.jsonl", &text);
    let read = ReadJsonBatches::new().batch_rows(4);
    let batches = run_to_completion(&read, &file).unwrap();
    assert_eq!(rows(&batches), json_reference(&plain, batches[0].schema()));
    assert_eq!(checkpointed_rows(&read, &file).0.len(), 30);
}
