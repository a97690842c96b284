//! A runtime `Pipeline` that reads files and writes them with `WriteFiles`, run embedded and,
//! translated with `into_beam`, on Beam's FnApiRunner with every bundle run twice (one run
//! discarded, as a runner discards a failed attempt): the same records, each published once.
//! `WriteFiles` runs there as one sink per bundle attempt (`Sink::attempts`).

use std::net::SocketAddr;
use std::path::Path;

use sdf_beam::harness::PoolListener;
use sdf_beam::translate::external_environment;
use sdf_connectors::{FileMetadata, MatchOptions, ReadText, Text, WriteFiles, match_pattern};
use sdf_runtime::{Executor, Pipeline};

fn pipeline(files: Vec<FileMetadata>, out: &Path) -> Pipeline {
    let mut p = Pipeline::new();
    let files = p.from_iter("files", files);
    let lines = p.apply("read", files, ReadText::new());
    let sink = WriteFiles::builder(out, Text::new())
        .shards(2)
        .build::<String>()
        .unwrap();
    p.sink("out", lines, sink);
    p
}

/// Lines of the published files, sorted; and how many staged files are left in staging
/// directories (those of discarded attempts).
fn published(dir: &Path) -> (Vec<String>, usize) {
    let mut lines = Vec::new();
    let mut staged = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().unwrap().is_file() {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            lines.extend(text.lines().map(str::to_string));
        } else if name.starts_with(".sdf-staging") {
            staged += std::fs::read_dir(entry.path())
                .unwrap()
                .filter(|f| {
                    let n = f.as_ref().unwrap().file_name();
                    n != "LOCK" && n != "published"
                })
                .count();
        }
    }
    lines.sort();
    (lines, staged)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_pipeline_writes_on_beam_what_it_writes_embedded_once_per_record() {
    let root = std::env::temp_dir().join(format!("sdf-pipeline-on-beam-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let pattern = format!("{}/samples/logs/*.log", env!("CARGO_MANIFEST_DIR"));
    let files = match_pattern(&pattern, MatchOptions::default()).unwrap();

    let embedded_out = root.join("embedded");
    let p = pipeline(files.clone(), &embedded_out);
    tokio::task::spawn_blocking(move || Executor::builder().build().run_blocking(p))
        .await
        .unwrap()
        .unwrap();
    let (expected, _) = published(&embedded_out);
    assert_eq!(expected.len(), 2150);

    let beam_out = root.join("beam");
    let mut beam = pipeline(files, &beam_out).into_beam().unwrap();
    let listener = PoolListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    beam.set_environment(external_environment(&listener.address().to_string()));
    let (proto, registry) = beam.build();
    let _pool = listener.serve(registry);
    let result = tokio::task::spawn_blocking(move || {
        sdf_beam::local::run_on_fn_api_runner(&proto, 1).unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .unwrap();
    assert_eq!(result["state"], "DONE", "{result}");
    let (lines, discarded) = published(&beam_out);
    assert_eq!(lines, expected, "every record published once");
    assert!(
        discarded > 0,
        "the discarded runs staged files, never published"
    );
    let _ = std::fs::remove_dir_all(&root);
}
