//! The block formats (Avro, Parquet) and Arrow schema inference on objects of an object store:
//! the same records as from the same local files, the conformance kit at every split point,
//! and an object replaced after its listing failing as a changed file.
#![cfg(all(feature = "object-store", feature = "avro", feature = "parquet"))]

mod avro_support;
mod columnar_support;
mod read_support;
mod store_support;

use apache_avro::Codec;
use columnar_support::{BatchRows, flat_batch, rows, write_parquet};
use read_support::TempDir;
use sdf_connectors::avro::to_json;
use sdf_connectors::read::{ReadCsvBatches, ReadParquet};
use sdf_connectors::{Error, FileMetadata, ReadAvro};
use sdf_core::SplittableDoFn;
use sdf_core::testing::{
    ExhaustiveOptions, check_sdf_exhaustive_expecting, fresh, run_to_completion,
};
use store_support::Bucket;

/// `make()`'s reader gives `want` (records computed without it) from `local` and `remote`, and
/// passes the kit on `remote` against `want`, with residuals and pieces also on fresh
/// instances from `make` (a clone shares its caches: a Parquet footer, an inferred schema), so
/// each of those reads what it needs of the object itself.
fn same_and_kit<R>(
    make: impl Fn() -> R + Sync,
    local: &FileMetadata,
    remote: &FileMetadata,
    want: Vec<R::Output>,
) -> usize
where
    R: SplittableDoFn<Input = FileMetadata>,
    R::Output: Eq + std::hash::Hash + std::fmt::Debug + Clone,
{
    let read = make();
    let got = run_to_completion(&read, local).unwrap();
    assert_eq!(got, want, "{}", local.path.display());
    let got = run_to_completion(&read, remote).unwrap();
    assert_eq!(got, want, "{}", remote.path.display());
    // Batch formats emit what a call gathered when it ends, after its refused claim.
    let kit = ExhaustiveOptions::default().flush_after_refusal(true);
    let report = check_sdf_exhaustive_expecting(&fresh(make), remote, want.clone(), &kit)
        .unwrap_or_else(|v| panic!("{}: {v}", remote.path.display()));
    println!("{}: {report}", remote.path.display());
    assert_eq!(report.records, want.len());
    assert!(report.fresh_instances > 0, "{report}");
    want.len()
}

#[test]
fn avro_objects_read_as_local_files_at_every_split_point() {
    let bucket = Bucket::new("blocks-avro");
    let dir = TempDir::new("store-blocks-avro");
    for (name, codec) in [
        ("null", Codec::Null),
        ("deflate", avro_support::codecs()[1].1),
    ] {
        // 40 records: each case runs twice (residuals warm, then on fresh instances), as long
        // as 60 took once.
        let bytes = avro_support::write_file(avro_support::FLAT, codec, 40, 200);
        let local = dir.file(&format!("{name}.avro"), &bytes);
        let remote = bucket.object(&format!("{name}.avro"), bytes.clone());
        // Records compared as JSON text: the kit needs `Eq + Hash`. The reference reader's.
        let want = avro_support::reference(&bytes)
            .into_iter()
            .map(|v| to_json(v).to_string())
            .collect();
        // A 64-byte buffer: blocks span reads, markers straddle refills.
        let read = || {
            ReadAvro::map_values(|v| Ok(to_json(v).to_string()))
                .min_split_size(1)
                .buffer_size(64)
        };
        assert_eq!(same_and_kit(read, &local, &remote, want), 40, "{name}");
    }
}

#[test]
fn parquet_objects_read_as_local_files_at_every_split_point() {
    let bucket = Bucket::new("blocks-parquet");
    let dir = TempDir::new("store-blocks-parquet");
    let path = dir.path().join("flat.parquet");
    // 45 rows in 5 row groups: each case runs twice, as long as 75 rows in 8 took once.
    let batches = [flat_batch(0, 24), flat_batch(24, 21)];
    write_parquet(
        &path,
        &batches,
        10,
        parquet::basic::Compression::UNCOMPRESSED,
    );
    let bytes = std::fs::read(&path).unwrap();
    let local = read_support::listed(&path);
    let remote = bucket.object("t/flat.parquet", bytes);
    let read = || BatchRows(ReadParquet::new().batch_size(7));
    // The rows the test wrote.
    assert_eq!(same_and_kit(read, &local, &remote, rows(&batches)), 45);
    // A projection reads only some column chunks: ranged reads at their offsets.
    let projected = BatchRows(ReadParquet::new().columns(["name"]));
    let local_rows = run_to_completion(&projected, &local).unwrap();
    assert_eq!(run_to_completion(&projected, &remote).unwrap(), local_rows);
}

#[test]
fn a_parquet_object_replaced_after_listing_is_a_change_naming_its_url() {
    let bucket = Bucket::new("blocks-parquet-changed");
    let dir = TempDir::new("store-blocks-parquet-changed");
    let path = dir.path().join("a.parquet");
    write_parquet(
        &path,
        &[flat_batch(0, 20)],
        5,
        parquet::basic::Compression::UNCOMPRESSED,
    );
    let listed = bucket.object("a.parquet", std::fs::read(&path).unwrap());
    write_parquet(
        &path,
        &[flat_batch(0, 30)],
        5,
        parquet::basic::Compression::UNCOMPRESSED,
    );
    bucket.put("a.parquet", std::fs::read(&path).unwrap());
    let err = run_to_completion(&BatchRows(ReadParquet::new()), &listed).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("changed while it was being read") && msg.contains(&bucket.url("a.parquet")),
        "{msg}"
    );
    let source = std::error::Error::source(&err).and_then(|s| s.downcast_ref::<Error>());
    assert!(matches!(source, Some(Error::FileChanged { .. })), "{err:?}");
}

#[test]
fn csv_batches_infer_their_schema_from_an_object() {
    let bucket = Bucket::new("blocks-csv");
    let dir = TempDir::new("store-blocks-csv");
    // 25 rows: each case runs twice (residuals warm, then on fresh instances, which infer the
    // schema again from the object's head), in less time than 50 took once.
    let text: String = std::iter::once("id,name\n".to_string())
        .chain((0..25).map(|i| format!("{i},n{i}\n")))
        .collect();
    let local = dir.file("a.csv", &text);
    let remote = bucket.object("a.csv", text);
    // A 64-byte buffer: rows span reads (and a fresh instance costs no 256 KiB).
    let read = || {
        BatchRows(
            ReadCsvBatches::new()
                .batch_rows(8)
                .min_split_size(1)
                .buffer_size(64),
        )
    };
    // The rows the test wrote, as JSON lines of the schema inferred (an Int64 and a Utf8).
    let want = (0..25)
        .map(|i| format!(r#"{{"id":{i},"name":"n{i}"}}"#))
        .collect();
    assert_eq!(same_and_kit(read, &local, &remote, want), 25);
}
