//! A pipeline started on a state directory it cannot use refuses with an error that names the
//! file and what to do, and never panics: a truncated or damaged checkpoint (naming the previous
//! one), a checkpoint of a newer format version, one of another pipeline (other steps, another
//! identity), a directory another store holds.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sdf_core::testing::CountFn;
use sdf_runtime::{CheckpointError, DirectoryStore, Error, Executor, Pipeline};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sdf-bad-state-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs a small durable pipeline to the end on `dir`, with `identity` if any.
fn run(dir: &Path, steps: &str, identity: Option<serde_json::Value>) -> Result<usize, Error> {
    let mut p = Pipeline::new();
    let input = p.from_iter("input", vec![("k".to_string(), 3_000)]);
    let counted = p.apply(steps, input, CountFn);
    let out = p.collect("out", counted);
    let mut builder = Executor::builder()
        .max_outputs_per_call(100)
        .checkpoint_store(Arc::new(
            DirectoryStore::new(dir).map_err(|e| Error::Checkpoint(Box::new(e)))?,
        ))
        .checkpoint_interval(Duration::from_millis(1));
    if let Some(identity) = identity {
        builder = builder.checkpoint_identity(identity);
    }
    builder.build().run_blocking(p)?;
    Ok(out.len())
}

fn checkpoint_error(result: Result<usize, Error>) -> CheckpointError {
    match result {
        Err(Error::Checkpoint(e)) => *e,
        other => panic!("expected a checkpoint error, got {other:?}"),
    }
}

#[test]
fn a_damaged_checkpoint_names_itself_and_the_previous_one() {
    let dir = scratch("damaged");
    assert_eq!(run(&dir, "count", None).unwrap(), 3_000);
    // Resumed when complete: nothing to do, one more checkpoint; the first is now the previous.
    assert_eq!(run(&dir, "count", None).unwrap(), 0);
    let latest = dir.join(DirectoryStore::FILE);
    let bytes = std::fs::read(&latest).unwrap();
    for damage in [
        bytes[..bytes.len() / 2].to_vec(),
        Vec::new(),
        b"\x00\x00\x00garbage".to_vec(),
    ] {
        std::fs::write(&latest, &damage).unwrap();
        let err = checkpoint_error(run(&dir, "count", None));
        let message = err.to_string();
        assert!(
            matches!(
                err,
                CheckpointError::Corrupt {
                    previous: Some(_),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            message.contains(&latest.display().to_string())
                && message.contains(DirectoryStore::PREVIOUS)
                && message.contains("docs/checkpoints.md"),
            "{message}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_checkpoint_of_a_newer_version_says_so() {
    let dir = scratch("newer");
    run(&dir, "count", None).unwrap();
    let latest = dir.join(DirectoryStore::FILE);
    let text = std::fs::read_to_string(&latest).unwrap();
    std::fs::write(&latest, text.replace("\"version\":1", "\"version\":7")).unwrap();
    let err = checkpoint_error(run(&dir, "count", None));
    assert!(
        matches!(err, CheckpointError::Unsupported { version: 7, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("version 7"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_checkpoint_of_another_pipeline_is_refused() {
    let dir = scratch("other");
    let identity = serde_json::json!({ "patterns": ["in/*.txt"] });
    run(&dir, "count", Some(identity.clone())).unwrap();
    let err = checkpoint_error(run(&dir, "renamed", Some(identity.clone())));
    assert!(
        matches!(err, CheckpointError::OtherPipeline { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("renamed"), "{err}");

    let other = serde_json::json!({ "patterns": ["in/*.log"] });
    let err = checkpoint_error(run(&dir, "count", Some(other)));
    let message = err.to_string();
    assert!(
        matches!(err, CheckpointError::OtherPipeline { .. }),
        "{err:?}"
    );
    assert!(
        message.contains("in/*.txt") && message.contains("in/*.log"),
        "{message}"
    );

    // The same identity resumes (here: a complete pipeline, so nothing more is emitted).
    assert_eq!(run(&dir, "count", Some(identity)).unwrap(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_state_directory_in_use_is_refused_at_once() {
    let dir = scratch("busy");
    let _holder = DirectoryStore::new(&dir).unwrap();
    let err = checkpoint_error(run(&dir, "count", None));
    assert!(matches!(err, CheckpointError::Busy { .. }), "{err:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
