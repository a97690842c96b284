//! Phase two and recovery of the file sinks: staged files are renamed into place (idempotent,
//! never over a file the sink did not write, never through a symlink), and staged files of
//! epochs that never became durable are deleted.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::faults::{Faults, IoStep};
use super::naming::check_relative;
use super::staging::sync_dir;
use crate::error::{Error, Result};

/// One staged file of an epoch and where it is published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedFile {
    /// Its name in the staging directory.
    pub staged: String,
    /// Its name once published, relative to the output directory, `/`-separated.
    pub target: String,
    /// How many records it holds.
    pub records: u64,
}

/// What [`WriteFiles`](crate::WriteFiles) prepared for one epoch: the commit message the
/// runtime stores in the checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteCommit {
    /// The epoch's files, by shard.
    pub files: Vec<StagedFile>,
}

/// The directories a sink publishes between.
#[derive(Debug, Clone)]
pub(crate) struct Dirs {
    pub out: PathBuf,
    pub staging: PathBuf,
    pub staging_name: String,
    pub faults: Faults,
}

impl Dirs {
    /// Publishes `files` of `epoch`. A file already in place with its staged file gone was
    /// published before (a crash after commit): fine. Both present: the target is someone
    /// else's, an error.
    pub fn publish(&self, epoch: u64, files: &[StagedFile]) -> Result<()> {
        let mut parents = vec![self.out.clone()];
        for file in files {
            let staged = self.staged_path(file)?;
            let target = self.target_path(file)?;
            let parent = self.make_parents(&file.target)?;
            if !parents.contains(&parent) {
                parents.push(parent);
            }
            let in_place = exists(&target)?;
            let waiting = exists(&staged)?;
            match (in_place, waiting) {
                (true, false) => continue,
                (true, true) => {
                    return Err(Error::AlreadyExists {
                        path: target,
                        epoch,
                    });
                }
                (false, false) => {
                    return Err(Error::StagedFileMissing {
                        path: staged,
                        target,
                        epoch,
                    });
                }
                (false, true) => {}
            }
            let io = |e| Error::io("publishing", &staged, None, e);
            self.faults.check(IoStep::Publish, &staged).map_err(io)?;
            fs::rename(&staged, &target).map_err(io)?;
        }
        if !files.is_empty() {
            for dir in &parents {
                sync_dir(dir, &self.faults)?;
            }
            sync_dir(&self.staging, &self.faults)?;
        }
        Ok(())
    }

    /// Deletes every staged file (only names this sink gives them): after `recover` published
    /// the last durable epoch, the rest belongs to epochs whose records the pipeline will
    /// produce again. Returns how many.
    pub fn discard_staged(&self) -> Result<usize> {
        let listing = |e| Error::io("listing", &self.staging, None, e);
        let mut removed = 0;
        for entry in fs::read_dir(&self.staging).map_err(listing)? {
            let entry = entry.map_err(listing)?;
            let path = entry.path();
            let name = entry.file_name();
            let ours = super::staging::is_staged_name(&name.to_string_lossy());
            if !ours || !entry.file_type().map_err(listing)?.is_file() {
                continue;
            }
            let io = |e| Error::io("removing the staged file", &path, None, e);
            self.faults.check(IoStep::Remove, &path).map_err(io)?;
            fs::remove_file(&path).map_err(io)?;
            removed += 1;
        }
        if removed > 0 {
            sync_dir(&self.staging, &self.faults)?;
        }
        Ok(removed)
    }

    fn staged_path(&self, file: &StagedFile) -> Result<PathBuf> {
        match check_relative(&file.staged) {
            Ok(()) if !file.staged.contains('/') => Ok(self.staging.join(&file.staged)),
            Ok(()) => Err(bad(
                &file.staged,
                "a staged name is one path component".into(),
            )),
            Err(reason) => Err(bad(&file.staged, reason)),
        }
    }

    fn target_path(&self, file: &StagedFile) -> Result<PathBuf> {
        check_relative(&file.target).map_err(|reason| bad(&file.target, reason))?;
        if file.target.split('/').next() == Some(self.staging_name.as_str()) {
            let reason = format!(
                "it would publish into the staging directory {}",
                self.staging_name
            );
            return Err(bad(&file.target, reason));
        }
        Ok(self.out.join(&file.target))
    }

    /// Creates the directories of `target` below the output directory, refusing to go through
    /// anything that is not a real directory (a symlink could lead outside). Returns the
    /// target's directory.
    fn make_parents(&self, target: &str) -> Result<PathBuf> {
        let mut dir = self.out.clone();
        let components: Vec<&str> = target.split('/').collect();
        for component in &components[..components.len().saturating_sub(1)] {
            dir.push(component);
            if !exists(&dir)? {
                match fs::create_dir(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(Error::io("creating", &dir, None, e)),
                }
            }
            // Checked after creating too: something else may have put a link there.
            let meta =
                fs::symlink_metadata(&dir).map_err(|e| Error::io("checking", &dir, None, e))?;
            if !meta.is_dir() {
                let reason = format!("{} is not a plain directory", dir.display());
                return Err(bad(target, reason));
            }
        }
        Ok(dir)
    }
}

fn exists(path: &Path) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("checking", path, None, e)),
    }
}

fn bad(name: &str, reason: String) -> Error {
    Error::BadName {
        name: name.to_string(),
        reason,
    }
}
