//! `MatchAll` through the conformance kit, on the runtime with patterns arriving while it runs,
//! and its errors.

mod match_support;

use std::time::Duration;

use match_support::TestDir;
use sdf_connectors::{EmptyMatch, FileMetadata, MatchAll, MatchFiles};
use sdf_core::testing::{
    ConcurrentOptions, check_concurrent_splits_with, check_sdf_exhaustive, run_to_completion,
};
use sdf_runtime::{Executor, Pipeline};

fn tree() -> TestDir {
    let dir = TestDir::new("match-all");
    for rel in [
        "a.txt",
        "a/b.txt",
        "a/c/d.txt",
        "a/c/e.log",
        "a-c.txt",
        "b/x.txt",
        "b/y.txt",
        "b/z/q.txt",
        ".hidden/h.txt",
        "c.txt",
        "d/e/f/g.txt",
        "zz.txt",
    ] {
        dir.file(rel, rel);
    }
    dir
}

fn names(dir: &TestDir, files: &[FileMetadata]) -> Vec<String> {
    files
        .iter()
        .map(|f| {
            f.path
                .strip_prefix(dir.path())
                .unwrap()
                .display()
                .to_string()
        })
        .collect()
}

#[test]
fn matches_are_sorted_and_exact_under_every_split() {
    let dir = tree();
    let pattern = dir.pattern("**/*.txt");
    let files = run_to_completion(&MatchAll::new(), &pattern).unwrap();
    assert_eq!(
        names(&dir, &files),
        [
            "a/b.txt",
            "a/c/d.txt",
            "a-c.txt",
            "a.txt",
            "b/x.txt",
            "b/y.txt",
            "b/z/q.txt",
            "c.txt",
            "d/e/f/g.txt",
            "zz.txt"
        ]
    );
    let report = check_sdf_exhaustive(&MatchAll::new(), &pattern).unwrap();
    assert_eq!(report.records, 10);
    assert!(report.splits > 100, "{report:?}");
    let concurrent = ConcurrentOptions::default().repetitions(30);
    check_concurrent_splits_with(&MatchAll::new(), &pattern, &concurrent).unwrap();
}

#[test]
fn literal_paths_and_narrow_globs_through_the_kit() {
    let dir = tree();
    for glob in ["a.txt", "b/*.txt", "*/c/*", "[ab]/**/?.txt"] {
        let report = check_sdf_exhaustive(&MatchAll::new(), &dir.pattern(glob)).unwrap();
        assert!(report.records > 0, "{glob}: {report:?}");
    }
}

#[test]
fn patterns_arriving_while_the_pipeline_runs() {
    let dir = tree();
    let mut p = Pipeline::new();
    let (sender, patterns) = p.channel_source::<String>("patterns");
    let files = p.apply("match", patterns, MatchAll::new());
    let out = p.collect("out", files);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let executor = Executor::builder().workers(2).build();
    runtime.block_on(async {
        let handle = executor.run(p);
        sender.send(dir.pattern("b/*.txt")).await.unwrap();
        // The first pattern's files arrive before the second pattern is even sent.
        for _ in 0..2_000 {
            if out.len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(out.len(), 2, "the first pattern's files did not arrive");
        sender.send(dir.pattern("a/**/*.log")).await.unwrap();
        sender.send(dir.pattern("nothing/*.txt")).await.unwrap();
        drop(sender);
        handle.wait().await.unwrap();
    });
    let mut got = names(&dir, &out.values());
    got.sort();
    assert_eq!(got, ["a/c/e.log", "b/x.txt", "b/y.txt"]);
}

#[test]
fn match_files_builds_the_elements() {
    let dir = tree();
    let mut p = Pipeline::new();
    let files = MatchFiles::new([dir.pattern("b/*.txt"), dir.pattern("zz.txt")]).apply(&mut p, "m");
    let out = p.collect("out", files);
    Executor::builder()
        .workers(2)
        .build()
        .run_blocking(p)
        .unwrap();
    let mut got = names(&dir, &out.values());
    got.sort();
    assert_eq!(got, ["b/x.txt", "b/y.txt", "zz.txt"]);
}

#[test]
fn a_disallowed_empty_match_fails_the_pipeline_naming_the_pattern() {
    let dir = tree();
    let pattern = dir.pattern("*.csv");
    let mut p = Pipeline::new();
    let patterns = p.from_iter("patterns", vec![pattern.clone()]);
    let files = p.apply(
        "match",
        patterns,
        MatchAll::new().empty_match(EmptyMatch::Disallow),
    );
    let _out = p.collect("out", files);
    let executor = Executor::builder()
        .workers(1)
        .retries(1, Duration::from_millis(1))
        .build();
    let e = executor.run_blocking(p).unwrap_err().to_string();
    assert!(
        e.contains(&format!("pattern {pattern} matches no file")),
        "{e}"
    );
}

#[test]
fn errors_name_the_pattern_or_the_path() {
    let dir = tree();
    let bad = run_to_completion(&MatchAll::new(), &dir.pattern("a/{x")).unwrap_err();
    assert!(bad.to_string().contains("invalid file pattern"), "{bad}");
    let directory = run_to_completion(&MatchAll::new(), &dir.pattern("a")).unwrap_err();
    assert!(
        directory.to_string().contains(&format!(
            "{} is a directory",
            dir.path().join("a").display()
        )),
        "{directory}"
    );
}
