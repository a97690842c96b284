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
use std::sync::Arc;

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
fn csv_with_quoted_newlines_splits_anywhere() {
    let dir = TempDir::new("csv-hard");
    for eol in ["\n", "\r\n"] {
        let (csv, want) = csv_hard(12, eol, true);
        let file = dir.file("hard.csv", &csv);
        let read = || ReadCsv::<Row>::new().buffer_size(7).min_split_size(1);
        let r = read().initial_restriction(&file).unwrap();
        assert_eq!(r.access, Access::Seek);
        assert!(read().split_restriction(&file, r, 10.0).unwrap().len() > 1);
        assert_eq!(run_to_completion(&read(), &file).unwrap(), want);
        for parked in [0, 8] {
            let report = check_sdf_exhaustive_expecting(
                &fresh(|| read().parked_readers(parked)),
                &file,
                want.clone(),
                &ExhaustiveOptions::default(),
            )
            .unwrap_or_else(|v| panic!("{eol:?}, parked {parked}: {v}"));
            assert!(report.splits > 0 && report.checkpoints > 0, "{report}");
            assert!(report.fresh_instances > 0, "{report}");
        }
        // Refused when asked, naming the record.
        let err = run_to_completion(&read().multiline(false), &file)
            .unwrap_err()
            .to_string();
        let record = csv.find("n1,").unwrap();
        let newline = record + csv[record..].find('\n').unwrap();
        assert!(
            err.contains(&format!("byte {record} of"))
                && err.contains(&format!(
                    "at byte {newline}, a quoted field holds a newline"
                ))
                && err.contains("hard.csv")
                && err.contains("multiline(false)"),
            "{err}"
        );
    }
}

/// Every range start, decided by the bytes that follow it, on files made to be hard: quoted
/// fields of newlines only, quotes doubled at the edges, fields of nothing but delimiters.
#[test]
fn csv_ranges_start_where_a_reader_from_byte_zero_says() {
    let dir = TempDir::new("csv-starts");
    let files = [
        "a,b\n\"\n\n\n\",x\n\"\",\"\"\"\"\n\",\",\",\"\n\"\"\"\n\"\"\",\"\"\n",
        "a\n\",\"\n\",\"\n\",\n\"\n\",\"\n",
        "a,b\nno,quotes\nat,all\nin,here\n",
        "a\n\"long\nfield\nwithout\nquotes\ninside\n\"\nx\n",
        "a\r\n\"\r\n\"\r\n\"x\"\"\r\n\"\r\n",
    ];
    for (i, text) in files.iter().enumerate() {
        let file = dir.file(&format!("s{i}.csv"), text);
        let want = run_to_completion(
            &ReadCsv::<Vec<String>>::new()
                .flexible(true)
                .buffer_size(1 << 20),
            &file,
        )
        .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        // What csv, a reader of whole files, reads.
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(text.as_bytes());
        let (mut theirs, mut starts) = (Vec::<Vec<String>>::new(), vec![]);
        let mut record = csv::StringRecord::new();
        loop {
            starts.push(reader.position().byte());
            if !reader.read_record(&mut record).unwrap() {
                break;
            }
            theirs.push(record.iter().map(String::from).collect());
        }
        assert_eq!(want, theirs, "{text:?}");
        // The longest record, with its line end: no record is too long for it, while a
        // stretch without quotes may be (then "inside quotes" is ruled out by length).
        let longest = starts.windows(2).map(|w| w[1] - w[0]).max().unwrap() as usize;
        use sdf_connectors::read::TooLong;
        for (limit, too_long) in [
            (64 << 20, TooLong::Fail),
            (longest, TooLong::Fail),
            (longest, TooLong::Skip),
        ] {
            let read = || {
                ReadCsv::<Vec<String>>::new()
                    .flexible(true)
                    .buffer_size(3)
                    .min_split_size(1)
                    .max_record_length(limit, too_long)
            };
            check_sdf_exhaustive_expecting(
                &fresh(read),
                &file,
                want.clone(),
                &ExhaustiveOptions::default(),
            )
            .unwrap_or_else(|v| panic!("{text:?}, limit {limit} {too_long:?}: {v}"));
        }
    }
}

/// Random valid CSV (fields of `a`, `,`, `"`, `\n`, `\r\n`, quoted when they must be, and
/// sometimes when not), read split at every point and every fraction as a whole-file reader
/// (the `csv` crate) reads it.
#[test]
fn random_csv_reads_the_same_split_anywhere() {
    let dir = TempDir::new("csv-random");
    let mut seed: u64 = 0x5DF_2026;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    for case in 0..40 {
        let eol = if next(2) == 0 { "\n" } else { "\r\n" };
        let columns = 1 + next(3) as usize;
        let mut text = String::new();
        for row in 0..(2 + next(6)) {
            let mut fields = Vec::new();
            for _ in 0..columns {
                let mut field = String::new();
                for _ in 0..next(5) {
                    field.push_str(["a", ",", "\"", "\n", "\r\n", "b"][next(6) as usize]);
                }
                let must =
                    field.contains([',', '"', '\n', '\r']) || (field.is_empty() && columns == 1);
                fields.push(if must || (row > 0 && next(3) == 0) {
                    quote(&field)
                } else {
                    field
                });
            }
            text.push_str(&fields.join(","));
            text.push_str(eol);
        }
        let file = dir.file(&format!("r{case}.csv"), &text);
        let theirs: Vec<Vec<String>> = csv::ReaderBuilder::new()
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        let read = || {
            ReadCsv::<Vec<String>>::new()
                .buffer_size(4)
                .min_split_size(1)
        };
        assert_eq!(
            run_to_completion(&read(), &file).unwrap(),
            theirs,
            "{text:?}"
        );
        check_sdf_exhaustive_expecting(&fresh(read), &file, theirs, &ExhaustiveOptions::default())
            .unwrap_or_else(|v| panic!("{text:?}: {v}"));
    }
}

#[test]
fn csv_that_breaks_the_quoting_rules_fails_naming_the_byte() {
    let dir = TempDir::new("csv-faults");
    // The text, the record's start, and what is said (with the byte where it breaks).
    let cases = [
        (
            "a,b\n1,x\"y\n",
            4,
            "at byte 7, a quote (\") in the middle of a field",
        ),
        (
            "a,b\n1,\"x\"y\n",
            4,
            "at byte 9, the quote (\") that closes a quoted field is followed by 'y'",
        ),
        ("a,b\r1,2\r3,4\r", 0, "at byte 3, a carriage return"),
        (
            "a,b\n1,\"open\n2,3\n",
            4,
            "the quoted field opened at byte 6 is never closed",
        ),
        ("a,b\n1,2,3\n", 4, "the record has 3 fields, the header 2"),
    ];
    for (i, (text, byte, what)) in cases.iter().enumerate() {
        let file = dir.file(&format!("f{i}.csv"), text);
        for read in [ReadCsv::<Vec<String>>::new(), ReadCsv::new().buffer_size(2)] {
            let err = match run_to_completion(&read, &file) {
                Ok(rows) => panic!("{text:?} read as {rows:?}"),
                Err(e) => e.to_string(),
            };
            assert!(
                err.contains(&format!("byte {byte} of")) && err.contains(what),
                "{text:?}: {err}"
            );
        }
        {
            // Split anywhere, each range fails or reads nothing, never a wrong record.
            let read = || ReadCsv::<Vec<String>>::new().min_split_size(1);
            assert!(
                check_sdf_exhaustive_expecting(
                    &fresh(read),
                    &file,
                    Vec::new(),
                    &ExhaustiveOptions::default()
                )
                .is_err(),
                "{text:?}"
            );
        }
    }
    let file = dir.file("twice.csv", "a,a\n1,2\n");
    let err = run_to_completion(&ReadCsv::rows(), &file)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("byte 0 of") && err.contains("the header names column \"a\" twice"),
        "{err}"
    );
    assert_eq!(
        run_to_completion(&ReadCsv::<Vec<String>>::new(), &file)
            .unwrap()
            .len(),
        1
    );
    let rows = ReadCsv::<Vec<String>>::new().flexible(true);
    let file = dir.file("ragged.csv", "a,b\n1\n1,2,3\n");
    assert_eq!(
        run_to_completion(&rows, &file).unwrap(),
        [
            vec!["1".to_string()],
            vec!["1".into(), "2".into(), "3".into()]
        ]
    );
}

#[test]
fn csv_rows_are_keyed_by_the_header() {
    let dir = TempDir::new("csv-rows");
    let file = dir.file("r.csv", "id,text\n1,\"a\nb\"\n2,\"\"\"q\"\"\"\n");
    let rows = run_to_completion(&ReadCsv::rows(), &file).unwrap();
    let json: Vec<String> = rows
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    assert_eq!(
        json,
        [
            r#"{"id":"1","text":"a\nb"}"#,
            r#"{"id":"2","text":"\"q\""}"#
        ]
    );
    assert_eq!(rows[1].get("text"), Some("\"q\""));
    assert!(Arc::ptr_eq(
        rows[0].header().unwrap(),
        rows[1].header().unwrap()
    ));
    let arrays = run_to_completion(&ReadCsv::rows().has_headers(false), &file).unwrap();
    assert_eq!(
        serde_json::to_string(&arrays[0]).unwrap(),
        r#"["id","text"]"#
    );
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
    let read = || ReadCsv::<Row>::new().buffer_size(100).min_split_size(1);
    let report =
        check_concurrent_splits_expecting(&fresh(read), &file, want_hard.clone(), &options)
            .unwrap();
    assert!(report.splits > 0 && report.interleaved > 0, "{report}");
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
