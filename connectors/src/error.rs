//! The crate's [`Error`]: every variant names the path (and the offset, where there is one) and
//! says what to do.

use std::path::PathBuf;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a connector failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading, listing or writing a file failed.
    #[error("{what} {path}{}: {source}", offset.map(|o| format!(" at byte {o}")).unwrap_or_default())]
    Io {
        /// What was being done: "reading", "listing", "opening"...
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The byte offset, where there is one.
        offset: Option<u64>,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A tailed file became shorter than the position already read, and the policy is
    /// [`Truncation::Fail`](crate::Truncation::Fail).
    #[error(
        "{path} was truncated to {size} bytes while being tailed at byte {offset}; to follow \
         the new content from its start instead, use `TailFile::on_truncation(Truncation::Restart)`"
    )]
    Truncated {
        /// The tailed path.
        path: PathBuf,
        /// The position that had been read.
        offset: u64,
        /// The file's size when the truncation was seen.
        size: u64,
    },
    /// A line grew past the maximum length without a newline.
    #[error(
        "the line at byte {offset} of {path} is longer than {limit} bytes and has no newline; \
         raise the limit with `max_line_bytes` if such lines are expected"
    )]
    LineTooLong {
        /// The file.
        path: PathBuf,
        /// Where the line starts.
        offset: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// A file or its history is beyond what a tail can address (offsets past 1 TiB, more than
    /// 8 million rotations).
    #[error("cannot tail {path} at byte {offset}: {reason}")]
    TailLimit {
        /// The tailed path.
        path: PathBuf,
        /// Where reading stopped.
        offset: u64,
        /// Which limit, and what to do.
        reason: String,
    },
    /// A record could not be encoded by a file sink's format.
    #[error(
        "cannot encode record {record} of {path}: {source}; fix the record or use a format that \
         can hold it"
    )]
    Encode {
        /// The file being written (in the staging directory).
        path: PathBuf,
        /// The record's index in that file.
        record: u64,
        /// Why the format refused it.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file name template, a prefix, or a name in a commit message is malformed or would
    /// leave the output directory.
    #[error("the file name {name:?} is refused: {reason}")]
    BadName {
        /// The template or name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Publishing would replace a file that this sink did not write.
    #[error(
        "{path} already exists and was not published by this sink (epoch {epoch}): the output \
         directory holds files of another run. Use an empty output directory or another name \
         prefix with a fresh state directory"
    )]
    AlreadyExists {
        /// The file in the way.
        path: PathBuf,
        /// The epoch being published.
        epoch: u64,
    },
    /// A staged file of a durable epoch is gone and was never published.
    #[error(
        "the staged file {path} of epoch {epoch} is gone and {target} does not exist: something \
         other than this sink changed the staging directory, and that epoch's records are lost. \
         Restart from an earlier state directory, or from scratch with an empty output directory"
    )]
    StagedFileMissing {
        /// The staged file.
        path: PathBuf,
        /// Where it should have been published.
        target: PathBuf,
        /// Its epoch.
        epoch: u64,
    },
}

impl Error {
    /// An I/O error on `path`, at `offset` if known.
    pub fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
        offset: Option<u64>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            what,
            path: path.into(),
            offset,
            source,
        }
    }
}

impl From<Error> for sdf_core::Error {
    fn from(e: Error) -> Self {
        sdf_core::Error::user("connector", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_name_the_path_and_offset() {
        let e = Error::io(
            "reading",
            "/data/a.txt",
            Some(4096),
            std::io::Error::other("disk on fire"),
        );
        assert_eq!(
            e.to_string(),
            "reading /data/a.txt at byte 4096: disk on fire"
        );
    }
}
