//! `TailFile` through the conformance kit, on files that stopped growing (`stop_at_end`, the
//! bounded case): every split point × fraction, nested residuals, concurrent splits, on
//! adversarial content.

mod tail_support;

use sdf_connectors::{StartAt, TailFile};
use sdf_core::testing::{
    ConcurrentOptions, check_concurrent_splits_with, check_sdf_exhaustive, run_to_completion,
};
use tail_support::*;

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
        let report = check_sdf_exhaustive(&dofn, &input).unwrap_or_else(|v| panic!("{name}: {v}"));
        assert_eq!(report.records, expected, "{name}");
    }
}

#[test]
fn tail_from_the_listed_end_is_exact_however_it_is_split() {
    let dir = TempDir::new("tail-kit-end");
    let path = dir.join("app.log");
    std::fs::write(&path, "listed\nhalf of a line, then\nnew\nlines\n").unwrap();
    let mut input = metadata(&path);
    input.size = 10; // in the middle of the second line
    let dofn = TailFile::new().stop_at_end().start_at(StartAt::End);
    let lines: Vec<String> = run_to_completion(&dofn, &input)
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect();
    assert_eq!(lines, ["new", "lines"]);
    check_sdf_exhaustive(&dofn, &input).unwrap();
}

#[test]
fn tail_under_concurrent_splits_is_exact() {
    let dir = TempDir::new("tail-kit-concurrent");
    let path = dir.join("app.log");
    let text: String = (0..3000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&path, text).unwrap();
    let input = metadata(&path);
    let options = ConcurrentOptions::default().repetitions(25);
    let report =
        check_concurrent_splits_with(&TailFile::new().stop_at_end(), &input, &options).unwrap();
    assert!(report.splits > 0, "{report:?}");
}
