//! Failure injection for tests of the file sinks: a hook that runs before each file-system
//! operation of a [`WriteFiles`](crate::WriteFiles) and can make it fail, as a full disk or a
//! failing device would. Set it with `WriteFilesBuilder::fault_injector` (feature `testing`).

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// A file-system operation of a file sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IoStep {
    /// Creating a staged file.
    Create,
    /// Writing to a staged file (a record, a header or a footer).
    Write,
    /// Flushing a staged file's buffer, when the epoch is prepared.
    Flush,
    /// `fsync` of a staged file.
    Sync,
    /// `fsync` of the staging directory, when the epoch is prepared.
    SyncStagingDir,
    /// Renaming a staged file into place.
    Publish,
    /// `fsync` of a directory published into (and of the staging directory after it).
    SyncPublished,
    /// Recording the last epoch published.
    Mark,
    /// Deleting a staged file of an epoch that was never durable.
    Remove,
    /// `fsync` of the staging directory after deleting.
    SyncDiscarded,
}

impl IoStep {
    /// The crash point of this step ([`sdf_core::crash`]).
    fn crash_point(self) -> &'static str {
        use sdf_core::crash::step;
        match self {
            IoStep::Create => step::STAGE_CREATE,
            IoStep::Write => step::STAGE_WRITE,
            IoStep::Flush => step::STAGE_FLUSH,
            IoStep::Sync => step::STAGE_FSYNC,
            IoStep::SyncStagingDir => step::STAGE_DIR_FSYNC,
            IoStep::Publish => step::PUBLISH_RENAME,
            IoStep::SyncPublished => step::PUBLISH_DIR_FSYNC,
            IoStep::Mark => step::PUBLISH_MARK,
            IoStep::Remove => step::DISCARD_REMOVE,
            IoStep::SyncDiscarded => step::DISCARD_DIR_FSYNC,
        }
    }
}

/// Called before each operation with its path; an error makes the operation fail with it.
pub type FaultInjector = Arc<dyn Fn(IoStep, &Path) -> io::Result<()> + Send + Sync>;

/// The sink's injector, if any.
#[derive(Clone, Default)]
pub(crate) struct Faults(pub Option<FaultInjector>);

impl Faults {
    /// Marks the crash point of `step`, then asks the injector whether `step` on `path` fails.
    pub fn check(&self, step: IoStep, path: &Path) -> io::Result<()> {
        sdf_core::crash::reached(step.crash_point());
        match &self.0 {
            Some(inject) => inject(step, path),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Faults(injected)"
        } else {
            "Faults(none)"
        })
    }
}
