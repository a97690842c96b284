//! [`Notifier`]: file-system notifications for the roots of continuous matches, one watcher per
//! root shared by every pattern below it, reduced to event counters that a `process` call reads
//! with one atomic load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use notify::event::ModifyKind;
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
    /// Files created, renamed or removed, and anything the backend could not classify.
    structure: AtomicU64,
    /// Files whose content or metadata changed.
    content: AtomicU64,
    /// The root itself went away: the watcher must be replaced.
    broken: AtomicBool,
}

impl Watched {
    /// Events so far: structural ones, plus content changes when `updates` (a match that emits
    /// changed files). Counters of different watchers never coincide, so a replaced watcher
    /// always reads as "something happened".
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

impl Counts {
    fn record(&self, root: &Path, event: notify::Result<Event>) {
        let event = match event {
            Ok(event) if !event.need_rescan() => event,
            // A lost or unreadable event: count both, so that every watch lists again.
            _ => {
                self.structure.fetch_add(1, Ordering::Release);
                self.content.fetch_add(1, Ordering::Release);
                return;
            }
        };
        match event.kind {
            EventKind::Access(_) => {}
            EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Metadata(_)) => {
                self.content.fetch_add(1, Ordering::Release);
            }
            kind => {
                let root_gone = matches!(kind, EventKind::Remove(_) | EventKind::Modify(_))
                    && event.paths.iter().any(|p| p == root);
                if root_gone {
                    self.broken.store(true, Ordering::Release);
                }
                self.structure.fetch_add(1, Ordering::Release);
            }
        }
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
