//! [`ReadJsonValues`]: JSON lines without a type, as [`sonic_rs::Value`]s (feature `sonic`).

use super::format::{Format, RecordContext};
use super::frame::Framing;
use super::jsonl::is_blank;
use super::reader::ReadFile;
use crate::error::Result;
use crate::file::FileMetadata;

/// Reads JSON lines as [`sonic_rs::Value`]s: see [`JsonValues`].
///
/// For JSON you have no type for. On the benchmark data (`benches/e2e`, records of ~300 bytes
/// with six fields) it parses 2.4× as fast as [`ReadJsonLines`](super::ReadJsonLines) into
/// `serde_json::Value`, because sonic-rs scans strings with SIMD and builds its document with
/// far fewer allocations. With a type, use `ReadJsonLines<T>`: serde_json and sonic-rs parse
/// typed records about as fast.
///
/// ```
/// use sdf_connectors::read::ReadJsonValues;
/// use sdf_connectors::sonic_rs::JsonValueTrait;
/// # use sdf_connectors::FileMetadata;
/// # use sdf_core::{Timestamp, testing::run_to_completion};
/// # let dir = std::env::temp_dir().join(format!("sdf-json-values-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let path = dir.join("a.jsonl");
/// # std::fs::write(&path, "{\"id\": 1, \"tags\": [\"a\"]}\n\n{\"id\": 2}\n")?;
/// # let listed = std::fs::metadata(&path)?;
/// # let file = FileMetadata {
/// #     path,
/// #     size: listed.len(),
/// #     modified: Timestamp::from_system_time(listed.modified()?),
/// # };
/// let values = run_to_completion(&ReadJsonValues::new(), &file)?;
/// assert_eq!(values[1].get("id").as_u64(), Some(2));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type ReadJsonValues = ReadFile<JsonValues>;

/// JSON lines as [`sonic_rs::Value`]s: the rules of [`JsonLines`](super::JsonLines) (each line
/// holds one JSON value; lines that are empty or only whitespace are skipped; a line that is
/// not JSON fails with [`Error::BadRecord`](crate::Error::BadRecord), naming the file and the
/// line's offset), parsed by sonic-rs. Two differences from `serde_json::Value`, both
/// sonic-rs's: an object keeps every key of a line that repeats one (serde_json keeps the
/// last), and it keeps keys in the order of the line.
///
/// A line may nest arrays and objects [`DEFAULT_MAX_DEPTH`] deep (serde_json's limit, so
/// `ReadJsonLines` and this reader agree), or as deep as
/// [`max_depth`](ReadFile::max_depth) says; a deeper line is
/// [`Error::BadRecord`](crate::Error::BadRecord) at its offset, never a stack overflow.
#[derive(Debug, Clone)]
pub struct JsonValues {
    max_depth: usize,
}

impl Default for JsonValues {
    fn default() -> Self {
        JsonValues {
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// How deep a JSON line may nest arrays and objects by default.
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// The deepest nesting [`max_depth`](ReadFile::max_depth) allows: deeper, the parser's
/// recursion could overflow a worker thread's stack.
pub const MAX_DEPTH_LIMIT: usize = 1000;

impl ReadFile<JsonValues> {
    /// A reader of JSON lines as `sonic_rs::Value`s.
    pub fn new() -> Self {
        ReadFile::with_format(JsonValues::default())
    }

    /// How deep a line may nest arrays and objects (default [`DEFAULT_MAX_DEPTH`], at most
    /// [`MAX_DEPTH_LIMIT`]); a deeper line is an error naming its offset.
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.format_mut().max_depth = depth.clamp(1, MAX_DEPTH_LIMIT);
        self
    }
}

/// Lines nesting deeper than this are parsed on a stack grown for them: sonic-rs recurses once
/// per level (about 20 KiB a level in a debug build, where a thread's 2 MiB end near 100).
const SHALLOW: usize = 16;

/// Stack to keep free per level of nesting while sonic-rs parses a deep line.
const STACK_PER_LEVEL: usize = 32 << 10;

/// How deep `bytes` nests arrays and objects, when that could exceed [`SHALLOW`] (brackets in
/// strings do not count), and the offset where it first went deeper than `max`. A line with
/// few opening brackets cannot nest deep, which one SIMD count decides for almost every line.
fn nesting(bytes: &[u8], max: usize) -> Option<(usize, Option<usize>)> {
    if bytes.len() <= SHALLOW || memchr::memchr2_iter(b'[', b'{', bytes).count() <= SHALLOW {
        return None;
    }
    let (mut depth, mut deepest, mut too_deep) = (0usize, 0usize, None);
    let (mut in_string, mut escaped) = (false, false);
    for (at, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                if depth > max && too_deep.is_none() {
                    too_deep = Some(at);
                    break;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Some((deepest, too_deep))
}

impl Default for ReadFile<JsonValues> {
    fn default() -> Self {
        Self::new()
    }
}

impl Format for JsonValues {
    type Output = sonic_rs::Value;
    type State = ();

    fn framing(&self) -> &Framing {
        &Framing::Lines
    }

    fn start(&self, _: &FileMetadata, _: Vec<Vec<u8>>) -> Result<()> {
        Ok(())
    }

    /// JSON is UTF-8: lines the reader checked are parsed as `str`, without a second check.
    fn utf8_records(&self) -> bool {
        true
    }

    #[inline]
    fn decode_str(
        &self,
        _: &mut (),
        cx: RecordContext<'_>,
        text: &str,
    ) -> Result<Option<sonic_rs::Value>> {
        if is_blank(text.as_bytes()) {
            return Ok(None);
        }
        let depth = self.check_depth(&cx, text.as_bytes())?;
        deep_enough(depth, || sonic_rs::from_str(text))
            .map(Some)
            .map_err(|e| bad_json(cx, e))
    }

    #[inline]
    fn decode(
        &self,
        _: &mut (),
        cx: RecordContext<'_>,
        bytes: &[u8],
    ) -> Result<Option<sonic_rs::Value>> {
        if is_blank(bytes) {
            return Ok(None);
        }
        let depth = self.check_depth(&cx, bytes)?;
        deep_enough(depth, || sonic_rs::from_slice(bytes))
            .map(Some)
            .map_err(|e| bad_json(cx, e))
    }
}

/// Runs `parse` with stack for `depth` levels of sonic-rs's recursion: on a grown stack when
/// what is left of the thread's may not do.
#[inline]
fn deep_enough<T>(depth: usize, parse: impl FnOnce() -> T) -> T {
    if depth <= SHALLOW {
        return parse();
    }
    let needed = depth * STACK_PER_LEVEL;
    stacker::maybe_grow(needed, needed + (1 << 20), parse)
}

impl JsonValues {
    /// The line's nesting depth when it may be deep ([`SHALLOW`] or less otherwise), or an
    /// error if it is deeper than the limit.
    #[inline]
    fn check_depth(&self, cx: &RecordContext<'_>, bytes: &[u8]) -> Result<usize> {
        match nesting(bytes, self.max_depth) {
            None => Ok(0),
            Some((depth, None)) => Ok(depth),
            Some((_, Some(at))) => Err(cx.bad_record(
                "JSON lines",
                format!(
                    "the line nests arrays and objects more than {} deep (at byte {at} of the \
                     line); raise the limit with max_depth, up to {MAX_DEPTH_LIMIT}",
                    self.max_depth
                ),
            )),
        }
    }
}

fn bad_json(cx: RecordContext<'_>, e: sonic_rs::Error) -> crate::Error {
    cx.bad_record(
        "JSON lines",
        format!(
            "{}; check that the line is one JSON value",
            super::jsonl::within_the_line(&e.to_string())
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sdf_core::Timestamp;
    use sdf_core::testing::{check_sdf_exhaustive, fresh, run_to_completion};
    use sonic_rs::JsonValueTrait;

    fn file(name: &str, content: &[u8]) -> FileMetadata {
        let dir = std::env::temp_dir().join(format!("sdf-json-values-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let listed = std::fs::metadata(&path).unwrap();
        FileMetadata {
            path,
            size: listed.len(),
            modified: Timestamp::from_system_time(listed.modified().unwrap()),
        }
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_an_error_never_a_crash() {
        let deep = format!("{}{}\n", "[".repeat(20_000), "]".repeat(20_000));
        let ok = format!("{}1{}\n", "[".repeat(128), "]".repeat(128));
        let strings = format!("[\"{}\"]\n", "[{".repeat(500));
        let f = file("deep.jsonl", format!("{ok}{strings}{deep}").as_bytes());
        let err = run_to_completion(&ReadFile::<JsonValues>::new(), &f).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("more than 128 deep"), "{text}");
        // The offset of the deep line, after the two that are fine.
        let offset = (ok.len() + strings.len()).to_string();
        assert!(text.contains(&offset), "{text}");
        let f = file("ok.jsonl", format!("{ok}{strings}").as_bytes());
        assert_eq!(
            run_to_completion(&ReadFile::<JsonValues>::new(), &f)
                .unwrap()
                .len(),
            2
        );
        let f = file(
            "129.jsonl",
            format!("{}{}\n", "[".repeat(129), "]".repeat(129)).as_bytes(),
        );
        assert!(run_to_completion(&ReadFile::<JsonValues>::new(), &f).is_err());
        assert_eq!(
            run_to_completion(&ReadFile::<JsonValues>::new().max_depth(129), &f)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn values_are_those_serde_json_reads() {
        let jsonl = |n| {
            let mut content = String::new();
            for i in 0..n {
                content.push_str(&format!(
                    "{{\"id\":{i},\"name\":\"n\\u00e9{i}\",\"score\":{}.5,\"tags\":[\"a\",\"✓\"],\"nested\":{{\"x\":null,\"y\":[1,2,{{}}]}}}}\r\n",
                    i * 3
                ));
                if i % 17 == 0 {
                    content.push_str("   \n");
                }
            }
            content
        };
        let f = file("many.jsonl", jsonl(60).as_bytes());
        let ours = run_to_completion(&ReadJsonValues::new().buffer_size(64), &f).unwrap();
        let reference =
            run_to_completion(&super::super::ReadJsonLines::<serde_json::Value>::new(), &f)
                .unwrap();
        assert_eq!(ours.len(), 60);
        for (a, b) in ours.iter().zip(&reference) {
            let a: serde_json::Value =
                serde_json::from_str(&sonic_rs::to_string(a).unwrap()).unwrap();
            assert_eq!(&a, b);
        }
        assert_eq!(ours[7].get("id").as_u64(), Some(7));
        // The kit compares multisets of records, which needs `Hash`: read them as JSON text.
        // 30 lines: each case runs twice (residuals warm, then on fresh instances).
        let f = file("some.jsonl", jsonl(30).as_bytes());
        let as_text =
            fresh(|| ReadFile::with_format(AsText(JsonValues::default())).buffer_size(64));
        let report = check_sdf_exhaustive(&as_text, &f).unwrap();
        assert_eq!(report.records, 30);
        assert!(report.fresh_instances > 0, "{report}");
    }

    /// `JsonValues`, each value written back as JSON text.
    struct AsText(JsonValues);

    impl Format for AsText {
        type Output = String;
        type State = ();

        fn framing(&self) -> &Framing {
            self.0.framing()
        }

        fn start(&self, file: &FileMetadata, headers: Vec<Vec<u8>>) -> Result<()> {
            self.0.start(file, headers)
        }

        fn utf8_records(&self) -> bool {
            self.0.utf8_records()
        }

        fn decode_str(
            &self,
            s: &mut (),
            cx: RecordContext<'_>,
            text: &str,
        ) -> Result<Option<String>> {
            Ok(self
                .0
                .decode_str(s, cx, text)?
                .map(|v| sonic_rs::to_string(&v).unwrap()))
        }

        fn decode(
            &self,
            s: &mut (),
            cx: RecordContext<'_>,
            bytes: &[u8],
        ) -> Result<Option<String>> {
            Ok(self
                .0
                .decode(s, cx, bytes)?
                .map(|v| sonic_rs::to_string(&v).unwrap()))
        }
    }

    #[test]
    fn a_bad_line_names_its_offset_and_bad_bytes_too() {
        let f = file("bad.jsonl", b"{\"a\":1}\n{\"a\":\n");
        let e = run_to_completion(&ReadJsonValues::new(), &f)
            .unwrap_err()
            .to_string();
        assert!(e.contains("byte 8 of") && e.contains("bad.jsonl"), "{e}");
        let f = file("latin1.jsonl", b"{\"a\":1}\n{\"a\":\"caf\xe9\"}\n");
        let e = run_to_completion(&ReadJsonValues::new(), &f)
            .unwrap_err()
            .to_string();
        assert!(e.contains("byte 8 of") && e.contains("latin1.jsonl"), "{e}");
    }
}
