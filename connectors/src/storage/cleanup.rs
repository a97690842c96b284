//! Deleting and archiving objects after commit.

use object_store::ObjectStoreExt;

use super::registry::resolve;
use super::runtime::run;
use crate::error::{Error, Result};

/// Deletes the object at `url`; one already gone is not an error.
pub(crate) async fn delete(url: &str) -> Result<()> {
    let resolved = resolve(url)?;
    let url = url.to_string();
    run(async move {
        match resolved.store.delete(&resolved.key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::Store {
                what: "deleting",
                url,
                offset: None,
                source: Box::new(e),
            }),
        }
    })
    .await
}

/// Moves the object at `from` to `to` (a rename: copy, then delete, where the store has no
/// rename of its own); one already gone is not an error. Both URLs must be in the same store.
pub(crate) async fn archive(from: &str, to: &str) -> Result<()> {
    let source = resolve(from)?;
    let target = resolve(to)?;
    if !std::sync::Arc::ptr_eq(&source.store, &target.store) {
        return Err(Error::UnsupportedUrl {
            url: to.to_string(),
            reason: format!(
                "archiving {from} there would cross object stores; archive within the same \
                 store (bucket or registered prefix)"
            ),
        });
    }
    let (url, store) = (from.to_string(), source.store);
    run(async move {
        match store.rename(&source.key, &target.key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::Store {
                what: "archiving",
                url,
                offset: None,
                source: Box::new(e),
            }),
        }
    })
    .await
}
