//! The write side of one epoch: records go to staged files in the staging directory, one per
//! shard (or rolled by size), created with their first record; `finish` closes them with their
//! footers and `sync` makes them durable.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::faults::{Faults, IoStep};
use super::format::FileFormat;
use crate::error::{Error, Result};

/// How records are spread over the files of an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharding {
    /// Up to this many files per epoch, records dealt round-robin (shards without records
    /// get no file).
    Fixed(usize),
    /// One file at a time, a new one (the next shard number) once a file reaches this many
    /// bytes.
    MaxBytes(u64),
}

/// A staged file still being written.
struct Open {
    writer: BufWriter<File>,
    /// The file's number among those this sink created ([`FileFormat::switch_file`]).
    id: u64,
    staged: String,
    path: PathBuf,
    shard: u32,
    records: u64,
    bytes: u64,
}

/// A staged file whose footer is written, not yet synced.
pub(crate) struct Closed {
    pub staged: String,
    pub path: PathBuf,
    pub shard: u32,
    pub records: u64,
    file: File,
}

impl Closed {
    /// The file's identity on disk, which a rename keeps.
    pub fn identity(&self) -> Result<FileIdentity> {
        let meta = self
            .file
            .metadata()
            .map_err(|e| Error::io("checking", &self.path, None, e))?;
        Ok(FileIdentity::of(&meta))
    }
}

/// What tells a published file from another file of the same name: its device, inode, length
/// and modification time (a rename keeps all four; a file written in its place has another
/// time, even where the file system reuses the inode number). Where the platform has no inodes,
/// the length and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileIdentity {
    /// The device.
    pub dev: u64,
    /// The inode.
    pub ino: u64,
    /// The length in bytes.
    pub len: u64,
    /// The modification time, in nanoseconds since the Unix epoch (0 if unknown).
    #[serde(default)]
    pub modified_ns: u64,
}

impl FileIdentity {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Self {
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            FileIdentity {
                dev: meta.dev(),
                ino: meta.ino(),
                len: meta.len(),
                modified_ns,
            }
        }
        #[cfg(not(unix))]
        FileIdentity {
            dev: 0,
            ino: 0,
            len: meta.len(),
            modified_ns,
        }
    }
}

pub(crate) struct Staging {
    dir: PathBuf,
    /// What makes this sink's staged names its own: no other process, and no earlier run of
    /// this one, stages a file under the same name.
    run: String,
    sharding: Sharding,
    faults: Faults,
    open: Vec<Option<Open>>,
    closed: Vec<Closed>,
    /// Records this epoch (the round-robin counter).
    records: u64,
    /// `MaxBytes`: the shard number of the next file.
    next_shard: u32,
    /// Staged files created by this sink: their names.
    created: u64,
    buf: Vec<u8>,
}

impl Staging {
    /// How records are spread over files.
    pub fn sharding(&self) -> Sharding {
        self.sharding
    }

    pub fn new(dir: PathBuf, sharding: Sharding, faults: Faults) -> Self {
        let slots = match sharding {
            Sharding::Fixed(n) => n.max(1),
            Sharding::MaxBytes(_) => 1,
        };
        Staging {
            dir,
            run: run_token(),
            sharding,
            faults,
            open: (0..slots).map(|_| None).collect(),
            closed: Vec::new(),
            records: 0,
            next_shard: 0,
            created: 0,
            buf: Vec::new(),
        }
    }

    /// Writes `record` to its shard's file, creating it (with its header) if needed.
    pub fn write<T, F: FileFormat<T>>(&mut self, format: &mut F, record: &T) -> Result<()> {
        let slot = match self.sharding {
            Sharding::Fixed(_) => (self.records % self.open.len() as u64) as usize,
            Sharding::MaxBytes(_) => 0,
        };
        let mut open = match self.open[slot].take() {
            Some(open) => open,
            None => self.create(format, record, slot)?,
        };
        self.buf.clear();
        format.switch_file(open.id);
        if let Err(source) = format.record(record, open.records, &mut self.buf) {
            let (path, record) = (open.path.clone(), open.records);
            self.open[slot] = Some(open);
            return Err(Error::Encode {
                path,
                record,
                source,
            });
        }
        let written = append(&mut open, &self.buf, &self.faults);
        self.records += 1;
        open.records += 1;
        let full = matches!(self.sharding, Sharding::MaxBytes(max) if open.bytes >= max);
        if written.is_ok() && full {
            return self.close(format, open);
        }
        self.open[slot] = Some(open);
        written
    }

    /// Closes every open file; returns the epoch's files, by shard, and starts a new epoch.
    pub fn finish<T, F: FileFormat<T>>(&mut self, format: &mut F) -> Result<Vec<Closed>> {
        for slot in 0..self.open.len() {
            if let Some(open) = self.open[slot].take() {
                self.close(format, open)?;
            }
        }
        self.records = 0;
        self.next_shard = 0;
        let mut closed = std::mem::take(&mut self.closed);
        closed.sort_by_key(|c| c.shard);
        Ok(closed)
    }

    fn create<T, F: FileFormat<T>>(
        &mut self,
        format: &mut F,
        first: &T,
        slot: usize,
    ) -> Result<Open> {
        self.created += 1;
        let staged = staged_name(&self.run, self.created);
        let path = self.dir.join(&staged);
        let shard = match self.sharding {
            Sharding::Fixed(_) => slot as u32,
            Sharding::MaxBytes(_) => {
                self.next_shard += 1;
                self.next_shard - 1
            }
        };
        let io = |e| Error::io("creating the staged file", &path, None, e);
        self.faults.check(IoStep::Create, &path).map_err(io)?;
        // `create_new`: the staging directory was emptied by `recover`; anything in the way
        // is not ours to overwrite.
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io)?;
        let mut open = Open {
            writer: BufWriter::with_capacity(64 * 1024, file),
            id: self.created,
            staged,
            path,
            shard,
            records: 0,
            bytes: 0,
        };
        self.buf.clear();
        format.switch_file(open.id);
        if let Err(source) = format.header(first, &mut self.buf) {
            return Err(Error::Encode {
                path: open.path,
                record: 0,
                source,
            });
        }
        append(&mut open, &self.buf, &self.faults)?;
        Ok(open)
    }

    fn close<T, F: FileFormat<T>>(&mut self, format: &mut F, mut open: Open) -> Result<()> {
        self.buf.clear();
        format.switch_file(open.id);
        if let Err(source) = format.try_footer(&mut self.buf) {
            return Err(Error::Encode {
                path: open.path,
                record: open.records,
                source,
            });
        }
        append(&mut open, &self.buf, &self.faults)?;
        let bytes = open.bytes;
        let io = |e| Error::io("writing", &open.path, Some(bytes), e);
        self.faults.check(IoStep::Flush, &open.path).map_err(io)?;
        let file = open
            .writer
            .into_inner()
            .map_err(|e| Error::io("writing", &open.path, Some(bytes), e.into_error()))?;
        self.closed.push(Closed {
            staged: open.staged,
            path: open.path,
            shard: open.shard,
            records: open.records,
            file,
        });
        Ok(())
    }
}

/// A token unique to this sink among every process that ever writes to its staging directory:
/// the process id and the wall-clock time in nanoseconds, in hex. (Staged names restarting at
/// 1 in every process let a killed run's staged file take the name of a durable epoch's.)
fn run_token() -> String {
    static SINKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let sink = SINKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:x}-{nanos:x}-{sink:x}", std::process::id())
}

/// The name of the `n`-th staged file a sink creates in its run.
fn staged_name(run: &str, n: u64) -> String {
    format!("part-{run}-{n:08}.tmp")
}

/// Whether `name` is one that [`staged_name`] gives (or gave, in earlier releases:
/// `part-<digits>.tmp`).
pub(crate) fn is_staged_name(name: &str) -> bool {
    name.strip_prefix("part-")
        .and_then(|rest| rest.strip_suffix(".tmp"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
}

fn append(open: &mut Open, bytes: &[u8], faults: &Faults) -> Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let at = open.bytes;
    let io = |e| Error::io("writing", &open.path, Some(at), e);
    faults.check(IoStep::Write, &open.path).map_err(io)?;
    open.writer.write_all(bytes).map_err(io)?;
    open.bytes += bytes.len() as u64;
    Ok(())
}

/// Makes `files` and their directory entries durable.
pub(crate) fn sync(files: &[Closed], dir: &Path, faults: &Faults) -> Result<()> {
    for closed in files {
        let io = |e| Error::io("syncing", &closed.path, None, e);
        faults.check(IoStep::Sync, &closed.path).map_err(io)?;
        closed.file.sync_all().map_err(io)?;
    }
    if !files.is_empty() {
        sync_dir(dir, IoStep::SyncStagingDir, faults)?;
    }
    Ok(())
}

/// `fsync` of a directory, so that the names in it survive a power loss (a no-op where
/// directories cannot be opened, as on Windows); `step` says which one, for the fault injector
/// and the crash points.
pub(crate) fn sync_dir(dir: &Path, step: IoStep, faults: &Faults) -> Result<()> {
    let io = |e| Error::io("syncing the directory", dir, None, e);
    faults.check(step, dir).map_err(io)?;
    if cfg!(unix) {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(())
}
