//! Files that shrink, disappear or change while they are read: a clear error or the
//! documented policy, never silent loss.

mod read_support;

use std::fs::OpenOptions;
use std::io::Write;

use read_support::{TempDir, listed, one_call};
use sdf_connectors::read::OnChange;
use sdf_connectors::{Error, ReadText};
use sdf_core::SplittableDoFn;
use sdf_core::testing::run_to_completion;

fn lines(n: usize) -> String {
    (0..n).map(|i| format!("line {i}\n")).collect()
}

#[test]
fn a_file_that_shrank_since_listing_fails_naming_file_and_offset() {
    let dir = TempDir::new("change-shrunk");
    let file = dir.file("s.txt", lines(100));
    std::fs::write(&file.path, lines(10)).unwrap();
    for policy in [OnChange::Fail, OnChange::ReadListed] {
        let err = run_to_completion(&ReadText::new().on_change(policy), &file).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("s.txt") && message.contains("changed") && message.contains("listed"),
            "{message}"
        );
    }
}

#[test]
fn a_file_that_shrinks_between_calls_fails_the_resumed_call() {
    let dir = TempDir::new("change-between");
    let file = dir.file("s.txt", lines(100));
    let read = ReadText::new()
        .parked_readers(0)
        .on_change(OnChange::ReadListed);
    let r = read.initial_restriction(&file).unwrap();
    let (first, residual) = one_call(&read, &file, r, Some(30)).unwrap();
    assert_eq!(first.len(), 30);
    std::fs::write(&file.path, lines(40)).unwrap();
    let err = one_call(&read, &file, residual.unwrap(), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("s.txt") && err.contains("it is 310 bytes, listed with 790"),
        "{err}"
    );
}

#[test]
fn a_file_cut_while_a_call_reads_it_fails_where_it_ends() {
    let dir = TempDir::new("change-during");
    let file = dir.file("cut.txt", lines(2_000));
    // A parked reader holds the open file; the file is cut under it.
    let read = ReadText::new()
        .buffer_size(16)
        .on_change(OnChange::ReadListed);
    let r = read.initial_restriction(&file).unwrap();
    let (_, residual) = one_call(&read, &file, r, Some(5)).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&file.path)
        .unwrap()
        .set_len(100)
        .unwrap();
    let err = one_call(&read, &file, residual.unwrap(), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cut.txt") && err.contains("listed with"),
        "{err}"
    );
}

#[test]
fn a_file_gone_before_a_call_is_an_error_naming_it() {
    let dir = TempDir::new("change-gone");
    let file = dir.file("gone.txt", lines(50));
    let read = ReadText::new().parked_readers(0);
    let r = read.initial_restriction(&file).unwrap();
    let (_, residual) = one_call(&read, &file, r, Some(10)).unwrap();
    std::fs::remove_file(&file.path).unwrap();
    let err = one_call(&read, &file, residual.unwrap(), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("opening") && err.contains("gone.txt"), "{err}");
}

#[test]
fn a_parked_reader_finishes_a_file_deleted_under_it() {
    let dir = TempDir::new("change-parked");
    let text = lines(50);
    let file = dir.file("kept.txt", &text);
    let read = ReadText::new();
    let r = read.initial_restriction(&file).unwrap();
    let (first, residual) = one_call(&read, &file, r, Some(10)).unwrap();
    std::fs::remove_file(&file.path).unwrap();
    // The resumed call continues the parked open file: the bytes are still there.
    let (rest, _) = one_call(&read, &file, residual.unwrap(), None).unwrap();
    assert_eq!(first.len() + rest.len(), 50);
    assert_eq!(rest[0], "line 10");
}

#[test]
fn appended_or_rewritten_files_fail_by_default_and_read_as_listed_on_request() {
    let dir = TempDir::new("change-append");
    let file = dir.file("log.txt", "one\ntwo\nthree-partial");
    let mut f = OpenOptions::new().append(true).open(&file.path).unwrap();
    f.write_all(b"-now-complete\nfour\n").unwrap();
    drop(f);
    let err = run_to_completion(&ReadText::new(), &file).unwrap_err();
    assert!(matches!(err, sdf_core::Error::User { .. }));
    assert!(err.to_string().contains("grew"), "{err}");
    // As listed: the first `size` bytes, but never the record the listing cut in two (it was
    // being written): the call fails, permanently, naming where the cut record starts.
    let read = ReadText::new().on_change(OnChange::ReadListed);
    let err = run_to_completion(&read, &file).unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("log.txt") && text.contains("byte 8") && text.contains("cut"),
        "{text}"
    );
    // Listed up to a newline, then appended to: the listed records are whole.
    let whole = dir.file("whole.txt", "one\ntwo\n");
    std::fs::write(&whole.path, "one\ntwo\nthree\n").unwrap();
    assert_eq!(run_to_completion(&read, &whole).unwrap(), ["one", "two"]);

    // Same size, new content: only the modification time tells.
    let file = dir.file("same.txt", "aaaa\n");
    let mut meta = listed(&file.path);
    meta.modified = sdf_core::Timestamp::from_millis(1);
    let err = run_to_completion(&ReadText::new(), &meta)
        .unwrap_err()
        .to_string();
    assert!(err.contains("modification time"), "{err}");
}

#[test]
fn errors_are_connector_errors_with_context() {
    let e = Error::FileChanged {
        at: sdf_connectors::Location {
            path: "/d/a.txt".into(),
            offset: 9,
            decoded: false,
        },
        what: "it is 3 bytes, listed with 10".into(),
        hint: "",
    };
    assert_eq!(
        e.to_string(),
        "byte 9 of /d/a.txt: the file changed while it was being read: it is 3 bytes, listed \
         with 10; re-list it and read it again"
    );
}
