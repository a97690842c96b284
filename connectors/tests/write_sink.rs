//! `WriteFiles` driven through the `Sink` protocol by hand: sharding, names, headers and
//! footers, idempotent commits, recovery, and path safety whatever the records or the commit
//! messages contain.

mod write_support;

use std::fs;

use sdf_connectors::{Csv, Error, Json, StagedFile, Text, WriteCommit, WriteFiles};
use sdf_core::{Timestamp, Timestamped};
use sdf_runtime::Sink;
use write_support::*;

fn batch<T>(values: impl IntoIterator<Item = T>) -> Vec<Timestamped<T>> {
    values
        .into_iter()
        .map(|value| Timestamped {
            value,
            timestamp: Timestamp::MIN,
        })
        .collect()
}

fn connector_error(e: &sdf_core::Error) -> &Error {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<Error>())
        .unwrap_or_else(|| panic!("not a connector error: {e}"))
}

#[tokio::test]
async fn records_are_sharded_named_and_visible_only_after_commit() {
    let dir = TempDir::new("write-shards");
    let mut sink = WriteFiles::builder(&dir.0, Csv::with_header(["key", "n"]))
        .shards(3)
        .prefix("events/part-")
        .build()
        .unwrap();
    sink.write(batch((0..10).map(|i| (format!("k{i}"), i))))
        .await
        .unwrap();
    let commit = sink.prepare(7).await.unwrap();
    let targets: Vec<&str> = commit.files.iter().map(|f| f.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "events/part-000007-000.csv",
            "events/part-000007-001.csv",
            "events/part-000007-002.csv"
        ]
    );
    assert_eq!(commit.files.iter().map(|f| f.records).sum::<u64>(), 10);
    assert!(
        published_files(&dir.0).is_empty(),
        "nothing visible before commit"
    );
    sink.commit(7, commit.clone()).await.unwrap();
    assert_eq!(published_files(&dir.0), targets);
    let lines = published_lines(&dir.0, Some("key,n"));
    let want: Vec<String> = (0..10).map(|i| format!("k{i},{i}")).collect();
    assert_same_multiset(&lines, &want);
    // Idempotent: a second commit of the same epoch (after a crash) changes nothing.
    sink.commit(7, commit).await.unwrap();
    assert_same_multiset(&published_lines(&dir.0, Some("key,n")), &want);
    assert_eq!(staged(&dir.0), 0);
}

#[tokio::test]
async fn files_roll_by_size_each_with_header_and_footer() {
    let dir = TempDir::new("write-size");
    let text = Text::new().header("BEGIN\n").footer("END\n");
    let mut sink = WriteFiles::builder(&dir.0, text)
        .max_file_bytes(20)
        .build()
        .unwrap();
    sink.write(batch((0..10).map(|i| format!("record-{i}"))))
        .await
        .unwrap();
    let commit = sink.prepare(1).await.unwrap();
    sink.commit(1, commit).await.unwrap();
    let files = published_files(&dir.0);
    assert_eq!(files.len(), 5, "{files:?}");
    assert_eq!(files[0], "part-000001-000.txt");
    assert_eq!(files[4], "part-000001-004.txt");
    for name in &files {
        let text = fs::read_to_string(dir.0.join(name)).unwrap();
        assert!(
            text.starts_with("BEGIN\n") && text.ends_with("END\n"),
            "{text}"
        );
    }
    // The next epoch starts at shard 0 again.
    sink.write(batch(["x".to_string()])).await.unwrap();
    let commit = sink.prepare(2).await.unwrap();
    assert_eq!(commit.files[0].target, "part-000002-000.txt");
}

#[tokio::test]
async fn an_epoch_without_records_publishes_nothing() {
    let dir = TempDir::new("write-empty");
    let mut sink = WriteFiles::builder(&dir.0, Json::array()).build().unwrap();
    let commit = sink.prepare(1).await.unwrap();
    assert_eq!(commit, WriteCommit::default());
    sink.commit(1, commit).await.unwrap();
    assert!(published_files(&dir.0).is_empty());
    sink.write(batch([1, 2, 3])).await.unwrap();
    let commit = sink.prepare(2).await.unwrap();
    sink.commit(2, commit).await.unwrap();
    let text = fs::read_to_string(dir.join("part-000002-000.json")).unwrap();
    assert_eq!(serde_json::from_str::<Vec<i32>>(&text).unwrap(), [1, 2, 3]);
}

#[tokio::test]
async fn recover_publishes_the_last_durable_epoch_and_discards_the_rest() {
    let dir = TempDir::new("write-recover");
    let build = || {
        WriteFiles::builder(&dir.0, Json::lines())
            .shards(2)
            .build()
            .unwrap()
    };
    let mut before = build();
    before.write(batch(["a", "b", "c"])).await.unwrap();
    let durable = before.prepare(1).await.unwrap();
    before.write(batch(["d"])).await.unwrap();
    let _never_durable = before.prepare(2).await.unwrap();
    before.write(batch(["e"])).await.unwrap(); // never prepared
    drop(before); // the crash: nothing was committed
    assert!(published_files(&dir.0).is_empty());
    assert_eq!(staged(&dir.0), 4);
    // Not a name the sink gives: not the sink's to delete.
    fs::write(dir.join(".sdf-staging/notes.txt"), "keep me").unwrap();

    let mut after = build();
    after.recover(Some((1, durable.clone()))).await.unwrap();
    assert_eq!(staged(&dir.0), 0);
    fs::remove_file(dir.join(".sdf-staging/notes.txt")).expect("kept");
    let lines = published_lines(&dir.0, None);
    assert_same_multiset(&lines, &["\"a\"", "\"b\"", "\"c\""].map(String::from));
    // A second recovery of the same epoch (a crash during the first) changes nothing.
    drop(after);
    build().recover(Some((1, durable))).await.unwrap();
    assert_eq!(published_lines(&dir.0, None).len(), 3);
}

#[tokio::test]
async fn a_file_the_sink_did_not_write_is_never_replaced() {
    let dir = TempDir::new("write-foreign");
    fs::write(dir.join("part-000001-000.txt"), "someone else's\n").unwrap();
    let mut sink = WriteFiles::builder(&dir.0, Text::new()).build().unwrap();
    sink.write(batch(["mine"])).await.unwrap();
    let commit = sink.prepare(1).await.unwrap();
    let e = sink.commit(1, commit).await.unwrap_err();
    assert!(
        matches!(connector_error(&e), Error::AlreadyExists { epoch: 1, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("part-000001-000.txt"), "{e}");
    let text = fs::read_to_string(dir.join("part-000001-000.txt")).unwrap();
    assert_eq!(text, "someone else's\n");
}

#[tokio::test]
async fn a_durable_epoch_whose_staged_file_vanished_is_an_error() {
    let dir = TempDir::new("write-vanished");
    let mut sink = WriteFiles::builder(&dir.0, Text::new()).build().unwrap();
    sink.write(batch(["x"])).await.unwrap();
    let commit = sink.prepare(1).await.unwrap();
    fs::remove_file(sink.staging_dir().join(&commit.files[0].staged)).unwrap();
    let e = sink.commit(1, commit).await.unwrap_err();
    assert!(
        matches!(connector_error(&e), Error::StagedFileMissing { .. }),
        "{e}"
    );
}

#[tokio::test]
async fn names_never_come_from_records() {
    let dir = TempDir::new("write-records");
    let outside = TempDir::new("write-records-outside");
    let nasty = [
        "../../escape".to_string(),
        outside.0.join("abs").display().to_string(),
        "a/b\0c".to_string(),
        "{epoch}".to_string(),
    ];
    let mut sink = WriteFiles::builder(&dir.0, Text::new()).build().unwrap();
    sink.write(batch(nasty.clone())).await.unwrap();
    let commit = sink.prepare(3).await.unwrap();
    sink.commit(3, commit).await.unwrap();
    assert_eq!(published_files(&dir.0), ["part-000003-000.txt"]);
    assert_same_multiset(&published_lines(&dir.0, None), &nasty);
    assert!(published_files(&outside.0).is_empty());
}

#[test]
fn names_that_leave_the_directory_are_refused_when_the_sink_is_built() {
    let dir = TempDir::new("write-build");
    let refused = [
        (
            "template with ..",
            WriteFiles::builder(&dir.0, Text::new()).naming("../{epoch}-{shard}"),
        ),
        (
            "absolute template",
            WriteFiles::builder(&dir.0, Text::new()).naming("/tmp/{epoch}-{shard}"),
        ),
        (
            "prefix with ..",
            WriteFiles::builder(&dir.0, Text::new()).prefix("logs/../../"),
        ),
        (
            "absolute prefix",
            WriteFiles::builder(&dir.0, Text::new()).prefix("/var/log/"),
        ),
        (
            "staging with ..",
            WriteFiles::builder(&dir.0, Text::new()).staging_dir(".."),
        ),
        (
            "nested staging",
            WriteFiles::builder(&dir.0, Text::new()).staging_dir("a/b"),
        ),
        (
            "names in staging",
            WriteFiles::builder(&dir.0, Text::new()).prefix(".sdf-staging/"),
        ),
    ];
    for (case, builder) in refused {
        let result = builder.build::<String>();
        assert!(matches!(result, Err(Error::BadName { .. })), "{case}");
    }
}

#[tokio::test]
async fn a_tampered_commit_message_cannot_escape() {
    let dir = TempDir::new("write-tampered");
    let mut sink = WriteFiles::builder(&dir.0, Text::new()).build().unwrap();
    sink.write(batch(["x"])).await.unwrap();
    let good = sink.prepare(1).await.unwrap();
    let staged = good.files[0].staged.clone();
    let tampered = [
        (staged.clone(), "../escape.txt".to_string()),
        (staged.clone(), "/tmp/escape.txt".to_string()),
        (staged.clone(), ".sdf-staging/again.txt".to_string()),
        ("../../etc/passwd".to_string(), "stolen.txt".to_string()),
    ];
    for (staged, target) in tampered {
        let commit = WriteCommit {
            files: vec![StagedFile {
                staged,
                target: target.clone(),
                records: 1,
                identity: None,
            }],
        };
        let e = sink.commit(1, commit).await.unwrap_err();
        assert!(
            matches!(connector_error(&e), Error::BadName { .. }),
            "{target}: {e}"
        );
    }
    sink.commit(1, good).await.unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlinked_directory_is_not_followed() {
    let dir = TempDir::new("write-symlink");
    let outside = TempDir::new("write-symlink-outside");
    std::os::unix::fs::symlink(&outside.0, dir.join("events")).unwrap();
    let mut sink = WriteFiles::builder(&dir.0, Text::new())
        .prefix("events/part-")
        .build()
        .unwrap();
    sink.write(batch(["x"])).await.unwrap();
    let commit = sink.prepare(1).await.unwrap();
    let e = sink.commit(1, commit).await.unwrap_err();
    assert!(e.to_string().contains("not a plain directory"), "{e}");
    assert!(published_files(&outside.0).is_empty());
}

#[tokio::test]
async fn an_unencodable_record_fails_naming_the_file_and_record() {
    let dir = TempDir::new("write-encode");
    let mut sink = WriteFiles::builder(&dir.0, Json::lines()).build().unwrap();
    let mut bad = std::collections::HashMap::new();
    bad.insert((1, 2), "tuple keys are not JSON object keys");
    let good = std::collections::HashMap::new();
    // The epoch fails: at its prepare, so that the sink's input keeps flowing until then.
    sink.write(batch([good, bad])).await.unwrap();
    let e = sink.prepare(1).await.unwrap_err();
    let message = e.to_string();
    assert!(message.contains("cannot encode record 1"), "{message}");
    assert!(message.contains(".sdf-staging"), "{message}");
}

/// The wedge of issue 14: a run publishes epoch 1; the next run recovers it, stages records for
/// epoch 2 and dies; every later recovery must still succeed. (Staged names used to restart at
/// 1 in every run, so the dead run's staged file took the durable epoch's staged name and every
/// restart refused: "already exists and was not published by this sink".)
#[tokio::test]
async fn a_run_killed_after_recovering_does_not_wedge_the_next() {
    let dir = TempDir::new("write-wedge");
    let build = || WriteFiles::builder(&dir.0, Text::new()).build().unwrap();
    let mut first = build();
    first.write(batch(["a", "b"])).await.unwrap();
    let durable = first.prepare(1).await.unwrap();
    first.commit(1, durable.clone()).await.unwrap();
    drop(first);
    for run in 0..3 {
        let mut next = build();
        next.recover(Some((1, durable.clone())))
            .await
            .unwrap_or_else(|e| panic!("restart {run} failed: {e}"));
        next.write(batch(["c", "d", "e"])).await.unwrap(); // staged for epoch 2, then killed
        drop(next);
    }
    let mut last = build();
    last.recover(Some((1, durable))).await.unwrap();
    assert_eq!(staged(&dir.0), 0);
    assert_same_multiset(
        &published_lines(&dir.0, None),
        &["a", "b"].map(String::from),
    );
}

#[tokio::test]
async fn two_sinks_never_share_an_output_directory() {
    let dir = TempDir::new("write-busy");
    let first = WriteFiles::builder(&dir.0, Text::new())
        .build::<String>()
        .unwrap();
    let Err(e) = WriteFiles::builder(&dir.0, Text::new()).build::<String>() else {
        panic!("a second sink on the directory was built");
    };
    assert!(matches!(e, Error::OutputBusy { .. }), "{e}");
    assert!(e.to_string().contains("in use"), "{e}");
    // Another staging directory is another sink's own.
    WriteFiles::builder(&dir.0, Text::new())
        .staging_dir(".other")
        .prefix("other-")
        .build::<String>()
        .unwrap();
    drop(first);
    WriteFiles::builder(&dir.0, Text::new())
        .build::<String>()
        .expect("free again");
}

/// An output directory that holds epochs the checkpoint does not know (an older state
/// directory, or a fresh one on old output) is refused at recovery, before anything is
/// written twice, with the files in question named.
#[tokio::test]
async fn output_ahead_of_the_checkpoint_is_refused_at_recovery() {
    let dir = TempDir::new("write-ahead");
    let build = || WriteFiles::builder(&dir.0, Text::new()).build().unwrap();
    let mut sink = build();
    sink.write(batch(["a"])).await.unwrap();
    let one = sink.prepare(1).await.unwrap();
    sink.commit(1, one.clone()).await.unwrap();
    sink.write(batch(["b"])).await.unwrap();
    let two = sink.prepare(2).await.unwrap();
    sink.commit(2, two).await.unwrap();
    drop(sink);

    let e = build().recover(Some((1, one))).await.unwrap_err();
    let message = e.to_string();
    assert!(
        matches!(connector_error(&e), Error::OutputAhead { published: 2, .. }),
        "{message}"
    );
    assert!(message.contains("part-000002-000.txt"), "{message}");
    let e = build().recover(None).await.unwrap_err();
    assert!(
        matches!(
            connector_error(&e),
            Error::OutputAhead {
                checkpoint: None,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("fresh state"), "{e}");
}

/// A file in place under a durable epoch's name that is not the staged file renamed (same name,
/// another file) is someone else's: refused, not taken for published.
#[tokio::test]
async fn a_replaced_file_is_not_taken_for_a_published_one() {
    let dir = TempDir::new("write-replaced");
    let mut sink = WriteFiles::builder(&dir.0, Text::new()).build().unwrap();
    sink.write(batch(["a"])).await.unwrap();
    let one = sink.prepare(1).await.unwrap();
    sink.commit(1, one.clone()).await.unwrap();
    let target = dir.join("part-000001-000.txt");
    fs::remove_file(&target).unwrap();
    fs::write(&target, "a\n").unwrap();
    let e = sink.commit(1, one).await.unwrap_err();
    assert!(
        matches!(connector_error(&e), Error::AlreadyExists { .. }),
        "{e}"
    );
}
