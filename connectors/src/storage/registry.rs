//! Which store serves a URL: stores registered for URL prefixes, and stores built once per
//! base from the environment.

use std::sync::{Arc, RwLock};

use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;

use super::{Url, compiled, feature_of};
use crate::error::{Error, Result};

/// A store and the URL prefix it serves.
struct Entry {
    base: String,
    segments: Vec<String>,
    store: Arc<dyn ObjectStore>,
}

static STORES: RwLock<Vec<Entry>> = RwLock::new(Vec::new());

/// An object URL resolved: its store, its key there, and the URL of the store's root.
pub(crate) struct Resolved {
    pub store: Arc<dyn ObjectStore>,
    pub key: ObjectPath,
    /// The URL of key `""`: an object's URL is `{root}/{key}`.
    pub root: String,
}

impl Resolved {
    /// The URL of the object at `key` in the same store.
    pub(crate) fn url_of(&self, key: &ObjectPath) -> String {
        format!("{}/{}", self.root, key.as_ref())
    }
}

/// Serves the URLs that start with `prefix` (whole path segments: `memory:///a` serves
/// `memory:///a/x`, not `memory:///ab`) from `store`, which sees the rest of the path as its
/// key. The longest registered prefix wins; registering the same prefix again replaces the
/// store. Registration is process-wide. A pattern is listed in the store of its root (its
/// literal prefix), so register a store at or above the roots of the patterns that list it:
/// `memory:///a/*` lists the store registered at `memory:///a`, never one registered at
/// `memory:///a/b`.
///
/// ```
/// use std::sync::Arc;
/// use sdf_connectors::storage::{object_store::memory::InMemory, register_store};
/// register_store("memory:///doc-example", Arc::new(InMemory::new()))?;
/// assert!(register_store("not a url", Arc::new(InMemory::new())).is_err());
/// # Ok::<(), sdf_connectors::Error>(())
/// ```
pub fn register_store(prefix: &str, store: Arc<dyn ObjectStore>) -> Result<()> {
    let url = Url::parse(prefix).ok_or_else(|| Error::UnsupportedUrl {
        url: prefix.to_string(),
        reason: "a store is registered for a URL prefix, as s3://bucket or memory:///name".into(),
    })?;
    let entry = Entry {
        base: url.base.to_string(),
        segments: url.segments().map(str::to_string).collect(),
        store,
    };
    let mut stores = STORES.write().unwrap_or_else(|e| e.into_inner());
    stores.retain(|e| !(e.base == entry.base && e.segments == entry.segments));
    stores.push(entry);
    Ok(())
}

/// The store of `url_text` and the object's key in it.
pub(crate) fn resolve(url_text: &str) -> Result<Resolved> {
    let url = Url::parse(url_text).ok_or_else(|| Error::UnsupportedUrl {
        url: url_text.to_string(),
        reason: "it is not a URL".into(),
    })?;
    let segments: Vec<&str> = url.segments().collect();
    if let Some(found) = lookup(&url, &segments) {
        return Ok(found);
    }
    let feature = feature_of(url_text, url.scheme)?;
    if !compiled(feature) {
        return Err(Error::StoreUnavailable {
            url: url_text.to_string(),
            feature,
        });
    }
    let store = build(url_text, &url)?;
    {
        let mut stores = STORES.write().unwrap_or_else(|e| e.into_inner());
        // Another thread may have built it meanwhile: keep the first.
        if !stores
            .iter()
            .any(|e| e.base == url.base && e.segments.is_empty())
        {
            stores.push(Entry {
                base: url.base.to_string(),
                segments: Vec::new(),
                store,
            });
        }
    }
    lookup(&url, &segments).ok_or_else(|| Error::UnsupportedUrl {
        url: url_text.to_string(),
        reason: "no store serves it".into(),
    })
}

/// The store registered with the longest prefix of `segments` under `url`'s base.
fn lookup(url: &Url<'_>, segments: &[&str]) -> Option<Resolved> {
    let stores = STORES.read().unwrap_or_else(|e| e.into_inner());
    let entry = stores
        .iter()
        .filter(|e| {
            e.base == url.base
                && e.segments.len() <= segments.len()
                && e.segments.iter().zip(segments).all(|(a, b)| a == b)
        })
        .max_by_key(|e| e.segments.len())?;
    let n = entry.segments.len();
    let mut root = entry.base.clone();
    for s in &entry.segments {
        root.push('/');
        root.push_str(s);
    }
    Some(Resolved {
        store: Arc::clone(&entry.store),
        key: key_of(&segments[n..]),
        root,
    })
}

/// The object-store key of these path segments (already in the store's encoding).
fn key_of(segments: &[&str]) -> ObjectPath {
    let text = segments.join("/");
    ObjectPath::parse(&text).unwrap_or_else(|_| ObjectPath::from_iter(segments.iter().copied()))
}

/// The store of `url`'s base, from the environment.
fn build(url_text: &str, url: &Url<'_>) -> Result<Arc<dyn ObjectStore>> {
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| Error::Store {
        what: "connecting to the store of",
        url: url_text.to_string(),
        offset: None,
        source,
    };
    let base = url::Url::parse(&format!("{}/", url.base)).map_err(|e| fail(Box::new(e)))?;
    // Variables that are not Unicode are no store's settings (`env::vars` would panic on them).
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let (store, _) = object_store::parse_url_opts(&base, env).map_err(|e| fail(Box::new(e)))?;
    Ok(Arc::from(store))
}
