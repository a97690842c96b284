//! [`FilePattern`] and its expansion into [`FileMetadata`], under an [`EmptyMatch`] policy.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Compression;
use crate::error::FileError;

/// What a [`FileBasedSource`](super::FileBasedSource) reads: the files matching a glob, or one
/// path taken literally.
///
/// A glob has `*` (any characters within a path component), `?` (one character), `[abc]`,
/// `[a-z]`, `[!abc]` (one character of, or not of, a set) and `**` (any number of directories,
/// as a whole component: `logs/**/*.txt`). A string without `*`, `?` or `[` is a path. Hidden
/// files and directories (a name starting with `.`) match only a pattern component that starts
/// with a literal `.` (`.*.txt`, `.cache/*`): `*` and `**` skip them, as in a shell.
/// Directories are never matched; a literal path to one is an error.
///
/// ```
/// use sdf_legacy::file::FilePattern;
/// assert!(FilePattern::from("logs/*.txt").has_wildcards());
/// assert!(!FilePattern::from("logs/a.txt").has_wildcards());
/// // A file whose name has glob characters:
/// assert!(!FilePattern::path("logs/[draft].txt").has_wildcards());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilePattern {
    /// A glob, or a path if it has no wildcard.
    Glob(String),
    /// One path, taken literally.
    Path(PathBuf),
}

impl FilePattern {
    /// One file, whatever characters its name has.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        FilePattern::Path(path.into())
    }

    /// Whether the pattern can match several files.
    pub fn has_wildcards(&self) -> bool {
        match self {
            FilePattern::Glob(glob) => glob.contains(['*', '?', '[']),
            FilePattern::Path(_) => false,
        }
    }
}

impl From<&str> for FilePattern {
    fn from(glob: &str) -> Self {
        FilePattern::Glob(glob.to_string())
    }
}

impl From<String> for FilePattern {
    fn from(glob: String) -> Self {
        FilePattern::Glob(glob)
    }
}

impl fmt::Display for FilePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilePattern::Glob(glob) => f.write_str(glob),
            FilePattern::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Whether a pattern may match no file (Beam's `EmptyMatchTreatment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmptyMatch {
    /// An empty match is a source with no records.
    Allow,
    /// An empty match is an error.
    Disallow,
    /// An error for a path without wildcards (a missing file is a mistake), allowed for a
    /// pattern with wildcards (a directory may have no file yet). The default.
    #[default]
    AllowIfWildcard,
}

/// A matched file: its path (absolute), its size when the pattern was expanded, and its
/// resolved compression (never [`Compression::Auto`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMetadata {
    /// The file's absolute path.
    pub path: PathBuf,
    /// Its size in bytes when the pattern was expanded.
    pub size: u64,
    /// How it is decoded.
    pub compression: Compression,
}

/// The files matching `pattern`, sorted by path, with their sizes and compressions.
pub(crate) fn expand(
    pattern: &FilePattern,
    compression: Compression,
    empty: EmptyMatch,
) -> Result<Vec<FileMetadata>, FileError> {
    let paths = match pattern {
        FilePattern::Glob(glob) if pattern.has_wildcards() => glob_files(glob)?,
        FilePattern::Glob(path) => literal(Path::new(path))?,
        FilePattern::Path(path) => literal(path)?,
    };
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let Some(size) = file_size(&path, pattern.has_wildcards())? else {
            continue;
        };
        let compression = compression.resolve(&path)?;
        files.push(FileMetadata {
            path,
            size,
            compression,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    let allowed = match empty {
        EmptyMatch::Allow => true,
        EmptyMatch::Disallow => false,
        EmptyMatch::AllowIfWildcard => pattern.has_wildcards(),
    };
    if files.is_empty() && !allowed {
        return Err(FileError::NoMatch {
            pattern: pattern.to_string(),
            wildcard: pattern.has_wildcards(),
        });
    }
    Ok(files)
}

/// A literal path: itself if it exists, nothing if it does not (the policy decides).
fn literal(path: &Path) -> Result<Vec<PathBuf>, FileError> {
    match path.try_exists() {
        Ok(true) => Ok(vec![absolute(path)?]),
        Ok(false) => Ok(Vec::new()),
        Err(source) => Err(FileError::Io {
            path: path.to_path_buf(),
            action: "look for",
            offset: None,
            source,
        }),
    }
}

fn glob_files(pattern: &str) -> Result<Vec<PathBuf>, FileError> {
    // The glob crate's own `require_literal_leading_dot` drops every hidden name, even one the
    // pattern spells out (and unwraps file names as UTF-8): hidden names are filtered below.
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let paths = glob::glob_with(pattern, options).map_err(|e| FileError::InvalidPattern {
        pattern: pattern.to_string(),
        reason: format!("{} at character {}", e.msg, e.pos),
    })?;
    let asked = Asked::new(pattern);
    let mut files = Vec::new();
    for entry in paths {
        match entry {
            Ok(path) if !asked.allows(&path) => {}
            Ok(path) => files.push(absolute(&path)?),
            Err(e) => {
                return Err(FileError::Io {
                    path: e.path().to_path_buf(),
                    action: "list",
                    offset: None,
                    source: e.into(),
                });
            }
        }
    }
    Ok(files)
}

/// Which hidden names a pattern asks for: those matched by a component that starts with a
/// literal `.`, as in a shell; and `.` or `..` only where the pattern spells them.
struct Asked {
    dotted: Vec<glob::Pattern>,
    dots: usize,
}

impl Asked {
    fn new(pattern: &str) -> Self {
        let components = || pattern.split('/');
        Asked {
            dotted: components()
                .filter(|c| c.starts_with('.') && !is_dots(c))
                .filter_map(|c| glob::Pattern::new(c).ok())
                .collect(),
            dots: components().filter(|c| is_dots(c)).count(),
        }
    }

    /// Whether `path`, as the glob returned it (in the pattern's form), has only the hidden
    /// names and the `.` and `..` the pattern asks for.
    fn allows(&self, path: &Path) -> bool {
        let path = path.to_string_lossy();
        let components = || path.split('/');
        let hidden = components().any(|name| {
            name.starts_with('.') && !is_dots(name) && !self.dotted.iter().any(|p| p.matches(name))
        });
        !hidden && components().filter(|c| is_dots(c)).count() <= self.dots
    }
}

fn is_dots(component: &str) -> bool {
    component == "." || component == ".."
}

fn absolute(path: &Path) -> Result<PathBuf, FileError> {
    std::path::absolute(path).map_err(|source| FileError::Io {
        path: path.to_path_buf(),
        action: "make an absolute path of",
        offset: None,
        source,
    })
}

/// The size of a regular file (symbolic links followed); `None` for a directory matched by a
/// wildcard, which is skipped.
fn file_size(path: &Path, wildcard: bool) -> Result<Option<u64>, FileError> {
    let metadata = std::fs::metadata(path).map_err(|source| FileError::Io {
        path: path.to_path_buf(),
        action: "read the metadata of",
        offset: None,
        source,
    })?;
    if metadata.is_dir() {
        if wildcard {
            return Ok(None);
        }
        return Err(FileError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    Ok(Some(metadata.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_star_question_mark_and_brackets() {
        let cases = [
            ("a/*.txt", true),
            ("a/?.txt", true),
            ("a/[ab].txt", true),
            ("a/**/b.txt", true),
            ("a/b.txt", false),
            ("a/{b,c}.txt", false),
        ];
        for (pattern, wildcard) in cases {
            assert_eq!(
                FilePattern::from(pattern).has_wildcards(),
                wildcard,
                "{pattern}"
            );
        }
    }

    #[test]
    fn an_invalid_glob_names_the_pattern() {
        let err = expand(
            &FilePattern::from("a/[b.txt"),
            Compression::Auto,
            EmptyMatch::Allow,
        )
        .unwrap_err();
        assert!(matches!(err, FileError::InvalidPattern { .. }), "{err}");
        assert!(err.to_string().contains("\"a/[b.txt\""), "{err}");
    }
}
