//! A Beam runner that runs bundles more than once: Beam's FnApiRunner with `bundle_repeat`
//! runs every bundle an extra time first and discards what that run produced (its output
//! and its metrics), as a runner discards a failed or retried attempt. Files written with
//! `BeamPipeline::write` are published once, and counters count once.
//!
//! The job service does not pass `direct_runner_bundle_repeat` on to its runner, so this test
//! runs the pipeline proto on the FnApiRunner directly (`sdf_beam::local::run_on_fn_api_runner`), with
//! this process as the worker (EXTERNAL environment).

use std::net::SocketAddr;
use std::path::Path;

use sdf_beam::Create;
use sdf_beam::harness::PoolListener;
use sdf_beam::translate::{BeamPipeline, external_environment};
use sdf_connectors::{Json, WriteFiles};
use sdf_core::testing::CountFn;

/// Lines of the published files (not those in hidden staging directories), sorted.
fn published_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            lines.extend(text.lines().map(str::to_string));
        }
    }
    lines.sort();
    lines
}

/// How many staging directories `dir` has, and how many staged files they hold (a published
/// attempt's staging directory holds only its lock and its record of what it published).
fn staging(dir: &Path) -> (usize, usize) {
    let (mut dirs, mut staged) = (0, 0);
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(".sdf-staging-") {
            continue;
        }
        dirs += 1;
        for file in std::fs::read_dir(entry.path()).unwrap() {
            let name = file.unwrap().file_name().to_string_lossy().into_owned();
            if name != "LOCK" && name != "published" {
                staged += 1;
            }
        }
    }
    (dirs, staged)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_bundles_publish_their_files_once_and_count_once() {
    let dir = std::env::temp_dir().join(format!("sdf-beam-repeat-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let listener = PoolListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let mut p = BeamPipeline::new(external_environment(&listener.address().to_string()));
    let keys: Vec<(String, i64)> = (0..4).map(|k| (format!("k{k}"), 500)).collect();
    let keys = p.root("Create", Create::new(keys));
    let records = p.apply("Count", &keys, CountFn);
    let target = out.clone();
    p.write("Out", &records, move |key: &str| {
        WriteFiles::builder(&target, Json::lines())
            .staging_dir(format!(".sdf-staging-{key}"))
            .naming(format!("part-{key}-{{epoch}}-{{shard}}.jsonl"))
            .build::<(String, i64)>()
            .map_err(|e| sdf_core::Error::user("opening the output", e))
    });
    p.counters("Tally", &records, |_: &(String, i64)| vec![("records", 1)]);
    let (pipeline, registry) = p.build();
    let pool = listener.serve(registry);
    let result = tokio::task::spawn_blocking(move || {
        sdf_beam::local::run_on_fn_api_runner(&pipeline, 1).unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .unwrap();
    assert_eq!(result["state"], "DONE", "{result}");

    let mut expected: Vec<String> = (0..4)
        .flat_map(|k| (0..500).map(move |i| format!("[\"k{k}\",{i}]")))
        .collect();
    expected.sort();
    assert_eq!(
        published_lines(&out),
        expected,
        "every record published once"
    );
    // The repeated runs did write: their staged files are there, never published.
    let (dirs, staged) = staging(&out);
    assert!(dirs >= 2, "an attempt per run of the write bundle: {dirs}");
    assert!(staged > 0, "the discarded run staged files: {staged}");
    // Each bundle ran twice; the runner kept the metrics of one run of each.
    let stats = pool.stats();
    assert!(sdf_beam::harness::HarnessStats::get(&stats.bundles) >= 2);
    let counters = &result["counters"];
    assert_eq!(counters["sdf/records/Tally"], 2000, "{counters}");
    assert_eq!(counters["sdf/written/Out/Write"], 2000, "{counters}");
    let _ = std::fs::remove_dir_all(&dir);
}
