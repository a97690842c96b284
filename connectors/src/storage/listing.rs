//! Listing an object store: the objects below a pattern's root that match it, in key order.

use std::ffi::OsStr;
use std::path::PathBuf;

use futures::StreamExt;
use object_store::ObjectStoreExt;
use sdf_core::ByteKeyRange;

use super::object_reader::timestamp;
use super::registry::resolve;
use super::runtime::{run, wait};
use crate::error::{Error, Result};
use crate::file::FileMetadata;
use crate::matching::{ListedFile, Pattern, RelPath};

/// Lists the objects of a remote `pattern` whose key is in `range`, in key order. Async
/// callers `.await` it (the requests run on the IO runtime); see [`list_blocking`].
pub(crate) async fn list(pattern: &Pattern, range: &ByteKeyRange) -> Result<Vec<ListedFile>> {
    run(request(pattern, range)?).await
}

/// [`list`] for synchronous callers: blocks the thread until the listing is done.
pub(crate) fn list_blocking(pattern: &Pattern, range: &ByteKeyRange) -> Result<Vec<ListedFile>> {
    wait(request(pattern, range)?)
}

/// The listing as a future for the IO runtime (the store is resolved here, synchronously).
fn request(
    pattern: &Pattern,
    range: &ByteKeyRange,
) -> Result<impl Future<Output = Result<Vec<ListedFile>>> + Send + 'static> {
    let root = pattern.root().to_string_lossy().into_owned();
    let resolved = resolve(&root)?;
    let (pattern, range) = (pattern.clone(), range.clone());
    Ok(async move {
        let failed = |e: object_store::Error| Error::Store {
            what: "listing",
            url: root.clone(),
            offset: None,
            source: Box::new(e),
        };
        let mut found = Vec::new();
        if pattern.is_literal() {
            let meta = match resolved.store.head(&resolved.key).await {
                Ok(meta) => meta,
                Err(object_store::Error::NotFound { .. }) => return Ok(found),
                Err(e) => return Err(failed(e)),
            };
            let name = meta.location.filename().unwrap_or_default().to_string();
            let rel = RelPath::from_components([OsStr::new(&name)]);
            if range.contains(&rel.key()) {
                found.push(listed(rel, resolved.url_of(&meta.location), &meta));
            }
            return Ok(found);
        }
        let prefix = resolved.key.as_ref();
        let mut objects = resolved
            .store
            .list((!prefix.is_empty()).then_some(&resolved.key));
        while let Some(meta) = objects.next().await {
            let meta = meta.map_err(failed)?;
            let key = meta.location.as_ref();
            let below = match key.strip_prefix(prefix) {
                Some(below) if prefix.is_empty() => below,
                Some(below) => match below.strip_prefix('/') {
                    Some(below) => below,
                    None => continue,
                },
                None => continue,
            };
            let names: Vec<&str> = below.split('/').collect();
            if !pattern.matches(&names) {
                continue;
            }
            let rel = RelPath::from_components(names.iter().map(OsStr::new));
            if !range.contains(&rel.key()) {
                continue;
            }
            found.push(listed(rel, resolved.url_of(&meta.location), &meta));
        }
        // Stores list in byte order ("a-c" before "a/b"); keys order component-wise.
        found.sort_by_cached_key(|f| f.rel.key());
        Ok(found)
    })
}

fn listed(rel: RelPath, url: String, meta: &object_store::ObjectMeta) -> ListedFile {
    ListedFile {
        rel,
        file: FileMetadata {
            path: PathBuf::from(url),
            size: meta.size,
            modified: timestamp(meta),
        },
    }
}
