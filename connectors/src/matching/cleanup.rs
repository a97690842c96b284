//! [`CleanUp`]: what a continuous match does with a file once its output is committed
//! downstream (Spark's `cleanSource`), from a bundle finalizer and never before.

use std::future::Future;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use sdf_core::Finalizer;

use super::pattern::Pattern;
use crate::error::{Error, Result};
use crate::file::FileMetadata;
use crate::storage;

/// What happens to an emitted file after the output of the call that emitted it has been
/// durably committed downstream.
///
/// It runs from a bundle finalizer ([`Output::after_commit`](sdf_core::Output::after_commit)):
/// never before the commit, never for output that was not committed (a failed call is retried
/// and registers it again). With the runtime, that is after the checkpoint that holds the
/// output, so it needs a checkpoint store to happen while the pipeline runs (otherwise at the
/// end). A finalizer that fails (a file already gone is not a failure) is logged by the
/// runtime; the file stays, and the watch does not emit it again while it remembers it.
///
/// With the embedded runtime, "committed" covers the *reader* of the file: a finalizer waits
/// until the next step (the reader applied to the emitted files) has finished every piece of
/// the file and the checkpoint after that has committed its records. A file whose read went to
/// a dead-letter output is kept. Clean-up is best-effort across crashes: a process killed
/// between the commit and the clean-up leaves the file in place (it is not read again while
/// the watch remembers it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CleanUp {
    /// Leave files where they are.
    #[default]
    Keep,
    /// Delete each file.
    Delete,
    /// Move each file into this directory, at its path below the pattern's root (created as
    /// needed); across file systems it is copied, then removed. For a URL pattern the
    /// directory is a URL in the same object store (`s3://bucket/archive`): each object is
    /// renamed there (copied, then deleted, on stores without a rename). The directory must lie outside
    /// what the pattern matches, or the archived file would be matched again.
    Archive(PathBuf),
}

type Boxed = Pin<Box<dyn Future<Output = sdf_core::Result<()>> + Send>>;

impl CleanUp {
    /// The finalizer that cleans up `files`, emitted for `pattern`; `None` to keep them.
    pub(crate) fn finalizer(
        &self,
        pattern: &Pattern,
        files: &[FileMetadata],
    ) -> Result<Option<Finalizer>> {
        match self {
            CleanUp::Keep => Ok(None),
            CleanUp::Delete => {
                let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
                Ok(Some(Box::new(move || -> Boxed {
                    Box::pin(async move {
                        for path in paths {
                            sdf_core::crash::reached(sdf_core::crash::step::FINALIZE_DELETE);
                            match path.to_str().filter(|p| storage::is_url(p)) {
                                Some(url) => storage::delete(url).await?,
                                None => delete(&path)?,
                            }
                        }
                        Ok(())
                    })
                })))
            }
            CleanUp::Archive(dir) => {
                let remote_dir = dir.to_str().is_some_and(storage::is_url);
                if remote_dir != pattern.is_remote() {
                    return Err(Error::UnsupportedUrl {
                        url: format!("{} (archive {})", pattern.as_str(), dir.display()),
                        reason: "files are archived in the same storage: a local directory for \
                                 a local pattern, a URL in the same object store for a URL \
                                 pattern"
                            .into(),
                    });
                }
                let mut moves = Vec::with_capacity(files.len());
                for file in files {
                    let below = match file.path.strip_prefix(pattern.root()) {
                        Ok(below) if !below.as_os_str().is_empty() => below.to_path_buf(),
                        _ => file.path.file_name().map(PathBuf::from).unwrap_or_default(),
                    };
                    let target = dir.join(below);
                    if pattern.is_match(&target) {
                        return Err(Error::ArchiveMatchesPattern {
                            path: file.path.clone(),
                            target,
                            pattern: pattern.as_str().to_string(),
                        });
                    }
                    moves.push((file.path.clone(), target));
                }
                Ok(Some(Box::new(move || -> Boxed {
                    Box::pin(async move {
                        for (from, to) in moves {
                            sdf_core::crash::reached(sdf_core::crash::step::FINALIZE_ARCHIVE);
                            match (from.to_str(), to.to_str()) {
                                (Some(f), Some(t)) if storage::is_url(f) => {
                                    storage::archive(f, t).await?
                                }
                                _ => archive(&from, &to)?,
                            }
                        }
                        Ok(())
                    })
                })))
            }
        }
    }
}

fn delete(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(Error::io("deleting", path, None, e)),
        _ => Ok(()),
    }
}

fn archive(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io("creating the archive directory", parent, None, e))?;
    }
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == ErrorKind::CrossesDevices => {
            std::fs::copy(from, to).map_err(|e| Error::io("archiving (copying)", from, None, e))?;
            delete(from)
        }
        Err(e) => Err(Error::io("archiving", from, None, e)),
    }
}
