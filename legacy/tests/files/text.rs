//! `TextLines`: line endings, empty lines and files, UTF-8, and that every range reads exactly
//! the lines that start in it.

use sdf_legacy::BoundedSource;
use sdf_legacy::file::{FileBasedSource, FilePattern, TextLines};
use sdf_legacy::testing::*;

use crate::temp::{TempDir, read};

struct Case {
    name: &'static str,
    content: &'static str,
    lines: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "LF",
        content: "a\nbb\nccc\n",
        lines: &["a", "bb", "ccc"],
    },
    Case {
        name: "CRLF",
        content: "a\r\nbb\r\n\r\nccc\r\n",
        lines: &["a", "bb", "", "ccc"],
    },
    Case {
        name: "mixed endings",
        content: "a\r\nb\nc\r\n",
        lines: &["a", "b", "c"],
    },
    Case {
        name: "empty lines",
        content: "\n\na\n\n",
        lines: &["", "", "a", ""],
    },
    Case {
        name: "no final newline",
        content: "a\nbb",
        lines: &["a", "bb"],
    },
    Case {
        name: "CRLF, last line without newline",
        content: "a\r\nb",
        lines: &["a", "b"],
    },
    Case {
        name: "a lone CR is text",
        content: "a\rb\nc\r",
        lines: &["a\rb", "c\r"],
    },
    Case {
        name: "one byte",
        content: "x",
        lines: &["x"],
    },
    Case {
        name: "one newline",
        content: "\n",
        lines: &[""],
    },
    Case {
        name: "empty file",
        content: "",
        lines: &[],
    },
    Case {
        name: "multi-byte UTF-8",
        content: "héllo\n日本語\n🦀\nÿ",
        lines: &["héllo", "日本語", "🦀", "ÿ"],
    },
    Case {
        name: "byte-order mark",
        content: "\u{feff}a\n\u{feff}b\n",
        lines: &["a", "\u{feff}b"],
    },
];

/// The offset where each line starts: 0, and after each `\n` that is not the last byte.
fn line_starts(content: &str) -> Vec<i64> {
    if content.is_empty() {
        return Vec::new();
    }
    let mut starts = vec![0];
    for (i, byte) in content.bytes().enumerate() {
        if byte == b'\n' && i + 1 < content.len() {
            starts.push(i as i64 + 1);
        }
    }
    starts
}

#[test]
fn every_range_reads_the_lines_that_start_in_it() {
    let dir = TempDir::new("text-cases");
    for (i, case) in CASES.iter().enumerate() {
        let path = dir.write(&format!("{i}.txt"), case.content);
        let source = FileBasedSource::new(TextLines, FilePattern::path(&path)).unwrap();
        assert_eq!(
            read(&source, None, None).unwrap(),
            case.lines,
            "{}: the whole file",
            case.name
        );
        let starts = line_starts(case.content);
        assert_eq!(starts.len(), case.lines.len(), "{}: the oracle", case.name);
        let len = case.content.len() as i64;
        for a in 0..=len {
            for b in a..=len + 1 {
                let expected: Vec<&str> = starts
                    .iter()
                    .zip(case.lines)
                    .filter(|&(&s, _)| a <= s && s < b)
                    .map(|(_, &line)| line)
                    .collect();
                let got = read(&source, Some(a), Some(b)).unwrap();
                assert_eq!(got, expected, "{}: range [{a}, {b})", case.name);
            }
        }
    }
}

#[test]
fn text_files_pass_the_source_test_utilities() {
    let dir = TempDir::new("text-utilities");
    for (i, case) in CASES.iter().enumerate() {
        if case.lines.len() < 2 {
            continue;
        }
        let path = dir.write(&format!("{i}.txt"), case.content);
        let source = FileBasedSource::new(TextLines, FilePattern::path(&path)).unwrap();
        let whole = sdf_legacy::SourceBundle::whole(source.clone()).unwrap();
        for desired in [1, 2, 3, 5, 1000] {
            let bundles = source.split(desired, None, None).unwrap();
            assert_sources_equal_reference_source(&whole, &bundles)
                .unwrap_or_else(|v| panic!("{}: split by {desired}: {v}", case.name));
        }
        assert_reentrant_reads_succeed(&whole).unwrap_or_else(|v| panic!("{}: {v}", case.name));
        let options = ExhaustiveSplitOptions::default().trials(20, 200);
        let report = assert_split_at_fraction_exhaustive_with(&source, None, None, &options)
            .unwrap_or_else(|v| panic!("{}: {v}", case.name));
        assert_eq!(report.records, case.lines.len(), "{}", case.name);
        assert!(report.non_trivial_splits > 0, "{}: {report:?}", case.name);
    }
}

/// A longer file, split after every line at every fraction, as Beam's exhaustive test does.
#[test]
fn a_text_file_passes_the_exhaustive_split_test() {
    let dir = TempDir::new("text-exhaustive");
    let content: String = (0..40)
        .map(|i| match i % 5 {
            0 => String::from("\r\n"),
            1 => format!("line {i} ünïcode\n"),
            _ => format!("line {i}\n"),
        })
        .collect();
    let path = dir.write("long.txt", &content);
    let source = FileBasedSource::new(TextLines, FilePattern::path(&path)).unwrap();
    let report = assert_split_at_fraction_exhaustive(&source, None, None).unwrap();
    assert_eq!(report.records, 40);
    assert!(report.concurrent_trials > 0, "{report:?}");
    // A sub-range of it, starting and stopping inside lines.
    assert_split_at_fraction_exhaustive(&source, Some(7), Some(151)).unwrap();
}

#[test]
fn a_split_after_a_line_keeps_it_in_the_primary() {
    let dir = TempDir::new("text-split");
    // Lines start at 0, 4, 8, 12, 16.
    let path = dir.write("five.txt", "aaa\nbbb\nccc\nddd\neee\n");
    let source = FileBasedSource::new(TextLines, FilePattern::path(&path)).unwrap();
    // After 2 lines (offsets 0, 4 consumed), splitting at 0.5 = offset 10 keeps "ccc" (starts
    // at 8) in the primary.
    let result = assert_split_at_fraction_succeeds_and_consistent(&source, 2, 0.5).unwrap();
    assert_eq!(
        (result.num_primary_items, result.num_residual_items),
        (3, Some(2))
    );
    // At 0.2 = offset 4, the line read last: consumed, refused.
    assert_split_at_fraction_fails(&source, 2, 0.2).unwrap();
}

/// Reading a range at the end of a large file seeks: it reads a few kilobytes, not the file.
#[cfg(target_os = "linux")]
#[test]
fn a_range_at_the_end_of_a_large_file_is_reached_by_seeking() {
    use std::io::{Seek, SeekFrom, Write};

    let dir = TempDir::new("text-seek");
    let path = dir.path().join("sparse.txt");
    let mut file = std::fs::File::create(&path).unwrap();
    const SIZE: u64 = 256 << 20;
    file.set_len(SIZE - 18).unwrap(); // a hole of zeros, no disk space
    file.seek(SeekFrom::End(0)).unwrap();
    file.write_all(b"\nlast but one\nlast").unwrap();
    drop(file);
    let source = FileBasedSource::new(TextLines, FilePattern::path(&path)).unwrap();
    let start = (SIZE - 17) as i64; // the byte after the hole's end

    let read_bytes = || {
        let io = std::fs::read_to_string("/proc/self/io").unwrap();
        io.lines()
            .find_map(|l| l.strip_prefix("rchar: "))
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let before = read_bytes();
    let records = read(&source, Some(start), None).unwrap();
    let after = read_bytes();
    assert_eq!(records, ["last but one", "last"]);
    // Other tests read small files meanwhile; the file itself is 256 MiB.
    assert!(
        after - before < 16 << 20,
        "read {} bytes to reach the end",
        after - before
    );
}
