//! Temporary directories for the tests, removed on drop, and small helpers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::Compression;
use flate2::write::GzEncoder;
use sdf_legacy::{BoundedSource, Error};

/// A fresh directory under the system's temporary directory, removed with its files on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "sdf-legacy-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `bytes` to `name` (directories created), returns its path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Writes `bytes` gzip-compressed to `name`.
    pub fn write_gz(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        self.write(name, gzip(bytes.as_ref()))
    }

    /// `glob` inside the directory.
    pub fn pattern(&self, glob: &str) -> String {
        format!("{}/{glob}", self.path.display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Reads `[start, stop)` of `source`, returning the source's own error (not a violation).
pub fn read<S: BoundedSource<Position = i64>>(
    source: &S,
    start: Option<i64>,
    stop: Option<i64>,
) -> Result<Vec<S::Output>, Error> {
    let range = Arc::new(source.range_tracker(start, stop)?);
    source.read(range)?.collect()
}
