//! Helpers of the object-store tests: an in-memory store registered under its own URL prefix.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sdf_connectors::FileMetadata;
use sdf_connectors::storage::object_store::memory::InMemory;
use sdf_connectors::storage::object_store::path::Path;
use sdf_connectors::storage::object_store::{ObjectStoreExt, PutPayload};
use sdf_connectors::storage::{io_runtime, register_store};
use sdf_connectors::{EmptyMatch, MatchOptions, match_pattern};

/// An `InMemory` store served at `memory:///{name}-{n}`.
pub struct Bucket {
    pub store: Arc<InMemory>,
    pub url: String,
}

impl Bucket {
    pub fn new(name: &str) -> Bucket {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let store = Arc::new(InMemory::new());
        let url = format!("memory:///{name}-{n}");
        register_store(&url, store.clone()).unwrap();
        Bucket { store, url }
    }

    /// Puts `bytes` at `key` (replacing what is there).
    pub fn put(&self, key: &str, bytes: impl Into<Vec<u8>>) {
        let payload = PutPayload::from(bytes.into());
        let store = self.store.clone();
        let key = Path::from(key);
        io_runtime()
            .unwrap()
            .block_on(async move { store.put(&key, payload).await })
            .unwrap();
    }

    /// Deletes `key`.
    pub fn delete(&self, key: &str) {
        let store = self.store.clone();
        let key = Path::from(key);
        io_runtime()
            .unwrap()
            .block_on(async move { store.delete(&key).await })
            .unwrap();
    }

    /// Whether `key` exists.
    pub fn exists(&self, key: &str) -> bool {
        let store = self.store.clone();
        let key = Path::from(key);
        io_runtime()
            .unwrap()
            .block_on(async move { store.head(&key).await })
            .is_ok()
    }

    /// The URL of `key`.
    pub fn url(&self, key: &str) -> String {
        format!("{}/{key}", self.url)
    }

    /// Puts `bytes` at `key` and lists it, as matching would.
    pub fn object(&self, key: &str, bytes: impl Into<Vec<u8>>) -> FileMetadata {
        self.put(key, bytes);
        self.listed(key)
    }

    /// The object at `key` as matching lists it now.
    pub fn listed(&self, key: &str) -> FileMetadata {
        let options = MatchOptions {
            empty_match: EmptyMatch::Disallow,
            ..MatchOptions::default()
        };
        let mut files = match_pattern(&self.url(key), options).unwrap();
        assert_eq!(files.len(), 1);
        files.remove(0)
    }
}
