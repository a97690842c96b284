//! `FileBasedSource`: patterns, sizes and bundles, compressed files, several files read as one
//! range, and the source as an SDF through sdf-core's kit.

use std::path::PathBuf;

use sdf_core::SplittableDoFn;
use sdf_core::testing::{
    ConcurrentOptions, check_concurrent_splits_with, check_sdf_exhaustive, run_to_completion,
};
use sdf_legacy::file::{
    Compression, EmptyMatch, FileBasedSource, FilePattern, FileRangeTracker, TextLines,
};
use sdf_legacy::range::OFFSET_INFINITY;
use sdf_legacy::testing::*;
use sdf_legacy::{BoundedSource, BoundedSourceSdf, BundleSize, RangeTracker, SourceBundle};

use crate::temp::{TempDir, gzip, read};

fn lines(prefix: &str, n: usize) -> String {
    (0..n).map(|i| format!("{prefix}{i}\n")).collect()
}

fn names(source: &FileBasedSource<TextLines>, dir: &TempDir) -> Vec<String> {
    source
        .files()
        .iter()
        .map(|f| {
            let relative = f.path.strip_prefix(dir.path()).unwrap();
            relative.to_str().unwrap().to_string()
        })
        .collect()
}

/// A tree with files at three depths, hidden ones, a directory matching `*`, and a gzip file.
fn tree() -> TempDir {
    let dir = TempDir::new("tree");
    dir.write("a.txt", "a0\na1\n");
    dir.write("b.txt", "b0\n");
    dir.write("c.log", "c0\n");
    dir.write(".hidden.txt", "h0\n");
    dir.write(".git/config.txt", "g0\n");
    dir.write("sub/d.txt", "d0\nd1\nd2\n");
    dir.write_gz("sub/e.txt.gz", "e0\ne1\n");
    dir.write("sub/deeper/f.txt", "f0");
    std::fs::create_dir_all(dir.path().join("x.txt")).unwrap(); // a directory named like a file
    dir
}

#[test]
fn patterns_expand_into_sorted_files() {
    let dir = tree();
    let cases: &[(&str, &[&str])] = &[
        ("*.txt", &["a.txt", "b.txt"]),
        ("?.txt", &["a.txt", "b.txt"]),
        ("[ac].*", &["a.txt", "c.log"]),
        ("[!a].txt", &["b.txt"]),
        ("*", &["a.txt", "b.txt", "c.log"]),
        (
            "**/*.txt",
            &["a.txt", "b.txt", "sub/d.txt", "sub/deeper/f.txt"],
        ),
        (
            "**/*",
            &[
                "a.txt",
                "b.txt",
                "c.log",
                "sub/d.txt",
                "sub/deeper/f.txt",
                "sub/e.txt.gz",
            ],
        ),
        ("sub/*.gz", &["sub/e.txt.gz"]),
        (".*.txt", &[".hidden.txt"]),
        (".git/*", &[".git/config.txt"]),
        (".*/*.txt", &[".git/config.txt"]),
        ("*/*.txt", &["sub/d.txt"]),
        ("a.txt", &["a.txt"]),
        ("*.csv", &[]),
    ];
    for (pattern, expected) in cases {
        let source = FileBasedSource::new(TextLines, dir.pattern(pattern))
            .unwrap_or_else(|e| panic!("{pattern}: {e}"));
        assert_eq!(names(&source, &dir), *expected, "{pattern}");
    }
}

/// A relative pattern is relative to the working directory (the package's, under cargo test);
/// the source keeps absolute paths, so that a resumed read finds the same files.
#[test]
fn a_relative_pattern_gives_absolute_paths() {
    let source = FileBasedSource::new(TextLines, "tests/files/m?in.rs").unwrap();
    let [file] = source.files() else {
        panic!("{:?}", source.files())
    };
    assert!(file.path.is_absolute(), "{}", file.path.display());
    assert!(file.path.ends_with("tests/files/main.rs"));
}

#[test]
fn a_pattern_reads_its_files_in_order_and_splits_one_source_per_file() {
    let dir = tree();
    let source = FileBasedSource::new(TextLines, dir.pattern("**/*")).unwrap();
    let all = ["a0", "a1", "b0", "c0", "d0", "d1", "d2", "f0", "e0", "e1"];
    assert_eq!(read(&source, None, None).unwrap(), all);
    let sizes: u64 = source.files().iter().map(|f| f.size).sum();
    assert_eq!(source.estimate_size().unwrap(), Some(sizes));

    // By 3 bytes: a.txt in two, d.txt in three, the gzip file whole.
    let bundles = source.split(3, None, None).unwrap();
    let shape: Vec<(usize, Option<i64>, Option<i64>)> = bundles
        .iter()
        .map(|b| (b.source.files().len(), b.start, b.stop))
        .collect();
    assert_eq!(
        shape,
        [
            (1, Some(0), Some(3)), // a.txt
            (1, Some(3), Some(6)),
            (1, Some(0), Some(3)), // b.txt
            (1, Some(0), Some(3)), // c.log
            (1, Some(0), Some(3)), // sub/d.txt
            (1, Some(3), Some(6)),
            (1, Some(6), Some(9)),
            (1, Some(0), Some(2)), // sub/deeper/f.txt
            (1, None, None),       // sub/e.txt.gz
        ]
    );
    let whole = SourceBundle::whole(source.clone()).unwrap();
    for desired in [1, 2, 3, 4, 7, 100] {
        let bundles = source.split(desired, None, None).unwrap();
        assert_sources_equal_reference_source(&whole, &bundles).unwrap();
        let weights: f64 = bundles.iter().map(|b| b.weight).sum();
        assert_eq!(weights, sizes as f64, "weights add up to the bytes");
    }
    assert_reentrant_reads_succeed(&whole).unwrap();
}

/// Positions are offsets into the files laid end to end, so a range of the pattern source can
/// stop or start inside any file, and splits while reading cross files.
#[test]
fn several_files_read_as_one_range_pass_the_exhaustive_split_test() {
    let dir = TempDir::new("concat");
    dir.write("1.txt", lines("one-", 4));
    dir.write_gz("2.txt.gz", lines("two-", 3));
    dir.write("3.txt", "");
    dir.write("4.txt", lines("four-", 5));
    let source = FileBasedSource::new(TextLines, dir.pattern("*")).unwrap();
    let report = assert_split_at_fraction_exhaustive(&source, None, None).unwrap();
    assert_eq!(report.records, 12);
    // A sub-range starting inside the first file and stopping inside the last.
    assert_split_at_fraction_exhaustive(&source, Some(9), Some(50)).unwrap();
    let bundles = source.split(10, Some(9), Some(50)).unwrap();
    let part = SourceBundle::new(41.0, source.clone(), Some(9), Some(50));
    assert_sources_equal_reference_source(&part, &bundles).unwrap();
}

#[test]
fn a_gzip_file_is_read_whole_by_one_reader() {
    let dir = TempDir::new("gzip");
    let text = lines("line ", 50);
    let path = dir.write_gz("data.txt.gz", &text);
    let source = FileBasedSource::new(TextLines, FilePattern::path(&path)).unwrap();
    let expected: Vec<String> = text.lines().map(str::to_string).collect();
    assert_eq!(source.files()[0].compression, Compression::Gzip);
    assert_eq!(read(&source, None, None).unwrap(), expected);

    // Unsplittable: [0, OFFSET_INFINITY), one bundle whatever the size, no split succeeds.
    let tracker = source.range_tracker(None, None).unwrap();
    assert!(matches!(tracker, FileRangeTracker::Unsplittable(_)));
    assert_eq!(tracker.stop_position(), OFFSET_INFINITY);
    let bundles = source.split(1, None, None).unwrap();
    assert_eq!(bundles.len(), 1);
    assert_eq!((bundles[0].start, bundles[0].stop), (None, None));
    for read_before in [0, 1, 25, 49] {
        for fraction in [0.0, 0.1, 0.5, 0.99] {
            assert_split_at_fraction_fails(&source, read_before, fraction).unwrap();
        }
    }
    let vacuous = assert_split_at_fraction_exhaustive(&source, None, None).unwrap_err();
    assert_eq!(
        vacuous.property,
        "the exhaustive split test is not vacuous: some split succeeds"
    );
    // Only the first record is a split point: the rest are reported at the same position.
    let tracker = std::sync::Arc::new(source.range_tracker(None, None).unwrap());
    let mut reader = source.read(tracker.clone()).unwrap();
    reader.next().unwrap().unwrap();
    reader.next().unwrap().unwrap();
    assert_eq!(tracker.last_consumed_position(), Some(0));
    assert_eq!(tracker.split_points().remaining, Some(1));
    drop(reader);

    let sdf = BoundedSourceSdf::new(source);
    assert_eq!(run_to_completion(&sdf, &()).unwrap(), expected);
    let report = check_sdf_exhaustive(&sdf, &()).unwrap();
    assert_eq!(report.records, 50);
    assert_eq!(report.splits, report.checkpoints, "{report:?}");
}

#[test]
fn compression_is_detected_by_extension_unless_set() {
    let dir = TempDir::new("compression");
    let members = [gzip(b"m0\nm1\n"), gzip(b"m2\n")].concat();
    let multi = dir.write("multi.gz", members);
    let disguised = dir.write("gzipped.data", gzip(b"g0\ng1\n"));
    let plain_gz = dir.write("plain.gz", "p0\np1\n");
    let zlib = {
        use std::io::Write;
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(b"z0\nz1\n").unwrap();
        dir.write("data.deflate", encoder.finish().unwrap())
    };
    let text = |path: &PathBuf, compression: Compression| {
        let source = FileBasedSource::builder(TextLines, FilePattern::path(path))
            .compression(compression)
            .build()
            .unwrap();
        read(&source, None, None).unwrap()
    };
    assert_eq!(
        text(&multi, Compression::Auto),
        ["m0", "m1", "m2"],
        "concatenated members"
    );
    assert_eq!(text(&disguised, Compression::Gzip), ["g0", "g1"]);
    assert_eq!(text(&plain_gz, Compression::Uncompressed), ["p0", "p1"]);
    assert_eq!(text(&zlib, Compression::Auto), ["z0", "z1"]);
}

#[test]
fn a_text_source_passes_sdf_cores_exhaustive_kit() {
    let dir = TempDir::new("kit");
    let path = dir.write(
        "a.txt",
        "alpha\n\nbeta\r\ngamma\ndelta\nepsilon\n日本\nlast",
    );
    let source = FileBasedSource::new(TextLines, FilePattern::path(&path)).unwrap();
    let sdf = BoundedSourceSdf::new(source).bundle_size(BundleSize::RunnerHint);
    let report = check_sdf_exhaustive(&sdf, &()).unwrap();
    assert_eq!(report.records, 8);
    assert!(report.splits > 0 && report.checkpoints > 0, "{report:?}");
    check_concurrent_splits_with(&sdf, &(), &ConcurrentOptions::default().repetitions(20)).unwrap();
}

#[test]
fn a_pattern_source_passes_sdf_cores_exhaustive_kit() {
    let dir = TempDir::new("kit-pattern");
    dir.write("a.txt", lines("a", 3));
    dir.write_gz("b.txt.gz", lines("b", 3));
    dir.write("c.txt", "c0\r\nc1");
    let source = FileBasedSource::new(TextLines, dir.pattern("*.txt*")).unwrap();
    let sdf = BoundedSourceSdf::new(source.clone()).bundle_size(BundleSize::RunnerHint);
    let report = check_sdf_exhaustive(&sdf, &()).unwrap();
    assert_eq!(report.records, 8);
    // Beam's bundle size keeps these small files one bundle each.
    let sdf = BoundedSourceSdf::new(source);
    let whole = sdf.initial_restriction(&()).unwrap();
    assert_eq!(sdf.split_restriction(&(), whole, 0.0).unwrap().len(), 3);
    check_concurrent_splits_with(&sdf, &(), &ConcurrentOptions::default().repetitions(20)).unwrap();
}

#[test]
fn the_source_survives_serialization() {
    let dir = TempDir::new("serde");
    dir.write("a.txt", "x\ny\n");
    dir.write_gz("b.gz", "z\n");
    let source = FileBasedSource::builder(TextLines, dir.pattern("*"))
        .min_bundle_size(2)
        .build()
        .unwrap();
    let json = serde_json::to_string(&source).unwrap();
    let back: FileBasedSource<TextLines> = serde_json::from_str(&json).unwrap();
    assert_eq!(back.files(), source.files());
    assert_eq!(back.min_bundle_size(), 2);
    assert_eq!(read(&back, None, None).unwrap(), ["x", "y", "z"]);
}

#[test]
fn an_empty_match_follows_the_policy() {
    let dir = TempDir::new("empty");
    let wildcard = dir.pattern("*.txt");
    let source = FileBasedSource::new(TextLines, wildcard.as_str()).unwrap();
    assert!(source.files().is_empty());
    assert_eq!(source.estimate_size().unwrap(), Some(0));
    assert!(source.split(10, None, None).unwrap().is_empty());
    assert!(read(&source, None, None).unwrap().is_empty());
    let sdf = BoundedSourceSdf::new(source);
    assert!(run_to_completion(&sdf, &()).unwrap().is_empty());

    let missing = dir.pattern("missing.txt");
    let allowed = FileBasedSource::builder(TextLines, missing.as_str())
        .empty_match(EmptyMatch::Allow)
        .build()
        .unwrap();
    assert!(allowed.files().is_empty());
    // The other two cases are errors: see errors.rs.
}

/// A file that grew after expansion is read as it was: lines starting past its old size
/// belong to no range, and the files after it keep their positions.
#[test]
fn a_file_that_grew_is_read_up_to_its_size_at_expansion() {
    let dir = TempDir::new("grew");
    let a = dir.write("a.txt", "a0\na1\n");
    dir.write("b.txt", "b0\n");
    let source = FileBasedSource::new(TextLines, dir.pattern("*.txt")).unwrap();
    std::fs::write(&a, "a0\na1\na2\na3\n").unwrap();
    assert_eq!(read(&source, None, None).unwrap(), ["a0", "a1", "b0"]);
    let bundles = source.split(1, None, None).unwrap();
    let mut records = Vec::new();
    for b in &bundles {
        records.extend(read(&b.source, b.start, b.stop).unwrap());
    }
    assert_eq!(records, ["a0", "a1", "b0"]);
}
