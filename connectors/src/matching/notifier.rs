//! [`Notifier`]: file-system notifications for the roots of continuous matches, one watcher per
//! root shared by every pattern below it, reduced to event counters that a `process` call reads
//! with one atomic load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

/// A watcher not read for this long is dropped (a live watch reads its watcher at every check).
const UNUSED_EXPIRY: Duration = Duration::from_secs(60);

/// Watchers by root and recursion.
type Watchers = HashMap<(PathBuf, bool), Arc<Watched>>;

/// The watchers of one DoFn instance.
#[derive(Clone, Default)]
pub(crate) struct Notifier {
    watchers: Arc<Mutex<Watchers>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let watched = self.watchers.lock().map_or(0, |w| w.len());
        f.debug_struct("Notifier")
            .field("watched", &watched)
            .finish()
    }
}

/// Event counters of one watched root.
pub(crate) struct Watched {
    counts: Arc<Counts>,
    last_used: AtomicU64,
    _watcher: Mutex<RecommendedWatcher>,
}

struct Counts {
    /// Files created, renamed, closed after writing or removed, and anything the backend could
    /// not classify.
    structure: AtomicU64,
    /// Numbers every event, so that a caller can tell what happened before a point.
    seq: AtomicU64,
    /// Per file below the root: whether its last event says it is complete (closed after
    /// writing, or renamed into place), and that event's number. Bounded: cleared when full,
    /// and the watch then waits for files to settle instead.
    files: Mutex<HashMap<PathBuf, (bool, u64)>>,
    /// Files whose content or metadata changed.
    content: AtomicU64,
    /// The root itself went away: the watcher must be replaced.
    broken: AtomicBool,
}

impl Watched {
    /// Events so far: structural ones, plus content changes when `updates` (a match that emits
    /// changed files). Counters of different watchers never coincide, so a replaced watcher
    /// always reads as "something happened".
    /// The number of the latest event: take it *before* listing, and ask
    /// [`complete_before`](Self::complete_before) with it after.
    pub(crate) fn mark(&self) -> u64 {
        self.counts.seq.load(Ordering::Acquire)
    }

    /// Whether `path` was closed after writing (or renamed into place) by an event numbered at
    /// most `mark`, with nothing happening to it since: a listing taken after `mark` saw the
    /// whole file.
    pub(crate) fn complete_before(&self, path: &Path, mark: u64) -> bool {
        let files = self.counts.files.lock().unwrap_or_else(|e| e.into_inner());
        files
            .get(path)
            .is_some_and(|&(complete, seq)| complete && seq <= mark)
    }

    pub(crate) fn events(&self, updates: bool) -> u64 {
        self.last_used.store(elapsed_ms(), Ordering::Relaxed);
        let structure = self.counts.structure.load(Ordering::Acquire);
        if updates {
            structure.wrapping_add(self.counts.content.load(Ordering::Acquire))
        } else {
            structure
        }
    }

    fn start(root: &Path, recursive: bool) -> notify::Result<Self> {
        static NEXT_BASE: AtomicU64 = AtomicU64::new(1 << 40);
        let base = NEXT_BASE.fetch_add(1 << 40, Ordering::Relaxed);
        let counts = Arc::new(Counts {
            structure: AtomicU64::new(base),
            seq: AtomicU64::new(0),
            files: Mutex::new(HashMap::new()),
            content: AtomicU64::new(0),
            broken: AtomicBool::new(false),
        });
        let handler = {
            let counts = Arc::clone(&counts);
            let root = root.to_path_buf();
            move |event: notify::Result<Event>| counts.record(&root, event)
        };
        let mut watcher = notify::recommended_watcher(handler)?;
        let mode = if recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        watcher.watch(root, mode)?;
        Ok(Watched {
            counts,
            last_used: AtomicU64::new(elapsed_ms()),
            _watcher: Mutex::new(watcher),
        })
    }
}

/// At most this many files' completeness is remembered per root.
const MAX_TRACKED_FILES: usize = 1 << 16;

impl Counts {
    fn record(&self, root: &Path, event: notify::Result<Event>) {
        let event = match event {
            Ok(event) if !event.need_rescan() => event,
            // A lost or unreadable event: count both, so that every watch lists again; what is
            // known of files may be stale.
            _ => {
                self.forget_files();
                self.structure.fetch_add(1, Ordering::Release);
                self.content.fetch_add(1, Ordering::Release);
                return;
            }
        };
        match event.kind {
            // Closed after writing: the file is complete, and a settling file can go now.
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                self.file_event(event.paths.last(), Some(true));
                self.structure.fetch_add(1, Ordering::Release);
            }
            EventKind::Access(_) => {}
            EventKind::Modify(ModifyKind::Data(_)) => {
                self.file_event(event.paths.last(), Some(false));
                self.content.fetch_add(1, Ordering::Release);
            }
            EventKind::Modify(ModifyKind::Metadata(_)) => {
                self.content.fetch_add(1, Ordering::Release);
            }
            kind => {
                let root_gone = matches!(kind, EventKind::Remove(_) | EventKind::Modify(_))
                    && event.paths.iter().any(|p| p == root);
                if root_gone {
                    self.broken.store(true, Ordering::Release);
                }
                match kind {
                    // Renamed into place: written elsewhere, complete.
                    EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both)) => {
                        self.file_event(event.paths.last(), Some(true))
                    }
                    EventKind::Create(_) => self.file_event(event.paths.last(), Some(false)),
                    EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_)) => {
                        self.file_event(event.paths.first(), None)
                    }
                    _ => self.file_event(event.paths.last(), Some(false)),
                }
                self.structure.fetch_add(1, Ordering::Release);
            }
        }
    }

    /// Records what an event says of `path`: complete, being written, or gone (`None`).
    fn file_event(&self, path: Option<&PathBuf>, complete: Option<bool>) {
        let seq = self.seq.fetch_add(1, Ordering::AcqRel) + 1;
        let Some(path) = path else { return };
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        match complete {
            None => {
                files.remove(path);
            }
            Some(complete) => {
                if files.len() >= MAX_TRACKED_FILES && !files.contains_key(path) {
                    files.clear();
                }
                files.insert(path.clone(), (complete, seq));
            }
        }
    }

    fn forget_files(&self) {
        self.seq.fetch_add(1, Ordering::AcqRel);
        self.files.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl Notifier {
    /// The watcher of `root`, started if need be; `None` if the root is not a directory (yet)
    /// or the platform refused a watcher (e.g. the inotify watch limit): the caller polls.
    pub(crate) fn watch(&self, root: &Path, recursive: bool) -> Option<Arc<Watched>> {
        let mut watchers = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        let key = (root.to_path_buf(), recursive);
        if let Some(watched) = watchers.get(&key)
            && !watched.counts.broken.load(Ordering::Acquire)
        {
            return Some(Arc::clone(watched));
        }
        watchers.remove(&key);
        if !root.is_dir() {
            return None;
        }
        let now = elapsed_ms();
        watchers.retain(|_, w| {
            now.saturating_sub(w.last_used.load(Ordering::Relaxed))
                < UNUSED_EXPIRY.as_millis() as u64
        });
        match Watched::start(root, recursive) {
            Ok(watched) => {
                let watched = Arc::new(watched);
                watchers.insert(key, Arc::clone(&watched));
                Some(watched)
            }
            Err(error) => {
                tracing::warn!(
                    root = %root.display(),
                    %error,
                    "no file-system notifications for this directory; polling it"
                );
                None
            }
        }
    }
}

/// Milliseconds since the first call in this process.
fn elapsed_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}
