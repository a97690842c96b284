//! Reading a collection of file patterns that is itself only known while the pipeline runs.
//!
//! The patterns arrive through a channel: each one is matched (`MatchAll`, an SDF over the
//! listing) and every file it matches is read (`ReadText`, an SDF over byte ranges), while
//! more patterns may still come. Flink, Spark and RisingWave fix their file sources when the
//! job starts; here a pattern is just another element.
//!
//! ```text
//! cargo run --example read_patterns
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use sdf_connectors::{MatchAll, ReadText};
use sdf_runtime::{Executor, Pipeline};

/// Writes `files` text files of `lines` lines each under `dir/name/`.
fn make(dir: &Path, name: &str, files: usize, lines: usize) {
    let sub = dir.join(name);
    fs::create_dir_all(&sub).unwrap();
    for f in 0..files {
        let text: String = (0..lines)
            .map(|i| format!("{name} file {f} line {i}\n"))
            .collect();
        fs::write(sub.join(format!("part-{f}.txt")), text).unwrap();
    }
}

/// Sends the patterns one after the other into a running pipeline; returns the lines read per
/// directory.
async fn run(dir: &Path) -> Result<BTreeMap<String, usize>, Box<dyn std::error::Error>> {
    make(dir, "january", 3, 100);
    make(dir, "february", 2, 250);
    let mut p = Pipeline::new();
    let (patterns, input) = p.channel_source::<String>("patterns");
    let files = p.apply("match", input, MatchAll::new());
    let lines = p.apply("read", files, ReadText::new().with_metadata());
    let out = p.collect("lines", lines);
    let handle = Executor::builder().workers(2).build().run(p);

    patterns
        .send(format!("{}/january/*.txt", dir.display()))
        .await?;
    // The pipeline is running; a pattern known only now joins it.
    patterns
        .send(format!("{}/february/*.txt", dir.display()))
        .await?;
    drop(patterns); // no more patterns: the pipeline finishes what it has
    handle.wait().await?;

    let mut per_dir = BTreeMap::new();
    for record in out.values() {
        let month = record
            .path
            .parent()
            .and_then(|d| d.file_name())
            .map(|d| d.to_string_lossy().into_owned());
        *per_dir.entry(month.unwrap_or_default()).or_insert(0) += 1;
    }
    Ok(per_dir)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("sdf-read-patterns-{}", std::process::id()));
    let per_dir = run(&dir).await?;
    fs::remove_dir_all(&dir)?;
    for (month, lines) in per_dir {
        println!("{month}: {lines} lines");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn patterns_sent_while_running_are_read() {
        let dir =
            std::env::temp_dir().join(format!("sdf-read-patterns-test-{}", std::process::id()));
        let per_dir = super::run(&dir).await.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(per_dir.get("january"), Some(&300));
        assert_eq!(per_dir.get("february"), Some(&500));
    }
}
