//! Every failure is an error that names the pattern or the file, says what to do, and ends the
//! read; nothing panics.

use std::path::Path;
use std::sync::Arc;

use sdf_legacy::file::{
    Compression, EmptyMatch, FileBasedSource, FileFormat, FilePattern, FileRange, OpenFile,
    TextLines,
};
use sdf_legacy::{BoundedSource, BoundedSourceSdf, Error, FileError, Result, SourceReader};

use crate::temp::{TempDir, gzip, read};

/// The error's message names `path`.
#[track_caller]
fn assert_names(error: &impl std::fmt::Display, path: impl AsRef<Path>) {
    let message = error.to_string();
    println!("{message}");
    let path = path.as_ref().display().to_string();
    assert!(message.contains(&path), "{message:?} does not name {path}");
}

#[test]
fn a_pattern_matching_nothing_is_an_error_where_the_policy_says() {
    let dir = TempDir::new("no-match");
    let missing = dir.pattern("missing.txt");
    let err = FileBasedSource::new(TextLines, missing.as_str()).unwrap_err();
    assert!(
        matches!(err, Error::File(FileError::NoMatch { .. })),
        "{err}"
    );
    assert_names(&err, &missing);

    let wildcard = dir.pattern("*.csv");
    let err = FileBasedSource::builder(TextLines, wildcard.as_str())
        .empty_match(EmptyMatch::Disallow)
        .build()
        .unwrap_err();
    assert_names(&err, &wildcard);
    assert!(err.to_string().contains("EmptyMatch::Allow"), "{err}");

    // A literal path is a path, even with glob characters in its name.
    let odd = dir.write("[odd].txt", "x\n");
    let source = FileBasedSource::new(TextLines, FilePattern::path(&odd)).unwrap();
    assert_eq!(read(&source, None, None).unwrap(), ["x"]);
    let err = FileBasedSource::new(TextLines, FilePattern::path(dir.path().join("[no].txt")))
        .unwrap_err();
    assert!(err.to_string().contains("[no].txt"), "{err}");
}

#[test]
fn an_invalid_pattern_is_an_error_naming_it() {
    let dir = TempDir::new("invalid");
    let pattern = dir.pattern("[a-.txt");
    let err = FileBasedSource::new(TextLines, pattern.as_str()).unwrap_err();
    assert!(
        matches!(err, Error::File(FileError::InvalidPattern { .. })),
        "{err}"
    );
    assert_names(&err, &pattern);
    let err = FileBasedSource::new(TextLines, dir.pattern("a/***/b")).unwrap_err();
    assert!(err.to_string().contains("***"), "{err}");
}

#[test]
fn a_directory_is_not_a_file() {
    let dir = TempDir::new("directory");
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let err = FileBasedSource::new(TextLines, FilePattern::path(&sub)).unwrap_err();
    assert!(
        matches!(err, Error::File(FileError::IsDirectory { .. })),
        "{err}"
    );
    assert_names(&err, &sub);
}

#[test]
fn an_unsupported_compression_is_an_error_unless_overridden() {
    let dir = TempDir::new("zstd");
    let path = dir.write("data.txt.zst", "not really zstd\n");
    let err = FileBasedSource::new(TextLines, dir.pattern("*")).unwrap_err();
    assert!(
        matches!(err, Error::File(FileError::UnsupportedCompression { .. })),
        "{err}"
    );
    assert_names(&err, &path);
    let raw = FileBasedSource::builder(TextLines, dir.pattern("*"))
        .compression(Compression::Uncompressed)
        .build()
        .unwrap();
    assert_eq!(read(&raw, None, None).unwrap(), ["not really zstd"]);
}

#[test]
fn a_file_removed_after_expansion_is_an_error_naming_it() {
    let dir = TempDir::new("removed");
    dir.write("a.txt", "a\n");
    let b = dir.write("b.txt", "b\n");
    let source = FileBasedSource::new(TextLines, dir.pattern("*.txt")).unwrap();
    std::fs::remove_file(&b).unwrap();
    let range = Arc::new(source.range_tracker(None, None).unwrap());
    let mut reader = source.read(range).unwrap();
    assert_eq!(reader.next().unwrap().unwrap(), "a");
    let err = reader.next().unwrap().unwrap_err();
    assert!(
        matches!(err, Error::File(FileError::Io { action: "open", .. })),
        "{err}"
    );
    assert_names(&err, &b);
    assert!(reader.next().is_none(), "an error ends the read");
    drop(reader);

    // Through the SDF, the error reaches the runner.
    let err =
        sdf_core::testing::run_to_completion(&BoundedSourceSdf::new(source), &()).unwrap_err();
    assert_names(&err, &b);
}

#[test]
fn a_file_that_shrank_below_the_range_is_an_error_with_its_sizes() {
    let dir = TempDir::new("shrank");
    let path = dir.write("a.txt", "0123456789\nabcdefghij\n");
    let source = FileBasedSource::new(TextLines, FilePattern::path(&path)).unwrap();
    std::fs::write(&path, "0123456789\n").unwrap();
    // The first bundle, [0, 11), is still there.
    assert_eq!(read(&source, Some(0), Some(11)).unwrap(), ["0123456789"]);
    let err = read(&source, Some(11), None).unwrap_err();
    match &err {
        Error::File(FileError::Shrunk {
            expected, actual, ..
        }) => assert_eq!((*expected, *actual), (22, 11)),
        other => panic!("{other}"),
    }
    assert_names(&err, &path);
    assert!(err.to_string().contains("[11, 22)"), "{err}");
}

#[test]
fn corrupt_compressed_data_is_an_error_naming_the_file() {
    let dir = TempDir::new("corrupt");
    let garbage = dir.write("garbage.gz", "this is not gzip\n");
    let mut cut = gzip(b"a long enough line of text\nanother one\n");
    cut.truncate(cut.len() - 12);
    let truncated = dir.write("truncated.gz", cut);
    let mut flipped = gzip("a line\n".repeat(100).as_bytes());
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    let damaged = dir.write("damaged.gz", flipped);
    for path in [&garbage, &truncated, &damaged] {
        let source = FileBasedSource::new(TextLines, FilePattern::path(path)).unwrap();
        let err = read(&source, None, None).unwrap_err();
        assert!(
            matches!(
                err,
                Error::File(FileError::Corrupt {
                    compression: Compression::Gzip,
                    ..
                })
            ),
            "{}: {err}",
            path.display()
        );
        assert_names(&err, path);
        assert!(err.to_string().contains("decompressed offset"), "{err}");
    }
}

#[test]
fn a_line_that_is_not_utf8_is_an_error_at_its_offset() {
    let dir = TempDir::new("utf8");
    let path = dir.write("latin1.txt", b"ok\ncaf\xe9\nok\n");
    let source = FileBasedSource::new(TextLines, FilePattern::path(&path)).unwrap();
    let err = read(&source, None, None).unwrap_err();
    assert!(
        matches!(err, Error::File(FileError::Record { offset: 3, .. })),
        "{err}"
    );
    assert_names(&err, &path);
    assert!(err.to_string().contains("not UTF-8"), "{err}");
    // The bad line belongs to [3, 8); the ranges around it read fine.
    assert_eq!(read(&source, Some(0), Some(3)).unwrap(), ["ok"]);
    assert_eq!(read(&source, Some(4), None).unwrap(), ["ok"]);
}

/// A format that reads from the file's beginning instead of seeking: the range refuses its
/// first record, which starts before the range.
#[test]
fn a_format_that_does_not_seek_is_caught_by_the_range() {
    use std::io::BufRead;

    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct FromTheTop;

    impl FileFormat for FromTheTop {
        type Record = String;

        fn read_records<'a>(
            &'a self,
            mut file: OpenFile,
            range: FileRange,
        ) -> Result<SourceReader<'a, String>> {
            Ok(Box::new(std::iter::from_fn(move || {
                let offset = file.position();
                let mut line = String::new();
                match file.read_line(&mut line) {
                    Ok(0) => None,
                    Ok(_) => match range.try_claim(offset) {
                        Ok(true) => Some(Ok(line)),
                        Ok(false) => None,
                        Err(e) => Some(Err(e.into())),
                    },
                    Err(e) => Some(Err(file.error(offset, e))),
                }
            })))
        }
    }

    let dir = TempDir::new("no-seek");
    let path = dir.write("a.txt", "a\nb\nc\n");
    let source = FileBasedSource::new(FromTheTop, FilePattern::path(&path)).unwrap();
    assert_eq!(read(&source, None, None).unwrap().len(), 3);
    let err = read(&source, Some(2), None).unwrap_err();
    assert!(err.to_string().contains("before the start"), "{err}");
}
