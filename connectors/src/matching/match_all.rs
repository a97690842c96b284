//! [`MatchAll`]: patterns to files, as a splittable DoFn over key ranges; [`MatchFiles`]: the
//! same from a fixed list of patterns.

use async_trait::async_trait;
use sdf_core::{
    ByteKey, ByteKeyRange, ByteKeyRangeTracker, MonotonicWatermarkEstimator, Output,
    PipelineBuilder, ProcessContinuation, SharedTracker, SplittableDoFn,
};
use serde::{Deserialize, Serialize};

use super::pattern::Pattern;
use super::storage::{ListOptions, list, list_files};
use crate::error::{Error, Result};
use crate::file::{EmptyMatch, FileMetadata};

/// How patterns are matched: the empty-match policy and how directories are listed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchOptions {
    /// What a pattern that matches nothing means.
    pub empty_match: EmptyMatch,
    /// How directories are listed (symbolic links).
    pub list: ListOptions,
}

/// Matches each pattern of its input and emits the files, sorted by their path below the
/// pattern's root (component by component), with the pattern's timestamp.
///
/// The restriction of a pattern is a [`ByteKeyRange`] over the [keys](super::RelPath::key) of
/// those paths: a file is claimed by its key before it is emitted, so the runner can split a
/// large listing while it runs (an idle worker takes the rest of the key space, and lists only
/// the directories that can hold keys in it), and a checkpoint resumes after the last file
/// emitted. Listing a local directory is blocking I/O, which `process` may do (it runs on the
/// stage's worker threads); listing an object store (a URL pattern, see
/// [`storage`](crate::storage)) is awaited on the IO runtime.
///
/// An empty match is checked against [`EmptyMatch`] (default: `AllowIfWildcard`, as Beam's
/// `matchAll`); a pattern that cannot be parsed or a directory that cannot be read fails the
/// element with an error naming the pattern or the path.
///
/// ```
/// use sdf_connectors::MatchAll;
/// use sdf_runtime::{Executor, Pipeline};
/// let dir = std::env::temp_dir().join(format!("sdf-match-all-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// for name in ["b.csv", "a.csv", "c.txt"] {
///     std::fs::write(dir.join(name), name)?;
/// }
/// let mut p = Pipeline::new();
/// let patterns = p.from_iter("patterns", vec![format!("{}/*.csv", dir.display())]);
/// let files = p.apply("match", patterns, MatchAll::new());
/// let out = p.collect("out", files);
/// Executor::builder().workers(2).build().run_blocking(p)?;
/// let names: Vec<_> = out.values().iter().map(|f| f.path.file_name().unwrap().to_owned()).collect();
/// assert_eq!(names, ["a.csv", "b.csv"]);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MatchAll {
    options: MatchOptions,
}

impl MatchAll {
    /// Matching with the defaults: empty matches allowed for wildcards, links to directories not
    /// followed.
    pub fn new() -> Self {
        MatchAll::default()
    }

    /// Sets the empty-match policy.
    pub fn empty_match(mut self, policy: EmptyMatch) -> Self {
        self.options.empty_match = policy;
        self
    }

    /// Follows links to directories (loops are skipped), or not (the default).
    pub fn follow_symlinks(mut self, follow: bool) -> Self {
        self.options.list.follow_symlinks = follow;
        self
    }

    /// The options.
    pub fn options(&self) -> MatchOptions {
        self.options
    }
}

#[async_trait]
impl SplittableDoFn for MatchAll {
    type Input = String;
    type Output = FileMetadata;
    type Restriction = ByteKeyRange;
    type Tracker = ByteKeyRangeTracker;
    type WatermarkEstimator = MonotonicWatermarkEstimator;

    fn initial_restriction(&self, _pattern: &String) -> sdf_core::Result<ByteKeyRange> {
        Ok(ByteKeyRange::all())
    }

    fn new_tracker(&self, _pattern: &String, range: ByteKeyRange) -> ByteKeyRangeTracker {
        ByteKeyRangeTracker::new(range)
    }

    async fn process(
        &self,
        pattern: &String,
        tracker: &mut SharedTracker<ByteKeyRangeTracker>,
        output: &mut Output<'_, FileMetadata>,
        _watermark: &mut MonotonicWatermarkEstimator,
    ) -> sdf_core::Result<ProcessContinuation> {
        let pattern = Pattern::parse(pattern)?;
        let range = tracker.current_restriction();
        let mut found = false;
        for file in list(&pattern, &range, self.options.list).await {
            let file = file?;
            if !tracker.try_claim(file.rel.key())? {
                return Ok(ProcessContinuation::Stop);
            }
            found = true;
            output.emit(file.file).await?;
        }
        // Only the whole key space can tell an empty match: a piece may be empty.
        if !found && range == ByteKeyRange::all() {
            check_empty(&pattern, self.options.empty_match)?;
        }
        tracker.try_claim(ByteKey::empty())?;
        Ok(ProcessContinuation::Stop)
    }
}

/// Matches `pattern` now: its files in key order, or an error ([`Error::NoMatch`] for an empty
/// match the policy forbids).
pub fn match_pattern(pattern: &str, options: MatchOptions) -> Result<Vec<FileMetadata>> {
    let pattern = Pattern::parse(pattern)?;
    let files = list_files(&pattern, &ByteKeyRange::all(), options.list)
        .map(|f| f.map(|f| f.file))
        .collect::<Result<Vec<_>>>()?;
    if files.is_empty() {
        check_empty(&pattern, options.empty_match)?;
    }
    Ok(files)
}

fn check_empty(pattern: &Pattern, policy: EmptyMatch) -> Result<()> {
    let allowed = match policy {
        EmptyMatch::Allow => true,
        EmptyMatch::Disallow => false,
        EmptyMatch::AllowIfWildcard => pattern.has_wildcard(),
    };
    if allowed {
        Ok(())
    } else {
        Err(Error::NoMatch {
            pattern: pattern.as_str().to_string(),
        })
    }
}

/// A fixed list of patterns and the DoFn that matches them: [`MatchAll`] (the default, with
/// empty matches disallowed as Beam's `match()`), or a
/// [`ContinuousMatch`](super::ContinuousMatch) after
/// [`continuously`](MatchFiles::continuously).
///
/// ```
/// use sdf_connectors::{EmptyMatch, MatchFiles};
/// let dir = std::env::temp_dir().join(format!("sdf-match-files-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("a.txt"), "a")?;
/// let files = MatchFiles::new([format!("{}/*.txt", dir.display())]).run()?;
/// assert_eq!(files.len(), 1);
/// let none = MatchFiles::new([format!("{}/*.csv", dir.display())]).run();
/// assert!(none.unwrap_err().to_string().contains("matches no file"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MatchFiles<F = MatchAll> {
    patterns: Vec<String>,
    dofn: F,
}

impl MatchFiles<MatchAll> {
    /// These patterns, matched once, with empty matches disallowed.
    pub fn new<S: Into<String>>(patterns: impl IntoIterator<Item = S>) -> Self {
        MatchFiles {
            patterns: patterns.into_iter().map(Into::into).collect(),
            dofn: MatchAll::new().empty_match(EmptyMatch::Disallow),
        }
    }

    /// Sets the empty-match policy.
    pub fn empty_match(self, policy: EmptyMatch) -> Self {
        self.configure(|m| m.empty_match(policy))
    }

    /// Follows links to directories, or not (the default).
    pub fn follow_symlinks(self, follow: bool) -> Self {
        self.configure(|m| m.follow_symlinks(follow))
    }

    /// Matches every pattern now, outside any pipeline: the files of each pattern in key order,
    /// patterns in the order given.
    pub fn run(&self) -> Result<Vec<FileMetadata>> {
        let mut files = Vec::new();
        for pattern in &self.patterns {
            files.extend(match_pattern(pattern, self.dofn.options())?);
        }
        Ok(files)
    }
}

impl<F> MatchFiles<F> {
    pub(crate) fn from_parts(patterns: Vec<String>, dofn: F) -> Self {
        MatchFiles { patterns, dofn }
    }

    /// Changes the DoFn, e.g. to set options of a continuous match.
    pub fn configure(self, f: impl FnOnce(F) -> F) -> Self {
        MatchFiles {
            patterns: self.patterns,
            dofn: f(self.dofn),
        }
    }

    /// The patterns.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// The DoFn.
    pub fn dofn(&self) -> &F {
        &self.dofn
    }

    /// The patterns and the DoFn, for a pipeline built by hand.
    pub fn into_parts(self) -> (Vec<String>, F) {
        (self.patterns, self.dofn)
    }

    /// Adds the patterns as a source named `{name}/patterns` and the DoFn as the step `name`,
    /// to the pipeline of any runner that implements [`PipelineBuilder`] (the embedded
    /// runtime's `Pipeline` does).
    pub fn apply<P: PipelineBuilder>(
        self,
        pipeline: &mut P,
        name: &str,
    ) -> P::Collection<FileMetadata>
    where
        F: SplittableDoFn<Input = String, Output = FileMetadata>,
    {
        let patterns = pipeline.from_iter(&format!("{name}/patterns"), self.patterns);
        pipeline.apply(name, patterns, self.dofn)
    }
}

#[cfg(test)]
mod tests;
