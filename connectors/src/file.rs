//! What every connector knows about a file.

use std::path::PathBuf;

use sdf_core::Timestamp;
use serde::{Deserialize, Serialize};

/// A file found by matching: the element that readers take.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileMetadata {
    /// Its path.
    pub path: PathBuf,
    /// Its size in bytes when it was listed.
    pub size: u64,
    /// Its last modification time when it was listed.
    pub modified: Timestamp,
}

/// What to do when a pattern matches no file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EmptyMatch {
    /// An empty match is fine.
    Allow,
    /// An empty match is an error.
    Disallow,
    /// An empty match is fine if the pattern has a wildcard, an error for a plain path (Beam's
    /// default for a collection of patterns).
    #[default]
    AllowIfWildcard,
}
