//! [`ReadLineDigests`]: the lines of [`ReadText`](super::ReadText), each reduced to a `u64`
//! while it is still a slice of the read buffer.
//!
//! Counting or checksumming lines does not need the lines: a `String` per line costs an
//! allocation and a copy, several times what framing the line costs. This format frames
//! exactly the records [`Text`](super::Text) frames (the same [`Framing::Lines`], the same
//! ranges, claims, checkpoints and record-length limit; the reader does all of that) and
//! emits one `u64` per record instead: its length, or its XXH64. Every record still goes
//! through the pipeline as an element, so a sink that counts the values, or sums the hashes,
//! proves that each record was read and delivered once.
//!
//! The sum of the XXH64 (seed 42) of every record, mod 2⁶⁴, is the checksum of the project's
//! benchmark data (`benches/e2e/gen_data.py`): it does not depend on the order of the records,
//! and loses or duplicates nothing without changing.

use super::format::{Format, RecordContext};
use super::frame::Framing;
use super::reader::ReadFile;
use crate::error::Result;
use crate::file::FileMetadata;

/// Reads lines as `u64` digests: see [`LineDigests`].
///
/// ```
/// use sdf_connectors::read::{LineDigest, ReadLineDigests};
/// let checksums = ReadLineDigests::new(LineDigest::Xxh64 { seed: 42 }).require_utf8(true);
/// # let _ = checksums;
/// ```
pub type ReadLineDigests = ReadFile<LineDigests>;

/// What a line becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineDigest {
    /// Its length in bytes, without the line end.
    Length,
    /// Its XXH64 with this seed, over its bytes without the line end.
    Xxh64 {
        /// The seed (the benchmark data uses 42, as Spark SQL's `xxhash64`).
        seed: u64,
    },
}

/// The format of [`ReadLineDigests`]: lines framed as [`Text`](super::Text) frames them (`\n`
/// or `\r\n`, which are not part of the record; the last line without one; a byte-order mark
/// at the start of a file dropped), each emitted as its [`LineDigest`].
#[derive(Debug, Clone)]
pub struct LineDigests {
    framing: Framing,
    digest: LineDigest,
    require_utf8: bool,
}

impl ReadFile<LineDigests> {
    /// A reader of lines as `digest`s. Lines are bytes: any encoding is accepted unless
    /// [`require_utf8`](Self::require_utf8).
    pub fn new(digest: LineDigest) -> Self {
        ReadFile::with_format(LineDigests {
            framing: Framing::Lines,
            digest,
            require_utf8: false,
        })
    }

    /// Fails on a line that is not UTF-8, as [`ReadText`](super::ReadText) does by default, so
    /// that the lines counted are the lines it would read (the check is SIMD, a small cost).
    pub fn require_utf8(mut self, require: bool) -> Self {
        self.format_mut().require_utf8 = require;
        self
    }
}

impl LineDigests {
    /// What each line becomes.
    pub fn digest(&self) -> LineDigest {
        self.digest
    }

    #[inline]
    fn digest_of(&self, bytes: &[u8]) -> u64 {
        match self.digest {
            LineDigest::Length => bytes.len() as u64,
            LineDigest::Xxh64 { seed } => xxhash_rust::xxh64::xxh64(bytes, seed),
        }
    }
}

impl Format for LineDigests {
    type Output = u64;
    type State = ();

    fn framing(&self) -> &Framing {
        &self.framing
    }

    fn start(&self, _: &FileMetadata, _: Vec<Vec<u8>>) -> Result<()> {
        Ok(())
    }

    fn utf8_records(&self) -> bool {
        self.require_utf8
    }

    /// A line the reader found to be UTF-8 (when it is required): no check of its own.
    #[inline]
    fn decode_str(&self, _: &mut (), _: RecordContext<'_>, text: &str) -> Result<Option<u64>> {
        Ok(Some(self.digest_of(text.as_bytes())))
    }

    #[inline]
    fn decode(&self, _: &mut (), cx: RecordContext<'_>, bytes: &[u8]) -> Result<Option<u64>> {
        if self.require_utf8 && simdutf8::basic::from_utf8(bytes).is_err() {
            let why = std::str::from_utf8(bytes)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            return Err(cx.bad_record(
                "text",
                format!(
                    "not UTF-8 ({why}); fix the file's encoding, or read it without the UTF-8 \
                     check (ReadLineDigests::require_utf8(false))"
                ),
            ));
        }
        Ok(Some(self.digest_of(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::ReadText;
    use sdf_core::Timestamp;
    use sdf_core::testing::{check_sdf_exhaustive, fresh, run_to_completion};

    fn file(name: &str, content: &[u8]) -> FileMetadata {
        let dir = std::env::temp_dir().join(format!("sdf-digest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        FileMetadata {
            path,
            size: content.len() as u64,
            modified: Timestamp::from_system_time(
                std::fs::metadata(dir.join(name))
                    .unwrap()
                    .modified()
                    .unwrap(),
            ),
        }
    }

    const MIXED: &[u8] =
        "\u{feff}first\r\nsecond\n\nnaïve café\r\n\ra lone cr\rinside\nlast".as_bytes();

    #[test]
    fn digests_are_those_of_the_lines_text_reads() {
        let f = file("mixed.txt", MIXED);
        let lines = run_to_completion(&ReadText::new(), &f).unwrap();
        assert_eq!(lines.len(), 6, "{lines:?}");
        let hashes =
            run_to_completion(&ReadLineDigests::new(LineDigest::Xxh64 { seed: 42 }), &f).unwrap();
        let expected: Vec<u64> = lines
            .iter()
            .map(|l| xxhash_rust::xxh64::xxh64(l.as_bytes(), 42))
            .collect();
        assert_eq!(hashes, expected);
        let lengths = run_to_completion(&ReadLineDigests::new(LineDigest::Length), &f).unwrap();
        let expected: Vec<u64> = lines.iter().map(|l| l.len() as u64).collect();
        assert_eq!(lengths, expected);
    }

    #[test]
    fn the_reference_checksum_of_the_benchmark_data() {
        // gen_data.py: XXH64("abc", 42) and of the empty record, as python-xxhash computes them.
        let f = file("ref.txt", b"abc\r\n\n");
        let hashes =
            run_to_completion(&ReadLineDigests::new(LineDigest::Xxh64 { seed: 42 }), &f).unwrap();
        assert_eq!(hashes, [0x13c1_d910_7027_70e6, 0x98b1_582b_0977_e704]);
    }

    #[test]
    fn splits_and_checkpoints_keep_each_line_once() {
        let mut content = Vec::new();
        // 150 lines: each case runs twice (residuals warm, then on fresh instances).
        for i in 0..150 {
            content.extend_from_slice(format!("line {i} {}\r\n", "x".repeat(i % 13)).as_bytes());
        }
        let f = file("many.txt", &content);
        let read = fresh(|| ReadLineDigests::new(LineDigest::Xxh64 { seed: 7 }).buffer_size(64));
        let report = check_sdf_exhaustive(&read, &f).unwrap();
        assert_eq!(report.records, 150);
        assert!(report.fresh_instances > 0, "{report}");
    }

    #[test]
    fn invalid_utf8_fails_only_when_required() {
        let f = file("latin1.txt", b"ok\ncaf\xe9\n");
        let lengths = run_to_completion(&ReadLineDigests::new(LineDigest::Length), &f).unwrap();
        assert_eq!(lengths, [2, 4]);
        let e = run_to_completion(
            &ReadLineDigests::new(LineDigest::Length).require_utf8(true),
            &f,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("latin1.txt") && e.contains("not UTF-8"), "{e}");
    }
}
