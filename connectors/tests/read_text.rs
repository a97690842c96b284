//! `ReadText` on real files with adversarial content, through the conformance kit.

mod read_support;

use read_support::{Ends, TempDir, contract_lines, contract_strings, line_records, line_strings};
use sdf_connectors::read::{InvalidUtf8, ReadTextBytes, TooLong};
use sdf_connectors::{Error, ReadText};
use sdf_core::testing::{
    ConcurrentOptions, ExhaustiveOptions, check_concurrent_splits_expecting, check_sdf_exhaustive,
    check_sdf_exhaustive_expecting, fresh, run_to_completion,
};

/// The kit with its default options.
fn kit() -> ExhaustiveOptions {
    ExhaustiveOptions::default()
}

/// Buffer sizes that take a reader's cold-open paths on `bytes`: 1, 2 and 3 bytes (a
/// delimiter split across a refill, every record longer than the buffer) and one byte under
/// the longest record with its delimiter (the record and its delimiter in two reads).
fn tiny_buffers(bytes: &[u8], ends: Ends<'_>) -> Vec<usize> {
    let delimiter = match ends {
        Ends::Lines => 2, // with a `\r`
        Ends::Delimiter(d) => d.len(),
    };
    let longest = line_records(bytes, ends, 0)
        .iter()
        .map(|r| r.len() + delimiter)
        .max()
        .unwrap_or(1);
    let mut buffers = vec![1, 2, 3, longest.saturating_sub(1).max(1)];
    buffers.dedup();
    buffers
}

#[test]
fn the_oracle_frames_as_the_docs_say() {
    let lines = |b: &str, h| line_strings(b.as_bytes(), Ends::Lines, h);
    assert_eq!(lines("", 0), Vec::<String>::new());
    assert_eq!(lines("\n", 0), [""]);
    assert_eq!(lines("\r", 0), [""]);
    assert_eq!(lines("a\r\nb\rc\n\r", 0), ["a", "b\rc", ""]);
    assert_eq!(lines("\u{feff}h\r\nd1\nd2", 1), ["d1", "d2"]);
    assert_eq!(lines("\u{feff}x\n", 0), ["x"]);
    assert_eq!(lines("h\n", 3), Vec::<String>::new());
    let custom = |d: &str, b: &str| line_strings(b.as_bytes(), Ends::Delimiter(d.as_bytes()), 0);
    assert_eq!(
        custom("<>", "a<>b\r\n<><>c<d>e<>"),
        ["a", "b\r\n", "", "c<d>e"]
    );
    assert_eq!(custom("<>", "<<>>"), ["<", ">"]);
    assert_eq!(custom("ab", "aab\r"), ["a", "\r"]);
    assert_eq!(custom("\r\n", "a\r\r\n\nb\r"), ["a\r", "\nb\r"]);
}

/// Adversarial files, each named.
fn cases() -> Vec<(&'static str, Vec<u8>)> {
    let long = "x".repeat(40);
    vec![
        ("empty file", b"".to_vec()),
        ("one byte", b"a".to_vec()),
        ("one newline", b"\n".to_vec()),
        ("a lone CR at the end", b"a\nb\r".to_vec()),
        ("only a CR", b"\r".to_vec()),
        ("CRLF", b"one\r\ntwo\r\nthree\r\n".to_vec()),
        ("lone CR is text", b"a\rb\nc\r\rd\n\r\n".to_vec()),
        ("empty lines", b"\n\n\na\n\n".to_vec()),
        ("no final newline", b"first\nsecond\nlast".to_vec()),
        (
            "multi-byte UTF-8",
            "héllo\nwörld 🙂🚀\n数据文件分割\n€\n𝔘𝔫𝔦\n"
                .as_bytes()
                .to_vec(),
        ),
        (
            "lines longer than the buffer",
            format!("{long}\nshort\n{long}{long}\r\n\n{long}").into_bytes(),
        ),
        ("BOM", "\u{feff}first\nsecond\n".as_bytes().to_vec()),
        ("mixed endings", b"a\r\nb\nc\r\n\r\nd".to_vec()),
    ]
}

#[test]
fn every_case_reads_as_the_line_contract_says() {
    let dir = TempDir::new("text-contract");
    for (name, bytes) in cases() {
        let file = dir.file("a.txt", &bytes);
        for buffer in [1, 3, 7, 1 << 20] {
            let read = ReadText::new().buffer_size(buffer);
            let got = run_to_completion(&read, &file).unwrap();
            let mut want = contract_strings(&bytes);
            if name == "BOM" {
                want[0] = want[0].trim_start_matches('\u{feff}').to_string();
            }
            assert_eq!(got, want, "{name}, buffer {buffer}");
        }
    }
}

#[test]
fn every_case_passes_the_exhaustive_kit() {
    let dir = TempDir::new("text-kit");
    for (name, bytes) in cases() {
        let file = dir.file("a.txt", &bytes);
        let want = line_strings(&bytes, Ends::Lines, 0);
        let mut buffers = tiny_buffers(&bytes, Ends::Lines);
        buffers.push(4);
        for buffer in buffers {
            for parked in [0, 8] {
                let read = fresh(|| {
                    ReadText::new()
                        .buffer_size(buffer)
                        .min_split_size(1)
                        .parked_readers(parked)
                });
                let report = check_sdf_exhaustive_expecting(&read, &file, want.clone(), &kit())
                    .unwrap_or_else(|v| panic!("{name}, buffer {buffer}, parked {parked}: {v}"));
                assert_eq!(report.records, contract_lines(&bytes).len(), "{name}");
                // An empty file has nothing to split, so nothing to resume elsewhere.
                assert!(
                    bytes.is_empty() || report.fresh_instances > 0,
                    "{name}: {report}"
                );
            }
        }
    }
}

#[test]
fn a_larger_file_survives_concurrent_splits() {
    let dir = TempDir::new("text-concurrent");
    let mut text = String::new();
    for i in 0..3_000 {
        let ending = ["\n", "\r\n", "\n\n", "\r\n"][i % 4];
        let word = ["naïve", "数据", "🙂", "plain", ""][i % 5];
        text.push_str(&format!("{i} {word}{}{ending}", "z".repeat(i % 97)));
    }
    text.push_str("the end without a newline");
    let file = dir.file("big.txt", &text);
    let read = || ReadText::new().buffer_size(64).min_split_size(1);
    let options = ConcurrentOptions::default().repetitions(40);
    let want = line_strings(text.as_bytes(), Ends::Lines, 0);
    let report = check_concurrent_splits_expecting(&fresh(read), &file, want, &options).unwrap();
    assert!(report.splits > 0, "{report:?}");
    assert!(report.interleaved > 0, "{report}");
    assert_eq!(
        run_to_completion(&read(), &file).unwrap(),
        contract_strings(text.as_bytes())
    );
}

#[test]
fn a_multi_byte_delimiter_survives_concurrent_splits_in_tiny_buffers() {
    let dir = TempDir::new("text-concurrent-delimiter");
    let mut text = String::from("\u{feff}");
    for i in 0..400 {
        // Parts of the delimiter in records: a record ending in `\r`, one starting with `\n`.
        let word = ["a\r", "\nb", "\r\r", "plain", ""][i % 5];
        text.push_str(&format!("{i}{word}{}\r\n", "z".repeat(i % 7)));
    }
    text.push_str("the end\r");
    let file = dir.file("crlf.txt", &text);
    let want = line_strings(text.as_bytes(), Ends::Delimiter(b"\r\n"), 0);
    for buffer in [1, 2, 3] {
        let read = fresh(|| {
            ReadText::new()
                .delimiter("\r\n")
                .unwrap()
                .buffer_size(buffer)
                .min_split_size(1)
        });
        let options = ConcurrentOptions::default().repetitions(16);
        let report = check_concurrent_splits_expecting(&read, &file, want.clone(), &options)
            .unwrap_or_else(|v| panic!("buffer {buffer}: {v}"));
        assert!(report.splits > 0 && report.interleaved > 0, "{report}");
    }
}

#[test]
fn header_lines_are_skipped_wherever_a_split_falls() {
    let dir = TempDir::new("text-header");
    let bytes = "\u{feff}h1\r\nh2\n\nd1\nd2\r\nd3";
    let file = dir.file("h.txt", bytes);
    let read = |buffer| {
        ReadText::new()
            .skip_header_lines(3)
            .buffer_size(buffer)
            .min_split_size(1)
    };
    assert_eq!(
        run_to_completion(&read(2), &file).unwrap(),
        ["d1", "d2", "d3"]
    );
    let want = line_strings(bytes.as_bytes(), Ends::Lines, 3);
    for buffer in tiny_buffers(bytes.as_bytes(), Ends::Lines) {
        check_sdf_exhaustive_expecting(&fresh(|| read(buffer)), &file, want.clone(), &kit())
            .unwrap_or_else(|v| panic!("buffer {buffer}: {v}"));
    }
    let all_header = dir.file("only.txt", "h1\nh2\n");
    let read = || ReadText::new().skip_header_lines(5).min_split_size(1);
    assert!(run_to_completion(&read(), &all_header).unwrap().is_empty());
    // Nothing to claim in 6 bytes of header: without the oracle the kit would call that vacuous.
    check_sdf_exhaustive_expecting(&fresh(read), &all_header, Vec::<String>::new(), &kit())
        .unwrap();
}

#[test]
fn too_long_records_fail_naming_file_and_offset() {
    let dir = TempDir::new("text-too-long");
    let file = dir.file("long.txt", "ok\nthis line is too long\nok again\n");
    for buffer in [2, 1 << 20] {
        let read = ReadText::new()
            .buffer_size(buffer)
            .max_record_length(10, TooLong::Fail);
        let err = run_to_completion(&read, &file).unwrap_err().to_string();
        assert!(
            err.contains("byte 3 of") && err.contains("long.txt") && err.contains("10 bytes"),
            "{err}"
        );
    }
}

#[test]
fn too_long_records_can_be_skipped_and_counted() {
    let dir = TempDir::new("text-skip");
    let bytes = format!("ok\n{}\nfine\r\n{}", "y".repeat(50), "z".repeat(11));
    let file = dir.file("long.txt", &bytes);
    let make = || {
        ReadText::new()
            .buffer_size(4)
            .min_split_size(1)
            .max_record_length(10, TooLong::Skip)
    };
    let read = make();
    assert_eq!(run_to_completion(&read, &file).unwrap(), ["ok", "fine"]);
    assert_eq!(read.skipped_records(), 2);
    let want = line_strings(bytes.as_bytes(), Ends::Lines, 0)
        .into_iter()
        .filter(|line| line.len() <= 10);
    check_sdf_exhaustive_expecting(&fresh(make), &file, want, &kit()).unwrap();
    // Exactly the limit is allowed; a CRLF's CR does not count.
    let exact = dir.file("exact.txt", "0123456789\r\n0123456789");
    let read = ReadText::new()
        .buffer_size(3)
        .max_record_length(10, TooLong::Fail);
    assert_eq!(run_to_completion(&read, &exact).unwrap().len(), 2);
}

#[test]
fn invalid_utf8_fails_is_replaced_or_kept() {
    let dir = TempDir::new("text-utf8");
    let bytes = b"good\nbad \xff\xfe here\n\xe6\x95\xb0\n";
    let file = dir.file("bad.txt", bytes);
    let err = run_to_completion(&ReadText::new(), &file).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("byte 5 of") && message.contains("bad.txt") && message.contains("UTF-8"),
        "{message}"
    );
    let lossy = ReadText::new().invalid_utf8(InvalidUtf8::Lossy);
    assert_eq!(
        run_to_completion(&lossy, &file).unwrap(),
        ["good", "bad \u{fffd}\u{fffd} here", "数"]
    );
    let raw = run_to_completion(&ReadTextBytes::new(), &file).unwrap();
    assert_eq!(raw, contract_lines(bytes));
    for buffer in tiny_buffers(bytes, Ends::Lines) {
        let read = fresh(|| ReadTextBytes::new().buffer_size(buffer).min_split_size(1));
        let want = line_records(bytes, Ends::Lines, 0);
        check_sdf_exhaustive_expecting(&read, &file, want, &kit())
            .unwrap_or_else(|v| panic!("buffer {buffer}: {v}"));
    }
}

/// Delimiters of several bytes, each with records that hold parts of it (a partial delimiter
/// before a whole one, a record ending with its first byte), a byte-order mark, empty records,
/// a last record without it.
fn delimiter_cases() -> Vec<(&'static str, &'static str, String)> {
    let long = "y".repeat(12);
    vec![
        ("<>", "brackets", "a<>b\r\n<><>c<d>e<>".to_string()),
        ("<>", "partial before whole", "<<<>>><<>x<".to_string()),
        (
            "\r\n",
            "CRLF taken as is",
            "one\r\ntwo\r\r\n\n\r\nthr\ree\r".to_string(),
        ),
        (
            "<|>",
            "three bytes",
            format!("\u{feff}<|>x<|y|><|>{long}<<|>>|<|><|>z"),
        ),
        (
            "ab",
            "its first byte repeated",
            "aab aaab ba abab aaabbb".to_string(),
        ),
        (
            "END\n",
            "a word and a newline",
            format!("a\nEND\n{long}EN\nEND\nEND\n"),
        ),
    ]
}

#[test]
fn custom_delimiters_frame_records_across_reads() {
    let dir = TempDir::new("text-delimiter");
    let bytes = "a<>b\r\n<><>c<d>e<>";
    let file = dir.file("d.txt", bytes);
    let read = ReadText::new()
        .delimiter("<>")
        .unwrap()
        .buffer_size(3)
        .min_split_size(1);
    assert_eq!(
        run_to_completion(&read, &file).unwrap(),
        ["a", "b\r\n", "", "c<d>e"]
    );
    for (delimiter, name, bytes) in delimiter_cases() {
        let file = dir.file("m.txt", &bytes);
        let ends = Ends::Delimiter(delimiter.as_bytes());
        let want = line_strings(bytes.as_bytes(), ends, 0);
        for buffer in tiny_buffers(bytes.as_bytes(), ends) {
            for parked in [0, 8] {
                let read = fresh(|| {
                    ReadText::new()
                        .delimiter(delimiter)
                        .unwrap()
                        .buffer_size(buffer)
                        .min_split_size(1)
                        .parked_readers(parked)
                });
                let report = check_sdf_exhaustive_expecting(&read, &file, want.clone(), &kit())
                    .unwrap_or_else(|v| panic!("{name}, buffer {buffer}, parked {parked}: {v}"));
                assert!(report.fresh_instances > 0 && report.splits > 0, "{report}");
            }
        }
    }
    let single = || ReadText::new().delimiter(";").unwrap().min_split_size(1);
    let bytes = "x;y\n;;z";
    let file = dir.file("s.txt", bytes);
    assert_eq!(
        run_to_completion(&single(), &file).unwrap(),
        ["x", "y\n", "", "z"]
    );
    let want = line_strings(bytes.as_bytes(), Ends::Delimiter(b";"), 0);
    check_sdf_exhaustive_expecting(&fresh(single), &file, want, &kit()).unwrap();
    for bad in ["", "||", "abab", "aXa"] {
        let err = ReadText::new().delimiter(bad).unwrap_err();
        assert!(matches!(err, Error::InvalidOption { .. }), "{bad:?}: {err}");
    }
}

#[test]
fn records_carry_file_offset_and_event_time() {
    let dir = TempDir::new("text-metadata");
    let file = dir.file("m.txt", "\u{feff}a\r\nbb\n\nccc");
    let read = ReadText::new().with_metadata().event_time_from_file();
    let records = run_to_completion(&read, &file).unwrap();
    let got: Vec<(u64, &str)> = records
        .iter()
        .map(|r| (r.offset, r.value.as_str()))
        .collect();
    assert_eq!(got, [(0, "a"), (6, "bb"), (9, ""), (10, "ccc")]);
    assert!(records.iter().all(|r| *r.path == *file.path));
    let read = fresh(|| {
        ReadText::new()
            .with_metadata()
            .event_time_from_file()
            .buffer_size(2)
            .min_split_size(1)
    });
    let report = check_sdf_exhaustive(&read, &file).unwrap();
    assert_eq!(report.records, 4);
    let stamped = fresh(|| {
        ReadText::new().event_time_from(|line| {
            line.parse::<i64>()
                .ok()
                .map(sdf_core::Timestamp::from_millis)
        })
    });
    let file = dir.file("t.txt", "5\n7\n");
    check_sdf_exhaustive_expecting(&stamped, &file, ["5".to_string(), "7".into()], &kit()).unwrap();
}

/// Bytes this thread has read through `read(2)`-like calls so far (Linux: `rchar` of
/// `/proc/thread-self/io`); the test's reads all run on its own thread.
fn thread_read_bytes() -> u64 {
    let io = std::fs::read_to_string("/proc/thread-self/io").unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_range_inside_one_long_record_is_empty_and_reads_only_its_own_bytes() {
    let dir = TempDir::new("long-record-ranges");
    // A 4 MiB line between two short ones: every range starting inside it is empty.
    let mut text = String::from("first\n");
    text.push_str(&"x".repeat(4 << 20));
    text.push_str("\nlast\n");
    let file = dir.file("long.txt", &text);
    let read = ReadText::new()
        .buffer_size(64 << 10)
        .max_record_length(16 << 20, TooLong::Fail);
    let access = sdf_connectors::read::Access::Seek;
    let piece = |start: i64, end: i64| {
        sdf_connectors::read::FileRange::new(sdf_core::OffsetRange::new(start, end), access)
    };
    let before = thread_read_bytes();
    let (records, residual) =
        read_support::one_call(&read, &file, piece(1 << 20, (1 << 20) + 4096), None).unwrap();
    let read_bytes = thread_read_bytes() - before;
    assert!(records.is_empty() && residual.is_none(), "{records:?}");
    // One buffer at most, not the 3 MiB left of the line.
    assert!(read_bytes <= 2 * (64 << 10), "read {read_bytes} bytes");
    // The ranges around it still read every line once.
    let size = text.len() as i64;
    let mut all = Vec::new();
    for (start, end) in [(0, 1 << 20), (1 << 20, 3 << 20), (3 << 20, size)] {
        all.extend(
            read_support::one_call(&read, &file, piece(start, end), None)
                .unwrap()
                .0,
        );
    }
    assert_eq!(all.len(), 3);
    assert_eq!((all[0].as_str(), all[2].as_str()), ("first", "last"));
}
