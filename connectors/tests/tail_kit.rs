//! `TailFile` through the conformance kit, on files that stopped growing (`stop_at_end`, the
//! bounded case): every split point × fraction, nested residuals, concurrent splits, on
//! adversarial content.

mod tail_support;

use std::path::Path;

use sdf_connectors::{StartAt, TailFile, TailLine};
use sdf_core::testing::{
    ConcurrentOptions, ExhaustiveOptions, check_concurrent_splits_expecting,
    check_sdf_exhaustive_expecting, fresh, run_to_completion,
};
use tail_support::*;

/// The lines a tail that stops at the end reads from `content`, the file at `path`, computed
/// from its bytes without the reader: each `\n` ends a line (without it and a `\r` before it),
/// what follows the last one is a last line as it is, invalid UTF-8 becomes U+FFFD; only the
/// lines that start at or after `from`.
fn expected_lines(path: &Path, content: &[u8], from: u64) -> Vec<TailLine> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < content.len() {
        let (text, next) = match content[start..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let line = &content[start..start + i];
                (line.strip_suffix(b"\r").unwrap_or(line), start + i + 1)
            }
            None => (&content[start..], content.len()),
        };
        if start as u64 >= from {
            lines.push(TailLine {
                path: path.to_path_buf(),
                generation: 0,
                offset: start as u64,
                line: String::from_utf8_lossy(text).into_owned(),
            });
        }
        start = next;
    }
    lines
}

/// Named file contents that readers get wrong.
fn cases() -> Vec<(&'static str, Vec<u8>)> {
    let long = "x".repeat(70_000); // longer than the 64 KiB read buffer
    vec![
        ("empty", vec![]),
        ("one byte", b"x".to_vec()),
        ("one newline", b"\n".to_vec()),
        ("crlf and lone cr", b"a\r\nb\rc\r\n\r\n".to_vec()),
        ("empty lines", b"\n\n\na\n\n".to_vec()),
        (
            "last line without newline",
            b"first\nsecond\nthird".to_vec(),
        ),
        ("multi-byte utf-8", "é€😀\n😀😀\nß\n".as_bytes().to_vec()),
        ("invalid utf-8", b"ok\n\xff\xfe\nok\n".to_vec()),
        ("long line", format!("a\n{long}\nb\n").into_bytes()),
    ]
}

#[test]
fn tail_of_a_finished_file_is_exact_however_it_is_split() {
    let dir = TempDir::new("tail-kit");
    for (name, content) in cases() {
        let path = dir.join(&name.replace(' ', "-"));
        std::fs::write(&path, &content).unwrap();
        let input = metadata(&path);
        let dofn = TailFile::new().stop_at_end();
        let lines = run_to_completion(&dofn, &input).unwrap();
        let expected = String::from_utf8_lossy(&content)
            .split_inclusive('\n')
            .count();
        assert_eq!(lines.len(), expected, "{name}: {lines:?}");
        let want = expected_lines(&path, &content, 0);
        assert_eq!(lines, want, "{name}");
        // Residuals and pieces also on fresh instances, each opening the file and finding its
        // range's first line itself.
        let report = check_sdf_exhaustive_expecting(
            &fresh(|| TailFile::new().stop_at_end()),
            &input,
            want,
            &ExhaustiveOptions::default(),
        )
        .unwrap_or_else(|v| panic!("{name}: {v}"));
        println!("{name}: {report}");
        assert_eq!(report.records, expected, "{name}");
        assert!(report.fresh_instances > 0, "{name}: {report}");
    }
}

#[test]
fn tail_from_the_listed_end_is_exact_however_it_is_split() {
    let dir = TempDir::new("tail-kit-end");
    let path = dir.join("app.log");
    let content = "listed\nhalf of a line, then\nnew\nlines\n";
    std::fs::write(&path, content).unwrap();
    let mut input = metadata(&path);
    input.size = 10; // in the middle of the second line
    let make = || TailFile::new().stop_at_end().start_at(StartAt::End);
    let lines: Vec<String> = run_to_completion(&make(), &input)
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect();
    assert_eq!(lines, ["new", "lines"]);
    let want = expected_lines(&path, content.as_bytes(), 10);
    let report =
        check_sdf_exhaustive_expecting(&fresh(make), &input, want, &ExhaustiveOptions::default())
            .unwrap();
    println!("{report}");
    assert_eq!(report.records, 2, "{report}");
    assert!(report.fresh_instances > 0, "{report}");
}

#[test]
fn tail_under_concurrent_splits_is_exact() {
    let dir = TempDir::new("tail-kit-concurrent");
    let path = dir.join("app.log");
    let text: String = (0..3000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&path, &text).unwrap();
    let input = metadata(&path);
    let want = expected_lines(&path, text.as_bytes(), 0);
    assert_eq!(want.len(), 3000);
    // 100 repetitions, not 25: few splits land before a call ends (7 in 25 repetitions), and
    // only every other repetition runs its residuals on fresh instances.
    let options = ConcurrentOptions::default().repetitions(100);
    let read = fresh(|| TailFile::new().stop_at_end());
    let report = check_concurrent_splits_expecting(&read, &input, want, &options).unwrap();
    println!("{report}");
    assert!(report.splits > 0 && report.interleaved > 0, "{report}");
}
