//! Helpers of the reader tests: temporary files, the line contract (as an oracle), a one-call
//! driver.
#![allow(dead_code)]

mod line_contract;

#[allow(unused_imports)] // Not every test file uses the oracle.
pub use line_contract::{Ends, line_records, line_strings};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use sdf_connectors::FileMetadata;
use sdf_connectors::read::{FileRange, Format, ReadFile};
use sdf_core::{
    Emitter, Finalizer, Output, RestrictionTracker, SharedTracker, SplitHandle, SplittableDoFn,
    Timestamp, Timestamped, WatermarkEstimator,
};

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sdf-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `bytes` to `name` and lists it.
    pub fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> FileMetadata {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        listed(&path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The file as matching would list it now.
pub fn listed(path: &Path) -> FileMetadata {
    let meta = std::fs::metadata(path).unwrap();
    FileMetadata {
        path: path.to_path_buf(),
        size: meta.len(),
        modified: Timestamp::from_system_time(meta.modified().unwrap()),
    }
}

/// The line contract of `shared/bench/gen_data.py`: split on `\n`, strip one trailing `\r`
/// from each piece, a last piece without `\n` is a record if it is non-empty.
pub fn contract_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let mut parts: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if parts.last() == Some(&&b""[..]) {
        parts.pop();
    }
    parts
        .into_iter()
        .map(|p| p.strip_suffix(b"\r").unwrap_or(p).to_vec())
        .collect()
}

/// The same as strings (the input must be UTF-8).
pub fn contract_strings(bytes: &[u8]) -> Vec<String> {
    contract_lines(bytes)
        .into_iter()
        .map(|l| String::from_utf8(l).unwrap())
        .collect()
}

/// Collects what one call emits, and asks for a checkpoint after `checkpoint_after` records.
struct Collect<R: Send> {
    records: Vec<R>,
    checkpoint_after: Option<usize>,
    handle: SplitHandle<FileRange>,
}

#[async_trait]
impl<R: Send> Emitter<R> for Collect<R> {
    async fn emit_batch(&mut self, batch: &mut Vec<Timestamped<R>>) -> sdf_core::Result<()> {
        self.records.extend(batch.drain(..).map(|t| t.value));
        if Some(self.records.len()) == self.checkpoint_after {
            self.handle.request_checkpoint();
        }
        Ok(())
    }

    fn register_finalizer(&mut self, _: Finalizer) {}
}

/// One `process` call on `restriction`, checkpointed after `checkpoint_after` records: its
/// records and the residual it leaves, if any.
pub fn one_call<F: Format>(
    read: &ReadFile<F>,
    file: &FileMetadata,
    restriction: FileRange,
    checkpoint_after: Option<usize>,
) -> sdf_core::Result<(Vec<F::Output>, Option<FileRange>)> {
    let mut tracker = SharedTracker::new(read.new_tracker(file, restriction));
    let mut emitter = Collect {
        records: Vec::new(),
        checkpoint_after,
        handle: tracker.split_handle(),
    };
    let mut watermark =
        <ReadFile<F> as SplittableDoFn>::WatermarkEstimator::from_state(Timestamp::MIN);
    futures::executor::block_on(async {
        let mut output = Output::new(&mut emitter, Timestamp::MIN, 1);
        read.process(file, &mut tracker, &mut output, &mut watermark)
            .await?;
        output.flush().await
    })?;
    let (tracker, mut residuals) = tracker.finish();
    tracker.check_done()?;
    Ok((emitter.records, residuals.pop()))
}
