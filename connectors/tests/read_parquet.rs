//! `ReadParquet` on files written by the `parquet` crate's `ArrowWriter`: many small row
//! groups, several schemas and codecs, through the conformance kit, against the parquet
//! crate's own reader; projection; corrupt files.
#![cfg(feature = "parquet")]

mod columnar_support;
mod read_support;

use arrow_array::RecordBatch;
use columnar_support::{BatchRows, flat_batch, nested_batch, reference_rows, rows, write_parquet};
use parquet::basic::{Compression, GzipLevel};
use read_support::{TempDir, listed};
use sdf_connectors::FileMetadata;
use sdf_connectors::read::ReadParquet;
use sdf_core::testing::{
    ExhaustiveOptions, SdfReport, check_sdf_exhaustive_expecting, fresh, run_to_completion,
};
use sdf_core::{SplittableDoFn, WatermarkEstimator};

fn file_of(
    dir: &TempDir,
    name: &str,
    batches: &[RecordBatch],
    group: usize,
    codec: Compression,
) -> FileMetadata {
    let path = dir.path().join(name);
    write_parquet(&path, batches, group, codec);
    listed(&path)
}

/// The kit on `make()`'s reader against `want`, the rows an independent reader gives: residuals
/// and pieces also on fresh instances, built anew by `make` (a clone would share the footer
/// cache, so a residual would never read the footer itself).
fn kit(make: impl Fn() -> ReadParquet + Sync, file: &FileMetadata, want: &[String]) -> SdfReport {
    let report = check_sdf_exhaustive_expecting(
        &fresh(|| BatchRows(make())),
        file,
        want.iter().cloned(),
        &ExhaustiveOptions::default(),
    )
    .unwrap_or_else(|v| panic!("{}: {v}", file.path.display()));
    println!("{}: {report}", file.path.display());
    assert!(report.fresh_instances > 0, "{report}");
    report
}

#[test]
fn every_split_reads_every_row_once_for_each_schema_and_codec() {
    let dir = TempDir::new("parquet-kit");
    let codecs = [
        Compression::UNCOMPRESSED,
        Compression::SNAPPY,
        Compression::GZIP(GzipLevel::default()),
        Compression::LZ4_RAW,
    ];
    for (i, codec) in codecs.into_iter().enumerate() {
        // 78 rows in 6 row groups of 13 (the first crossing two written batches): each case
        // runs twice (residuals warm, then on fresh instances), as long as 10 groups took once.
        let schemas = [
            ("flat", vec![flat_batch(0, 45), flat_batch(45, 33)]),
            ("nested", vec![nested_batch(0, 78)]),
        ];
        for (schema, batches) in schemas {
            let file = file_of(&dir, &format!("{schema}-{i}.parquet"), &batches, 13, codec);
            // The rows the test wrote, and what the parquet crate's own reader reads of them.
            let want = rows(&batches);
            assert_eq!(want.len(), 78);
            assert_eq!(reference_rows(&file.path), want, "{schema} {codec:?}");
            let read = ReadParquet::new().batch_size(5).min_split_size(1);
            let got = run_to_completion(&BatchRows(read.clone()), &file).unwrap();
            assert_eq!(got, want, "{schema} {codec:?}");
            let report = kit(
                || ReadParquet::new().batch_size(5).min_split_size(1),
                &file,
                &want,
            );
            assert_eq!(report.claims, 6, "{schema} {codec:?}: 6 row groups claimed");
            assert!(report.splits > 0 && report.checkpoints > 0, "{report}");
        }
    }
}

#[test]
fn batches_hold_at_most_batch_size_rows_of_one_row_group() {
    let dir = TempDir::new("parquet-batches");
    let file = file_of(
        &dir,
        "a.parquet",
        &[flat_batch(0, 100)],
        30,
        Compression::SNAPPY,
    );
    let batches = run_to_completion(&ReadParquet::new().batch_size(20), &file).unwrap();
    let sizes: Vec<usize> = batches.iter().map(RecordBatch::num_rows).collect();
    assert_eq!(sizes, [20, 10, 20, 10, 20, 10, 10]);
}

#[test]
fn initial_pieces_are_cut_at_row_group_starts_and_none_is_empty() {
    let dir = TempDir::new("parquet-pieces");
    let file = file_of(
        &dir,
        "a.parquet",
        &[flat_batch(0, 400)],
        20,
        Compression::UNCOMPRESSED,
    );
    let read = ReadParquet::new().min_split_size(1);
    let whole = read.initial_restriction(&file).unwrap();
    assert_eq!((whole.start(), whole.end()), (0, file.size as i64));
    let pieces = read.split_restriction(&file, whole, 2000.0).unwrap();
    assert!(pieces.len() > 3, "{pieces:?}");
    assert_eq!(pieces[0].start(), 0);
    assert_eq!(pieces.last().unwrap().end(), file.size as i64);
    let mut total = Vec::new();
    for w in pieces.windows(2) {
        assert_eq!(w[0].end(), w[1].start(), "pieces are contiguous");
    }
    for piece in &pieces {
        let mut tracker = sdf_core::SharedTracker::new(read.new_tracker(&file, *piece));
        let rows_of_piece = one_call(&read, &file, &mut tracker);
        assert!(!rows_of_piece.is_empty(), "{piece:?} is empty");
        total.extend(rows_of_piece);
    }
    assert_eq!(total, reference_rows(&file.path));
}

fn one_call(
    read: &ReadParquet,
    file: &FileMetadata,
    tracker: &mut sdf_core::SharedTracker<sdf_core::OffsetRangeTracker>,
) -> Vec<String> {
    let mut emitter = sdf_core::CollectEmitter::default();
    let mut wm = sdf_core::ManualWatermarkEstimator::from_state(sdf_core::Timestamp::MIN);
    futures::executor::block_on(async {
        let mut out = sdf_core::Output::new(&mut emitter, sdf_core::Timestamp::MIN, 1);
        read.process(file, tracker, &mut out, &mut wm)
            .await
            .unwrap();
        out.flush().await.unwrap();
    });
    let batches: Vec<RecordBatch> = emitter.records.into_iter().map(|t| t.value).collect();
    rows(&batches)
}

#[test]
fn projection_reads_the_named_columns_in_the_order_given() {
    let dir = TempDir::new("parquet-projection");
    let file = file_of(
        &dir,
        "a.parquet",
        &[nested_batch(0, 60)],
        16,
        Compression::SNAPPY,
    );
    let read = ReadParquet::new().columns(["values", "id"]);
    let batches = run_to_completion(&read, &file).unwrap();
    let names: Vec<String> = batches[0]
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["values", "id"]);
    let whole = nested_batch(0, 60);
    let want = rows(&[whole.project(&[2, 0]).unwrap()]);
    assert_eq!(rows(&batches), want);
    let make = || {
        ReadParquet::new()
            .columns(["values", "id"])
            .min_split_size(1)
    };
    kit(make, &file, &want);
}

#[test]
fn an_unknown_column_names_the_file_and_the_columns_it_has() {
    let dir = TempDir::new("parquet-bad-column");
    let file = file_of(
        &dir,
        "a.parquet",
        &[flat_batch(0, 10)],
        5,
        Compression::SNAPPY,
    );
    let e = run_to_completion(&ReadParquet::new().columns(["id", "nope"]), &file).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("a.parquet") && msg.contains("\"nope\""),
        "{msg}"
    );
    assert!(msg.contains(r#"["id", "name", "score"]"#), "{msg}");
}

/// Writes a good file, lets `corrupt` change its bytes, and returns the error of reading it.
fn error_of(name: &str, corrupt: impl FnOnce(&mut Vec<u8>)) -> String {
    let dir = TempDir::new(name);
    let good = file_of(
        &dir,
        "good.parquet",
        &[flat_batch(0, 100)],
        25,
        Compression::UNCOMPRESSED,
    );
    let mut bytes = std::fs::read(&good.path).unwrap();
    corrupt(&mut bytes);
    let file = dir.file("bad.parquet", &bytes);
    let e = run_to_completion(&ReadParquet::new(), &file).unwrap_err();
    e.to_string()
}

#[test]
fn corrupt_files_fail_naming_the_file_and_offset() {
    let msg = error_of("parquet-magic", |b| {
        let n = b.len();
        b[n - 1] = b'X';
    });
    assert!(
        msg.contains("bad.parquet") && msg.contains("magic number"),
        "{msg}"
    );

    let truncated = error_of("parquet-truncated", |b| b.truncate(b.len() / 2));
    assert!(truncated.contains("truncated"), "{truncated}");

    let mut at = 0;
    let too_long = error_of("parquet-footer-len", |b| {
        let n = b.len();
        b[n - 8..n - 4].copy_from_slice(&(n as u32).to_le_bytes());
        at = n - 8;
    });
    assert!(
        too_long.contains(&format!("byte {at} of")) && too_long.contains("footer length"),
        "{too_long}"
    );

    let head = error_of("parquet-head", |b| b[0] = b'Q');
    assert!(
        head.contains("byte 0 of") && head.contains("not Parquet"),
        "{head}"
    );

    let short = error_of("parquet-short", |b| b.truncate(7));
    assert!(short.contains("too short"), "{short}");

    let mut meta_at = 0;
    let footer = error_of("parquet-footer", |b| {
        let n = b.len();
        let len = u32::from_le_bytes(b[n - 8..n - 4].try_into().unwrap()) as usize;
        meta_at = n - 8 - len;
        b[meta_at..n - 8].fill(0xFF);
    });
    assert!(
        footer.contains(&format!("byte {meta_at} of")) && footer.contains("does not decode"),
        "{footer}"
    );
}

#[test]
fn a_row_group_that_does_not_decode_is_named_by_its_offset() {
    let dir = TempDir::new("parquet-bad-group");
    let good = file_of(
        &dir,
        "good.parquet",
        &[flat_batch(0, 100)],
        25,
        Compression::UNCOMPRESSED,
    );
    let read = ReadParquet::new().min_split_size(1);
    // The second piece starts at the second row group.
    let pieces = read
        .split_restriction(&good, read.initial_restriction(&good).unwrap(), 1.0)
        .unwrap();
    let second = pieces[1].start() as usize;
    let mut bytes = std::fs::read(&good.path).unwrap();
    bytes[second..second + 16].fill(0xFF); // its first page header
    let file = dir.file("bad.parquet", &bytes);
    let msg = run_to_completion(&read, &file).unwrap_err().to_string();
    assert!(
        msg.contains(&format!("byte {second} of")) && msg.contains("row group 1 does not decode"),
        "{msg}"
    );
}

#[test]
fn a_file_changed_since_listing_fails() {
    let dir = TempDir::new("parquet-changed");
    let mut file = file_of(
        &dir,
        "a.parquet",
        &[flat_batch(0, 10)],
        5,
        Compression::SNAPPY,
    );
    file.size += 1;
    let msg = run_to_completion(&ReadParquet::new(), &file)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("changed while it was being read"), "{msg}");
}

/// Files written by pyarrow (Arrow C++), committed: `tests/data/make_pyarrow_parquet.py` says
/// how they were made. Dictionary pages, data pages v2, gzip, lists and structs with nulls.
#[test]
fn files_written_by_pyarrow_split_exactly() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for name in ["pyarrow-snappy-dict.parquet", "pyarrow-gzip-v2.parquet"] {
        let file = listed(&data.join(name));
        let want = reference_rows(&file.path);
        assert_eq!(want.len(), 300, "{name}");
        assert!(want[0].starts_with(r#"{"id":0,"#), "{}", want[0]);
        let read = ReadParquet::new().batch_size(16).min_split_size(1);
        assert_eq!(
            run_to_completion(&BatchRows(read.clone()), &file).unwrap(),
            want
        );
        let report = kit(
            || ReadParquet::new().batch_size(16).min_split_size(1),
            &file,
            &want,
        );
        assert_eq!(report.claims, 8, "{name}: one claim per row group");
    }
}
