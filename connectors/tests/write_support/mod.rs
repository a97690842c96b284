//! Helpers of the file-sink tests: temporary directories, reading what was published, and a
//! counting DoFn slow enough for checkpoints (and kills) to land in the middle of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sdf_core::*;

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sdf-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Every published file below `dir` (staging excluded), relative, sorted.
pub fn published_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if name.starts_with(".sdf-staging") {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(name);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Every line of every published file, header lines (`header`) left out.
pub fn published_lines(dir: &Path, header: Option<&str>) -> Vec<String> {
    let mut lines = Vec::new();
    for name in published_files(dir) {
        let text = fs::read_to_string(dir.join(&name)).unwrap();
        let mut file_lines = text.lines();
        if let Some(header) = header {
            assert_eq!(
                file_lines.next(),
                Some(header),
                "{name} starts with its header"
            );
        }
        lines.extend(file_lines.map(str::to_owned));
    }
    lines
}

/// Files left in the staging directory.
pub fn staged(dir: &Path) -> usize {
    fs::read_dir(dir.join(".sdf-staging")).map_or(0, |d| {
        d.filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with("part-") && name.ends_with(".tmp")
        })
        .count()
    })
}

/// Asserts `got` and `want` hold the same lines as many times each.
pub fn assert_same_multiset(got: &[String], want: &[String]) {
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for x in want {
        *counts.entry(x).or_default() += 1;
    }
    for x in got {
        *counts.entry(x).or_default() -= 1;
    }
    let wrong: Vec<_> = counts
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .take(10)
        .collect();
    assert!(
        wrong.is_empty(),
        "lost (>0) or duplicated (<0): {wrong:?}; got {} want {}",
        got.len(),
        want.len()
    );
}

/// `(key, n)` → `(key, 0) … (key, n − 1)`, each record costing `spin` of busy work.
pub struct SlowCount {
    pub spin: Duration,
}

#[async_trait]
impl SplittableDoFn for SlowCount {
    type Input = (String, i64);
    type Output = (String, i64);
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, (_, n): &(String, i64)) -> Result<OffsetRange> {
        Ok(OffsetRange::new(0, *n))
    }
    fn new_tracker(&self, _: &(String, i64), r: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(r)
    }
    async fn process(
        &self,
        (key, _): &(String, i64),
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, (String, i64)>,
        _: &mut MonotonicWatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        let mut i = tracker.current_restriction().start();
        while tracker.try_claim(i)? {
            let until = Instant::now() + self.spin;
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            output.emit((key.clone(), i)).await?;
            i += 1;
        }
        Ok(ProcessContinuation::Stop)
    }
}

/// The inputs of the pipeline tests, and the CSV lines they must produce.
pub fn inputs(keys: i64, per_key: i64) -> (Vec<(String, i64)>, Vec<String>) {
    let inputs: Vec<(String, i64)> = (0..keys).map(|k| (format!("k{k}"), per_key)).collect();
    let want = inputs
        .iter()
        .flat_map(|(k, n)| (0..*n).map(move |i| format!("{k},{i}")))
        .collect();
    (inputs, want)
}
