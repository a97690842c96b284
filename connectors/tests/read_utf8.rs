//! The framer's whole-buffer UTF-8 check ([`Format::utf8_records`]): records it finds valid
//! reach `decode_str` without a check of their own, and every other record reaches `decode`
//! and the format's own check, so that what a reader emits or reports does not depend on
//! the buffer size, on where reads end inside a character, or on invalid bytes nearby.

mod read_support;

use std::sync::atomic::{AtomicUsize, Ordering};

use read_support::{TempDir, contract_lines};
use sdf_connectors::read::{
    Format, Framing, InvalidUtf8, LineDigest, ReadFile, ReadLineDigests, RecordContext,
};
use sdf_connectors::{FileMetadata, ReadJsonLines, ReadText};
use sdf_core::testing::{
    ExhaustiveOptions, check_sdf_exhaustive_expecting, fresh, run_to_completion,
};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

/// Lines of ASCII and of 2-, 3- and 4-byte characters, with `\n` or `\r\n` ends, a
/// byte-order mark at the start sometimes; with `bad`, some lines hold an invalid sequence.
fn text(rng: &mut Rng, lines: usize, bad: bool) -> Vec<u8> {
    const PIECES: &[&str] = &["a", "word ", "é", "ß", "✓", "数据", "🙂", "𝔘", "\r", " "];
    const INVALID: &[&[u8]] = &[b"\xff", b"\xf0\x9f", b"\x80", b"\xc3", b"\xed\xa0\x80"];
    let mut out = Vec::new();
    if rng.below(3) == 0 {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    for _ in 0..lines {
        for _ in 0..rng.below(12) {
            out.extend_from_slice(PIECES[rng.below(PIECES.len() as u64)].as_bytes());
        }
        if bad && rng.below(7) == 0 {
            out.extend_from_slice(INVALID[rng.below(INVALID.len() as u64)]);
        }
        out.extend_from_slice(if rng.below(4) == 0 { b"\r\n" } else { b"\n" });
    }
    if rng.below(2) == 0 {
        out.extend_from_slice("tail ✓".as_bytes());
    }
    out
}

/// The lines as the contract frames them, a byte-order mark at the start dropped.
fn expected(bytes: &[u8]) -> Vec<Vec<u8>> {
    let body = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    contract_lines(body)
}

#[test]
fn lines_are_the_same_whatever_the_buffer_size_and_the_invalid_bytes() {
    let dir = TempDir::new("utf8-lines");
    let mut rng = Rng(0x5eed_u64);
    for case in 0..60 {
        let lines = 1 + rng.below(40);
        let bytes = text(&mut rng, lines, case % 2 == 1);
        let file = dir.file(&format!("case-{case}.txt"), &bytes);
        let lines = expected(&bytes);
        let first_bad = lines.iter().position(|l| std::str::from_utf8(l).is_err());
        for buffer in [1, 2, 3, 5, 7, 16, 61, 4096] {
            let lossy = ReadText::new()
                .invalid_utf8(InvalidUtf8::Lossy)
                .buffer_size(buffer);
            let want: Vec<String> = lines
                .iter()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect();
            assert_eq!(
                run_to_completion(&lossy, &file).unwrap(),
                want,
                "case {case}, buffer {buffer}"
            );

            let strict = ReadText::new().buffer_size(buffer);
            match (run_to_completion(&strict, &file), first_bad) {
                (Ok(got), None) => assert_eq!(got, want, "case {case}, buffer {buffer}"),
                (Err(e), Some(i)) => {
                    // The error names the first bad line's offset.
                    let offset = line_offset(&bytes, i);
                    let message = e.to_string();
                    assert!(
                        message.contains(&format!("byte {offset} of")),
                        "case {case}, buffer {buffer}: {message}"
                    );
                }
                (got, bad) => {
                    panic!("case {case}, buffer {buffer}: {got:?}, first bad line {bad:?}")
                }
            }

            let lengths = ReadLineDigests::new(LineDigest::Length)
                .require_utf8(true)
                .buffer_size(buffer);
            match run_to_completion(&lengths, &file) {
                Ok(got) => {
                    assert!(first_bad.is_none(), "case {case}, buffer {buffer}");
                    let want: Vec<u64> = lines.iter().map(|l| l.len() as u64).collect();
                    assert_eq!(got, want, "case {case}, buffer {buffer}");
                }
                Err(e) => assert!(
                    first_bad.is_some() && e.to_string().contains("not UTF-8"),
                    "case {case}, buffer {buffer}: {e}"
                ),
            }
        }
    }
}

/// Where line `i` starts in the file (the first at 0, before a byte-order mark).
fn line_offset(bytes: &[u8], i: usize) -> usize {
    if i == 0 {
        return 0;
    }
    let bom = if bytes.starts_with("\u{feff}".as_bytes()) {
        3
    } else {
        0
    };
    bom + bytes[bom..]
        .split(|&b| b == b'\n')
        .take(i)
        .map(|raw| raw.len() + 1)
        .sum::<usize>()
}

/// Counts the records that reach `decode` and `decode_str`.
#[derive(Default)]
struct Counting {
    bytes: AtomicUsize,
    text: AtomicUsize,
}

impl Format for &'static Counting {
    type Output = usize;
    type State = ();

    fn framing(&self) -> &Framing {
        &Framing::Lines
    }

    fn start(&self, _: &FileMetadata, _: Vec<Vec<u8>>) -> sdf_connectors::Result<()> {
        Ok(())
    }

    fn utf8_records(&self) -> bool {
        true
    }

    fn decode(
        &self,
        _: &mut (),
        _: RecordContext<'_>,
        bytes: &[u8],
    ) -> sdf_connectors::Result<Option<usize>> {
        self.bytes.fetch_add(1, Ordering::Relaxed);
        Ok(Some(bytes.len()))
    }

    fn decode_str(
        &self,
        _: &mut (),
        _: RecordContext<'_>,
        text: &str,
    ) -> sdf_connectors::Result<Option<usize>> {
        self.text.fetch_add(1, Ordering::Relaxed);
        Ok(Some(text.len()))
    }
}

#[test]
fn valid_text_is_checked_once_per_buffer_and_invalid_regions_go_to_decode() {
    let dir = TempDir::new("utf8-counting");
    let mut rng = Rng(42);
    let valid = text(&mut rng, 300, false);
    let file = dir.file("valid.txt", &valid);
    let lines = expected(&valid);
    for buffer in [3, 64, 1 << 16] {
        let counting: &'static Counting = Box::leak(Box::default());
        let read = ReadFile::with_format(counting).buffer_size(buffer);
        let got = run_to_completion(&read, &file).unwrap();
        assert_eq!(got, lines.iter().map(Vec::len).collect::<Vec<_>>());
        // Every record of valid text reaches `decode_str`, even those that span reads.
        assert_eq!(counting.bytes.load(Ordering::Relaxed), 0, "buffer {buffer}");
        assert_eq!(counting.text.load(Ordering::Relaxed), lines.len());
    }

    // One bad line in the middle: its region goes to `decode`, the rest stays text.
    let mut mixed = valid.clone();
    let middle = mixed.len() / 2;
    let at = middle + mixed[middle..].iter().position(|&b| b == b'\n').unwrap() + 1;
    mixed.splice(at..at, b"bad \xff\n".iter().copied());
    let file = dir.file("mixed.txt", &mixed);
    let counting: &'static Counting = Box::leak(Box::default());
    let read = ReadFile::with_format(counting).buffer_size(1 << 10);
    let got = run_to_completion(&read, &file).unwrap();
    assert_eq!(got.len(), lines.len() + 1);
    let (bytes, text) = (
        counting.bytes.load(Ordering::Relaxed),
        counting.text.load(Ordering::Relaxed),
    );
    assert!(
        bytes >= 1 && bytes < got.len() / 2,
        "{bytes} of {}",
        got.len()
    );
    assert_eq!(bytes + text, got.len());
}

#[test]
fn splits_keep_each_record_once_with_the_check_on() {
    let dir = TempDir::new("utf8-kit");
    let mut rng = Rng(7);
    let bytes = text(&mut rng, 40, false);
    let file = dir.file("kit.txt", &bytes);
    let want: Vec<String> = expected(&bytes)
        .into_iter()
        .map(|line| String::from_utf8(line).unwrap())
        .collect();
    // 5 bytes: characters cut by reads; 1: every record and delimiter in reads of its own.
    for buffer in [1, 5] {
        let read = fresh(|| ReadText::new().buffer_size(buffer).min_split_size(1));
        let report = check_sdf_exhaustive_expecting(
            &read,
            &file,
            want.clone(),
            &ExhaustiveOptions::default(),
        )
        .unwrap_or_else(|v| panic!("buffer {buffer}: {v}"));
        assert_eq!(report.records as usize, expected(&bytes).len());
        assert!(report.fresh_instances > 0, "{report}");
    }
}

#[test]
fn json_lines_parse_checked_text_and_report_bad_bytes() {
    let dir = TempDir::new("utf8-json");
    let good = "{\"a\":\"é✓\"}\n{\"a\":\"🙂\"}\n";
    let file = dir.file("good.jsonl", good);
    let values = run_to_completion(
        &ReadJsonLines::<serde_json::Value>::new().buffer_size(3),
        &file,
    )
    .unwrap();
    assert_eq!(
        values,
        [
            serde_json::json!({"a": "é✓"}),
            serde_json::json!({"a": "🙂"})
        ]
    );
    let file = dir.file("bad.jsonl", b"{\"a\":1}\n{\"a\":\"\xff\"}\n");
    let e = run_to_completion(&ReadJsonLines::<serde_json::Value>::new(), &file)
        .unwrap_err()
        .to_string();
    assert!(e.contains("byte 8 of") && e.contains("bad.jsonl"), "{e}");
}
