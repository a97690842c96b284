//! [`ReadStep`]: what a wrapped source's `process` claims.

/// The position a [`BoundedSourceTracker`](crate::BoundedSourceTracker) or
/// [`UnboundedSourceTracker`](crate::UnboundedSourceTracker) claims.
///
/// A legacy reader claims its records through its own [`RangeTracker`](crate::RangeTracker)
/// (or keeps its own position, for an unbounded reader). The SDF's tracker does not see those
/// positions; it hands out *turns*: `process` claims [`Next`](Self::Next) before it pulls a
/// record from the reader, and [`End`](Self::End) when the reader has none left. Positions are
/// relative, so claims increase by construction: `Next` is always the turn after the last one.
///
/// Claiming before every pull is what lets a runner split at any record: a split request waits
/// in the [`SharedTracker`](sdf_core::SharedTracker)'s mailbox and is served at the next claim,
/// between two records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadStep {
    /// The reader may return one more record. `false` means the work was split or
    /// checkpointed away: stop without pulling.
    Next,
    /// The reader returned its last record; the claim always returns `false` and ends the call.
    End,
}
