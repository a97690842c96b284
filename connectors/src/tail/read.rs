//! One `process` call of [`TailFile`]: open the restriction's file, read complete lines, and at
//! the end of the data wait, stop, restart after a truncation, or move to the rotated-in file.

use std::fs::File;
use std::path::PathBuf;

use sdf_core::{Output, ProcessContinuation, SharedTracker};

use super::cursor::{Cursor, End, Next, locate, open_current};
use super::dofn::{TailFile, TailLine, Truncation};
use super::tracker::{FileId, LineCheck, MAX_GENERATION, TailPosition, TailTracker};
use crate::error::{Error, Result};
use crate::file::FileMetadata;

/// Go on reading with a cursor, or end the call.
enum Step {
    Go(Cursor),
    Done(ProcessContinuation),
}

pub(crate) struct Tail<'a, 'o> {
    pub options: &'a TailFile,
    pub input: &'a FileMetadata,
    pub tracker: &'a mut SharedTracker<TailTracker>,
    pub output: &'a mut Output<'o, TailLine>,
    pub until_eof: bool,
}

impl Tail<'_, '_> {
    pub async fn run(mut self) -> sdf_core::Result<ProcessContinuation> {
        let mut cursor = match self.open_start()? {
            Step::Go(cursor) => cursor,
            Step::Done(continuation) => return Ok(continuation),
        };
        loop {
            match cursor.next(self.options.max_line_bytes)? {
                Next::Line { start, text, check } => {
                    if !self.emit(&cursor, start, text, Some(check)).await? {
                        return Ok(ProcessContinuation::Stop);
                    }
                }
                Next::End => match self.at_end(cursor).await? {
                    Step::Go(next) => cursor = next,
                    Step::Done(continuation) => return Ok(continuation),
                },
            }
        }
    }

    /// Opens the file holding the restriction's start: claims the generation's marker if the
    /// restriction starts there, and checks the file still has the bytes it starts after.
    fn open_start(&mut self) -> sdf_core::Result<Step> {
        let restriction = self.tracker.current_restriction();
        let start = restriction.range.start();
        let generation = TailPosition::generation_of(start);
        let path = &self.input.path;
        let found = match restriction.file {
            Some(id) => locate(path, id)?.map(|(file, at)| (file, at, id)),
            None => open_current(path)?.map(|(file, id)| (file, path.clone(), id)),
        };
        let Some((file, at, id)) = found else {
            return match restriction.file {
                Some(id) => self.lost(generation, id),
                None => self.idle(),
            };
        };
        let from = match TailPosition::byte_of(start) {
            None => {
                if !self.claim(TailPosition::marker(generation), id)? {
                    return Ok(Step::Done(ProcessContinuation::Stop));
                }
                self.options.first_byte(self.input, generation)
            }
            Some(byte) => byte.max(self.options.first_byte(self.input, generation)),
        };
        let cursor = Cursor::open(file, at, id, generation, from)?;
        let size = cursor.size()?;
        if size < cursor.needed() {
            return self.truncated(cursor, size);
        }
        // Resuming after a line read before: the file must still hold it, or it was truncated
        // and written again past that point within one poll.
        if let Some(check) = restriction.before
            && TailPosition::byte_of(start) == Some(check.start + 1)
            && !cursor.still_holds(&check)?
        {
            return self.truncated(cursor, size);
        }
        self.estimate(&cursor, size);
        Ok(Step::Go(cursor))
    }

    /// Every complete line was read: decide from what the path says now.
    async fn at_end(&mut self, cursor: Cursor) -> sdf_core::Result<Step> {
        match cursor.check_end(&self.input.path)? {
            End::Quiet { size } => {
                self.estimate(&cursor, size);
                if self.until_eof {
                    self.finish(&cursor).await
                } else {
                    Ok(self.wait())
                }
            }
            End::Truncated { size } => self.truncated(cursor, size),
            End::Rotated { next: None } if self.until_eof => self.finish(&cursor).await,
            // Renamed away, no new file yet: the writer may still append to the old one.
            End::Rotated { next: None } => Ok(self.wait()),
            End::Rotated {
                next: Some((file, id)),
            } => {
                // The writer has moved on: the old file's incomplete last line is final.
                if !self.emit_partial(&cursor).await? {
                    return Ok(Step::Done(ProcessContinuation::Stop));
                }
                let path = self.input.path.clone();
                self.switch(cursor.generation, file, path, id)
            }
        }
    }

    /// The data there is now is all there will be: the incomplete last line, then the end.
    async fn finish(&mut self, cursor: &Cursor) -> sdf_core::Result<Step> {
        if self.emit_partial(cursor).await? {
            self.tracker.try_claim(TailPosition::END)?;
        }
        Ok(Step::Done(ProcessContinuation::Stop))
    }

    /// The file is shorter than what was read: the policy decides.
    fn truncated(&mut self, mut cursor: Cursor, size: u64) -> sdf_core::Result<Step> {
        let offset = cursor.needed();
        // A file shorter than what was read, or no longer holding the last line read.
        if self.options.truncation == Truncation::Fail {
            return Err(Error::Truncated {
                path: self.input.path.clone(),
                offset,
                size,
            }
            .into());
        }
        tracing::warn!(path = %self.input.path.display(), offset, size,
            "the tailed file was truncated; following its new content from byte 0");
        let generation = self.next_generation(cursor.generation)?;
        if !self.claim(TailPosition::marker(generation), cursor.id)? {
            return Ok(Step::Done(ProcessContinuation::Stop));
        }
        cursor.restart(generation)?;
        Ok(Step::Go(cursor))
    }

    /// The file of `generation` was rotated away and is no longer next to the path.
    fn lost(&mut self, generation: u32, id: FileId) -> sdf_core::Result<Step> {
        let Some((file, next)) = open_current(&self.input.path)? else {
            return self.idle();
        };
        tracing::warn!(path = %self.input.path.display(), generation, ?id,
            "a rotated file is gone from the directory before it was read to its end; \
             lines appended to it after it was last read are lost");
        let path = self.input.path.clone();
        self.switch(generation, file, path, next)
    }

    /// Moves on to the generation after `generation`, in `file`.
    fn switch(
        &mut self,
        generation: u32,
        file: File,
        at: PathBuf,
        id: FileId,
    ) -> sdf_core::Result<Step> {
        let generation = self.next_generation(generation)?;
        if !self.claim(TailPosition::marker(generation), id)? {
            return Ok(Step::Done(ProcessContinuation::Stop));
        }
        let cursor = Cursor::open(file, at, id, generation, 0)?;
        let size = cursor.size()?;
        self.estimate(&cursor, size);
        Ok(Step::Go(cursor))
    }

    /// No file to read yet.
    fn idle(&mut self) -> sdf_core::Result<Step> {
        if self.until_eof {
            self.tracker.try_claim(TailPosition::END)?;
            return Ok(Step::Done(ProcessContinuation::Stop));
        }
        Ok(self.wait())
    }

    fn wait(&self) -> Step {
        Step::Done(ProcessContinuation::resume_after(self.options.poll))
    }

    fn next_generation(&self, generation: u32) -> Result<u32> {
        if generation >= MAX_GENERATION {
            return Err(Error::TailLimit {
                path: self.input.path.clone(),
                offset: 0,
                reason: format!(
                    "it was rotated or truncated {MAX_GENERATION} times; restart the pipeline \
                     on a fresh state directory"
                ),
            });
        }
        Ok(generation + 1)
    }

    fn claim(&mut self, offset: i64, file: FileId) -> sdf_core::Result<bool> {
        self.claim_line(offset, file, None)
    }

    fn claim_line(
        &mut self,
        offset: i64,
        file: FileId,
        check: Option<LineCheck>,
    ) -> sdf_core::Result<bool> {
        Ok(self.tracker.try_claim(TailPosition {
            offset,
            file,
            check,
        })?)
    }

    fn estimate(&self, cursor: &Cursor, size: u64) {
        let estimator = self.tracker.get_ref().estimator();
        estimator.set(cursor.generation, size);
    }

    /// Claims and emits the line at byte `start` of `cursor`'s file; `false` if the claim was
    /// refused (the rest of the work belongs to someone else).
    async fn emit(
        &mut self,
        cursor: &Cursor,
        start: u64,
        line: String,
        check: Option<LineCheck>,
    ) -> sdf_core::Result<bool> {
        let offset = TailPosition::line_offset(cursor.generation, start);
        if !self.claim_line(offset, cursor.id, check)? {
            return Ok(false);
        }
        let record = TailLine {
            path: self.input.path.clone(),
            generation: cursor.generation,
            offset: start,
            line,
        };
        self.output.emit(record).await?;
        Ok(true)
    }

    async fn emit_partial(&mut self, cursor: &Cursor) -> sdf_core::Result<bool> {
        match cursor.partial() {
            Some((start, line)) => self.emit(cursor, start, line, None).await,
            None => Ok(true),
        }
    }
}
