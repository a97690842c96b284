//! [`WriteFilesBuilder`]: the options of a [`WriteFiles`], checked when it is built.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::faults::Faults;
use super::format::FileFormat;
use super::naming::{FileNaming, check_relative};
use super::publish::Dirs;
use super::sink::WriteFiles;
use super::staging::{Sharding, Staging};
use crate::error::{Error, Result};

/// Options of a [`WriteFiles`]; see [`WriteFiles::builder`].
#[derive(Debug)]
pub struct WriteFilesBuilder<F> {
    out: PathBuf,
    format: F,
    sharding: Sharding,
    prefix: Option<String>,
    template: Option<String>,
    staging_name: String,
    faults: Faults,
}

impl<F> WriteFilesBuilder<F> {
    pub(crate) fn new(out: &Path, format: F) -> Self {
        WriteFilesBuilder {
            out: out.to_path_buf(),
            format,
            sharding: Sharding::Fixed(1),
            prefix: None,
            template: None,
            staging_name: ".sdf-staging".into(),
            faults: Faults::default(),
        }
    }
}

impl<F> WriteFilesBuilder<F> {
    /// Up to `n` files per epoch (at least 1), records dealt round-robin.
    pub fn shards(mut self, n: usize) -> Self {
        self.sharding = Sharding::Fixed(n.max(1));
        self
    }

    /// One file at a time, a new one once a file reaches `bytes` (instead of [`shards`](Self::shards)).
    pub fn max_file_bytes(mut self, bytes: u64) -> Self {
        self.sharding = Sharding::MaxBytes(bytes.max(1));
        self
    }

    /// Names `prefix` + `{epoch:06}-{shard:03}` + the format's suffix; the prefix may hold
    /// directories (`"events/part-"`), never `..` or an absolute path.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Names from a [`FileNaming`] template, e.g. `"{epoch:06}/{shard:03}.csv"`.
    pub fn naming(mut self, template: impl Into<String>) -> Self {
        self.template = Some(template.into());
        self
    }

    /// The staging directory's name inside the output directory (default `.sdf-staging`): two
    /// sinks writing to one directory need different names (and prefixes).
    pub fn staging_dir(mut self, name: impl Into<String>) -> Self {
        self.staging_name = name.into();
        self
    }

    /// The options of a sink like `files`, for one bundle attempt `key` of a runner that
    /// retries bundles: the same directory, format (fresh) and sharding; staging in
    /// `{staging}-{key}`; names with the key where the epoch was.
    pub(crate) fn for_attempt(
        out: &Path,
        format: F,
        sharding: Sharding,
        staging_name: &str,
        faults: Faults,
    ) -> Self {
        WriteFilesBuilder {
            out: out.to_path_buf(),
            format,
            sharding,
            prefix: None,
            template: None,
            staging_name: staging_name.to_string(),
            faults,
        }
    }

    /// Calls `inject` before every file-system operation; an error it returns fails the
    /// operation. For failure-injection tests.
    #[cfg(feature = "testing")]
    pub fn fault_injector(mut self, inject: super::faults::FaultInjector) -> Self {
        self.faults = Faults(Some(inject));
        self
    }

    /// Checks the names and creates the output and staging directories. An object store's
    /// URL as the output directory is [`Error::LocalOnly`](crate::Error::LocalOnly).
    pub fn build<T>(self) -> Result<WriteFiles<T, F>>
    where
        F: FileFormat<T>,
    {
        if let Some(url) = self.out.to_str().filter(|p| crate::storage::is_url(p)) {
            return Err(crate::storage::local_only(
                url,
                "WriteFiles",
                "it publishes by renaming staged files in a local directory; write locally, \
                 then upload",
            ));
        }
        let naming = match (&self.template, &self.prefix) {
            (Some(template), _) => FileNaming::new(template)?,
            (None, prefix) => {
                FileNaming::with_prefix(prefix.as_deref().unwrap_or("part-"), self.format.suffix())?
            }
        };
        self.build_named(naming)
    }

    /// [`build`](Self::build) with names already checked (an attempt's, from its sink's).
    pub(crate) fn build_named<T>(self, naming: FileNaming) -> Result<WriteFiles<T, F>>
    where
        F: FileFormat<T>,
    {
        let staging_name = self.staging_name;
        match check_relative(&staging_name) {
            Ok(()) if !staging_name.contains('/') => {}
            Ok(()) => return Err(bad_staging(&staging_name, "it must be one path component")),
            Err(reason) => return Err(bad_staging(&staging_name, &reason)),
        }
        if naming.render(0, 0).split('/').next() == Some(staging_name.as_str()) {
            return Err(bad_staging(&staging_name, "file names would start in it"));
        }
        fs::create_dir_all(&self.out).map_err(|e| Error::io("creating", &self.out, None, e))?;
        let staging = self.out.join(&staging_name);
        make_plain_dir(&staging)?;
        let lock = lock_output(&self.out, &staging)?;
        let writer = Staging::new(staging.clone(), self.sharding, self.faults.clone());
        let dirs = Dirs {
            out: self.out,
            staging,
            staging_name,
            faults: self.faults,
            _lock: std::sync::Arc::new(lock),
        };
        Ok(WriteFiles::new(self.format, naming, writer, dirs))
    }
}

fn bad_staging(name: &str, reason: &str) -> Error {
    Error::BadName {
        name: name.to_string(),
        reason: format!("as the staging directory: {reason}"),
    }
}

/// Locks the staging directory for this sink (the operating system's advisory lock on its
/// `LOCK` file, released when the sink is dropped or its process dies): two sinks never stage
/// into, publish from or clean up one staging directory.
fn lock_output(out: &Path, staging: &Path) -> Result<fs::File> {
    let path = staging.join("LOCK");
    let io = |e| Error::io("locking", &path, None, e);
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let holder = fs::read_to_string(&path)
                .ok()
                .map(|text| text.trim().to_string())
                .filter(|text| !text.is_empty());
            return Err(Error::OutputBusy {
                dir: out.to_path_buf(),
                holder,
            });
        }
        Err(fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    use std::io::Write;
    file.set_len(0)
        .and_then(|()| write!(file, "process {}", std::process::id()))
        .map_err(io)?;
    Ok(file)
}

fn make_plain_dir(dir: &Path) -> Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta =
                fs::symlink_metadata(dir).map_err(|e| Error::io("checking", dir, None, e))?;
            if meta.is_dir() {
                Ok(())
            } else {
                Err(bad_staging(
                    &dir.display().to_string(),
                    "it exists and is not a plain directory",
                ))
            }
        }
        Err(e) => Err(Error::io("creating", dir, None, e)),
    }
}
