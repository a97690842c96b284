//! [`WriteFiles`]: the exactly-once file sink, a [`Sink`] over staged files.

use std::marker::PhantomData;
use std::path::Path;

use async_trait::async_trait;
use sdf_core::{Sink, Timestamped};

use super::builder::WriteFilesBuilder;
use super::format::FileFormat;
use super::naming::FileNaming;
use super::publish::{Dirs, StagedFile, WriteCommit};
use super::staging::{Staging, sync};
use crate::error::{Error, Result};

/// Writes records to files in an output directory, each record published exactly once: a
/// [`Sink`] that follows its two-phase commit.
///
/// - **write**: records go to staged files in a staging directory inside the output directory
///   (`.sdf-staging`, hidden from matching), spread over shards ([`shards`], or rolled by size
///   with [`max_file_bytes`]); a file is created with its first record and its header. A
///   write that fails (I/O, a record the format cannot encode) fails the epoch: its `prepare`
///   returns the error, naming the file, and the pipeline fails with it.
/// - **prepare(epoch)**: writes the footers, `fsync`s the files and the staging directory, and
///   returns their names as the commit message, which the runtime stores in the checkpoint.
/// - **commit(epoch)**: once the checkpoint is durable, renames each file into place under its
///   [`FileNaming`] name (default `part-{epoch:06}-{shard:03}` plus the format's suffix) and
///   `fsync`s the directories. A file already in place whose staged file is gone was published
///   before a crash: fine. A file in place that this sink did not publish is an error
///   ([`Error::AlreadyExists`]): output directories are not shared between runs.
/// - **recover(last)**: after a restart, publishes the last durable epoch and deletes every
///   other staged file; the pipeline produces those records again.
///
/// Names come only from the naming template, never from records, and are checked again when
/// read back from a checkpoint: nothing is written outside the output directory, nor through a
/// symlink inside it. One sink per output directory and staging name.
///
/// Blocking work (`fsync`, renames) runs on tokio's blocking threads; writes go through a
/// 64 KiB buffer per open file.
///
/// ```
/// use sdf_connectors::{Json, WriteFiles};
/// use sdf_runtime::{Executor, Pipeline};
///
/// let out = std::env::temp_dir().join(format!("sdf-write-doc-{}", std::process::id()));
/// let mut p = Pipeline::new();
/// let records = p.from_iter("records", (0..100).map(|i| serde_json::json!({ "i": i })));
/// let sink = WriteFiles::builder(&out, Json::lines()).shards(2).build()?;
/// p.sink("files", records, sink);
/// Executor::builder().build().run_blocking(p)?;
///
/// // Without a checkpoint store the pipeline commits once, at the end: epoch 1.
/// let a = std::fs::read_to_string(out.join("part-000001-000.jsonl"))?;
/// let b = std::fs::read_to_string(out.join("part-000001-001.jsonl"))?;
/// assert_eq!(a.lines().count() + b.lines().count(), 100);
/// # std::fs::remove_dir_all(&out)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # A transactional sink of your own
///
/// Implement [`Sink`] (it is in `sdf-core`: a sink needs no runner); its `# Protocol` is the
/// contract. In short: nothing is visible before `commit`; `prepare` makes the epoch durable
/// and returns all that `commit` needs (names, not data: the embedded runtime stores the
/// message in every checkpoint); `commit` is idempotent; `recover` publishes the last durable
/// epoch and discards everything after it.
///
/// ```
/// use async_trait::async_trait;
/// use sdf_core::{Error, Sink, Timestamped};
/// use std::path::PathBuf;
///
/// /// Each epoch's lines in one file, `<epoch>.txt`, published by a rename.
/// struct EpochFile { dir: PathBuf, lines: Vec<String> }
///
/// fn io(what: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
///     move |e| Error::user(what, e)
/// }
///
/// #[async_trait]
/// impl Sink<String> for EpochFile {
///     type Commit = Option<String>; // the staged file's name, if the epoch had records
///
///     async fn write(&mut self, batch: Vec<Timestamped<String>>) -> sdf_core::Result<()> {
///         self.lines.extend(batch.into_iter().map(|r| r.value)); // held until prepare
///         Ok(())
///     }
///
///     async fn prepare(&mut self, epoch: u64) -> sdf_core::Result<Option<String>> {
///         if self.lines.is_empty() {
///             return Ok(None);
///         }
///         let staged = format!(".staged-{epoch}");
///         let text: String = self.lines.drain(..).map(|l| l + "\n").collect();
///         std::fs::write(self.dir.join(&staged), text).map_err(io("staging"))?;
///         std::fs::File::open(self.dir.join(&staged))
///             .and_then(|f| f.sync_all())
///             .map_err(io("syncing"))?;
///         Ok(Some(staged))
///     }
///
///     async fn commit(&mut self, epoch: u64, staged: Option<String>) -> sdf_core::Result<()> {
///         let Some(staged) = staged else { return Ok(()) };
///         let target = self.dir.join(format!("{epoch}.txt"));
///         match std::fs::rename(self.dir.join(&staged), &target) {
///             Ok(()) => Ok(()),
///             Err(_) if target.exists() => Ok(()), // published before a crash
///             Err(e) => Err(Error::user("publishing", e)),
///         }
///     }
///
///     async fn recover(&mut self, last: Option<(u64, Option<String>)>) -> sdf_core::Result<()> {
///         if let Some((epoch, staged)) = last {
///             self.commit(epoch, staged).await?;
///         }
///         for entry in std::fs::read_dir(&self.dir).map_err(io("listing"))? {
///             let path = entry.map_err(io("listing"))?.path();
///             if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(".staged-")) {
///                 std::fs::remove_file(&path).map_err(io("discarding"))?;
///             }
///         }
///         Ok(())
///     }
/// }
/// ```
///
/// [`shards`]: WriteFilesBuilder::shards
/// [`max_file_bytes`]: WriteFilesBuilder::max_file_bytes
pub struct WriteFiles<T, F> {
    format: F,
    naming: FileNaming,
    staging: Staging,
    dirs: Dirs,
    /// A write error, returned by the next `prepare`.
    failed: Option<Error>,
    _records: PhantomData<fn(&T)>,
}

impl<F> WriteFiles<(), F> {
    /// Files in `out`, encoded with `format`; one shard, default names. The record type is
    /// chosen by [`build`](WriteFilesBuilder::build), from where the sink is used.
    pub fn builder(out: impl AsRef<Path>, format: F) -> WriteFilesBuilder<F> {
        WriteFilesBuilder::new(out.as_ref(), format)
    }
}

impl<T, F> WriteFiles<T, F> {
    pub(crate) fn new(format: F, naming: FileNaming, staging: Staging, dirs: Dirs) -> Self {
        WriteFiles {
            format,
            naming,
            staging,
            dirs,
            failed: None,
            _records: PhantomData,
        }
    }

    /// The output directory.
    pub fn output_dir(&self) -> &Path {
        &self.dirs.out
    }

    /// The staging directory.
    pub fn staging_dir(&self) -> &Path {
        &self.dirs.staging
    }

    /// How published files are named.
    pub fn naming(&self) -> &FileNaming {
        &self.naming
    }
}

/// Runs blocking file-system work on tokio's blocking threads (inline outside tokio).
async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> Result<R> + Send + 'static,
) -> sdf_core::Result<R> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => match handle.spawn_blocking(work).await {
            Ok(result) => Ok(result?),
            Err(e) => Err(sdf_core::Error::message(format!(
                "the file sink's I/O task failed: {e}"
            ))),
        },
        Err(_) => Ok(work()?),
    }
}

#[async_trait]
impl<T, F> Sink<T> for WriteFiles<T, F>
where
    T: Send + 'static,
    F: FileFormat<T>,
{
    type Commit = WriteCommit;

    /// One `WriteFiles` per bundle attempt: the same directory, a fresh format (`None` if the
    /// format has no [`fresh`](FileFormat::fresh)), staging in `{staging}-{key}`, and names
    /// with the attempt's key where the epoch was, so attempts never share a file.
    fn attempts(&self) -> Option<sdf_core::AttemptSinks<Self>> {
        let template = std::sync::Mutex::new(FileFormat::<T>::fresh(&self.format)?);
        let out = self.dirs.out.clone();
        let naming = self.naming.clone();
        let staging_name = self.dirs.staging_name.clone();
        let sharding = self.staging.sharding();
        let faults = self.dirs.faults.clone();
        Some(Box::new(move |key: &str| {
            let fresh =
                FileFormat::<T>::fresh(&*template.lock().unwrap_or_else(|e| e.into_inner()));
            let Some(format) = fresh else {
                return Err(sdf_core::Error::message(
                    "the file format made no fresh copy for a bundle attempt",
                ));
            };
            let attempt = || -> Result<Self> {
                WriteFilesBuilder::for_attempt(
                    &out,
                    format,
                    sharding,
                    &format!("{staging_name}-{key}"),
                    faults.clone(),
                )
                .build_named(naming.for_attempt(key)?)
            };
            attempt().map_err(|e| sdf_core::Error::user("opening a bundle attempt's WriteFiles", e))
        }))
    }

    /// A failed write fails the epoch: the error is returned by the epoch's `prepare`, so the
    /// checkpoint is not taken and the pipeline fails with it; the records of the epoch are
    /// dropped until then (a restart produces them again). Deferring the error keeps the
    /// sink's input flowing, so that a checkpoint in progress can finish its quiesce.
    async fn write(&mut self, batch: Vec<Timestamped<T>>) -> sdf_core::Result<()> {
        if self.failed.is_some() {
            return Ok(());
        }
        for record in &batch {
            if let Err(e) = self.staging.write(&mut self.format, &record.value) {
                tracing::warn!(error = %e, "a file sink's write failed; the epoch will fail at its checkpoint");
                self.failed = Some(e);
                break;
            }
        }
        Ok(())
    }

    async fn prepare(&mut self, epoch: u64) -> sdf_core::Result<WriteCommit> {
        if let Some(e) = self.failed.take() {
            return Err(e.into());
        }
        let closed = self.staging.finish(&mut self.format)?;
        let targets: Vec<String> = closed
            .iter()
            .map(|c| self.naming.render(epoch, c.shard))
            .collect();
        let (dir, faults) = (self.dirs.staging.clone(), self.dirs.faults.clone());
        let files = blocking(move || {
            sync(&closed, &dir, &faults)?;
            closed
                .iter()
                .zip(targets)
                .map(|(c, target)| {
                    Ok(StagedFile {
                        staged: c.staged.clone(),
                        target,
                        records: c.records,
                        identity: Some(c.identity()?),
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .await?;
        Ok(WriteCommit { files })
    }

    async fn commit(&mut self, epoch: u64, commit: WriteCommit) -> sdf_core::Result<()> {
        let dirs = self.dirs.clone();
        blocking(move || dirs.publish(epoch, &commit.files)).await
    }

    async fn recover(&mut self, last: Option<(u64, WriteCommit)>) -> sdf_core::Result<()> {
        let recovered = last.as_ref().map(|(epoch, _)| *epoch);
        if let Some((epoch, commit)) = last {
            self.commit(epoch, commit).await?;
        }
        let (dirs, naming) = (self.dirs.clone(), self.naming.clone());
        blocking(move || dirs.check_not_ahead(recovered, &naming)).await?;
        let dirs = self.dirs.clone();
        let removed = blocking(move || dirs.discard_staged()).await?;
        if removed > 0 {
            tracing::info!(removed, dir = %self.dirs.staging.display(),
                "discarded staged files of epochs that never became durable");
        }
        Ok(())
    }
}
