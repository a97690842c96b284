//! [`FileNaming`]: the names of published files, from a template of literal text, `{epoch}` and
//! `{shard}`, and the path-safety rule every name obeys.

use std::path::{Component, Path};

use crate::error::{Error, Result};

/// How published files are named: a template such as `"events/{epoch:06}-{shard:03}.jsonl"`.
///
/// - `{epoch}` is the checkpoint epoch that published the file, `{shard}` its number within the
///   epoch; `:0N` pads with zeros to `N` digits (at most 20). `{{` and `}}` are literal braces.
/// - Both placeholders must appear, so that no two files get the same name, and names are
///   deterministic: the same epoch and shard always give the same name.
/// - The name is a relative path with `/` separators. Empty components, `.`, `..`, a leading
///   `/`, backslashes, NUL and platform prefixes (`C:`) are refused: every name stays inside
///   the output directory. Names come only from the template, never from records.
///
/// ```
/// use sdf_connectors::FileNaming;
/// let naming = FileNaming::new("logs/{epoch:06}-{shard:03}.jsonl")?;
/// assert_eq!(naming.render(42, 7), "logs/000042-007.jsonl");
/// assert!(FileNaming::new("../{epoch}-{shard}").is_err());
/// assert!(FileNaming::new("/tmp/{epoch}-{shard}").is_err());
/// assert!(FileNaming::new("{epoch}.txt").is_err()); // shards would collide
/// # Ok::<(), sdf_connectors::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileNaming {
    template: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Epoch(usize),
    Shard(usize),
}

impl FileNaming {
    /// Parses and checks `template`.
    pub fn new(template: &str) -> Result<FileNaming> {
        let refuse = |reason: &str| Error::BadName {
            name: template.to_string(),
            reason: reason.to_string(),
        };
        let parts = parse(template).map_err(|reason| refuse(&reason))?;
        let has = |f: fn(&Part) -> bool| parts.iter().any(f);
        if !has(|p| matches!(p, Part::Epoch(_))) || !has(|p| matches!(p, Part::Shard(_))) {
            return Err(refuse(
                "a template needs both {epoch} and {shard}, so that no two files get one name",
            ));
        }
        let naming = FileNaming {
            template: template.to_string(),
            parts,
        };
        // Placeholders render as digits: the sample has the shape of every name.
        check_relative(&naming.render(0, 0)).map_err(|reason| refuse(&reason))?;
        Ok(naming)
    }

    /// The template `prefix` + `{epoch:06}-{shard:03}` + `suffix`, braces in the prefix and
    /// suffix taken literally.
    pub fn with_prefix(prefix: &str, suffix: &str) -> Result<FileNaming> {
        let literal = |s: &str| s.replace('{', "{{").replace('}', "}}");
        let template = format!(
            "{}{{epoch:06}}-{{shard:03}}{}",
            literal(prefix),
            literal(suffix)
        );
        Self::new(&template).map_err(|e| match e {
            Error::BadName { reason, .. } => Error::BadName {
                name: prefix.to_string(),
                reason: format!("as a prefix: {reason}"),
            },
            other => other,
        })
    }

    /// These names for one attempt of a bundle on a runner that retries bundles (Beam): the
    /// attempt's key where the epoch was (an attempt has one epoch), so attempts never share a
    /// name. The key is lowercase hex, as the runner's harness makes it.
    ///
    /// ```
    /// use sdf_connectors::FileNaming;
    /// let naming = FileNaming::new("logs/{epoch:06}-{shard:03}.jsonl")?;
    /// assert_eq!(naming.for_attempt("2a9f")?.render(1, 7), "logs/2a9f-007.jsonl");
    /// assert!(naming.for_attempt("../x").is_err());
    /// # Ok::<(), sdf_connectors::Error>(())
    /// ```
    pub fn for_attempt(&self, key: &str) -> Result<FileNaming> {
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::BadName {
                name: key.to_string(),
                reason: "as a bundle attempt's key: it must be hex digits".into(),
            });
        }
        let parts = self
            .parts
            .iter()
            .map(|part| match part {
                Part::Epoch(_) => Part::Literal(key.to_string()),
                other => other.clone(),
            })
            .collect();
        Ok(FileNaming {
            template: format!("{} (attempt {key})", self.template),
            parts,
        })
    }

    /// The template.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The name of shard `shard` of epoch `epoch`, relative to the output directory.
    pub fn render(&self, epoch: u64, shard: u32) -> String {
        let mut name = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => name.push_str(text),
                Part::Epoch(width) => name.push_str(&format!("{epoch:0width$}")),
                Part::Shard(width) => name.push_str(&format!("{shard:0width$}")),
            }
        }
        name
    }
}

fn parse(template: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let mut spec = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => spec.push(c),
                        None => return Err("a `{` is never closed".into()),
                    }
                }
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(placeholder(&spec)?);
            }
            '}' => return Err("a lone `}`: write `}}` for a literal brace".into()),
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Ok(parts)
}

fn placeholder(spec: &str) -> Result<Part, String> {
    let (name, width) = match spec.split_once(':') {
        None => (spec, 0),
        Some((name, width)) => match width.strip_prefix('0').map(str::parse::<usize>) {
            Some(Ok(w)) if w <= 20 => (name, w),
            _ => return Err(format!("`{{{spec}}}`: the width must be `:0N` with N ≤ 20")),
        },
    };
    match name {
        "epoch" => Ok(Part::Epoch(width)),
        "shard" => Ok(Part::Shard(width)),
        _ => Err(format!(
            "unknown placeholder `{{{name}}}`: use {{epoch}} and {{shard}}, {{{{ and }}}} for braces"
        )),
    }
}

/// Checks that `name` is a relative path with `/` separators that stays below the directory it
/// is joined to: the rule for every published name, including those read back from a
/// checkpoint.
pub(crate) fn check_relative(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.contains('\0') || name.contains('\\') {
        return Err("NUL and backslashes are not allowed in names".into());
    }
    if name.starts_with('/') {
        return Err("an absolute path would leave the output directory".into());
    }
    for component in name.split('/') {
        match component {
            "" => return Err("empty path components (`//`, a trailing `/`) are refused".into()),
            "." | ".." => return Err("`.` and `..` components are refused".into()),
            _ => {}
        }
    }
    let normal = Path::new(name)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !normal {
        return Err("the name has a platform prefix or root".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_deterministically() {
        let cases = [
            ("{epoch:06}-{shard:03}.jsonl", 12, 3, "000012-003.jsonl"),
            ("a/b/part-{shard}-{epoch}", 7, 12, "a/b/part-12-7"),
            ("{{literal}}-{epoch}-{shard:02}", 1, 1, "{literal}-1-01"),
            ("x-{epoch:01}-{shard:01}", 1234, 56, "x-1234-56"),
        ];
        for (template, epoch, shard, want) in cases {
            let naming = FileNaming::new(template).unwrap();
            assert_eq!(naming.render(epoch, shard), want, "{template}");
        }
    }

    #[test]
    fn unsafe_or_ambiguous_templates_are_refused() {
        let cases = [
            ("parent", "../{epoch}-{shard}"),
            ("parent inside", "a/../../{epoch}-{shard}"),
            ("absolute", "/etc/{epoch}-{shard}"),
            ("dot", "./{epoch}-{shard}"),
            ("empty component", "a//{epoch}-{shard}"),
            ("trailing slash", "{epoch}-{shard}/"),
            ("backslash", "..\\{epoch}-{shard}"),
            ("nul", "a\0{epoch}-{shard}"),
            ("no shard", "{epoch}.txt"),
            ("no epoch", "{shard}.txt"),
            ("unknown placeholder", "{epoch}-{shard}-{record}"),
            ("bad width", "{epoch:6}-{shard}"),
            ("lone brace", "{epoch}-{shard}}"),
            ("unclosed", "{epoch}-{shard"),
        ];
        for (name, template) in cases {
            assert!(FileNaming::new(template).is_err(), "{name}: {template:?}");
        }
    }

    #[test]
    fn prefixes_are_literal_and_checked() {
        let naming = FileNaming::with_prefix("day={1}/part-", ".csv").unwrap();
        assert_eq!(naming.render(2, 0), "day={1}/part-000002-000.csv");
        for bad in ["../", "/abs/", "a/../../", "./", "a\\b", "a//"] {
            let e = FileNaming::with_prefix(bad, ".csv")
                .unwrap_err()
                .to_string();
            assert!(e.contains("as a prefix"), "{bad}: {e}");
        }
    }
}
