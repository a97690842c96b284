//! `WriteParquet` through the `Sink` protocol by hand: shards each with their own encoder,
//! files readable only once published, recovery, and batches of another schema.
#![cfg(feature = "parquet")]

mod columnar_support;
mod write_support;

use std::fs::File;

use arrow_array::RecordBatch;
use columnar_support::{flat_batch, nested_batch, reference_rows, rows};
use parquet::file::reader::{FileReader, SerializedFileReader};
use sdf_connectors::{Error, Parquet, WriteFiles, WriteParquet};
use sdf_core::{Timestamp, Timestamped};
use sdf_runtime::Sink;
use write_support::*;

fn batch(values: impl IntoIterator<Item = RecordBatch>) -> Vec<Timestamped<RecordBatch>> {
    values
        .into_iter()
        .map(|value| Timestamped {
            value,
            timestamp: Timestamp::MIN,
        })
        .collect()
}

/// The rows of every published Parquet file below `dir`, read by the parquet crate.
fn published_rows(dir: &std::path::Path) -> Vec<String> {
    published_files(dir)
        .iter()
        .flat_map(|f| reference_rows(&dir.join(f)))
        .collect()
}

#[tokio::test]
async fn shards_interleave_with_one_encoder_each_and_publish_at_commit() {
    let dir = TempDir::new("parquet-shards");
    let mut sink: WriteParquet = WriteFiles::builder(&dir.0, Parquet::new().row_group_rows(25))
        .shards(3)
        .build()
        .unwrap();
    let inputs: Vec<RecordBatch> = (0..9).map(|i| flat_batch(i * 20, 20)).collect();
    sink.write(batch(inputs.clone())).await.unwrap();
    let commit = sink.prepare(4).await.unwrap();
    let targets: Vec<&str> = commit.files.iter().map(|f| f.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "part-000004-000.parquet",
            "part-000004-001.parquet",
            "part-000004-002.parquet"
        ]
    );
    assert!(
        published_files(&dir.0).is_empty(),
        "nothing visible before commit"
    );
    sink.commit(4, commit.clone()).await.unwrap();
    assert_same_multiset(&published_rows(&dir.0), &rows(&inputs));
    // Shard 0 got batches 0, 3, 6: 60 rows in row groups of at most 25.
    let shard0 = SerializedFileReader::new(File::open(dir.join(targets[0])).unwrap()).unwrap();
    let groups: Vec<i64> = shard0
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect();
    assert_eq!(groups, [25, 25, 10]);
    assert_eq!(staged(&dir.0), 0);
}

#[tokio::test]
async fn recover_publishes_the_durable_epoch_readable_and_discards_the_rest() {
    let dir = TempDir::new("parquet-recover");
    let build = || -> WriteParquet {
        WriteFiles::builder(&dir.0, Parquet::new().row_group_rows(7))
            .shards(2)
            .build()
            .unwrap()
    };
    let first = vec![nested_batch(0, 30), nested_batch(30, 30)];
    let mut before = build();
    before.write(batch(first.clone())).await.unwrap();
    let durable = before.prepare(1).await.unwrap();
    before.write(batch([nested_batch(60, 5)])).await.unwrap();
    let _never_durable = before.prepare(2).await.unwrap();
    before.write(batch([nested_batch(65, 5)])).await.unwrap(); // open, no footer yet
    drop(before); // the crash
    assert!(published_files(&dir.0).is_empty());
    assert_eq!(staged(&dir.0), 4);

    let mut after = build();
    after.recover(Some((1, durable.clone()))).await.unwrap();
    assert_eq!(staged(&dir.0), 0);
    assert_same_multiset(&published_rows(&dir.0), &rows(&first));
    drop(after); // one sink per output directory at a time
    build().recover(Some((1, durable))).await.unwrap();
    assert_eq!(published_rows(&dir.0).len(), 60);
}

#[tokio::test]
async fn a_batch_of_another_schema_fails_the_epoch_naming_the_file() {
    let dir = TempDir::new("parquet-schema");
    let mut sink: WriteParquet = WriteFiles::builder(&dir.0, Parquet::new()).build().unwrap();
    sink.write(batch([flat_batch(0, 3), nested_batch(0, 3)]))
        .await
        .unwrap();
    let e = sink.prepare(1).await.unwrap_err();
    let source = std::error::Error::source(&e)
        .and_then(|s| s.downcast_ref::<Error>())
        .unwrap();
    assert!(
        matches!(source, Error::Encode { record: 1, .. }),
        "{source}"
    );
    assert!(
        source.to_string().contains(".sdf-staging/part-"),
        "{source}"
    );
    assert!(published_files(&dir.0).is_empty());
}
