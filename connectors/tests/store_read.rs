//! Every reader on objects of an object store (an `InMemory` store under a `memory:///`
//! prefix): the conformance kit, the same records as from the same local files, objects that
//! change or vanish, and a pipeline through the runtime.
#![cfg(feature = "object-store")]

mod read_support;
mod store_support;

use read_support::{Ends, TempDir, line_strings};
use sdf_connectors::read::OnChange;
use sdf_connectors::{Error, FileMetadata, MatchFiles, ReadCsv, ReadJsonLines, ReadText};
use sdf_core::SplittableDoFn;
use sdf_core::testing::{
    ExhaustiveOptions, check_sdf_exhaustive_expecting, fresh, run_to_completion,
};
use sdf_runtime::{Executor, Pipeline};
use store_support::Bucket;

/// Text with the cases that break readers: CRLF, a lone CR, empty lines, multi-byte UTF-8, a
/// long line, a last line without a newline.
fn adversarial_text() -> String {
    let mut text = String::from("first\r\nsecond\n\nlone\rcr\nünïcödé ☃ ☃\n");
    text.push_str(&"long ".repeat(30));
    text.push_str("\nlast without newline");
    text
}

/// Runs `make()`'s reader on `local` and on `remote`: the same records, `want` (computed
/// without the reader); then the kit on the remote one against `want`, with residuals and
/// pieces also on fresh instances from `make` (a clone shares its parked readers), each of
/// which opens the object at its range's start, with a read-ahead of its own.
fn same_records_and_kit<R>(
    make: impl Fn() -> R + Sync,
    local: &FileMetadata,
    remote: &FileMetadata,
    want: Vec<R::Output>,
) -> usize
where
    R: SplittableDoFn<Input = FileMetadata>,
    R::Output: Eq + std::hash::Hash + std::fmt::Debug + Clone,
{
    let read = make();
    assert_eq!(
        run_to_completion(&read, local).unwrap(),
        want,
        "{}",
        local.path.display()
    );
    let got = run_to_completion(&read, remote).unwrap();
    assert_eq!(got, want, "{}", remote.path.display());
    let report = check_sdf_exhaustive_expecting(
        &fresh(make),
        remote,
        want.clone(),
        &ExhaustiveOptions::default(),
    )
    .unwrap_or_else(|v| panic!("{}: {v}", remote.path.display()));
    println!("{}: {report}", remote.path.display());
    assert_eq!(report.records, want.len());
    if !want.is_empty() {
        assert!(report.fresh_instances > 0, "{report}");
    }
    want.len()
}

/// The lines of `text` by the line contract, after `headers` header lines.
fn lines(text: &str, headers: usize) -> Vec<String> {
    line_strings(text.as_bytes(), Ends::Lines, headers)
}

/// CSV rows as the test wrote them.
fn row(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|f| f.to_string()).collect()
}

#[test]
fn text_reads_as_from_a_local_file_and_passes_the_kit() {
    let bucket = Bucket::new("read-text");
    let dir = TempDir::new("store-read-text");
    let text = adversarial_text();
    let local = dir.file("a.txt", &text);
    let remote = bucket.object("in/a.txt", text.clone());
    let read = || ReadText::new().buffer_size(8).min_split_size(1);
    assert_eq!(
        same_records_and_kit(read, &local, &remote, lines(&text, 0)),
        7
    );
    let headers = || {
        ReadText::new()
            .skip_header_lines(2)
            .buffer_size(8)
            .min_split_size(1)
    };
    assert_eq!(
        same_records_and_kit(headers, &local, &remote, lines(&text, 2)),
        5
    );
    for (name, bytes) in [("empty", ""), ("one-byte", "x")] {
        let local = dir.file(name, bytes);
        let remote = bucket.object(name, bytes);
        same_records_and_kit(read, &local, &remote, lines(bytes, 0));
    }
}

#[test]
fn records_carry_the_object_url_and_offset() {
    let bucket = Bucket::new("read-meta");
    let remote = bucket.object("in/a.txt", "ab\ncd\n");
    let records = run_to_completion(&ReadText::new().with_metadata(), &remote).unwrap();
    assert_eq!(records[1].offset, 3);
    assert_eq!(*records[1].path, *remote.path);
}

#[test]
fn csv_and_json_lines_read_as_from_local_files() {
    let bucket = Bucket::new("read-csv");
    let dir = TempDir::new("store-read-csv");
    let csv = "name,id\r\n\"a, quoted\",1\r\nb,2\r\n\"c \"\"q\"\"\",3\r\n";
    let local = dir.file("a.csv", csv);
    let remote = bucket.object("a.csv", csv);
    let read = || {
        ReadCsv::<Vec<String>>::new()
            .buffer_size(6)
            .min_split_size(1)
    };
    let want = vec![
        row(&["a, quoted", "1"]),
        row(&["b", "2"]),
        row(&["c \"q\"", "3"]),
    ];
    assert_eq!(same_records_and_kit(read, &local, &remote, want), 3);
    let multiline = "id,text\n1,\"two\nlines\"\n2,plain\n";
    let local = dir.file("m.csv", multiline);
    let remote = bucket.object("m.csv", multiline);
    let read = || ReadCsv::<Vec<String>>::new().multiline(true).buffer_size(4);
    let want = vec![row(&["1", "two\nlines"]), row(&["2", "plain"])];
    assert_eq!(same_records_and_kit(read, &local, &remote, want), 2);
    let json = "{\"a\":1}\n{\"a\":[2,3]}\r\n\n{\"b\":\"ü\"}";
    let local = dir.file("a.jsonl", json);
    let remote = bucket.object("a.jsonl", json);
    let read = || {
        ReadJsonLines::<serde_json::Value>::new()
            .buffer_size(5)
            .min_split_size(1)
    };
    let want = vec![
        serde_json::json!({"a": 1}),
        serde_json::json!({"a": [2, 3]}),
        serde_json::json!({"b": "ü"}),
    ];
    assert_eq!(same_records_and_kit(read, &local, &remote, want), 3);
}

#[cfg(feature = "gzip")]
#[test]
fn a_gzip_object_reads_unsplit_as_a_local_one() {
    use std::io::Write;
    let bucket = Bucket::new("read-gzip");
    let dir = TempDir::new("store-read-gzip");
    // 10 copies: each case runs twice (residuals warm, then on fresh instances, which decode
    // the object from its start), as long as 20 copies took once.
    let text = adversarial_text().repeat(10);
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    let gz = e.finish().unwrap();
    let local = dir.file("a.txt.gz", &gz);
    let remote = bucket.object("a.txt.gz", gz.clone());
    // A residual on a fresh instance has no parked decoder: it decodes the object from its
    // start.
    let read = || ReadText::new().buffer_size(64);
    assert_eq!(
        same_records_and_kit(read, &local, &remote, lines(&text, 0)),
        10 * 7 - 9
    );
    // Detected by its magic bytes (a ranged GET of its head) without an extension.
    let local = dir.file("noext", &gz);
    let remote = bucket.object("noext", gz);
    same_records_and_kit(read, &local, &remote, lines(&text, 0));
}

#[test]
fn objects_larger_than_the_read_ahead_read_whole_and_in_pieces() {
    let bucket = Bucket::new("read-large");
    // 10 MiB: three ranged GETs of 4 MiB, lines across their boundaries.
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 10 << 20 {
        text.push_str(&format!("line {i} {}\n", "x".repeat(i % 97)));
        i += 1;
    }
    let remote = bucket.object("large.txt", text.clone());
    let read = ReadText::new();
    let lines = run_to_completion(&read, &remote).unwrap();
    assert_eq!(lines.len(), i);
    assert!(lines.iter().zip(text.lines()).all(|(a, b)| a == b));
    // Pieces that start anywhere seek (a new read-ahead from there): each line once.
    let whole = read.initial_restriction(&remote).unwrap();
    let pieces = read.split_restriction(&remote, whole, 3e6).unwrap();
    assert!(pieces.len() >= 3);
    let mut total = 0;
    for piece in pieces {
        total += read_support::one_call(&read, &remote, piece, None)
            .unwrap()
            .0
            .len();
    }
    assert_eq!(total, i);
}

#[test]
fn an_object_replaced_after_listing_is_a_change_naming_its_url() {
    let bucket = Bucket::new("read-changed");
    let listed = bucket.object("in/a.txt", "one\ntwo\n");
    std::thread::sleep(std::time::Duration::from_millis(5));
    bucket.put("in/a.txt", "ONE\nTWO\n");
    let e = run_to_completion(&ReadText::new(), &listed).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("changed while it was being read"), "{text}");
    assert!(text.contains(&bucket.url("in/a.txt")), "{text}");
    // Shorter: a change whatever the policy.
    bucket.put("in/a.txt", "one\n");
    let read = ReadText::new().on_change(OnChange::ReadListed);
    let text = run_to_completion(&read, &listed).unwrap_err().to_string();
    assert!(text.contains("it is 4 bytes, listed with 8"), "{text}");
    // Longer, with ReadListed: the listed bytes are read.
    bucket.put("in/a.txt", "one\ntwo\nthree\n");
    assert_eq!(run_to_completion(&read, &listed).unwrap(), ["one", "two"]);
}

#[test]
fn a_deleted_object_is_an_error_naming_its_url() {
    let bucket = Bucket::new("read-deleted");
    let listed = bucket.object("in/a.txt", "one\ntwo\n");
    bucket.delete("in/a.txt");
    let e = run_to_completion(&ReadText::new(), &listed).unwrap_err();
    let text = e.to_string();
    assert!(text.contains(&bucket.url("in/a.txt")), "{text}");
    assert!(text.contains("not found"), "{text}");
}

#[cfg(feature = "gzip")]
#[test]
fn a_replaced_gzip_object_is_a_change_not_a_decoding_error() {
    use std::io::Write;
    let bucket = Bucket::new("read-gzip-changed");
    let gz = |text: &str| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let listed = bucket.object("a.txt.gz", gz("one\ntwo\n"));
    std::thread::sleep(std::time::Duration::from_millis(5));
    bucket.put("a.txt.gz", gz("uno\ndos\n"));
    let e = run_to_completion(&ReadText::new(), &listed).unwrap_err();
    assert!(
        e.to_string().contains("changed while it was being read"),
        "{e}"
    );
}

#[test]
fn a_pipeline_reads_memory_objects_end_to_end() {
    let bucket = Bucket::new("pipeline");
    let mut want = Vec::new();
    for f in 0..5 {
        let lines: Vec<String> = (0..200).map(|l| format!("file {f} line {l}")).collect();
        bucket.put(&format!("in/{f}.txt"), lines.join("\n"));
        want.extend(lines);
    }
    bucket.put("in/skip.csv", "not matched\n");
    let mut p = Pipeline::new();
    let files = MatchFiles::new([bucket.url("in/*.txt")]).apply(&mut p, "match");
    let lines = p.apply("read", files, ReadText::new().min_split_size(1_000));
    let out = p.collect("out", lines);
    Executor::builder()
        .workers(2)
        .build()
        .run_blocking(p)
        .unwrap();
    let mut got = out.values();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn tailing_and_writing_refuse_urls() {
    use sdf_connectors::{TailFile, Text, WriteFiles};
    let bucket = Bucket::new("local-only");
    let listed = bucket.object("a.log", "x\n");
    let e = TailFile::new().initial_restriction(&listed).unwrap_err();
    assert!(e.to_string().contains("TailFile cannot use"), "{e}");
    assert!(e.to_string().contains(&bucket.url("a.log")), "{e}");
    let Err(e) = WriteFiles::builder(bucket.url("out"), Text::new()).build::<String>() else {
        panic!("WriteFiles accepted a URL");
    };
    assert!(
        matches!(
            e,
            Error::LocalOnly {
                connector: "WriteFiles",
                ..
            }
        ),
        "{e}"
    );
}

/// A store whose `HEAD` answers stay as they were when [`freeze`](StaleHead::freeze) was
/// called (an eventually consistent store), so that only the ranged `GET`s see a replacement.
mod stale {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use async_trait::async_trait;
    use futures::stream::BoxStream;
    use sdf_connectors::storage::object_store::memory::InMemory;
    use sdf_connectors::storage::object_store::path::Path;
    use sdf_connectors::storage::object_store::{
        CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
        ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
    };

    #[derive(Debug, Default)]
    pub struct StaleHead {
        pub inner: InMemory,
        frozen: Mutex<HashMap<Path, ObjectMeta>>,
    }

    impl StaleHead {
        pub async fn freeze(&self, key: &str) {
            let key = Path::from(key);
            let meta = self.inner.head(&key).await.unwrap();
            self.frozen.lock().unwrap().insert(key, meta);
        }
    }

    impl std::fmt::Display for StaleHead {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "StaleHead({})", self.inner)
        }
    }

    #[async_trait]
    impl ObjectStore for StaleHead {
        async fn put_opts(&self, l: &Path, p: PutPayload, o: PutOptions) -> Result<PutResult> {
            self.inner.put_opts(l, p, o).await
        }
        async fn put_multipart_opts(
            &self,
            l: &Path,
            o: PutMultipartOptions,
        ) -> Result<Box<dyn MultipartUpload>> {
            self.inner.put_multipart_opts(l, o).await
        }
        async fn get_opts(&self, l: &Path, o: GetOptions) -> Result<GetResult> {
            let head = o.head;
            let mut result = self.inner.get_opts(l, o).await?;
            if head && let Some(meta) = self.frozen.lock().unwrap().get(l) {
                result.meta = meta.clone();
            }
            Ok(result)
        }
        fn delete_stream(
            &self,
            l: BoxStream<'static, Result<Path>>,
        ) -> BoxStream<'static, Result<Path>> {
            self.inner.delete_stream(l)
        }
        fn list(&self, p: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
            self.inner.list(p)
        }
        async fn list_with_delimiter(&self, p: Option<&Path>) -> Result<ListResult> {
            self.inner.list_with_delimiter(p).await
        }
        async fn copy_opts(&self, f: &Path, t: &Path, o: CopyOptions) -> Result<()> {
            self.inner.copy_opts(f, t, o).await
        }
    }
}

#[test]
fn a_replacement_only_the_ranged_gets_see_is_still_a_change() {
    use sdf_connectors::storage::object_store::{ObjectStoreExt, PutPayload, path::Path};
    use sdf_connectors::storage::{io_runtime, register_store};
    let store = std::sync::Arc::new(stale::StaleHead::default());
    register_store("memory:///stale-head", store.clone()).unwrap();
    let rt = io_runtime().unwrap();
    let put = |key: &str, bytes: Vec<u8>| {
        rt.block_on(store.inner.put(&Path::from(key), PutPayload::from(bytes)))
            .unwrap();
    };
    let mut cases = vec![("a.txt", b"one\ntwo\n".to_vec(), b"uno\ndos\n".to_vec())];
    #[cfg(feature = "gzip")]
    {
        use std::io::Write;
        let gz = |text: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(text).unwrap();
            e.finish().unwrap()
        };
        cases.push(("a.txt.gz", gz(b"one\ntwo\n"), gz(b"uno\ndos\n")));
    }
    for (key, before, after) in cases {
        put(key, before);
        let url = format!("memory:///stale-head/{key}");
        let listed = sdf_connectors::match_pattern(&url, Default::default())
            .unwrap()
            .remove(0);
        rt.block_on(store.freeze(key));
        std::thread::sleep(std::time::Duration::from_millis(5));
        put(key, after);
        let e = run_to_completion(&ReadText::new(), &listed)
            .unwrap_err()
            .to_string();
        assert!(e.contains("changed while it was being read"), "{key}: {e}");
        assert!(e.contains("its modification time is"), "{key}: {e}");
        assert!(e.contains(&url), "{key}: {e}");
        assert!(
            !e.contains("decompressing"),
            "{key}: the object's own error: {e}"
        );
    }
}
