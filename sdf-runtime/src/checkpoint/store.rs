//! [`CheckpointStore`]: where checkpoints are kept. [`DirectoryStore`] is the embedded default.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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
    /// Another process (or another store in this one) holds the state directory.
    #[error(
        "the state directory {dir} is in use{}: one pipeline per state directory. Stop the \
         other one, or give this pipeline a state directory of its own",
        holder.as_ref().map(|h| format!(" by {h}")).unwrap_or_default()
    )]
    Busy {
        /// The state directory.
        dir: PathBuf,
        /// Who holds it, as its lock file says (e.g. `process 4242`).
        holder: Option<String>,
    },
    /// The latest checkpoint cannot be decoded: truncated, damaged, or not a checkpoint.
    #[error(
        "checkpoint {path} is damaged: {reason}. {}",
        match previous {
            Some(previous) => format!(
                "The previous checkpoint (epoch {}) is kept in {}: docs/checkpoints.md says how \
                 to resume from it. Or start on a fresh state directory",
                previous.epoch,
                previous.path.display()
            ),
            None => "No previous checkpoint is kept: start on a fresh state directory".into(),
        }
    )]
    Corrupt {
        /// Where it was read from.
        path: String,
        /// What is wrong.
        reason: String,
        /// The checkpoint kept before it, if the store keeps one and it is readable.
        previous: Option<PreviousCheckpoint>,
    },
    /// The checkpoint was written by another pipeline: other steps, or another identity
    /// ([`ExecutorBuilder::checkpoint_identity`](crate::ExecutorBuilder::checkpoint_identity)).
    #[error(
        "checkpoint {path} belongs to another pipeline: {reason}. Start this pipeline on a fresh \
         state directory, or run the pipeline that wrote it"
    )]
    OtherPipeline {
        /// Where it was read from.
        path: String,
        /// What differs.
        reason: String,
    },
    /// The checkpoint is of a format or version this build does not read.
    #[error(
        "checkpoint {path} is {format} version {version}; this build reads {} version {}. It was \
         written by another (newer?) release: run that release, or start on a fresh state directory",
        crate::checkpoint::format::FORMAT,
        crate::checkpoint::format::VERSION
    )]
    Unsupported {
        /// Where it was read from.
        path: String,
        /// The format named in it.
        format: String,
        /// Its version.
        version: u32,
    },
}

/// The checkpoint a store keeps before the latest one, named in [`CheckpointError::Corrupt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousCheckpoint {
    /// Where it is.
    pub path: PathBuf,
    /// Its epoch.
    pub epoch: u64,
}

/// Keeps the latest checkpoint of a pipeline.
///
/// # Contract
/// - `save` is atomic: after a crash at any point, `load` returns either the previous checkpoint
///   or the new one, whole.
/// - `save` returns only once the checkpoint is durable (survives a power loss, as far as the
///   medium allows).
/// - A store may keep the checkpoint before the latest one ([`load_previous`](Self::load_previous)),
///   so that a damaged latest checkpoint can be recovered from by hand.
pub trait CheckpointStore: Send + Sync + 'static {
    /// The latest checkpoint, if any.
    fn load(&self) -> Result<Option<Vec<u8>>, CheckpointError>;
    /// Replaces the latest checkpoint.
    fn save(&self, checkpoint: &[u8]) -> Result<(), CheckpointError>;
    /// The checkpoint saved before the latest one, and where it is, if the store keeps it.
    fn load_previous(&self) -> Result<Option<(PathBuf, Vec<u8>)>, CheckpointError> {
        Ok(None)
    }
    /// Where the latest checkpoint is, for messages (a path, a URL).
    fn location(&self) -> String {
        "the checkpoint store".into()
    }
}

/// Checkpoints in a local directory, owned by one process at a time.
///
/// - **The checkpoint** is the file `checkpoint.json`, replaced atomically: the new one is
///   written to `checkpoint.json.tmp` and `fsync`ed, the current one is kept as
///   `checkpoint.previous.json` (a hard link), the temporary file is renamed over the current
///   one, and the directory is `fsync`ed. A crash at any step leaves the old checkpoint or the
///   new one, whole; the previous one is there to recover from by hand if the latest is ever
///   damaged (`docs/checkpoints.md`).
/// - **The lock**: [`new`](Self::new) takes an exclusive lock on the file `LOCK` (the
///   operating system's advisory file lock, released by the kernel when the process dies,
///   however it dies) and holds it while any clone of the store lives. A second store on the
///   same directory, in this process or another, is refused with [`CheckpointError::Busy`]:
///   two writers never share a state directory.
///
/// Chosen over an embedded database because a checkpoint is small (restrictions, not data), is
/// always written whole, and must be readable by a person debugging a stuck pipeline; a rename
/// is the atomic primitive every local file system has.
#[derive(Debug, Clone)]
pub struct DirectoryStore {
    dir: PathBuf,
    _lock: Arc<fs::File>,
}

impl DirectoryStore {
    /// The file name of the checkpoint inside the directory.
    pub const FILE: &'static str = "checkpoint.json";
    /// The file name of the checkpoint kept before the latest one.
    pub const PREVIOUS: &'static str = "checkpoint.previous.json";
    /// The file name of the lock.
    pub const LOCK: &'static str = "LOCK";

    /// A store in `dir`, created if missing, locked for this process; [`CheckpointError::Busy`]
    /// if another store holds it.
    pub fn new(dir: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|source| CheckpointError::Io {
            path: dir.clone(),
            what: "creating the directory",
            source,
        })?;
        let lock = lock_dir(&dir)?;
        Ok(DirectoryStore {
            dir,
            _lock: Arc::new(lock),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Forgets every checkpoint (the latest, the previous one, a temporary one): a pipeline
    /// started on the store begins afresh. Returns how many files it removed.
    pub fn clear(&self) -> Result<usize, CheckpointError> {
        let mut removed = 0;
        for name in [Self::FILE, Self::PREVIOUS, "checkpoint.json.tmp"] {
            let path = self.dir.join(name);
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(CheckpointError::Io {
                        path,
                        what: "removing",
                        source,
                    });
                }
            }
        }
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| CheckpointError::Io {
                path: self.dir.clone(),
                what: "syncing the directory",
                source,
            })?;
        Ok(removed)
    }
}

/// Takes the lock of `dir` and writes who holds it into the lock file.
fn lock_dir(dir: &Path) -> Result<fs::File, CheckpointError> {
    let path = dir.join(DirectoryStore::LOCK);
    let io = |what: &'static str| {
        let path = path.clone();
        move |source| CheckpointError::Io { path, what, source }
    };
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io("opening the lock file"))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let holder = fs::read_to_string(&path)
                .ok()
                .map(|text| text.trim().to_string())
                .filter(|text| !text.is_empty());
            return Err(CheckpointError::Busy {
                dir: dir.to_path_buf(),
                holder,
            });
        }
        Err(fs::TryLockError::Error(source)) => {
            return Err(CheckpointError::Io {
                path,
                what: "locking",
                source,
            });
        }
    }
    file.set_len(0).map_err(io("writing the lock file"))?;
    file.write_all(format!("process {}\n", std::process::id()).as_bytes())
        .map_err(io("writing the lock file"))?;
    Ok(file)
}

impl CheckpointStore for DirectoryStore {
    fn load(&self) -> Result<Option<Vec<u8>>, CheckpointError> {
        let path = self.dir.join(Self::FILE);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let previous = self.dir.join(Self::PREVIOUS);
                if previous.exists() {
                    // A previous checkpoint without a current one: the latest was removed by
                    // hand. Starting afresh would redo (and publish again) everything.
                    return Err(CheckpointError::Corrupt {
                        path: path.display().to_string(),
                        reason: format!(
                            "it is missing, but {} is there: the latest checkpoint was removed",
                            previous.display()
                        ),
                        previous: None,
                    });
                }
                Ok(None)
            }
            Err(source) => Err(CheckpointError::Io {
                path,
                what: "reading",
                source,
            }),
        }
    }

    fn load_previous(&self) -> Result<Option<(PathBuf, Vec<u8>)>, CheckpointError> {
        let path = self.dir.join(Self::PREVIOUS);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some((path, bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CheckpointError::Io {
                path,
                what: "reading",
                source,
            }),
        }
    }

    fn location(&self) -> String {
        self.dir.join(Self::FILE).display().to_string()
    }

    fn save(&self, checkpoint: &[u8]) -> Result<(), CheckpointError> {
        use sdf_core::crash::{reached, step};
        let temp = self.dir.join(format!("{}.tmp", Self::FILE));
        let path = self.dir.join(Self::FILE);
        let previous = self.dir.join(Self::PREVIOUS);
        fn io(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> CheckpointError {
            let path = path.to_path_buf();
            move |source| CheckpointError::Io { path, what, source }
        }
        reached(step::CHECKPOINT_WRITE);
        let mut file = fs::File::create(&temp).map_err(io(&temp, "creating"))?;
        file.write_all(checkpoint).map_err(io(&temp, "writing"))?;
        reached(step::CHECKPOINT_FSYNC);
        file.sync_all().map_err(io(&temp, "syncing"))?;
        drop(file);
        reached(step::CHECKPOINT_KEEP_PREVIOUS);
        keep_previous(&path, &previous)?;
        reached(step::CHECKPOINT_RENAME);
        fs::rename(&temp, &path).map_err(io(&path, "renaming into place"))?;
        // The rename itself must be durable: sync the directory entry.
        reached(step::CHECKPOINT_DIR_FSYNC);
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir, "syncing the directory"))?;
        Ok(())
    }
}

/// Makes `previous` a copy of `current` (a hard link where the file system has them), if
/// `current` exists. `current` itself is never touched, so a crash here changes nothing that
/// `load` reads.
fn keep_previous(current: &Path, previous: &Path) -> Result<(), CheckpointError> {
    let io = |what: &'static str| {
        let path = previous.to_path_buf();
        move |source| CheckpointError::Io { path, what, source }
    };
    match fs::remove_file(previous) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io("removing the older checkpoint")(e));
        }
        _ => {}
    }
    match fs::hard_link(current, previous) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) => match fs::copy(current, previous) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("keeping the previous checkpoint")(e)),
        },
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

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sdf-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_second_store_on_the_directory_is_refused_until_the_first_is_gone() {
        let dir = scratch("busy");
        let first = DirectoryStore::new(&dir).unwrap();
        let clone = first.clone();
        let err = DirectoryStore::new(&dir).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, CheckpointError::Busy { .. }), "{err:?}");
        assert!(
            message.contains(&format!("process {}", std::process::id()))
                && message.contains("in use"),
            "{message}"
        );
        drop(first);
        assert!(DirectoryStore::new(&dir).is_err(), "a clone still holds it");
        drop(clone);
        DirectoryStore::new(&dir).expect("released with the last clone");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_previous_checkpoint_is_kept_and_a_removed_latest_one_is_refused() {
        let dir = scratch("previous");
        let store = DirectoryStore::new(&dir).unwrap();
        assert_eq!(store.load_previous().unwrap(), None);
        store.save(b"one").unwrap();
        assert_eq!(
            store.load_previous().unwrap(),
            None,
            "nothing before the first"
        );
        store.save(b"two").unwrap();
        store.save(b"three").unwrap();
        let (path, previous) = store.load_previous().unwrap().unwrap();
        assert_eq!(previous, b"two");
        assert_eq!(path, dir.join(DirectoryStore::PREVIOUS));
        assert_eq!(store.load().unwrap().as_deref(), Some(&b"three"[..]));
        fs::remove_file(dir.join(DirectoryStore::FILE)).unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(
            err.contains("removed") && err.contains(DirectoryStore::PREVIOUS),
            "{err}"
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
