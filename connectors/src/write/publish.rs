//! Phase two and recovery of the file sinks: staged files are renamed into place (idempotent,
//! never over a file the sink did not write, never through a symlink), and staged files of
//! epochs that never became durable are deleted.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::faults::{Faults, IoStep};
use super::naming::{FileNaming, check_relative};

/// The file in the staging directory that records the last epoch published.
const PUBLISHED: &str = "published";
use super::staging::{FileIdentity, sync_dir};
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
    /// The staged file's identity once durable: how a recovering sink knows that the file in
    /// place is the one it published, not another of the same name. (Absent in commit messages
    /// of earlier releases.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<FileIdentity>,
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
    /// The staging directory's lock, held while any clone lives.
    pub _lock: std::sync::Arc<std::fs::File>,
}

impl Dirs {
    /// Publishes `files` of `epoch`. A file already in place with its staged file gone was
    /// published before (a crash after commit) if it is the staged file itself (same identity);
    /// any other file in place is someone else's, an error. Then records `epoch` as the last
    /// one published.
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
                (true, false) if self.is_ours(&target, file)? => continue,
                (true, _) => {
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
                sync_dir(dir, IoStep::SyncPublished, &self.faults)?;
            }
            self.mark(epoch)?;
            sync_dir(&self.staging, IoStep::SyncPublished, &self.faults)?;
        }
        Ok(())
    }

    /// Whether the file at `target` is `file`'s staged file, renamed into place.
    fn is_ours(&self, target: &Path, file: &StagedFile) -> Result<bool> {
        let Some(identity) = file.identity else {
            // A commit message of an earlier release: the name is all there is to go by.
            return Ok(true);
        };
        let meta =
            fs::symlink_metadata(target).map_err(|e| Error::io("checking", target, None, e))?;
        Ok(meta.is_file() && FileIdentity::of(&meta) == identity)
    }

    /// The file that records the last epoch this output directory published.
    fn mark_path(&self) -> PathBuf {
        self.staging.join(PUBLISHED)
    }

    /// Records `epoch` as the last one published (atomically: a temporary file renamed).
    fn mark(&self, epoch: u64) -> Result<()> {
        let path = self.mark_path();
        let temp = self.staging.join(format!("{PUBLISHED}.tmp"));
        let io = |e| Error::io("recording the last epoch published in", &path, None, e);
        self.faults.check(IoStep::Mark, &path).map_err(io)?;
        fs::write(&temp, format!("{epoch}\n")).map_err(io)?;
        fs::rename(&temp, &path).map_err(io)
    }

    /// The last epoch this output directory published, as recorded.
    fn published(&self) -> Result<Option<u64>> {
        let path = self.mark_path();
        match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().map(Some).map_err(|_| {
                Error::io(
                    "reading",
                    &path,
                    None,
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{text:?} is not an epoch number"),
                    ),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("reading", &path, None, e)),
        }
    }

    /// Refuses to resume from `checkpoint` (the epoch recovered, if any) on an output directory
    /// that holds files of a later epoch: they would be published twice.
    pub fn check_not_ahead(&self, checkpoint: Option<u64>, naming: &FileNaming) -> Result<()> {
        let recovered = checkpoint.unwrap_or(0);
        let published = self.published()?.unwrap_or(0);
        // Output of a release without the record, or of a run with a fresh state: the first
        // file of the next epoch says enough.
        let next_first = self.out.join(naming.render(recovered + 1, 0));
        let published = if published <= recovered && exists(&next_first)? {
            recovered + 1
        } else {
            published
        };
        if published <= recovered {
            return Ok(());
        }
        let mut files = Vec::new();
        for epoch in recovered + 1..=published.min(recovered + 100) {
            for shard in 0.. {
                let name = naming.render(epoch, shard);
                if !exists(&self.out.join(&name))? {
                    break;
                }
                files.push(name);
            }
        }
        Err(Error::OutputAhead {
            dir: self.out.clone(),
            published,
            checkpoint,
            files,
        })
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
            sync_dir(&self.staging, IoStep::SyncDiscarded, &self.faults)?;
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
