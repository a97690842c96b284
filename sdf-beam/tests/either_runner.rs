//! One pipeline, written once against `sdf_core::PipelineBuilder` (with a connector's own
//! composite transform, `MatchFiles::apply`), run on the embedded runtime and on Beam's
//! FnApiRunner: the same records. On Beam, the files' metadata and the lines go from step to
//! step in memory; the source's patterns are encoded with the reading step's coder.

use std::time::Duration;

use sdf_beam::BeamRunner;
use sdf_beam::local::PythonJobService;
use sdf_beam::translate::BeamPipeline;
use sdf_connectors::{MatchFiles, ReadText};
use sdf_core::PipelineBuilder;

/// The lines of every file the patterns match.
fn lines<P: PipelineBuilder>(p: &mut P, patterns: Vec<String>) -> P::Collection<String> {
    let files = MatchFiles::new(patterns).apply(p, "match");
    p.apply("read", files, ReadText::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_written_against_pipeline_builder_reads_the_same_on_either_runner() {
    let dir = std::env::temp_dir().join(format!("sdf-either-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut expected = 0u64;
    let mut bytes = 0u64;
    for f in 0..5 {
        let mut text = String::new();
        for i in 0..(200 + 37 * f) {
            let line = format!("file {f} line {i} {}", "x".repeat(i % 13));
            bytes += line.len() as u64;
            expected += 1;
            text.push_str(&line);
            text.push('\n');
        }
        std::fs::write(dir.join(format!("{f}.txt")), text).unwrap();
    }
    let patterns = vec![format!("{}/*.txt", dir.display())];

    let mut embedded = sdf_runtime::Pipeline::new();
    let out = lines(&mut embedded, patterns.clone());
    let collected = embedded.collect("out", out);
    tokio::task::spawn_blocking(move || {
        sdf_runtime::Executor::builder()
            .build()
            .run_blocking(embedded)
    })
    .await
    .unwrap()
    .unwrap();
    let embedded_lines = collected.values();
    assert_eq!(embedded_lines.len() as u64, expected);

    let service = PythonJobService::start().unwrap_or_else(|e| panic!("{e}"));
    let mut on_beam = BeamPipeline::default();
    let out = lines(&mut on_beam, patterns);
    on_beam.counters("tally", out.collection(), |line: &String| {
        vec![("records", 1), ("bytes", line.len() as i64)]
    });
    let run = BeamRunner::new(service.endpoint())
        .timeout(Duration::from_secs(300))
        .run(on_beam)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", service.log()));
    assert_eq!(run.counter("records"), i128::from(expected));
    assert_eq!(run.counter("bytes"), i128::from(bytes));
    assert_eq!(
        embedded_lines.iter().map(|l| l.len() as u64).sum::<u64>(),
        bytes
    );
    let _ = std::fs::remove_dir_all(&dir);
}
