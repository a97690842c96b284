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
    /// The output directory holds files published after the epoch the sink recovers: the state
    /// directory is older than the output (restored from a backup, or the previous checkpoint),
    /// or another run with a fresh state wrote here. Resuming would publish those records again.
    #[error(
        "the output directory {dir} holds files published up to epoch {published} ({}), but the \
         checkpoint this sink recovers is {}: resuming would write those records again. Remove \
         those files (the pipeline writes their records again) or use the state directory that \
         wrote them; a new pipeline needs an empty output directory",
        files.iter().take(3).map(|f| f.as_str()).collect::<Vec<_>>().join(", ") + if files.len() > 3 { ", ..." } else { "" },
        match checkpoint { Some(e) => format!("epoch {e}"), None => "none (a fresh state)".into() }
    )]
    OutputAhead {
        /// The output directory.
        dir: PathBuf,
        /// The last epoch published there.
        published: u64,
        /// The epoch of the checkpoint being recovered, if any.
        checkpoint: Option<u64>,
        /// Files of the later epochs found in place, relative to the output directory.
        files: Vec<String>,
    },
    /// Another sink writes to the same output directory (with the same staging directory).
    #[error(
        "the output directory {dir} is in use by another file sink{}: one sink per output \
         directory. Stop the other one, or write to another directory",
        holder.as_ref().map(|h| format!(" ({h})")).unwrap_or_default()
    )]
    OutputBusy {
        /// The output directory.
        dir: PathBuf,
        /// Who holds it, as its lock file says.
        holder: Option<String>,
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
    /// A file is compressed in a format that cannot be decoded here.
    #[error("{path} is compressed with {name}, which cannot be read: {reason}")]
    UnsupportedCompression {
        /// The file.
        path: PathBuf,
        /// The compression format.
        name: &'static str,
        /// Why, and what to do.
        reason: String,
    },
    /// A file shrank, was modified, or ended early while it was being read. The records read
    /// from it so far may not belong together: re-list the file and read it again.
    #[error(
        "{at}: the file changed while it was being read: {what}; re-list it and read it again{hint}"
    )]
    FileChanged {
        /// Where the reader was.
        at: Location,
        /// What changed.
        what: String,
        /// Advice on the policy that would have allowed it, or nothing.
        hint: &'static str,
    },
    /// A file read as listed ([`OnChange::ReadListed`](crate::read::OnChange::ReadListed))
    /// ends, at its listed size, inside a record that the file now continues past it: the file
    /// was written to after it was listed, and the record read would be cut.
    #[error(
        "{at}: the last record is cut: the file was listed with {listed} bytes, but it has grown \
         since and the record continues past that. It was still being written when it was \
         listed: write files elsewhere and rename them into place, or wait until they are whole"
    )]
    CutRecord {
        /// Where the cut record starts.
        at: Location,
        /// The listed size.
        listed: u64,
    },
    /// A record is longer than the reader's maximum record length.
    #[error(
        "the record at {at} is longer than {limit} bytes: raise the maximum record length, or \
         skip such records (TooLong::Skip)"
    )]
    RecordTooLong {
        /// Where the record starts.
        at: Location,
        /// The maximum record length.
        limit: usize,
    },
    /// A record could not be decoded (invalid UTF-8, CSV or JSON that does not parse, a CSV
    /// record with a newline in a quoted field while the reader splits files at newlines).
    #[error("cannot read the {format} record at {at}: {reason}")]
    BadRecord {
        /// Where the record starts.
        at: Location,
        /// The format: "text", "CSV", "JSON lines".
        format: &'static str,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// A file of a block format (Avro, Parquet) is not readable as one, or uses a feature this
    /// reader lacks: a bad magic number or footer, a truncated file, a block not followed by the
    /// file's sync marker or larger than the reader's limit, a block that does not decode, an
    /// unknown codec, a projected column the file does not have.
    #[error("cannot read {at} as a {format} file: {reason}")]
    BadFile {
        /// Where the problem is: the magic number, the footer, the block.
        at: Location,
        /// The format: "Avro", "Parquet".
        format: &'static str,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// A URL names an object store whose cargo feature this build leaves out.
    #[error(
        "{url} is in an object store this build cannot reach: enable the cargo feature \
         `{feature}` of sdf-connectors (the `sdf` package forwards it: `--features {feature}`)"
    )]
    StoreUnavailable {
        /// The pattern or object URL.
        url: String,
        /// The feature that reads it.
        feature: &'static str,
    },
    /// A URL that no object store reads.
    #[error("cannot read {url}: {reason}")]
    UnsupportedUrl {
        /// The URL.
        url: String,
        /// Why, and what to do.
        reason: String,
    },
    /// An object-store request failed: the store could not be built (credentials, region,
    /// bucket), the object is gone, or the request failed after the store's retries.
    #[error("{what} {url}{}: {source}", offset.map(|o| format!(" at byte {o}")).unwrap_or_default())]
    Store {
        /// What was being done: "listing", "reading", "deleting"...
        what: &'static str,
        /// The object or prefix URL.
        url: String,
        /// The byte offset, where there is one.
        offset: Option<u64>,
        /// The object store's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A connector that works on local files only was given a URL.
    #[error("{connector} cannot use {url}: it works on local files only ({why})")]
    LocalOnly {
        /// The URL.
        url: String,
        /// The connector: "TailFile", "WriteFiles".
        connector: &'static str,
        /// Why, and what to do instead.
        why: &'static str,
    },
    /// A reader option is invalid.
    #[error("invalid reader option {option}: {reason}")]
    InvalidOption {
        /// The option.
        option: &'static str,
        /// Why.
        reason: String,
    },
}

/// A place in a file: its path and a byte offset, in decoded bytes for a compressed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub path: PathBuf,
    /// The byte offset.
    pub offset: u64,
    /// Whether the offset counts decoded bytes of a compressed file.
    pub decoded: bool,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let decoded = if self.decoded { "decoded " } else { "" };
        write!(
            f,
            "{decoded}byte {} of {}",
            self.offset,
            self.path.display()
        )
    }
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

impl Error {
    /// Whether reading again cannot help: the bytes themselves are bad (a record over the
    /// limit, one that does not parse, a corrupt block file, a name or pattern that is invalid).
    /// The runtime does not retry such a call ([`sdf_core::Error::Permanent`]); I/O and
    /// object-store errors, and files that changed, are retried.
    pub fn is_permanent(&self) -> bool {
        if let Error::Io { what, source, .. } = self {
            return permanent_io(what, source);
        }
        matches!(
            self,
            Error::RecordTooLong { .. }
                | Error::CutRecord { .. }
                | Error::LineTooLong { .. }
                | Error::BadRecord { .. }
                | Error::BadFile { .. }
                | Error::BadName { .. }
                | Error::InvalidPattern { .. }
                | Error::UnsupportedCompression { .. }
                | Error::UnsupportedUrl { .. }
                | Error::StoreUnavailable { .. }
                | Error::LocalOnly { .. }
                | Error::InvalidOption { .. }
        )
    }
}

/// Whether an I/O error is one that trying again cannot fix: no permission, no such file, a
/// directory where a file was expected, bytes a decompressor refuses, a full or read-only disk.
fn permanent_io(what: &str, e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    match e.kind() {
        Interrupted | TimedOut | WouldBlock => false,
        // A corrupt or truncated compressed stream does not get better.
        _ if what == "decompressing" => true,
        kind => matches!(
            kind,
            PermissionDenied
                | NotFound
                | IsADirectory
                | NotADirectory
                | InvalidData
                | InvalidInput
                | ReadOnlyFilesystem
                | StorageFull
                | FileTooLarge
                | InvalidFilename
        ),
    }
}

impl From<Error> for sdf_core::Error {
    fn from(e: Error) -> Self {
        if e.is_permanent() {
            sdf_core::Error::permanent("connector", e)
        } else {
            sdf_core::Error::user("connector", e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_errors_name_the_path_and_offset() {
        let at = Location {
            path: "/data/a.txt.gz".into(),
            offset: 17,
            decoded: true,
        };
        let e = Error::RecordTooLong { at, limit: 10 };
        assert!(
            e.to_string()
                .starts_with("the record at decoded byte 17 of /data/a.txt.gz is longer than 10"),
            "{e}"
        );
    }

    #[test]
    fn io_errors_no_retry_can_fix_are_permanent() {
        use std::io::ErrorKind::*;
        let io = |what, kind| Error::io(what, "/data/a.txt", None, std::io::Error::from(kind));
        for kind in [PermissionDenied, NotFound, IsADirectory, StorageFull] {
            assert!(io("opening", kind).is_permanent(), "{kind:?}");
        }
        for kind in [TimedOut, Interrupted, ConnectionReset, Other] {
            assert!(!io("reading", kind).is_permanent(), "{kind:?}");
        }
        assert!(io("decompressing", UnexpectedEof).is_permanent());
        assert!(io("decompressing", Other).is_permanent());
        assert!(!io("decompressing", TimedOut).is_permanent());
    }

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
