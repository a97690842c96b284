//! [`ListingCache`]: what was learnt about a file once (a Parquet footer, an inferred schema),
//! kept for the other calls on the same file.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::Result;
use crate::file::FileMetadata;

/// Values computed from the files read last, keyed by the whole listing (path, size,
/// modification time): a file listed again after a change gets a fresh value. The oldest entry
/// goes first once `capacity` files are held; a capacity of 0 keeps nothing.
#[derive(Debug)]
pub(crate) struct ListingCache<V> {
    capacity: usize,
    entries: Mutex<VecDeque<(FileMetadata, Arc<V>)>>,
}

impl<V> ListingCache<V> {
    pub fn new(capacity: usize) -> Self {
        ListingCache {
            capacity,
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// The value of `file`, from the cache or computed by `compute` (outside the lock: two
    /// calls may compute it at once, and the first to finish is kept).
    pub fn get_or_try(
        &self,
        file: &FileMetadata,
        compute: impl FnOnce() -> Result<V>,
    ) -> Result<Arc<V>> {
        let lock = || self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, value)) = lock().iter().find(|(f, _)| f == file) {
            return Ok(Arc::clone(value));
        }
        let value = Arc::new(compute()?);
        if self.capacity > 0 {
            let mut entries = lock();
            if let Some((_, kept)) = entries.iter().find(|(f, _)| f == file) {
                return Ok(Arc::clone(kept));
            }
            if entries.len() >= self.capacity {
                entries.pop_front();
            }
            entries.push_back((file.clone(), Arc::clone(&value)));
        }
        Ok(value)
    }
}
