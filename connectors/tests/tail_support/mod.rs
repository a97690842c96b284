//! Helpers of the tail tests: temporary directories, and `process` calls driven by hand from a
//! restriction that went through serde, as a runner restarting from a checkpoint would.
#![allow(dead_code)]

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use futures::executor::block_on;
use sdf_connectors::{FileMetadata, TailFile, TailLine, TailRange};
use sdf_core::{
    CollectEmitter, MonotonicWatermarkEstimator, Output, ProcessContinuation, RestrictionTracker,
    SharedTracker, SplittableDoFn, Timestamp, WatermarkEstimator,
};

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

/// Appends `text` to `path`, creating it if needed.
pub fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

pub fn metadata(path: &Path) -> FileMetadata {
    FileMetadata {
        path: path.to_path_buf(),
        size: fs::metadata(path).map_or(0, |m| m.len()),
        modified: Timestamp::MIN,
    }
}

/// What one call did.
#[derive(Debug)]
pub struct Call {
    pub lines: Vec<TailLine>,
    pub continuation: ProcessContinuation,
    /// What is left (a `Resume`'s checkpoint), as JSON.
    pub residual: Option<String>,
}

impl Call {
    pub fn texts(&self) -> Vec<&str> {
        self.lines.iter().map(|l| l.line.as_str()).collect()
    }
}

/// Runs one `process` call on `restriction` (JSON), as a runner would, and checks the call kept
/// the DoFn contract.
pub fn call(dofn: &TailFile, input: &FileMetadata, restriction: &str) -> sdf_core::Result<Call> {
    let restriction: TailRange = serde_json::from_str(restriction).unwrap();
    let mut tracker = SharedTracker::new(dofn.new_tracker(input, restriction));
    let mut emitter = CollectEmitter::default();
    let mut watermark = MonotonicWatermarkEstimator::from_state(Timestamp::MIN);
    let continuation = {
        let mut out = Output::new(&mut emitter, Timestamp::MIN, 4);
        let continuation = block_on(dofn.process(input, &mut tracker, &mut out, &mut watermark))?;
        block_on(out.flush())?;
        continuation
    };
    let (mut tracker, orphans) = tracker.finish();
    assert!(orphans.is_empty());
    let residual = match continuation {
        ProcessContinuation::Resume { .. } => tracker.try_split(0.0)?.map(|s| s.residual),
        ProcessContinuation::Stop => None,
    };
    tracker.check_done()?;
    Ok(Call {
        lines: emitter.records.into_iter().map(|r| r.value).collect(),
        continuation,
        residual: residual.map(|r| serde_json::to_string(&r).unwrap()),
    })
}

/// A tail driven call by call, each from the previous call's serialized residual.
pub struct Follower {
    pub dofn: TailFile,
    pub input: FileMetadata,
    pub restriction: Option<String>,
}

impl Follower {
    pub fn new(dofn: TailFile, path: &Path) -> Follower {
        let input = metadata(path);
        let initial = dofn.initial_restriction(&input).unwrap();
        Follower {
            restriction: Some(serde_json::to_string(&initial).unwrap()),
            dofn,
            input,
        }
    }

    /// One call; panics if the tail had already stopped.
    pub fn poll(&mut self) -> sdf_core::Result<Call> {
        let restriction = self.restriction.take().expect("the tail has stopped");
        let result = call(&self.dofn, &self.input, &restriction);
        match &result {
            Ok(done) => self.restriction = done.residual.clone(),
            Err(_) => self.restriction = Some(restriction),
        }
        result
    }

    /// One call's line texts.
    pub fn lines(&mut self) -> Vec<String> {
        let call = self.poll().unwrap();
        call.lines.into_iter().map(|l| l.line).collect()
    }
}
