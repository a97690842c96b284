//! [`UnboundedSourceRestriction`] and the de-duplication window it carries, [`SeenIds`].

use std::collections::{HashSet, VecDeque};
use std::fmt;

use sdf_core::Timestamp;
use serde::{Deserialize, Serialize};

use super::UnboundedSource;

/// The restriction of [`UnboundedSourceSdf`](crate::UnboundedSourceSdf): where a reader of
/// `source` resumes, and how far its output has got.
///
/// This is what the runtime persists at a checkpoint (with serde), and resumes from after a
/// restart:
///
/// - `source`: the (sub-)source to read;
/// - `checkpoint`: the mark to resume after, `None` to start afresh;
/// - `watermark`: the reader's watermark when the mark was taken;
/// - `seen_ids`: the ids of the latest records, for sources that redeliver;
/// - `done`: nothing is left (the primary of a checkpoint, or a finished stream).
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "S: UnboundedSource")]
pub struct UnboundedSourceRestriction<S: UnboundedSource> {
    /// The source to read.
    pub source: S,
    /// Where to resume; `None` to start afresh.
    pub checkpoint: Option<S::CheckpointMark>,
    /// The watermark reached when the mark was taken.
    pub watermark: Timestamp,
    /// Ids of the latest records, to drop redelivered ones.
    pub seen_ids: SeenIds,
    /// Whether nothing is left to read.
    pub done: bool,
}

impl<S: UnboundedSource> UnboundedSourceRestriction<S> {
    /// `source`, from its start.
    pub fn new(source: S) -> Self {
        UnboundedSourceRestriction {
            source,
            checkpoint: None,
            watermark: Timestamp::MIN,
            seen_ids: SeenIds::default(),
            done: false,
        }
    }

    /// The same source, with nothing left to read.
    pub(crate) fn to_done(&self) -> Self {
        UnboundedSourceRestriction {
            source: self.source.clone(),
            checkpoint: None,
            watermark: self.watermark,
            seen_ids: SeenIds::default(),
            done: true,
        }
    }
}

impl<S: UnboundedSource> fmt::Debug for UnboundedSourceRestriction<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.done {
            return write!(f, "{:?} done", self.source);
        }
        write!(f, "{:?} from ", self.source)?;
        match &self.checkpoint {
            Some(mark) => write!(f, "{mark:?}")?,
            None => f.write_str("the start")?,
        }
        write!(f, ", watermark {:?}", self.watermark)?;
        if !self.seen_ids.is_empty() {
            write!(f, ", {} ids seen", self.seen_ids.len())?;
        }
        Ok(())
    }
}

/// The ids of the most recent records, oldest first, up to a capacity: a de-duplication
/// window that travels with the restriction, so that it survives checkpoints and restarts.
///
/// ```
/// use sdf_legacy::SeenIds;
/// let mut seen = SeenIds::default();
/// assert!(seen.insert(b"a".to_vec(), 2));
/// assert!(!seen.insert(b"a".to_vec(), 2)); // a duplicate
/// assert!(seen.insert(b"b".to_vec(), 2) && seen.insert(b"c".to_vec(), 2));
/// assert!(!seen.contains(b"a")); // the oldest id left the window
/// ```
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<Vec<u8>>", into = "Vec<Vec<u8>>")]
pub struct SeenIds {
    order: VecDeque<Vec<u8>>,
    set: HashSet<Vec<u8>>,
}

impl SeenIds {
    /// Adds `id`; `false` if it was already in the window. Keeps at most `capacity` ids,
    /// dropping the oldest.
    pub fn insert(&mut self, id: Vec<u8>, capacity: usize) -> bool {
        if self.set.contains(&id) {
            return false;
        }
        self.set.insert(id.clone());
        self.order.push_back(id);
        while self.order.len() > capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    /// Whether `id` is in the window.
    pub fn contains(&self, id: &[u8]) -> bool {
        self.set.contains(id)
    }

    /// The number of ids in the window.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

impl From<Vec<Vec<u8>>> for SeenIds {
    fn from(ids: Vec<Vec<u8>>) -> Self {
        let mut seen = SeenIds::default();
        let capacity = ids.len();
        for id in ids {
            seen.insert(id, capacity);
        }
        seen
    }
}

impl From<SeenIds> for Vec<Vec<u8>> {
    fn from(seen: SeenIds) -> Self {
        seen.order.into()
    }
}

impl fmt::Debug for SeenIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeenIds({} ids)", self.order.len())
    }
}
