//! Listing: the files of a [`Pattern`], listed in key order with their size and modification
//! time; a local walk here, an object store's listing in [`crate::storage`].

use std::ffi::OsStr;
use std::io::ErrorKind;
use std::path::Path;

use sdf_core::{ByteKey, ByteKeyRange, Timestamp};
use serde::{Deserialize, Serialize};
use walkdir::{DirEntry, WalkDir};

use super::pattern::Pattern;
use super::relpath::RelPath;
use crate::error::{Error, Result};
use crate::file::FileMetadata;

/// How a directory tree is listed.
///
/// **Symbolic links.** A link to a file is listed as a file (with the size and time of its
/// target) under the link's own path. A link to a directory is *not* descended into by
/// default, so a link loop cannot make a listing hang or repeat itself. With
/// [`follow_symlinks`](Self::follow_symlinks) links to directories are followed, and a link
/// back to a directory being listed (a loop) is skipped, with a `tracing` warning: walkdir
/// compares each directory with its ancestors by device and inode. A link whose target cannot
/// be read (broken, pointing to itself, forbidden) is skipped with a warning: it is not data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListOptions {
    /// Whether links to directories are followed (default: no).
    pub follow_symlinks: bool,
}

impl ListOptions {
    /// Follows links to directories (loops are detected and skipped).
    pub fn follow_symlinks(mut self, follow: bool) -> Self {
        self.follow_symlinks = follow;
        self
    }
}

/// A file found by a listing: its path below the pattern's root, and its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    /// The path below the root, which orders the listing ([`RelPath::key`]).
    pub rel: RelPath,
    /// Path, size and modification time.
    pub file: FileMetadata,
}

/// Lists the regular files that match `pattern` and whose [key](RelPath::key) is in `range`,
/// in key order (component by component, bytewise: deterministic on every run).
///
/// Directories outside the pattern's prefix or the key range are not read at all. A directory
/// or file that disappears while it is listed is skipped; any other failure (permission denied,
/// an unreadable directory) is an error naming the path, and ends the listing. A root that does
/// not exist lists nothing; a literal pattern naming a directory is [`Error::IsDirectory`].
///
/// ```
/// use sdf_connectors::{list_files, ListOptions, Pattern};
/// use sdf_core::ByteKeyRange;
/// let dir = std::env::temp_dir().join(format!("sdf-list-doc-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("b"))?;
/// std::fs::write(dir.join("a.txt"), "x")?;
/// std::fs::write(dir.join("b/c.txt"), "yz")?;
/// let pattern = Pattern::parse(&format!("{}/**/*.txt", dir.display()))?;
/// let files: Vec<_> = list_files(&pattern, &ByteKeyRange::all(), ListOptions::default())
///     .collect::<Result<_, _>>()?;
/// let found: Vec<(String, u64)> = files.iter().map(|f| (f.rel.to_string(), f.file.size)).collect();
/// assert_eq!(found, [("a.txt".to_string(), 1), ("b/c.txt".to_string(), 2)]);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn list_files(pattern: &Pattern, range: &ByteKeyRange, options: ListOptions) -> Listing {
    if pattern.is_remote() {
        return Listing::objects(crate::storage::list_blocking(pattern, range), range);
    }
    if pattern.is_literal() {
        let file = literal(pattern).transpose();
        let file = file.filter(|f| f.as_ref().map_or(true, |f| range.contains(&f.rel.key())));
        return Listing {
            walk: None,
            literal: file,
            objects: Vec::new().into_iter(),
            range: range.clone(),
        };
    }
    let mut walk = WalkDir::new(pattern.root())
        .min_depth(1)
        .follow_links(options.follow_symlinks)
        .sort_by_file_name();
    if let Some(depth) = pattern.max_depth() {
        walk = walk.max_depth(depth);
    }
    let (p, r) = (pattern.clone(), range.clone());
    let prune: Prune = Box::new(move |entry: &DirEntry| {
        entry.depth() == 0 || !entry.file_type().is_dir() || {
            let names = names_below(p.root(), entry.path());
            p.may_descend(&names) && overlaps(&r, &RelPath::from_components(names).key())
        }
    });
    Listing {
        walk: Some(Walk {
            iter: walk.into_iter().filter_entry(prune),
            pattern: pattern.clone(),
        }),
        literal: None,
        objects: Vec::new().into_iter(),
        range: range.clone(),
    }
}

/// [`list_files`] for async callers: a remote pattern's listing is awaited (its requests run on
/// the IO runtime), a local one is returned as the lazy walk of `list_files`.
pub(crate) async fn list(pattern: &Pattern, range: &ByteKeyRange, options: ListOptions) -> Listing {
    if pattern.is_remote() {
        return Listing::objects(crate::storage::list(pattern, range).await, range);
    }
    list_files(pattern, range, options)
}

type Prune = Box<dyn FnMut(&DirEntry) -> bool + Send>;

/// The iterator [`list_files`] returns. It does blocking file-system calls; the listing of an
/// object store is done (and held) before it is returned.
pub struct Listing {
    walk: Option<Walk>,
    literal: Option<Result<ListedFile>>,
    objects: std::vec::IntoIter<ListedFile>,
    range: ByteKeyRange,
}

impl Listing {
    /// A finished listing of objects, or its error.
    fn objects(listed: Result<Vec<ListedFile>>, range: &ByteKeyRange) -> Listing {
        let (literal, objects) = match listed {
            Ok(objects) => (None, objects),
            Err(e) => (Some(Err(e)), Vec::new()),
        };
        Listing {
            walk: None,
            literal,
            objects: objects.into_iter(),
            range: range.clone(),
        }
    }
}

struct Walk {
    iter: walkdir::FilterEntry<walkdir::IntoIter, Prune>,
    pattern: Pattern,
}

impl std::fmt::Debug for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listing")
            .field("pattern", &self.walk.as_ref().map(|w| w.pattern.as_str()))
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

impl Iterator for Listing {
    type Item = Result<ListedFile>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(file) = self.literal.take() {
            return Some(file);
        }
        if let Some(object) = self.objects.next() {
            return Some(Ok(object));
        }
        let walk = self.walk.as_mut()?;
        loop {
            let entry = match walk.iter.next()? {
                Ok(entry) => entry,
                Err(e) => match skip_or_error(e) {
                    Some(error) => {
                        self.walk = None;
                        return Some(Err(error));
                    }
                    None => continue,
                },
            };
            if entry.file_type().is_dir() {
                continue;
            }
            let names = names_below(walk.pattern.root(), entry.path());
            if !walk.pattern.matches(&names) {
                continue;
            }
            let rel = RelPath::from_components(names);
            let key = rel.key();
            if key < *self.range.start() {
                continue;
            }
            if !self.range.end().is_empty() && key >= *self.range.end() {
                // The walk is in key order: nothing further is in the range.
                self.walk = None;
                return None;
            }
            match file_metadata(entry.path(), entry.path_is_symlink()) {
                Ok(Some(file)) => return Some(Ok(ListedFile { rel, file })),
                Ok(None) => continue,
                Err(error) => {
                    self.walk = None;
                    return Some(Err(error));
                }
            }
        }
    }
}

/// Whether some key below a directory with key `dir` can be in `range`: the subtree's keys are
/// `[dir 00, dir 01)`.
fn overlaps(range: &ByteKeyRange, dir: &ByteKey) -> bool {
    let bound = |last: u8| {
        let mut bytes = dir.as_bytes().to_vec();
        bytes.push(last);
        ByteKey::from(bytes)
    };
    (range.end().is_empty() || bound(0) < *range.end()) && bound(1) > *range.start()
}

fn names_below<'a>(root: &Path, path: &'a Path) -> Vec<&'a OsStr> {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str())
        .collect()
}

/// Loops, and entries that vanished while listing, are skipped; the rest are errors.
fn skip_or_error(e: walkdir::Error) -> Option<Error> {
    if let Some(ancestor) = e.loop_ancestor() {
        tracing::warn!(
            path = %e.path().map(Path::display).map(|d| d.to_string()).unwrap_or_default(),
            ancestor = %ancestor.display(),
            "symbolic link loop skipped"
        );
        return None;
    }
    let path = e.path().map(Path::to_path_buf).unwrap_or_default();
    let io = e.into_io_error()?;
    if io.kind() == ErrorKind::NotFound {
        return None;
    }
    if is_symlink(&path) {
        tracing::warn!(path = %path.display(), error = %io, "unreadable symbolic link skipped");
        return None;
    }
    Some(Error::io("listing", path, None, io))
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Size and time of a regular file (through a link); `None` for anything else or a file that
/// is gone.
fn file_metadata(path: &Path, through_link: bool) -> Result<Option<FileMetadata>> {
    let metadata = if through_link {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    };
    let metadata = match metadata {
        Ok(m) if m.is_file() => m,
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) if through_link => {
            tracing::warn!(path = %path.display(), error = %e, "unreadable symbolic link skipped");
            return Ok(None);
        }
        Err(e) => return Err(Error::io("reading the metadata of", path, None, e)),
    };
    describe(path, &metadata).map(Some)
}

fn describe(path: &Path, metadata: &std::fs::Metadata) -> Result<FileMetadata> {
    let modified = metadata
        .modified()
        .map_err(|e| Error::io("reading the modification time of", path, None, e))?;
    Ok(FileMetadata {
        path: path.to_path_buf(),
        size: metadata.len(),
        modified: Timestamp::from_system_time(modified),
    })
}

/// The one file of a literal pattern, if it exists.
fn literal(pattern: &Pattern) -> Result<Option<ListedFile>> {
    let path = pattern.root();
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(Error::IsDirectory {
            path: path.to_path_buf(),
        }),
        Ok(m) if m.is_file() => {
            let Some(name) = pattern.literal_name() else {
                return Ok(None);
            };
            let rel = RelPath::from_components([name.as_os_str()]);
            let file = describe(path, &m)?;
            Ok(Some(ListedFile { rel, file }))
        }
        Ok(_) => Ok(None),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading the metadata of", path, None, e)),
    }
}

#[cfg(test)]
mod tests;
