//! [`FileBasedSource`]: the files matching a pattern, read by a [`FileFormat`], as a
//! [`BoundedSource`].

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::pattern::expand;
use super::{
    Compression, EmptyMatch, FileFormat, FileMetadata, FilePattern, FileRangeTracker, reader,
};
use crate::bounded::{BoundedSource, SourceBundle, SourceReader};
use crate::error::{Error, Result};
use crate::range::{OFFSET_INFINITY, OffsetRangeTracker, UnsplittableRangeTracker};

/// The files matching a pattern, read with a [`FileFormat`]: Beam's `FileBasedSource`.
///
/// Building the source expands the pattern once: the files, sorted by path, with their sizes
/// and compressions, are part of the source's value (a runtime persists it in checkpoints, and
/// a resumed read reads the same files).
///
/// # Positions
///
/// Byte offsets into the concatenation of the source's files, in order; for a source of one
/// file, that file's offsets. A record belongs to the range in which it starts.
///
/// - [`split`](BoundedSource::split) gives one sub-source per file: an uncompressed file cut
///   into byte ranges of the desired size (at least [`min_bundle_size`](Self::min_bundle_size);
///   a last piece under a quarter of the size, or under the minimum, joins the one before it,
///   as in Beam), a compressed file whole. Empty files give no bundle.
/// - [`range_tracker`](BoundedSource::range_tracker) is an [`OffsetRangeTracker`] (splittable
///   while reading), except for a source of one compressed file: `[0, OFFSET_INFINITY)`,
///   unsplittable.
/// - In a compressed file only the first record is a split point, at the file's first byte.
/// - [`estimate_size`](BoundedSource::estimate_size) is the files' total size in bytes (before
///   decompression).
///
/// A record starting at or past a file's size at expansion (the file grew since) is not read;
/// a file that shrank below the range being read is an error.
///
/// ```
/// use std::sync::Arc;
/// use sdf_legacy::file::{FileBasedSource, TextLines};
/// use sdf_legacy::BoundedSource;
///
/// let dir = std::env::temp_dir().join(format!("sdf-legacy-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("a.txt"), "one\ntwo\n")?;
/// std::fs::write(dir.join("b.txt"), "three")?;
///
/// let source = FileBasedSource::new(TextLines, format!("{}/*.txt", dir.display()))?;
/// assert_eq!(source.estimate_size()?, Some(13));
/// let range = Arc::new(source.range_tracker(None, None)?);
/// let records: Vec<String> = source.read(range)?.collect::<Result<_, _>>()?;
/// assert_eq!(records, ["one", "two", "three"]);
/// // By 5 bytes: a.txt in [0, 5) and [5, 8) (reading "one" + "two", then nothing: "two"
/// // starts at 4), b.txt whole.
/// let bundles = source.split(5, None, None)?;
/// let ranges: Vec<_> = bundles.iter().map(|b| (b.start, b.stop)).collect();
/// assert_eq!(ranges, [(Some(0), Some(5)), (Some(5), Some(8)), (Some(0), Some(5))]);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct FileBasedSource<F> {
    format: F,
    /// The pattern it was built from.
    pattern: String,
    files: Vec<FileMetadata>,
    min_bundle_size: u64,
}

/// Options of a [`FileBasedSource`]; [`build`](Self::build) expands the pattern.
#[derive(Debug, Clone)]
pub struct FileBasedSourceBuilder<F> {
    format: F,
    pattern: FilePattern,
    compression: Compression,
    empty_match: EmptyMatch,
    min_bundle_size: u64,
}

impl<F: FileFormat> FileBasedSourceBuilder<F> {
    /// How the files are compressed; [`Compression::Auto`] (by extension) by default.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Whether the pattern may match no file; [`EmptyMatch::AllowIfWildcard`] by default.
    pub fn empty_match(mut self, empty_match: EmptyMatch) -> Self {
        self.empty_match = empty_match;
        self
    }

    /// The smallest bundle [`split`](BoundedSource::split) makes, in bytes; 1 by default
    /// (Beam's). Larger values save file opens on small bundle sizes.
    pub fn min_bundle_size(mut self, bytes: u64) -> Self {
        self.min_bundle_size = bytes.max(1);
        self
    }

    /// Expands the pattern: lists the matching files, their sizes and compressions.
    ///
    /// Fails, naming the pattern or the path, if the pattern is invalid, matches nothing
    /// where the [`EmptyMatch`] policy forbids it, names a directory, or a file cannot be
    /// listed or has a compression this crate cannot decode.
    pub fn build(self) -> Result<FileBasedSource<F>> {
        let files = expand(&self.pattern, self.compression, self.empty_match)?;
        let source = FileBasedSource {
            format: self.format,
            pattern: self.pattern.to_string(),
            files,
            min_bundle_size: self.min_bundle_size,
        };
        source.bases()?;
        Ok(source)
    }
}

impl<F: FileFormat> FileBasedSource<F> {
    /// A builder for the files of `pattern` (a glob, or a path: see [`FilePattern`]), read
    /// with `format`.
    pub fn builder(format: F, pattern: impl Into<FilePattern>) -> FileBasedSourceBuilder<F> {
        FileBasedSourceBuilder {
            format,
            pattern: pattern.into(),
            compression: Compression::default(),
            empty_match: EmptyMatch::default(),
            min_bundle_size: 1,
        }
    }

    /// The files of `pattern` read with `format`, with the default options.
    pub fn new(format: F, pattern: impl Into<FilePattern>) -> Result<Self> {
        Self::builder(format, pattern).build()
    }

    /// The format.
    pub fn format(&self) -> &F {
        &self.format
    }

    /// The pattern the source was built from.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The files, sorted by path, with their sizes at expansion.
    pub fn files(&self) -> &[FileMetadata] {
        &self.files
    }

    /// The smallest bundle [`split`](BoundedSource::split) makes, in bytes.
    pub fn min_bundle_size(&self) -> u64 {
        self.min_bundle_size
    }

    /// The source of one of its files.
    fn single(&self, file: &FileMetadata) -> Self {
        FileBasedSource {
            format: self.format.clone(),
            pattern: self.pattern.clone(),
            files: vec![file.clone()],
            min_bundle_size: self.min_bundle_size,
        }
    }

    /// The position of each file's first byte, and the total: partial sums of the sizes.
    pub(crate) fn bases(&self) -> Result<Vec<i64>> {
        let mut bases = Vec::with_capacity(self.files.len());
        let mut total: i64 = 0;
        for file in &self.files {
            bases.push(total);
            total = i64::try_from(file.size)
                .ok()
                .and_then(|size| total.checked_add(size))
                .ok_or_else(|| {
                    Error::source(
                        format!("adding up the sizes of the files of {:?}", self.pattern),
                        "their total exceeds 2^63 bytes; read them with several sources",
                    )
                })?;
        }
        bases.push(total);
        Ok(bases)
    }

    fn total(&self) -> Result<i64> {
        Ok(self.bases()?.last().copied().unwrap_or(0))
    }
}

impl<F: FileFormat> BoundedSource for FileBasedSource<F> {
    type Output = F::Record;
    type Position = i64;
    type RangeTracker = FileRangeTracker;

    fn estimate_size(&self) -> Result<Option<u64>> {
        Ok(Some(self.total()? as u64))
    }

    /// One sub-source per file that may hold records of `[start, stop)`: an uncompressed file
    /// in byte ranges, a compressed one whole.
    fn split(
        &self,
        desired_bundle_size: u64,
        start: Option<i64>,
        stop: Option<i64>,
    ) -> Result<Vec<SourceBundle<Self>>> {
        let (start, stop) = (start.unwrap_or(0), stop.unwrap_or(i64::MAX));
        let size = desired_bundle_size.max(self.min_bundle_size).max(1);
        let bases = self.bases()?;
        let mut bundles = Vec::new();
        for (file, &base) in self.files.iter().zip(&bases) {
            let end = base + file.size as i64;
            let sub = || match self.files.len() {
                1 => self.clone(),
                _ => self.single(file),
            };
            if file.size == 0 {
                continue;
            }
            if file.compression.is_compressed() {
                if start <= base && base < stop {
                    bundles.push(SourceBundle::new(file.size as f64, sub(), None, None));
                }
                continue;
            }
            let (a, b) = (start.max(base) - base, stop.min(end).saturating_sub(base));
            let sub = sub();
            for (x, y) in byte_ranges(a, b, size, self.min_bundle_size) {
                bundles.push(SourceBundle::new(
                    (y - x) as f64,
                    sub.clone(),
                    Some(x),
                    Some(y),
                ));
            }
        }
        Ok(bundles)
    }

    fn range_tracker(&self, start: Option<i64>, stop: Option<i64>) -> Result<FileRangeTracker> {
        let start = start.unwrap_or(0);
        if let [file] = self.files.as_slice()
            && file.compression.is_compressed()
        {
            let whole = OffsetRangeTracker::new(start, stop.unwrap_or(OFFSET_INFINITY))?;
            return Ok(FileRangeTracker::Unsplittable(
                UnsplittableRangeTracker::new(whole),
            ));
        }
        let stop = stop.unwrap_or(self.total()?.max(start));
        Ok(FileRangeTracker::Offset(OffsetRangeTracker::new(
            start, stop,
        )?))
    }

    fn read<'a>(&'a self, range: Arc<FileRangeTracker>) -> Result<SourceReader<'a, F::Record>> {
        reader::read(self, range)
    }
}

/// `[start, stop)` in consecutive ranges of `size` bytes; a last range shorter than a quarter
/// of `size` or than `min` joins the one before it (Beam's `OffsetRange.split`):
/// `[0, 100)` by 30 is `[0, 30) [30, 60) [60, 90) [90, 100)`, but `[0, 95)` by 30 is
/// `[0, 30) [30, 60) [60, 95)`.
fn byte_ranges(start: i64, stop: i64, size: u64, min: u64) -> Vec<(i64, i64)> {
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    let min = i64::try_from(min).unwrap_or(i64::MAX);
    let mut ranges = Vec::new();
    let mut a = start;
    while a < stop {
        let mut b = a.saturating_add(size).min(stop);
        let rest = stop - b;
        if rest < size / 4 || rest < min {
            b = stop;
        }
        ranges.push((a, b));
        a = b;
    }
    ranges
}

impl<F: fmt::Debug> fmt::Debug for FileBasedSource<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileBasedSource({:?}, ", self.format)?;
        match self.files.as_slice() {
            [file] if file.compression.is_compressed() => {
                write!(f, "{} ({})", file.path.display(), file.compression)?
            }
            [file] => write!(f, "{}", file.path.display())?,
            files => {
                let bytes: u64 = files.iter().map(|file| file.size).sum();
                write!(
                    f,
                    "{:?}: {} files, {bytes} bytes",
                    self.pattern,
                    files.len()
                )?
            }
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::byte_ranges;

    #[test]
    fn byte_ranges_merge_a_small_tail() {
        /// (name, (start, stop, size, min), ranges)
        type Case = (&'static str, (i64, i64, u64, u64), &'static [(i64, i64)]);
        let cases: &[Case] = &[
            ("even", (0, 90, 30, 1), &[(0, 30), (30, 60), (60, 90)]),
            (
                "tail of 10 ≥ 30/4 stays",
                (0, 100, 30, 1),
                &[(0, 30), (30, 60), (60, 90), (90, 100)],
            ),
            (
                "tail of 5 < 30/4 joins",
                (0, 95, 30, 1),
                &[(0, 30), (30, 60), (60, 95)],
            ),
            (
                "tail under the minimum joins",
                (0, 100, 30, 20),
                &[(0, 30), (30, 60), (60, 100)],
            ),
            ("smaller than one bundle", (10, 15, 30, 1), &[(10, 15)]),
            ("empty", (7, 7, 30, 1), &[]),
            ("one byte bundles", (0, 3, 1, 1), &[(0, 1), (1, 2), (2, 3)]),
            ("huge size", (0, 10, u64::MAX, 1), &[(0, 10)]),
        ];
        for (name, (start, stop, size, min), expected) in cases {
            assert_eq!(byte_ranges(*start, *stop, *size, *min), *expected, "{name}");
        }
    }
}
