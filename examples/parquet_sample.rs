//! Makes `samples/tables/events.parquet` from `samples/tables/events.jsonl`, with the crate's
//! own connectors: JSON lines read into Arrow batches (`ReadJsonBatches`, schema inferred),
//! written as Parquet (`WriteParquet`) in row groups of 100 rows, so that the sample has 8 row
//! groups to split at.
//!
//! ```text
//! cargo run --example parquet_sample -- samples/tables/events.parquet   # (re)make the sample
//! cargo run --example parquet_sample                                    # check it
//! ```
//!
//! Without an argument (as `cargo test` runs it) it makes the file in a temporary directory and
//! checks that the committed sample holds the same rows.

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use sdf_connectors::read::ReadJsonBatches;
use sdf_connectors::{FileMetadata, Parquet, ReadParquet, WriteFiles, WriteParquet};
use sdf_core::Timestamp;
use sdf_core::testing::run_to_completion;
use sdf_runtime::{Executor, Pipeline};

fn listed(path: &Path) -> Result<FileMetadata, Box<dyn std::error::Error>> {
    let meta = std::fs::metadata(path)?;
    Ok(FileMetadata {
        path: path.to_path_buf(),
        size: meta.len(),
        modified: Timestamp::from_system_time(meta.modified()?),
    })
}

/// The rows of a Parquet file as JSON lines.
fn rows(path: &Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let batches: Vec<RecordBatch> = run_to_completion(&ReadParquet::new(), &listed(path)?)?;
    let mut out = Vec::new();
    let mut writer = arrow_json::LineDelimitedWriter::new(&mut out);
    for batch in &batches {
        writer.write(batch)?;
    }
    writer.finish()?;
    Ok(String::from_utf8(out)?
        .lines()
        .map(str::to_string)
        .collect())
}

/// Converts `jsonl` into one Parquet file in `dir`; returns its path.
fn convert(jsonl: &Path, dir: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let mut p = Pipeline::new();
    let files = p.from_iter("files", [listed(jsonl)?]);
    let batches = p.apply("read", files, ReadJsonBatches::new().batch_rows(100));
    let sink: WriteParquet =
        WriteFiles::builder(dir, Parquet::new().row_group_rows(100)).build()?;
    p.sink("parquet", batches, sink);
    // One worker: the batches reach the file in the order of the lines.
    Executor::builder().workers(1).build().run_blocking(p)?;
    Ok(dir.join("part-000001-000.parquet"))
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/tables")
}

/// Makes the file in a fresh temporary directory `name`; returns the directory and the file.
fn make(name: &str) -> Result<(PathBuf, PathBuf), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("sdf-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let made = convert(&samples().join("events.jsonl"), &dir)?;
    Ok((dir, made))
}

/// Checks that the committed sample holds the rows the conversion makes.
fn check(made: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let committed = samples().join("events.parquet");
    let (want, got) = (rows(made)?, rows(&committed)?);
    assert_eq!(want.len(), 800);
    assert_eq!(
        got,
        want,
        "{} is out of date: remake it",
        committed.display()
    );
    println!("{} holds the 800 rows of events.jsonl", committed.display());
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (dir, made) = make("parquet-sample")?;
    match std::env::args_os().nth(1) {
        Some(target) => {
            std::fs::copy(&made, &target)?;
            println!("wrote {}", Path::new(&target).display());
        }
        None => check(&made)?,
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_sample_holds_the_rows_of_events_jsonl() {
        let (dir, made) = super::make("parquet-sample-test").unwrap();
        super::check(&made).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
