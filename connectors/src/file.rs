//! What every connector knows about a file.

use std::path::PathBuf;

use sdf_core::Timestamp;
use serde::{Deserialize, Serialize};

/// A file found by matching: the element that readers take.
///
/// For an object in an object store, `path` holds the object's URL (`s3://bucket/logs/a.csv`,
/// see [`storage`](crate::storage)), `size` its size and `modified` its `last_modified`; the
/// serialized form (in checkpoints) is the same as for a local file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileMetadata {
    /// Its path, or its URL for an object.
    pub path: PathBuf,
    /// Its size in bytes when it was listed.
    pub size: u64,
    /// Its last modification time when it was listed.
    pub modified: Timestamp,
}

impl FileMetadata {
    /// Whether this is an object in an object store (its path is a URL) rather than a local
    /// file.
    ///
    /// ```
    /// use sdf_connectors::FileMetadata;
    /// use sdf_core::Timestamp;
    /// let file = |path: &str| FileMetadata { path: path.into(), size: 0, modified: Timestamp::MIN };
    /// assert!(file("s3://bucket/a.csv").is_remote());
    /// assert!(!file("/data/a.csv").is_remote());
    /// ```
    pub fn is_remote(&self) -> bool {
        self.path.to_str().is_some_and(crate::storage::is_url)
    }
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
