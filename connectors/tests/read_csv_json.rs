//! `ReadCsv` and `ReadJsonLines` on real files, through the conformance kit.

mod read_support;

use read_support::TempDir;
use sdf_connectors::read::Access;
use sdf_connectors::{ReadCsv, ReadJsonLines};
use sdf_core::SplittableDoFn;
use sdf_core::testing::{
    ConcurrentOptions, ExhaustiveOptions, check_concurrent_splits_expecting,
    check_sdf_exhaustive_expecting, fresh, run_to_completion,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct Row {
    id: u64,
    name: String,
    text: String,
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `csv-hard`-style data: quoted text that holds `\n`, `\r\n`, `\n\n`, quotes and commas in
/// some rows, with `eol` line ends; columns in another order than the struct's.
fn csv_hard(rows: usize, eol: &str, hard: bool) -> (String, Vec<Row>) {
    let mut csv = format!("name,id,text{eol}");
    let mut want = Vec::new();
    for i in 0..rows {
        let mut text = format!("row {i}, with \"quotes\" and ünïcode");
        if hard && i % 4 == 1 {
            text.push_str(["\nsecond line", "\r\nafter CRLF", "\n\nblank above"][i % 3]);
        }
        let name = format!("n{i}");
        csv.push_str(&format!("{name},{i},{}{eol}", quote(&text)));
        want.push(Row {
            id: i as u64,
            name,
            text,
        });
    }
    (csv, want)
}

#[test]
fn csv_rows_are_typed_by_header_name() {
    let dir = TempDir::new("csv-typed");
    for eol in ["\n", "\r\n"] {
        let (csv, want) = csv_hard(20, eol, false);
        let file = dir.file("a.csv", format!("\u{feff}{csv}{eol}{eol}"));
        let read = |buffer| ReadCsv::<Row>::new().buffer_size(buffer).min_split_size(1);
        assert_eq!(run_to_completion(&read(5), &file).unwrap(), want);
        // 2 bytes: `\r\n` split across reads; 5: a row in many reads, its start in the middle.
        for buffer in [2, 5] {
            let report = check_sdf_exhaustive_expecting(
                &fresh(|| read(buffer)),
                &file,
                want.clone(),
                &ExhaustiveOptions::default(),
            )
            .unwrap_or_else(|v| panic!("{eol:?}, buffer {buffer}: {v}"));
            assert!(report.splits > 0 && report.fresh_instances > 0, "{report}");
        }
    }
}

#[test]
fn untyped_csv_headers_delimiter_and_quote() {
    let dir = TempDir::new("csv-options");
    let file = dir.file("b.csv", "a;b\n'x;y';'it''s'\r\n1;\n");
    let read = ReadCsv::<Vec<String>>::new().delimiter(b';').quote(b'\'');
    assert_eq!(
        run_to_completion(&read, &file).unwrap(),
        [
            vec!["x;y".to_string(), "it's".into()],
            vec!["1".into(), String::new()]
        ]
    );
    let no_header = ReadCsv::<(String, u8)>::new().has_headers(false);
    let file = dir.file("c.csv", "a,1\nb,2");
    assert_eq!(
        run_to_completion(&no_header, &file).unwrap(),
        [("a".to_string(), 1), ("b".to_string(), 2)]
    );
}

#[test]
fn csv_with_quoted_newlines_fails_unless_multiline() {
    let dir = TempDir::new("csv-hard");
    let (csv, want) = csv_hard(12, "\r\n", true);
    let file = dir.file("hard.csv", &csv);
    let err = run_to_completion(&ReadCsv::<Row>::new(), &file)
        .unwrap_err()
        .to_string();
    let second_row = csv.find("n1,").unwrap();
    assert!(
        err.contains(&format!("byte {second_row} of"))
            && err.contains("hard.csv")
            && err.contains("multiline(true)"),
        "{err}"
    );
    let read = ReadCsv::<Row>::new().multiline(true).buffer_size(7);
    let r = read.initial_restriction(&file).unwrap();
    assert_eq!(r.access, Access::FromStart);
    assert_eq!(read.split_restriction(&file, r, 10.0).unwrap(), [r]);
    assert_eq!(run_to_completion(&read, &file).unwrap(), want);
    for parked in [0, 8] {
        let read = fresh(|| {
            ReadCsv::<Row>::new()
                .multiline(true)
                .buffer_size(7)
                .parked_readers(parked)
        });
        let report = check_sdf_exhaustive_expecting(
            &read,
            &file,
            want.clone(),
            &ExhaustiveOptions::default(),
        )
        .unwrap();
        assert!(report.checkpoints > 0);
        assert!(report.fresh_instances > 0, "{report}");
    }
}

#[test]
fn a_larger_csv_survives_concurrent_splits() {
    let dir = TempDir::new("csv-concurrent");
    let (csv, want) = csv_hard(2_000, "\n", false);
    let file = dir.file("big.csv", &csv);
    let read = fresh(|| ReadCsv::<Row>::new().buffer_size(100).min_split_size(1));
    let options = ConcurrentOptions::default().repetitions(30);
    let report = check_concurrent_splits_expecting(&read, &file, want.clone(), &options).unwrap();
    assert!(report.splits > 0 && report.interleaved > 0, "{report}");
    let (hard, want_hard) = csv_hard(2_000, "\r\n", true);
    let file = dir.file("hard.csv", &hard);
    let read = || ReadCsv::<Row>::new().multiline(true).buffer_size(100);
    check_concurrent_splits_expecting(&fresh(read), &file, want_hard.clone(), &options).unwrap();
    assert_eq!(run_to_completion(&read(), &file).unwrap(), want_hard);
    assert_eq!(want.len(), 2_000);
}

#[test]
fn a_row_that_does_not_fit_names_file_and_offset() {
    let dir = TempDir::new("csv-bad");
    let file = dir.file("bad.csv", "id,name,text\n1,a,b\nx,c,d\n");
    let err = run_to_completion(&ReadCsv::<Row>::new(), &file)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("byte 19 of") && err.contains("bad.csv"),
        "{err}"
    );
}

#[test]
fn json_lines_typed_and_untyped() {
    let dir = TempDir::new("jsonl");
    let rows: Vec<Row> = (0..30)
        .map(|i| Row {
            id: i,
            name: format!("n{i}"),
            text: format!("t{i}\n\"ü\""),
        })
        .collect();
    let mut text = String::from("\u{feff}");
    for (i, row) in rows.iter().enumerate() {
        text.push_str(&serde_json::to_string(row).unwrap());
        text.push_str(["\n", "\r\n", "\n  \n"][i % 3]);
    }
    let file = dir.file("a.jsonl", &text);
    let read = |buffer| {
        ReadJsonLines::<Row>::new()
            .buffer_size(buffer)
            .min_split_size(1)
    };
    assert_eq!(run_to_completion(&read(9), &file).unwrap(), rows);
    for buffer in [2, 9] {
        let report = check_sdf_exhaustive_expecting(
            &fresh(|| read(buffer)),
            &file,
            rows.clone(),
            &ExhaustiveOptions::default(),
        )
        .unwrap_or_else(|v| panic!("buffer {buffer}: {v}"));
        assert!(report.splits > 0 && report.fresh_instances > 0, "{report}");
    }
    let values = run_to_completion(&ReadJsonLines::<serde_json::Value>::new(), &file).unwrap();
    assert_eq!(values[3]["name"], "n3");
    let options = ConcurrentOptions::default().repetitions(30);
    check_concurrent_splits_expecting(&fresh(|| read(9)), &file, rows, &options).unwrap();
}

#[test]
fn a_bad_json_line_names_file_and_offset() {
    let dir = TempDir::new("jsonl-bad");
    let file = dir.file("bad.jsonl", "{\"a\":1}\n{\"a\":\n");
    let read = ReadJsonLines::<serde_json::Value>::new();
    let err = run_to_completion(&read, &file).unwrap_err().to_string();
    assert!(
        err.contains("byte 8 of") && err.contains("bad.jsonl") && err.contains("JSON"),
        "{err}"
    );
}
