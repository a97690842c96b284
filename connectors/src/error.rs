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
    /// A file pattern could not be parsed.
    #[error(
        "invalid file pattern {pattern}: {reason}; wildcards are `*`, `?`, `[...]`, `{{a,b}}` \
         within one path component and `**` as a whole component (escape a literal one with `\\`)"
    )]
    InvalidPattern {
        /// The pattern, as given.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A pattern matched no file, and its [`EmptyMatch`](crate::EmptyMatch) policy forbids that.
    #[error(
        "pattern {pattern} matches no file: check the path, or allow an empty match with \
         `EmptyMatch::Allow` (or `AllowIfWildcard` for a pattern with a wildcard)"
    )]
    NoMatch {
        /// The pattern, as given.
        pattern: String,
    },
    /// A pattern without wildcards names a directory, which is not a file to read.
    #[error(
        "{path} is a directory, not a file: match the files in it with {}/* (or /** for \
         every level below it)", path.display()
    )]
    IsDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// Archiving a file after commit would put it where the watch would match it again.
    #[error(
        "archiving {path} to {target} would put it where pattern {pattern} matches it again: \
         choose an archive directory outside what the pattern matches"
    )]
    ArchiveMatchesPattern {
        /// The file to archive.
        path: PathBuf,
        /// Where it would go.
        target: PathBuf,
        /// The watched pattern.
        pattern: String,
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
