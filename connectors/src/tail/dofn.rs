//! [`TailFile`]: the DoFn, its options, and its records.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use sdf_core::{
    MonotonicWatermarkEstimator, OffsetRange, Output, ProcessContinuation, SharedTracker,
    SplittableDoFn,
};
use serde::{Deserialize, Serialize};

use super::read::Tail;
use super::tracker::{SizeEstimate, TailRange, TailTracker};
use crate::file::FileMetadata;

/// A line read by [`TailFile`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TailLine {
    /// The followed path (the input's), also for lines read from a rotated file.
    pub path: PathBuf,
    /// Which file under that path: 0 for the first one read, one more after each rotation or
    /// truncation.
    pub generation: u32,
    /// The byte offset where the line starts in that file.
    pub offset: u64,
    /// The line, without its `\n` or `\r\n`; invalid UTF-8 is replaced by U+FFFD.
    pub line: String,
}

/// What [`TailFile`] does when a file becomes shorter than what it has read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Truncation {
    /// Log a warning and read the new content from byte 0, as the next generation (what
    /// `tail -F` does; right for `copytruncate` log rotation).
    #[default]
    Restart,
    /// Fail with [`Error::Truncated`](crate::Error::Truncated), naming the path and offset.
    Fail,
}

/// Where [`TailFile`] starts in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum StartAt {
    /// At byte 0: every line of the file, then what is appended (for ingestion).
    #[default]
    Beginning,
    /// At the first line that starts at or after the size the file had when it was listed
    /// ([`FileMetadata::size`]): only what is appended after the listing (`tail -f -n 0`).
    End,
}

/// Follows growing files: a splittable DoFn from [`FileMetadata`](crate::FileMetadata) (what matching
/// emits) to [`TailLine`]s. It reads the complete lines of a file, claiming each line's start,
/// and at the end of the data returns `ProcessContinuation::Resume` after its poll delay: the
/// runner checkpoints the rest and calls again. Composed after continuous matching, it reads "a
/// directory of growing log files"; fed from a channel, it follows the files it is given.
///
/// ```
/// use sdf_connectors::{FileMetadata, TailFile};
/// use sdf_core::Timestamp;
/// use sdf_runtime::{Executor, Pipeline};
///
/// let path = std::env::temp_dir().join(format!("sdf-tail-doc-{}.log", std::process::id()));
/// std::fs::write(&path, "started\nlistening on :8080\n")?;
/// let file = FileMetadata { path: path.clone(), size: 0, modified: Timestamp::MIN };
///
/// let mut p = Pipeline::new();
/// let files = p.from_iter("files", vec![file]);
/// // `stop_at_end`: read what is there and stop (`tail` without `-f`), for this example.
/// let lines = p.apply("tail", files, TailFile::new().stop_at_end());
/// let out = p.collect("out", lines);
/// Executor::builder().build().run_blocking(p)?;
/// let lines: Vec<String> = out.values().into_iter().map(|l| l.line).collect();
/// assert_eq!(lines, ["started", "listening on :8080"]);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # What is guaranteed
///
/// - **Each complete line once.** A line is emitted when its `\n` has been written; it carries
///   the followed path, the file's *generation* (0, then one more per rotation or truncation)
///   and its byte offset, so `(path, generation, offset)` identifies it. Checkpoints, dynamic
///   splits and restarts from a checkpoint neither repeat nor skip a line: the restriction
///   ([`TailRange`]) records the position and the identity ([`FileId`](crate::FileId)) of the file.
/// - **A last line without `\n`** is not emitted while the file may still grow: the writer may
///   be in the middle of it. It is emitted as it is when the file is known to be finished: it
///   was rotated away and a new file appeared under the name, the tail was built with
///   [`TailFile::stop_at_end`], or the pipeline drains.
/// - **Rotation** (the file is renamed and a new one created under the name): the tail reads
///   the old file to its end through its open handle, or, in a later call or after a restart,
///   by finding its inode among the entries of the same directory (`app.log.1`), then follows
///   the new file from byte 0. While the name is missing it waits. Lines appended to the old
///   file after the tail has moved on, and the rest of an old file that was deleted or moved to
///   another directory before the tail had read it, are not read (a warning names the path).
/// - **Truncation** (the file is shorter than the position read, as `copytruncate` or `> file`
///   do): by default ([`Truncation::Restart`]) a warning, then the new content from byte 0 as
///   the next generation; with [`Truncation::Fail`] an error naming the path and offset. A file
///   truncated and refilled past the position between two polls looks like growth: polling
///   cannot tell them apart (nor can `tail -F`).
/// - **Drain** reads every file to its current end (a last line without `\n` included) and
///   stops.
///
/// Limits: lines of at most [`TailFile::max_line_bytes`] (1 MiB by default; a longer one is an
/// error naming file and offset), files of at most 1 TiB, 8 million generations. Lines are
/// decoded as UTF-8, invalid bytes replaced by U+FFFD. Records get the input element's
/// timestamp.
///
/// # Positions
///
/// One `i64` space covers every generation: see [`TailPosition`](crate::TailPosition). Each generation starts with
/// a *marker* claim that records which file it is, so a checkpoint taken right after a
/// rotation already knows the new file.

#[derive(Debug, Clone)]
pub struct TailFile {
    pub(crate) poll: Duration,
    pub(crate) truncation: Truncation,
    pub(crate) start: StartAt,
    pub(crate) max_line_bytes: usize,
    pub(crate) until_eof: bool,
}

impl Default for TailFile {
    fn default() -> Self {
        TailFile {
            poll: Duration::from_millis(250),
            truncation: Truncation::Restart,
            start: StartAt::Beginning,
            max_line_bytes: 1 << 20,
            until_eof: false,
        }
    }
}

impl TailFile {
    /// Follows from the beginning, polls every 250 ms, restarts on truncation, lines up to
    /// 1 MiB.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long to wait at the end of the data before looking again.
    pub fn poll_delay(mut self, delay: Duration) -> Self {
        self.poll = delay;
        self
    }

    /// What to do when a file is truncated.
    pub fn on_truncation(mut self, policy: Truncation) -> Self {
        self.truncation = policy;
        self
    }

    /// Where to start in each file.
    pub fn start_at(mut self, start: StartAt) -> Self {
        self.start = start;
        self
    }

    /// The longest line accepted, in bytes before its newline; a longer one fails with
    /// [`Error::LineTooLong`](crate::Error::LineTooLong). Memory per call stays within it.
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes.max(1);
        self
    }

    /// Reads each file to its current end, including a last line without a newline, and stops
    /// instead of waiting for more: for files known to be complete (`tail` without `-f`).
    pub fn stop_at_end(mut self) -> Self {
        self.until_eof = true;
        self
    }

    /// The first byte of `generation` this tail reads lines from.
    pub(crate) fn first_byte(&self, input: &FileMetadata, generation: u32) -> u64 {
        match (self.start, generation) {
            (StartAt::End, 0) => input.size,
            _ => 0,
        }
    }
}

#[async_trait]
impl SplittableDoFn for TailFile {
    type Input = FileMetadata;
    type Output = TailLine;
    type Restriction = TailRange;
    type Tracker = TailTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    /// An error for an object's URL: tailing follows local files only.
    fn initial_restriction(&self, input: &FileMetadata) -> sdf_core::Result<TailRange> {
        local_only(input)?;
        Ok(TailRange {
            range: OffsetRange::new(0, i64::MAX),
            file: None,
            until_eof: self.until_eof,
            before: None,
        })
    }

    fn new_tracker(&self, _input: &FileMetadata, restriction: TailRange) -> TailTracker {
        TailTracker::new(restriction, SizeEstimate::default())
    }

    /// On drain, a tail reads what its file holds now (a last line without a newline
    /// included) and stops.
    fn truncate_restriction(&self, _input: &FileMetadata, r: TailRange) -> Option<TailRange> {
        Some(TailRange {
            until_eof: true,
            ..r
        })
    }

    async fn process(
        &self,
        input: &FileMetadata,
        tracker: &mut SharedTracker<TailTracker>,
        output: &mut Output<'_, TailLine>,
        _watermark: &mut MonotonicWatermarkEstimator,
    ) -> sdf_core::Result<ProcessContinuation> {
        local_only(input)?;
        let until_eof = tracker.current_restriction().until_eof;
        let tail = Tail {
            options: self,
            input,
            tracker,
            output,
            until_eof,
        };
        Ok(tail.run().await?)
    }
}

/// Tailing follows appends, rotations and truncations of local files: an object's URL is an
/// error.
fn local_only(input: &FileMetadata) -> crate::Result<()> {
    match input.path.to_str().filter(|p| crate::storage::is_url(p)) {
        Some(url) => Err(crate::storage::local_only(
            url,
            "TailFile",
            "objects are not appended to; read them with ReadText or ReadFile, or watch a \
             prefix for new objects with MatchAll::continuously",
        )),
        None => Ok(()),
    }
}
