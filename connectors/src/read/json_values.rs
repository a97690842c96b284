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
#[derive(Debug, Clone, Default)]
pub struct JsonValues {
    _private: (),
}

impl ReadFile<JsonValues> {
    /// A reader of JSON lines as `sonic_rs::Value`s.
    pub fn new() -> Self {
        ReadFile::with_format(JsonValues::default())
    }
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
        sonic_rs::from_str(text)
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
        sonic_rs::from_slice(bytes)
            .map(Some)
            .map_err(|e| bad_json(cx, e))
    }
}

fn bad_json(cx: RecordContext<'_>, e: sonic_rs::Error) -> crate::Error {
    cx.bad_record(
        "JSON lines",
        format!("{e}; check that the line is one JSON value"),
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
