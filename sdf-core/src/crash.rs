//! Crash points: the named I/O steps of the durable protocols (a checkpoint's save, a sink's
//! staging, publishing and recovery, the finalizers that run after a commit), where a test can
//! stop the process as a power cut or `kill -9` would.
//!
//! Code that performs such a step calls [`reached`] just before it, with one of the names in
//! [`step`]. Without the `testing` feature `reached` is an empty inline function. With it, a
//! process armed by [`testing::crash`](crate::testing::crash) records every step it reaches (a
//! trace) and aborts at the one it was told to, so that a harness can first list the crash
//! points of a run and then stop a fresh run *at* each of them, deterministically, instead of
//! hoping a random kill lands in the window (the approach of SQLite's and redb's crash tests).
//!
//! A step belongs to an epoch: the checkpoint epoch whose records are being written, set by the
//! runtime's checkpoint coordinator with [`set_epoch`]. Steps taken while a process recovers
//! belong to the epoch it resumes with.

/// The names of the crash points, one per I/O step, in protocol order.
pub mod step {
    /// A sink creates a staged file (records not yet durable, not visible).
    pub const STAGE_CREATE: &str = "stage.create";
    /// A sink writes to a staged file (a header, records, a footer).
    pub const STAGE_WRITE: &str = "stage.write";
    /// A sink flushes a staged file's buffer to the file (at prepare).
    pub const STAGE_FLUSH: &str = "stage.flush";
    /// `fsync` of a staged file (at prepare).
    pub const STAGE_FSYNC: &str = "stage.fsync";
    /// `fsync` of the staging directory (at prepare).
    pub const STAGE_DIR_FSYNC: &str = "stage.dir-fsync";
    /// The checkpoint store writes the new checkpoint to its temporary file.
    pub const CHECKPOINT_WRITE: &str = "checkpoint.write";
    /// `fsync` of the temporary checkpoint file.
    pub const CHECKPOINT_FSYNC: &str = "checkpoint.fsync";
    /// The store keeps the current checkpoint as the previous one.
    pub const CHECKPOINT_KEEP_PREVIOUS: &str = "checkpoint.keep-previous";
    /// The temporary checkpoint is renamed over the current one (the commit point).
    pub const CHECKPOINT_RENAME: &str = "checkpoint.rename";
    /// `fsync` of the state directory after the rename.
    pub const CHECKPOINT_DIR_FSYNC: &str = "checkpoint.dir-fsync";
    /// A sink renames a staged file into place (publishes it).
    pub const PUBLISH_RENAME: &str = "publish.rename";
    /// `fsync` of a directory a sink published into.
    pub const PUBLISH_DIR_FSYNC: &str = "publish.dir-fsync";
    /// A sink records the last epoch it published.
    pub const PUBLISH_MARK: &str = "publish.mark";
    /// A recovering sink deletes a staged file of an epoch that never became durable.
    pub const DISCARD_REMOVE: &str = "discard.remove";
    /// `fsync` of the staging directory after discarding.
    pub const DISCARD_DIR_FSYNC: &str = "discard.dir-fsync";
    /// A finalizer deletes a source file after its records were committed.
    pub const FINALIZE_DELETE: &str = "finalize.delete";
    /// A finalizer moves a source file to its archive after its records were committed.
    pub const FINALIZE_ARCHIVE: &str = "finalize.archive";

    /// Every step, in protocol order.
    pub const ALL: &[&str] = &[
        STAGE_CREATE,
        STAGE_WRITE,
        STAGE_FLUSH,
        STAGE_FSYNC,
        STAGE_DIR_FSYNC,
        CHECKPOINT_WRITE,
        CHECKPOINT_FSYNC,
        CHECKPOINT_KEEP_PREVIOUS,
        CHECKPOINT_RENAME,
        CHECKPOINT_DIR_FSYNC,
        PUBLISH_RENAME,
        PUBLISH_DIR_FSYNC,
        PUBLISH_MARK,
        DISCARD_REMOVE,
        DISCARD_DIR_FSYNC,
        FINALIZE_DELETE,
        FINALIZE_ARCHIVE,
    ];
}

/// Marks that the I/O step `step` (one of [`step`]) is about to run. A no-op unless the
/// process was armed for crash tests.
#[inline]
pub fn reached(step: &'static str) {
    #[cfg(feature = "testing")]
    crate::testing::crash::hit(step);
    #[cfg(not(feature = "testing"))]
    let _ = step;
}

/// Sets the epoch the following steps belong to (the runtime's checkpoint coordinator calls
/// it). A no-op unless the process was armed for crash tests.
#[inline]
pub fn set_epoch(epoch: u64) {
    #[cfg(feature = "testing")]
    crate::testing::crash::set_epoch(epoch);
    #[cfg(not(feature = "testing"))]
    let _ = epoch;
}
