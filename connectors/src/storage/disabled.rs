//! Without the `object-store` feature: every URL is an error naming the feature that reads it.

use sdf_core::{ByteKeyRange, Timestamp};

use super::{Url, feature_of};
use crate::error::{Error, Result};
use crate::file::FileMetadata;
use crate::matching::{ListedFile, Pattern};
use crate::read::OnChange;

/// [`Error::StoreUnavailable`] for `url`, or why no feature reads it.
fn unavailable(url: &str) -> Error {
    let scheme = Url::parse(url).map_or("", |u| u.scheme);
    match feature_of(url, scheme) {
        Ok(feature) => Error::StoreUnavailable {
            url: url.to_string(),
            feature,
        },
        Err(e) => e,
    }
}

/// No object can be opened in this build: the type has no value.
pub(crate) enum ObjectReader {}

impl ObjectReader {
    pub(crate) fn open(url: &str, _listed: &FileMetadata, _on_change: OnChange) -> Result<Self> {
        Err(unavailable(url))
    }

    pub(crate) fn reopen(&self) -> ObjectReader {
        match *self {}
    }

    pub(crate) fn seek(&mut self, _offset: u64) {
        match *self {}
    }

    pub(crate) fn read(&mut self, _buf: &mut [u8]) -> Result<usize> {
        match *self {}
    }

    pub(crate) fn head(&self, _at: u64) -> Result<(u64, Timestamp)> {
        match *self {}
    }
}

pub(crate) async fn list(pattern: &Pattern, range: &ByteKeyRange) -> Result<Vec<ListedFile>> {
    list_blocking(pattern, range)
}

pub(crate) fn list_blocking(pattern: &Pattern, _range: &ByteKeyRange) -> Result<Vec<ListedFile>> {
    Err(unavailable(pattern.as_str()))
}

pub(crate) fn read_head(url: &str, _head: &mut [u8]) -> Result<usize> {
    Err(unavailable(url))
}

pub(crate) async fn delete(url: &str) -> Result<()> {
    Err(unavailable(url))
}

pub(crate) async fn archive(from: &str, _to: &str) -> Result<()> {
    Err(unavailable(from))
}
