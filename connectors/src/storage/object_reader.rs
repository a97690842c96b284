//! [`ObjectReader`]: an object's bytes as a synchronous reader, fetched ahead by ranged `GET`s
//! on the IO runtime.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt};
use sdf_core::Timestamp;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::registry::resolve;
use super::runtime::{io_runtime, wait};
use crate::error::{Error, Location, Result};
use crate::file::FileMetadata;
use crate::read::OnChange;
use crate::read::source::compare;

/// The size of each ranged `GET` after the first.
const CHUNK: u64 = 4 << 20;
/// The size of the first `GET` after a start or a seek: a call that reads only a header, or a
/// small piece, does not fetch a whole chunk.
const FIRST_CHUNK: u64 = 256 << 10;
/// How many fetched chunks may wait for the reader (one more may be in flight).
const AHEAD: usize = 2;

/// Reads an object from some offset on, up to its listed size, through a task on the IO
/// runtime that keeps up to [`AHEAD`] chunks of [`CHUNK`] bytes fetched ahead (the first one
/// after a start or a seek is [`FIRST_CHUNK`]). A read blocks
/// its thread while it waits for bytes, as a local read does; a seek drops what was fetched and
/// restarts the task at the new offset, on the next read.
///
/// Each response is compared with the listing ([`compare`], under the reader's
/// [`OnChange`]), so an object replaced while it is read fails the read that reaches the first
/// chunk of the new object.
pub(crate) struct ObjectReader {
    object: Arc<Object>,
    pos: u64,
    chunk: Bytes,
    feed: Option<Feed>,
}

/// What the fetching task needs: the object and its listing.
struct Object {
    url: String,
    store: Arc<dyn ObjectStore>,
    key: ObjectPath,
    listed: FileMetadata,
    on_change: OnChange,
}

/// A running read-ahead task and the queue it fills.
struct Feed {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signals the reader: a chunk (or the end, or an error) is queued.
    ready: Condvar,
    /// Signals the task: the reader took a chunk.
    space: Notify,
}

#[derive(Default)]
struct Queue {
    chunks: VecDeque<Result<Bytes>>,
    done: bool,
}

fn lock(m: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    // Nothing panics while holding it; a poisoned queue is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ObjectReader {
    /// A reader of the object at `url`, listed as `listed`, at offset 0. Resolves its store
    /// (building it the first time) but requests nothing yet.
    pub(crate) fn open(url: &str, listed: &FileMetadata, on_change: OnChange) -> Result<Self> {
        let resolved = resolve(url)?;
        Ok(ObjectReader {
            object: Arc::new(Object {
                url: url.to_string(),
                store: resolved.store,
                key: resolved.key,
                listed: listed.clone(),
                on_change,
            }),
            pos: 0,
            chunk: Bytes::new(),
            feed: None,
        })
    }

    /// Another reader of the same object, at offset 0.
    pub(crate) fn reopen(&self) -> ObjectReader {
        ObjectReader {
            object: Arc::clone(&self.object),
            pos: 0,
            chunk: Bytes::new(),
            feed: None,
        }
    }

    /// Moves to `offset`: the next read fetches from there.
    pub(crate) fn seek(&mut self, offset: u64) {
        self.feed = None;
        self.chunk = Bytes::new();
        self.pos = offset;
    }

    /// Reads into `buf`; `Ok(0)` at the listed size.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.chunk.is_empty() {
            if self.pos >= self.object.listed.size || buf.is_empty() {
                return Ok(0);
            }
            self.chunk = self.next_chunk()?;
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        let _ = self.chunk.split_to(n);
        self.pos += n as u64;
        Ok(n)
    }

    /// The next fetched chunk, starting the task if none runs; waits for it.
    fn next_chunk(&mut self) -> Result<Bytes> {
        let feed = match &mut self.feed {
            Some(feed) => feed,
            slot => slot.insert(start(&self.object, self.pos)?),
        };
        let mut queue = lock(&feed.shared.queue);
        loop {
            if let Some(chunk) = queue.chunks.pop_front() {
                drop(queue);
                feed.shared.space.notify_one();
                return chunk;
            }
            if queue.done {
                // The task stops only after the listed size or an error, both queued.
                return Ok(Bytes::new());
            }
            queue = feed
                .shared
                .ready
                .wait(queue)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The object's size and modification time now (a `HEAD`); `at` is where the reader is,
    /// for errors.
    pub(crate) fn head(&self, at: u64) -> Result<(u64, Timestamp)> {
        let object = Arc::clone(&self.object);
        wait(async move {
            let meta = object
                .store
                .head(&object.key)
                .await
                .map_err(|e| object.failed("checking", at, e))?;
            Ok((meta.size, timestamp(&meta)))
        })
    }
}

impl Object {
    fn failed(&self, what: &'static str, offset: u64, e: object_store::Error) -> Error {
        Error::Store {
            what,
            url: self.url.clone(),
            offset: Some(offset),
            source: Box::new(e),
        }
    }

    fn at(&self, offset: u64) -> Location {
        Location {
            path: PathBuf::from(&self.url),
            offset,
            decoded: false,
        }
    }

    /// One ranged `GET` of `[pos, pos + len)` (within the listed size), checked against the
    /// listing.
    async fn get(&self, pos: u64, len: u64) -> Result<Bytes> {
        let end = self.listed.size.min(pos.saturating_add(len));
        let options = GetOptions {
            range: Some(GetRange::Bounded(pos..end)),
            ..GetOptions::default()
        };
        let response = self
            .store
            .get_opts(&self.key, options)
            .await
            .map_err(|e| self.failed("reading", pos, e))?;
        let (size, modified) = (response.meta.size, timestamp(&response.meta));
        compare(
            &self.listed,
            self.on_change,
            size,
            Some(modified),
            self.at(pos),
        )?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.failed("reading", pos, e))?;
        if bytes.is_empty() {
            let what = format!(
                "it ends at byte {pos} but was listed with {} bytes",
                self.listed.size
            );
            return Err(crate::read::source::changed(
                self.on_change,
                self.at(pos),
                what,
            ));
        }
        Ok(bytes)
    }
}

/// Starts the read-ahead task at `pos`.
fn start(object: &Arc<Object>, pos: u64) -> Result<Feed> {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue::default()),
        ready: Condvar::new(),
        space: Notify::new(),
    });
    let task = io_runtime()?.spawn(fetch(Arc::clone(object), Arc::clone(&shared), pos));
    Ok(Feed { shared, task })
}

/// The read-ahead task: fetches chunks from `pos` to the listed size, at most [`AHEAD`]
/// waiting, and stops at the end or at the first error (queued for the reader).
async fn fetch(object: Arc<Object>, shared: Arc<Shared>, mut pos: u64) {
    let mut len = FIRST_CHUNK;
    while pos < object.listed.size {
        loop {
            if lock(&shared.queue).chunks.len() < AHEAD {
                break;
            }
            shared.space.notified().await;
        }
        let chunk = object.get(pos, len).await;
        len = CHUNK;
        let failed = chunk.is_err();
        if let Ok(bytes) = &chunk {
            pos += bytes.len() as u64;
        }
        lock(&shared.queue).chunks.push_back(chunk);
        shared.ready.notify_all();
        if failed {
            break;
        }
    }
    lock(&shared.queue).done = true;
    shared.ready.notify_all();
}

/// An object's modification time.
pub(crate) fn timestamp(meta: &ObjectMeta) -> Timestamp {
    Timestamp::from_micros(meta.last_modified.timestamp_micros())
}

/// Reads the first bytes of the object at `url` into `head` (codec detection); returns how
/// many there are.
pub(crate) fn read_head(url: &str, head: &mut [u8]) -> Result<usize> {
    let resolved = resolve(url)?;
    let (store, key, url) = (resolved.store, resolved.key, url.to_string());
    let want = head.len() as u64;
    let bytes = wait(async move {
        let meta = store.head(&key).await.map_err(|e| Error::Store {
            what: "opening",
            url: url.clone(),
            offset: Some(0),
            source: Box::new(e),
        })?;
        if meta.size == 0 {
            return Ok(Bytes::new());
        }
        store
            .get_range(&key, 0..want.min(meta.size))
            .await
            .map_err(|e| Error::Store {
                what: "reading",
                url,
                offset: Some(0),
                source: Box::new(e),
            })
    })?;
    let n = bytes.len().min(head.len());
    head[..n].copy_from_slice(&bytes[..n]);
    Ok(n)
}
