//! The reader of a [`FileBasedSource`]: the files whose records may start in the range, one
//! after the other, each read by the format through a [`FileRange`].

use std::sync::{Arc, Mutex};

use super::range::FileRangeState;
use super::{FileBasedSource, FileFormat, FileMetadata, FileRange, FileRangeTracker, OpenFile};
use crate::bounded::SourceReader;
use crate::error::Result;
use crate::range::RangeTracker;

/// Reads `source` over `tracker`'s range.
pub(crate) fn read<'a, F: FileFormat>(
    source: &'a FileBasedSource<F>,
    tracker: Arc<FileRangeTracker>,
) -> Result<SourceReader<'a, F::Record>> {
    Ok(Box::new(FilesReader {
        format: source.format(),
        files: source.files(),
        bases: source.bases()?,
        tracker,
        next: 0,
        current: None,
        done: false,
    }))
}

/// How the current file's reading ended, as its [`FileRange`] saw it.
type FileEnd = Arc<Mutex<FileRangeState>>;

struct FilesReader<'a, F: FileFormat> {
    format: &'a F,
    files: &'a [FileMetadata],
    /// The position of each file's first byte.
    bases: Vec<i64>,
    tracker: Arc<FileRangeTracker>,
    /// The next file to consider.
    next: usize,
    /// The reader of the current file, and how its range ended.
    current: Option<(SourceReader<'a, F::Record>, FileEnd)>,
    done: bool,
}

impl<'a, F: FileFormat> FilesReader<'a, F> {
    /// Opens the next file that may hold a record of the range, as the current one; `false`
    /// when none is left.
    fn open_next(&mut self) -> Result<bool> {
        let start = self.tracker.start_position();
        if self.tracker.stop_position() <= start {
            // An empty range (a checkpoint's primary before the first record) reads nothing.
            return Ok(false);
        }
        while let Some(file) = self.files.get(self.next) {
            let base = self.bases[self.next];
            self.next += 1;
            let stop = self.tracker.stop_position();
            if base >= stop {
                // This file's records, and all later ones, start at or after the stop.
                return Ok(false);
            }
            let compressed = file.compression.is_compressed();
            // The bases are partial sums of the sizes, so `base + size` does not overflow.
            let end = base + file.size as i64;
            // A compressed file's one split point is its first byte.
            let before_start = if compressed {
                base < start
            } else {
                end <= start
            };
            if file.size == 0 || before_start {
                continue;
            }
            let (local_start, local_stop) = if compressed {
                (0, file.size)
            } else {
                (
                    start.saturating_sub(base).max(0) as u64,
                    (stop.min(end) - base) as u64,
                )
            };
            let open = OpenFile::open(file, local_start, local_stop)?;
            let range = FileRange::new(Arc::clone(&self.tracker), base, file, local_start);
            let state = range.state();
            let records = self.format.read_records(open, range)?;
            self.current = Some((records, state));
            return Ok(true);
        }
        Ok(false)
    }
}

impl<F: FileFormat> Iterator for FilesReader<'_, F> {
    type Item = Result<F::Record>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            if let Some((records, state)) = &mut self.current {
                match records.next() {
                    Some(Ok(record)) => return Some(Ok(record)),
                    Some(Err(e)) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                    None => {
                        let ended = *state.lock().unwrap_or_else(|e| e.into_inner());
                        self.done = ended == FileRangeState::RangeEnded;
                        self.current = None;
                        continue;
                    }
                }
            }
            match self.open_next() {
                Ok(opened) => self.done = !opened,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}
