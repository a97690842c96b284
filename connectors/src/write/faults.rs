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
    /// `fsync` of a staged file or of a directory.
    Sync,
    /// Renaming a staged file into place.
    Publish,
    /// Deleting a staged file of an epoch that was never durable.
    Remove,
}

/// Called before each operation with its path; an error makes the operation fail with it.
pub type FaultInjector = Arc<dyn Fn(IoStep, &Path) -> io::Result<()> + Send + Sync>;

/// The sink's injector, if any.
#[derive(Clone, Default)]
pub(crate) struct Faults(pub Option<FaultInjector>);

impl Faults {
    /// Asks the injector whether `step` on `path` fails.
    pub fn check(&self, step: IoStep, path: &Path) -> io::Result<()> {
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
