//! [`CheckpointStore`]: where checkpoints are kept. [`DirectoryStore`] is the embedded default.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The store failed.
    #[error(
        "checkpoint store at {path}: {what} failed: {source}. Check that the directory exists, is writable and has free space"
    )]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint could not be decoded, or belongs to another pipeline.
    #[error(
        "checkpoint {path}: {reason}. Point the pipeline at a fresh state directory, or restore the one written by this pipeline"
    )]
    Corrupt {
        /// Where it was read from.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Keeps the latest checkpoint of a pipeline.
///
/// # Contract
/// - `save` is atomic: after a crash at any point, `load` returns either the previous checkpoint
///   or the new one, whole.
/// - `save` returns only once the checkpoint is durable (survives a power loss, as far as the
///   medium allows).
pub trait CheckpointStore: Send + Sync + 'static {
    /// The latest checkpoint, if any.
    fn load(&self) -> Result<Option<Vec<u8>>, CheckpointError>;
    /// Replaces the latest checkpoint.
    fn save(&self, checkpoint: &[u8]) -> Result<(), CheckpointError>;
}

/// Checkpoints in a local directory: the file `checkpoint.json`, replaced atomically (write a
/// temporary file, fsync it, rename it over the old one, fsync the directory).
///
/// Chosen over an embedded database because a checkpoint is small (restrictions, not data), is
/// always written whole, and must be readable by a person debugging a stuck pipeline; a rename
/// is the atomic primitive every local file system has.
#[derive(Debug, Clone)]
pub struct DirectoryStore {
    dir: PathBuf,
}

impl DirectoryStore {
    /// The file name of the checkpoint inside the directory.
    pub const FILE: &'static str = "checkpoint.json";

    /// A store in `dir`, created if missing.
    pub fn new(dir: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|source| CheckpointError::Io {
            path: dir.clone(),
            what: "creating the directory",
            source,
        })?;
        Ok(DirectoryStore { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl CheckpointStore for DirectoryStore {
    fn load(&self) -> Result<Option<Vec<u8>>, CheckpointError> {
        let path = self.dir.join(Self::FILE);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CheckpointError::Io {
                path,
                what: "reading",
                source,
            }),
        }
    }

    fn save(&self, checkpoint: &[u8]) -> Result<(), CheckpointError> {
        let temp = self.dir.join(format!("{}.tmp", Self::FILE));
        let path = self.dir.join(Self::FILE);
        fn io(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> CheckpointError {
            let path = path.to_path_buf();
            move |source| CheckpointError::Io { path, what, source }
        }
        let mut file = fs::File::create(&temp).map_err(io(&temp, "creating"))?;
        file.write_all(checkpoint).map_err(io(&temp, "writing"))?;
        file.sync_all().map_err(io(&temp, "syncing"))?;
        drop(file);
        fs::rename(&temp, &path).map_err(io(&path, "renaming into place"))?;
        // The rename itself must be durable: sync the directory entry.
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir, "syncing the directory"))?;
        Ok(())
    }
}

/// Keeps the checkpoint in memory: for tests, or for pipelines that only need the commit
/// protocol within one run.
#[derive(Debug, Default)]
pub struct MemoryStore {
    latest: Mutex<Option<Vec<u8>>>,
}

impl CheckpointStore for MemoryStore {
    fn load(&self) -> Result<Option<Vec<u8>>, CheckpointError> {
        Ok(self
            .latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone())
    }

    fn save(&self, checkpoint: &[u8]) -> Result<(), CheckpointError> {
        *self.latest.lock().unwrap_or_else(|e| e.into_inner()) = Some(checkpoint.to_vec());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_store_replaces_the_checkpoint_whole() {
        let dir = std::env::temp_dir().join(format!("sdf-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let store = DirectoryStore::new(&dir).unwrap();
        assert_eq!(store.load().unwrap(), None);
        store.save(b"one").unwrap();
        store.save(b"two").unwrap();
        assert_eq!(store.load().unwrap().as_deref(), Some(&b"two"[..]));
        assert!(
            !dir.join("checkpoint.json.tmp").exists(),
            "no temporary file left behind"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unwritable_directory_names_the_path() {
        let err = DirectoryStore::new("/proc/sdf-cannot-create-this").unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("/proc/sdf-cannot-create-this") && message.contains("writable"),
            "{message}"
        );
    }
}
