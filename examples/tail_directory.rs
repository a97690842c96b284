//! A directory of growing log files: continuous matching composed with tailing.
//!
//! `ContinuousMatch` notices each `*.log` file as it appears (file-system notifications, with
//! polling as the fallback) and emits it once; `TailFile` follows each one as it grows, through
//! rotation. Neither knows about the other: "new records in new log files" is two SDFs, not a
//! monolithic source.
//!
//! ```text
//! cargo run --example tail_directory
//! ```

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use sdf_connectors::{MatchAll, TailFile, Termination};
use sdf_runtime::{Executor, Pipeline};

fn append(path: &Path, lines: &[&str]) -> std::io::Result<()> {
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    for line in lines {
        writeln!(f, "{line}")?;
    }
    Ok(())
}

/// Writes logs while the pipeline follows them; returns the lines it saw, in arrival order.
async fn run(dir: &Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    fs::create_dir_all(dir)?;
    append(&dir.join("api.log"), &["api: started"])?;
    let mut p = Pipeline::new();
    let patterns = p.from_iter("patterns", vec![format!("{}/*.log", dir.display())]);
    let files = p.apply(
        "watch",
        patterns,
        MatchAll::new().continuously(Duration::from_millis(50), Termination::Never),
    );
    let lines = p.apply(
        "tail",
        files,
        TailFile::new().poll_delay(Duration::from_millis(20)),
    );
    let out = p.collect("lines", lines);
    let handle = Executor::builder().workers(2).build().run(p);

    let until = |n: usize| {
        let out = out.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            while out.len() < n && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    until(1).await;
    append(&dir.join("api.log"), &["api: request 1", "api: request 2"])?; // growth
    append(&dir.join("worker.log"), &["worker: started"])?; // a new file
    until(4).await;
    fs::rename(dir.join("api.log"), dir.join("api.log.1"))?; // rotation
    append(&dir.join("api.log"), &["api: request 3 (after rotation)"])?;
    until(5).await;

    handle.drain();
    handle.wait().await?;
    Ok(out.values().into_iter().map(|l| l.line).collect())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("sdf-tail-directory-{}", std::process::id()));
    let lines = run(&dir).await?;
    fs::remove_dir_all(&dir)?;
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn growth_new_files_and_rotation_are_followed() {
        let dir =
            std::env::temp_dir().join(format!("sdf-tail-directory-test-{}", std::process::id()));
        let mut lines = super::run(&dir).await.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        lines.sort();
        assert_eq!(
            lines,
            [
                "api: request 1",
                "api: request 2",
                "api: request 3 (after rotation)",
                "api: started",
                "worker: started"
            ]
        );
    }
}
