//! [`Pattern`]: a glob, split into the directory it is matched in and the components below it.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

use crate::error::{Error, Result};
use crate::storage::Url;

/// A file pattern: a path, or a glob matched in the directory its literal prefix names.
///
/// - `*` any characters within a name, `?` one character, `[abc]`, `[a-z]`, `[!abc]` one
///   character of (or not of) a set, `{a,b}` either alternative: all within one component;
/// - `**` as a whole component: any number of directories, none included;
/// - `\` escapes the next character (`report\[1\].txt`);
/// - a name starting with `.` (hidden) is matched only by a component that starts with a
///   literal `.` (`.*.log`, `.cache/*`): `*`, `?` and `**` skip hidden files and directories,
///   as in a shell;
/// - a string without any of `*?[{\` is a path, taken literally; naming a directory is an
///   error (match its files with `dir/*`).
///
/// An object URL (`s3://bucket/logs/**/*.csv`, see [`storage`](crate::storage)) is a pattern
/// over the keys below its base, with the same rules; its root is a URL (`s3://bucket/logs`).
///
/// The components before the first wildcard are the **root**, the directory that is listed
/// (`/logs/2024-*/*.gz` lists `/logs`, and only descends into `2024-*`). A relative pattern is
/// made absolute against the current directory when it is parsed; output paths are
/// `root/relative path`.
///
/// ```
/// use sdf_connectors::Pattern;
/// let p = Pattern::parse("/logs/2024-*/**/*.gz")?;
/// assert_eq!(p.root(), std::path::Path::new("/logs"));
/// assert!(p.has_wildcard());
/// assert!(p.is_match("/logs/2024-05/a/b/x.gz".as_ref()));
/// assert!(!p.is_match("/logs/2024-05/.hidden/x.gz".as_ref()));
/// assert!(Pattern::parse("/logs/a**/x").is_err());
/// # Ok::<(), sdf_connectors::Error>(())
/// ```
#[derive(Clone)]
pub struct Pattern {
    text: String,
    root: PathBuf,
    kind: Kind,
    /// Whether it is an object URL (`s3://bucket/logs/*.csv`).
    remote: bool,
}

#[derive(Clone)]
enum Kind {
    /// One path, taken literally; `root` is the path itself.
    Path,
    /// Components matched below `root`.
    Glob(Vec<Comp>),
}

#[derive(Clone)]
enum Comp {
    /// `**`: any number of (visible) directories.
    Any,
    /// One name; `dotted` if the component starts with a literal `.` (it may match hidden
    /// names).
    Name { matcher: GlobMatcher, dotted: bool },
}

impl Pattern {
    /// Parses `text`. Errors ([`Error::InvalidPattern`]) name the pattern and say what is wrong.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidPattern {
            pattern: text.to_string(),
            reason: reason.to_string(),
        };
        if text.is_empty() {
            return Err(invalid("the pattern is empty"));
        }
        let url = Url::parse(text);
        let path = url.map_or(text, |u| u.path);
        let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let first = parts.iter().position(|c| is_glob(c));
        if let Some(url) = url {
            // An object URL: the root is the base and the literal segments, as written.
            let literal = &parts[..first.unwrap_or(parts.len())];
            let root = std::iter::once(url.base)
                .chain(literal.iter().copied())
                .collect::<Vec<_>>()
                .join("/");
            if literal.is_empty() && first.is_none() {
                return Err(invalid("a URL names an object: add its key, or a wildcard"));
            }
            let kind = match first {
                None => Kind::Path,
                Some(first) => Kind::Glob(components(&parts[first..], &invalid)?),
            };
            return Ok(Pattern {
                text: text.to_string(),
                root: PathBuf::from(root),
                kind,
                remote: true,
            });
        }
        let Some(first) = first else {
            let root = absolute(Path::new(text), text)?;
            return Ok(Pattern {
                text: text.to_string(),
                root,
                kind: Kind::Path,
                remote: false,
            });
        };
        let mut root = PathBuf::from(if text.starts_with('/') { "/" } else { "." });
        root.extend(&parts[..first]);
        Ok(Pattern {
            text: text.to_string(),
            root: absolute(&root, text)?,
            kind: Kind::Glob(components(&parts[first..], &invalid)?),
            remote: false,
        })
    }
    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The directory that is listed, or the path itself for a pattern without wildcards.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the pattern has a wildcard (can match several files).
    pub fn has_wildcard(&self) -> bool {
        self.text.split('/').any(has_meta)
    }

    /// Whether the pattern is a path taken literally.
    pub fn is_literal(&self) -> bool {
        matches!(self.kind, Kind::Path)
    }

    /// How many levels below the root a match can be, `None` for any (`**`).
    pub fn max_depth(&self) -> Option<usize> {
        match &self.kind {
            Kind::Path => Some(0),
            Kind::Glob(comps) if comps.iter().any(|c| matches!(c, Comp::Any)) => None,
            Kind::Glob(comps) => Some(comps.len()),
        }
    }

    /// Whether the pattern is an object URL (`s3://bucket/logs/*.csv`): its root and the
    /// paths it matches are URLs, listed and read through an object store (see
    /// [`storage`](crate::storage)).
    pub fn is_remote(&self) -> bool {
        self.remote
    }

    /// Whether `path` (absolute, or relative to the current directory; a URL for a remote
    /// pattern) matches.
    pub fn is_match(&self, path: &Path) -> bool {
        if self.remote {
            let (Some(path), Some(root)) = (path.to_str(), self.root.to_str()) else {
                return false;
            };
            let Some(below) = path.strip_prefix(root) else {
                return false;
            };
            return match (&self.kind, below.strip_prefix('/')) {
                (Kind::Path, _) => below.is_empty(),
                (Kind::Glob(_), Some(below)) => {
                    let names: Vec<&str> = below.split('/').collect();
                    !names.iter().any(|n| n.is_empty()) && self.matches(&names)
                }
                (Kind::Glob(_), None) => false,
            };
        }
        let Ok(path) = std::path::absolute(path) else {
            return false;
        };
        let Ok(below) = path.strip_prefix(&self.root) else {
            return false;
        };
        let names: Option<Vec<&OsStr>> = below
            .components()
            .map(|c| match c {
                Component::Normal(name) => Some(name),
                _ => None,
            })
            .collect();
        match (&self.kind, names) {
            (Kind::Path, Some(names)) => names.is_empty(),
            (Kind::Glob(_), Some(names)) => self.matches(&names),
            _ => false,
        }
    }

    /// Whether the names below the root match the whole pattern.
    pub(crate) fn matches(&self, names: &[impl AsRef<OsStr>]) -> bool {
        let states = names
            .iter()
            .fold(self.start(), |s, name| self.step(&s, name.as_ref()));
        states.last().copied().unwrap_or(false)
    }

    /// Whether a directory with these names below the root may hold matches.
    pub(crate) fn may_descend(&self, names: &[impl AsRef<OsStr>]) -> bool {
        let states = names
            .iter()
            .fold(self.start(), |s, name| self.step(&s, name.as_ref()));
        states.iter().rev().skip(1).any(|&s| s)
    }

    /// The matcher's states before any name: state `i` means "components `..i` matched".
    fn start(&self) -> Vec<bool> {
        let mut states = vec![false; self.comps().len() + 1];
        states[0] = true;
        self.close(&mut states);
        states
    }

    /// The states after one more name (an NFA step: linear in the number of components).
    fn step(&self, states: &[bool], name: &OsStr) -> Vec<bool> {
        let comps = self.comps();
        let hidden = name.as_encoded_bytes().first() == Some(&b'.');
        let mut next = vec![false; comps.len() + 1];
        for (i, comp) in comps.iter().enumerate().filter(|(i, _)| states[*i]) {
            match comp {
                Comp::Any => next[i] |= !hidden,
                Comp::Name { matcher, dotted } => {
                    next[i + 1] |= (*dotted || !hidden) && matcher.is_match(name);
                }
            }
        }
        self.close(&mut next);
        next
    }

    /// `**` also matches no directory at all.
    fn close(&self, states: &mut [bool]) {
        for (i, comp) in self.comps().iter().enumerate() {
            if states[i] && matches!(comp, Comp::Any) {
                states[i + 1] = true;
            }
        }
    }

    fn comps(&self) -> &[Comp] {
        match &self.kind {
            Kind::Path => &[],
            Kind::Glob(comps) => comps,
        }
    }

    /// The file name of a literal path, if it has one.
    pub(crate) fn literal_name(&self) -> Option<OsString> {
        match self.kind {
            Kind::Path => self.root.file_name().map(OsStr::to_os_string),
            Kind::Glob(_) => None,
        }
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.text).finish()
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The matchers of the components after the root.
fn components(parts: &[&str], invalid: &dyn Fn(&str) -> Error) -> Result<Vec<Comp>> {
    let mut comps = Vec::new();
    for part in parts {
        match *part {
            "**" if matches!(comps.last(), Some(Comp::Any)) => {}
            "**" => comps.push(Comp::Any),
            "." | ".." => {
                return Err(invalid("`.` and `..` cannot follow a wildcard"));
            }
            glob if glob.contains("**") => {
                return Err(invalid(&format!(
                    "in component {glob}: `**` must be a whole path component"
                )));
            }
            glob => {
                let matcher = GlobBuilder::new(glob)
                    .literal_separator(true)
                    .backslash_escape(true)
                    .build()
                    .map_err(|e| invalid(&format!("in component {glob}: {}", e.kind())))?
                    .compile_matcher();
                comps.push(Comp::Name {
                    matcher,
                    dotted: glob.starts_with('.'),
                });
            }
        }
    }
    Ok(comps)
}

/// Whether a component has an unescaped wildcard.
fn has_meta(component: &str) -> bool {
    let mut escaped = false;
    for c in component.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '*' | '?' | '[' | '{' => return true,
            _ => {}
        }
    }
    false
}

/// Whether a component goes through the glob matcher (wildcards or escapes).
fn is_glob(component: &str) -> bool {
    component.contains('\\') || has_meta(component)
}

fn absolute(path: &Path, pattern: &str) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::io("resolving the pattern", pattern, None, e))
}

#[cfg(test)]
mod tests;
