//! # Storage: local files, and object stores behind cargo features
//!
//! A pattern or a [`FileMetadata::path`](crate::FileMetadata::path) is either a local path or
//! the URL of an object. Local files are listed with a sorted directory walk
//! ([`list_files`](crate::list_files)) and read with `std::fs` at page-cache speed. Objects are
//! reached through the [`object_store`](https://docs.rs/object_store) crate when the crate is
//! built with the matching cargo feature (the root package `sdf` forwards the same features):
//!
//! | URL | store | cargo feature |
//! |---|---|---|
//! | `s3://bucket/key`, `s3a://` | Amazon S3 (and S3-compatible stores) | `s3` |
//! | `gs://bucket/key` | Google Cloud Storage | `gcs` |
//! | `az://container/key`, `abfs[s]://container@account.dfs.core.windows.net/key`, `azure://`, `adl://` | Azure Blob Storage | `azure` |
//! | `http://host/path`, `https://host/path` | a WebDAV / plain HTTP server | `http` |
//! | `memory:///key` | one in-memory store per process (tests) | `object-store` |
//! | any prefix given to `register_store` | your own `Arc<dyn ObjectStore>` | `object-store` |
//!
//! A URL whose scheme has no compiled-in feature is [`Error::StoreUnavailable`], which names the
//! feature to enable.
//!
//! ## Which store serves a URL
//!
//! A URL is split into its base (`scheme://authority`) and the `/`-separated segments of its
//! path. The store is the one registered (`register_store`) with the longest prefix of segments
//! under the same base, and the object's key is the rest of the segments: a store registered
//! at `memory:///tests/a` serves `memory:///tests/a/x/y.csv` as key `x/y.csv`. A URL without a
//! registered store gets the store of its base, built once per process by
//! `object_store::parse_url_opts` from the base and the process environment: credentials and
//! settings come from the usual variables (`AWS_ACCESS_KEY_ID`, `AWS_REGION`,
//! `AWS_ENDPOINT`..., `GOOGLE_SERVICE_ACCOUNT`..., `AZURE_STORAGE_ACCOUNT_NAME`...), as each
//! backend's `from_env` reads them. A store that cannot be built (no region, no credentials)
//! is [`Error::Store`] naming the URL.
//!
//! ## Listing
//!
//! A pattern's literal prefix (its [root](crate::Pattern::root), e.g. `s3://b/logs` for
//! `s3://b/logs/2024-*/**/*.csv`) is the object-store list prefix; the keys below it are split
//! at `/` and matched by the same [`Pattern`](crate::Pattern) rules as local paths (hidden
//! names need a literal `.`). A listing is one flat `list` request stream; the matches (and
//! only they) are held in memory, about 100 bytes each, and sorted by the same component-wise
//! [key](crate::RelPath::key) as local listings, so `MatchAll` splits a remote listing by
//! `ByteKeyRange` exactly as a local one. Sizes and modification times are the objects'
//! `size` and `last_modified`. A literal URL (no wildcard) is one `HEAD`.
//!
//! ## The IO runtime, and what blocks
//!
//! Every object-store call runs on one lazily created, process-wide tokio runtime (2 worker
//! threads, named `sdf-io`), never on the caller's: object-store clients need a tokio reactor,
//! and a pipeline's own runtime may be a current-thread one or the conformance kit's driver.
//! Async callers (listing in `MatchAll` and `ContinuousMatch`, clean-up finalizers) spawn their
//! request there and await its `JoinHandle`; no `block_on` is ever nested in async code.
//! Synchronous callers ([`match_pattern`](crate::match_pattern), `list_files`, and readers'
//! byte reads) wait for the answer on a channel, **blocking their thread** exactly as a local
//! read blocks in `read(2)`: readers run on the runtime's stage worker threads, which may block.
//!
//! A reader reads an object through a read-ahead reader: a task on the IO runtime fetches
//! ranged `GET`s of 4 MiB (the first after a start or a seek: 256 KiB, enough for a header or
//! a small piece), at most 2 ahead of the reader (so at most 12 MiB per open object, parked
//! readers included), and a seek restarts it at the new offset. A reader also sends a `HEAD`
//! at the start and the end of each call (see below): small objects cost about three requests
//! per call. Compressed objects are decoded from it like files. The block formats read
//! objects through the same reader: `ReadAvro` from each range's start; `ReadParquet` with one
//! ranged read for the footer (cached per listing) and one per column chunk of each row group
//! it claims, so a projection fetches only its columns' bytes.
//!
//! ## Objects that change
//!
//! Every ranged `GET` returns the object's current size and modification time, and each is
//! compared with the listing under the reader's [`OnChange`](crate::read::OnChange) policy; a
//! reader also checks the object (a `HEAD`) where it checks a local file, at the start and the
//! end of each call. An object replaced after it was listed is [`Error::FileChanged`] naming
//! the URL and offset; one deleted is [`Error::Store`].
//!
//! ## What stays local
//!
//! `TailFile` (it follows appends and rotations, which objects do not have) and `WriteFiles`
//! (it renames staged files into place) take local paths only: a URL is
//! [`Error::LocalOnly`] (so is `WriteParquet`, a `WriteFiles`). `ContinuousMatch` polls object
//! stores (notifications are local) and deletes or archives objects after commit.

use crate::error::{Error, Result};

#[cfg(feature = "object-store")]
mod cleanup;
#[cfg(feature = "object-store")]
mod listing;
#[cfg(feature = "object-store")]
mod object_reader;
#[cfg(feature = "object-store")]
mod registry;
#[cfg(feature = "object-store")]
mod runtime;

#[cfg(not(feature = "object-store"))]
mod disabled;

#[cfg(not(feature = "object-store"))]
pub(crate) use disabled::{ObjectReader, archive, delete, list, list_blocking, read_head};
#[cfg(feature = "object-store")]
pub(crate) use {
    cleanup::{archive, delete},
    listing::{list, list_blocking},
    object_reader::{ObjectReader, read_head},
};

#[cfg(feature = "object-store")]
pub use object_store;
#[cfg(feature = "object-store")]
pub use registry::register_store;
#[cfg(feature = "object-store")]
pub use runtime::io_runtime;

/// An object's URL split into its base (`scheme://authority`) and its path (without the `/`
/// after the authority).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Url<'a> {
    pub scheme: &'a str,
    pub base: &'a str,
    pub path: &'a str,
}

impl<'a> Url<'a> {
    /// `Some` if `text` is a URL (`scheme://...`), a local path otherwise.
    pub(crate) fn parse(text: &'a str) -> Option<Url<'a>> {
        let (scheme, rest) = text.split_once("://")?;
        let valid = scheme.len() > 1
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !valid {
            return None;
        }
        let authority = rest.find('/').unwrap_or(rest.len());
        let base = &text[..scheme.len() + 3 + authority];
        let path = rest[authority..].trim_start_matches('/');
        Some(Url { scheme, base, path })
    }

    /// The path's segments, empty ones left out.
    #[cfg(feature = "object-store")]
    pub(crate) fn segments(&self) -> impl Iterator<Item = &'a str> {
        self.path.split('/').filter(|s| !s.is_empty())
    }
}

/// Whether `text` (a pattern or a path) is an object's URL rather than a local path.
pub(crate) fn is_url(text: &str) -> bool {
    Url::parse(text).is_some()
}

/// The cargo feature that reads URLs of `scheme`, or an error for a scheme no feature reads.
pub(crate) fn feature_of(url: &str, scheme: &str) -> Result<&'static str> {
    Ok(match scheme.to_ascii_lowercase().as_str() {
        "s3" | "s3a" => "s3",
        "gs" => "gcs",
        "az" | "adl" | "azure" | "abfs" | "abfss" => "azure",
        "http" | "https" => "http",
        "memory" => "object-store",
        "file" => {
            return Err(Error::UnsupportedUrl {
                url: url.to_string(),
                reason: "write a local file as a plain path, without `file://`".into(),
            });
        }
        _ => {
            return Err(Error::UnsupportedUrl {
                url: url.to_string(),
                reason: "the schemes read are s3, s3a, gs, az, abfs, abfss, azure, adl, http, \
                         https and memory, and any prefix registered with register_store"
                    .into(),
            });
        }
    })
}

/// Whether the feature for `feature` is compiled in.
#[cfg(feature = "object-store")]
pub(crate) fn compiled(feature: &str) -> bool {
    const COMPILED: &[(&str, bool)] = &[
        ("object-store", cfg!(feature = "object-store")),
        ("s3", cfg!(feature = "s3")),
        ("gcs", cfg!(feature = "gcs")),
        ("azure", cfg!(feature = "azure")),
        ("http", cfg!(feature = "http")),
    ];
    COMPILED.iter().any(|&(name, on)| on && name == feature)
}

/// The error for a URL given to a connector that works on local files only.
pub(crate) fn local_only(url: &str, connector: &'static str, why: &'static str) -> Error {
    Error::LocalOnly {
        url: url.to_string(),
        connector,
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_base_and_path() {
        let cases = [
            (
                "s3://bucket/logs/a.csv",
                Some(("s3", "s3://bucket", "logs/a.csv")),
            ),
            ("memory:///t/x", Some(("memory", "memory://", "t/x"))),
            ("gs://b", Some(("gs", "gs://b", ""))),
            (
                "abfss://c@acct.dfs.core.windows.net/k",
                Some(("abfss", "abfss://c@acct.dfs.core.windows.net", "k")),
            ),
            ("/data/a://b", None),
            ("data/x.csv", None),
            ("C://x", None),
        ];
        for (text, want) in cases {
            let got = Url::parse(text).map(|u| (u.scheme, u.base, u.path));
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn schemes_name_their_feature() {
        assert_eq!(feature_of("s3://b/k", "s3").unwrap(), "s3");
        assert_eq!(feature_of("gs://b/k", "gs").unwrap(), "gcs");
        assert_eq!(feature_of("az://b/k", "az").unwrap(), "azure");
        assert_eq!(feature_of("https://h/k", "https").unwrap(), "http");
        let e = feature_of("ftp://h/k", "ftp").unwrap_err().to_string();
        assert!(e.contains("ftp://h/k") && e.contains("s3"), "{e}");
        let e = feature_of("file:///x", "file").unwrap_err().to_string();
        assert!(e.contains("plain path"), "{e}");
    }
}
