//! Crash safety proven at every step: a streaming ingest (a continuous match of `in/`, a reader,
//! `WriteFiles`, a durable checkpoint, the watch's clean-up after commit) is stopped *at* each
//! I/O step of the checkpoint protocol, in the first epoch that takes the step, the second and
//! a later one, and restarted from what is on disk; the output must then be exactly the input,
//! and every restart must come up.
//!
//! The crash is real: the pipeline runs in a child process (this test binary, run again), armed
//! through `sdf_core::testing::crash`, which aborts it just before the chosen step: no
//! destructor, no flush, every byte of memory gone. Where to crash is decided from a trace of a
//! run that did not crash (which steps it took, in which epochs), never from a timer; the
//! parent feeds the next input file only once the previous one is published, so every run
//! reaches every epoch it needs. Each sink format (text, CSV, JSON lines, JSON array, Parquet)
//! goes through its staging steps; the clean-up (delete, archive) through its finalizers;
//! recovery itself (publishing the durable epoch again, discarding staged files) is crashed
//! in a second crash, on the restart after the first.
//!
//! `cargo test --test crash_points -- --nocapture` prints how many crash points were exercised.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sdf_connectors::{Csv, Json, MatchFiles, ReadText, Termination, Text, WriteFiles};
use sdf_core::crash::step;
use sdf_core::testing::crash::{CRASH_AT_ENV, CrashTarget, Hit, TRACE_ENV, read_trace};
use sdf_runtime::{DirectoryStore, Executor, Pipeline};

const DIR_ENV: &str = "SDF_MATRIX_DIR";
const FORMAT_ENV: &str = "SDF_MATRIX_FORMAT";
const CLEANUP_ENV: &str = "SDF_MATRIX_CLEANUP";
/// Lines per input file.
const LINES: usize = 40;

/// The child: watches `in/*.txt` into `out/` with the format and clean-up of its environment,
/// until a file `STOP` appears; then stops with a last checkpoint and exits.
fn child(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    sdf_core::testing::crash::arm_from_env();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let format = std::env::var(FORMAT_ENV)?;
    let cleanup = std::env::var(CLEANUP_ENV)?;
    let mut p = Pipeline::new();
    let watch = MatchFiles::new([format!("{}/*.txt", dir.join("in").display())])
        .continuously(Duration::from_millis(5), Termination::Never)
        .configure(|w| {
            let w = w.settle(Duration::ZERO);
            match cleanup.as_str() {
                "delete" => w.delete_after_commit(),
                "archive" => w.archive_after_commit(dir.join("archive")),
                _ => w,
            }
        });
    let files = watch.apply(&mut p, "watch");
    let lines = p.apply(
        "read",
        files,
        ReadText::new().on_change(sdf_connectors::read::OnChange::ReadListed),
    );
    let out = dir.join("out");
    match format.as_str() {
        "text" => p.sink(
            "out",
            lines,
            WriteFiles::builder(&out, Text::new()).shards(2).build()?,
        ),
        "csv" => p.sink(
            "out",
            lines,
            WriteFiles::builder(&out, Csv::with_header(["line"]))
                .shards(2)
                .build()?,
        ),
        "jsonl" => p.sink(
            "out",
            lines,
            WriteFiles::builder(&out, Json::lines()).shards(2).build()?,
        ),
        "json" => p.sink(
            "out",
            lines,
            WriteFiles::builder(&out, Json::array()).shards(2).build()?,
        ),
        "parquet" => {
            let batches = p.apply("batch", lines, sdf_core::map(|line: &String| one_row(line)));
            let sink = WriteFiles::builder(&out, sdf_connectors::Parquet::new())
                .shards(2)
                .build()?;
            p.sink("out", batches, sink);
        }
        other => return Err(format!("unknown format {other}").into()),
    }
    let store = Arc::new(DirectoryStore::new(dir.join("state"))?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut handle = Executor::builder()
            .workers(2)
            .checkpoint_store(store)
            .checkpoint_interval(Duration::from_millis(15))
            .build()
            .run(p);
        loop {
            tokio::select! {
                result = handle.completion() => return result,
                _ = tokio::time::sleep(Duration::from_millis(5)) => {
                    if dir.join("STOP").exists() {
                        handle.stop();
                        return handle.wait().await;
                    }
                }
            }
        }
    })?;
    Ok(())
}

fn one_row(line: &str) -> arrow_array::RecordBatch {
    let column: arrow_array::ArrayRef = Arc::new(arrow_array::StringArray::from(vec![line]));
    arrow_array::RecordBatch::try_from_iter([("line", column)]).expect("a one-column batch")
}

#[test]
#[ignore = "the child process of the crash-point tests"]
fn crash_child() {
    if let Some(dir) = std::env::var_os(DIR_ENV)
        && let Err(e) = child(Path::new(&dir))
    {
        eprintln!("child failed: {e}");
        std::process::exit(1);
    }
}

/// One scenario's directory and what was fed into it.
struct Scenario {
    dir: PathBuf,
    format: &'static str,
    cleanup: &'static str,
    fed: Vec<String>,
    files: usize,
    trace: PathBuf,
}

impl Scenario {
    fn new(name: &str, format: &'static str, cleanup: &'static str) -> Scenario {
        let dir =
            std::env::temp_dir().join(format!("sdf-crash-points-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("in")).unwrap();
        let trace = dir.join("trace");
        Scenario {
            dir,
            format,
            cleanup,
            fed: Vec::new(),
            files: 0,
            trace,
        }
    }

    fn spawn(&self, target: Option<&CrashTarget>) -> Child {
        let _ = fs::remove_file(&self.trace);
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["--ignored", "--exact", "crash_child", "--test-threads=1"])
            .env(DIR_ENV, &self.dir)
            .env(FORMAT_ENV, self.format)
            .env(CLEANUP_ENV, self.cleanup)
            .env(TRACE_ENV, &self.trace)
            .env_remove(CRASH_AT_ENV)
            .stdout(Stdio::null())
            .stderr(fs::File::create(self.dir.join("stderr")).unwrap());
        if let Some(target) = target {
            command.env(CRASH_AT_ENV, target.to_string());
        }
        command.spawn().unwrap()
    }

    /// Writes the next input file, whole (beside it, then renamed into place).
    fn feed(&mut self) {
        let name = format!("f{:03}.txt", self.files);
        self.files += 1;
        let tmp = self.dir.join(format!(".{name}"));
        let mut f = fs::File::create(&tmp).unwrap();
        for i in 0..LINES {
            let line = format!("{name} line {i}");
            writeln!(f, "{line}").unwrap();
            self.fed.push(line);
        }
        drop(f);
        fs::rename(&tmp, self.dir.join("in").join(name)).unwrap();
    }

    fn stderr(&self) -> String {
        fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    /// Runs the child once, armed with `target` if any, feeding files as the previous ones are
    /// published; returns the trace of the run and whether it crashed at the target. Unarmed,
    /// it feeds at least `min_files` and then stops the child cleanly.
    fn run(&mut self, target: Option<&CrashTarget>, min_files: usize) -> (Vec<Hit>, bool) {
        let started = Instant::now();
        let result = self.run_once(target, min_files);
        if std::env::var_os("SDF_MATRIX_VERBOSE").is_some() {
            eprintln!(
                "  run {target:?}: {:?}, {} files",
                started.elapsed(),
                self.files
            );
            if started.elapsed() > Duration::from_secs(5) {
                let text = self.stderr();
                let lines: Vec<&str> = text
                    .lines()
                    .filter(|l| !l.contains("checkpoint committed"))
                    .collect();
                eprintln!("{}", lines[lines.len().saturating_sub(30)..].join("\n"));
            }
        }
        result
    }

    fn run_once(&mut self, target: Option<&CrashTarget>, min_files: usize) -> (Vec<Hit>, bool) {
        let mut child = self.spawn(target);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let trace = read_trace(&self.trace);
                let crashed = trace.last().is_some_and(|h| h.crashed);
                if crashed {
                    return (trace, true);
                }
                assert!(
                    status.success(),
                    "the child failed ({status}) in {}: {}",
                    self.dir.display(),
                    self.stderr()
                );
                return (trace, false);
            }
            assert!(
                Instant::now() < deadline,
                "scenario {} stuck: {}",
                self.dir.display(),
                self.stderr()
            );
            if self.all_published() {
                let enough = self.files >= min_files;
                if target.is_none() && enough {
                    fs::write(self.dir.join("STOP"), "").unwrap();
                } else if self.files < 40 {
                    self.feed();
                } else {
                    panic!(
                        "{} files fed and the crash target {target:?} was never reached: {}",
                        self.files,
                        self.stderr()
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn all_published(&self) -> bool {
        let got = published(&self.dir.join("out"), self.format);
        self.fed.iter().all(|l| got.contains_key(l))
    }

    /// Crashes at each target in turn (one per process), then runs to the end, and checks the
    /// output: every line fed exactly once, nothing staged, inputs cleaned up as asked.
    fn crash_then_verify(mut self, targets: &[CrashTarget]) {
        for target in targets {
            let (_, crashed) = self.run(Some(target), usize::MAX);
            assert!(crashed, "never reached {target}");
        }
        let _ = fs::remove_file(self.dir.join("STOP"));
        self.run(None, self.files + 1);
        let got = published(&self.dir.join("out"), self.format);
        let lost: Vec<_> = self
            .fed
            .iter()
            .filter(|l| !got.contains_key(*l))
            .take(3)
            .collect();
        let twice: Vec<_> = got.iter().filter(|(_, n)| **n != 1).take(3).collect();
        assert!(
            lost.is_empty() && twice.is_empty() && got.len() == self.fed.len(),
            "after crashing at {targets:?}: lost {lost:?}, more than once {twice:?}"
        );
        let staged = fs::read_dir(self.dir.join("out/.sdf-staging"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(staged, 0, "staged files left after {targets:?}");
        self.check_cleanup(targets);
        let _ = fs::remove_dir_all(&self.dir);
    }

    /// Deleted or archived inputs: each input is in one place at most; a file still in `in/`
    /// is one whose clean-up a crash interrupted (finalizers are best-effort: one pending in
    /// the process that died never runs, and the restart does not read the file again), at
    /// most the two files in flight per crash (the parent feeds one at a time).
    fn check_cleanup(&self, targets: &[CrashTarget]) {
        let names = |dir: &str| -> BTreeSet<String> {
            fs::read_dir(self.dir.join(dir))
                .into_iter()
                .flatten()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        };
        let left = names("in");
        match self.cleanup {
            "keep" => assert_eq!(left.len(), self.files),
            "delete" | "archive" => {
                assert!(
                    left.len() <= targets.len() * 2,
                    "{} inputs not cleaned up after {targets:?}: {left:?}",
                    left.len()
                );
                if self.cleanup == "archive" {
                    let archived = names("archive");
                    assert!(left.is_disjoint(&archived), "{left:?} {archived:?}");
                    assert_eq!(left.len() + archived.len(), self.files);
                }
            }
            other => panic!("{other}"),
        }
    }
}

/// Every line of the files published in `out` (staging excluded), with its count.
fn published(out: &Path, format: &str) -> HashMap<String, usize> {
    let mut lines = HashMap::new();
    let mut add = |line: String| *lines.entry(line).or_default() += 1;
    for entry in fs::read_dir(out).into_iter().flatten() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        match format {
            "text" => fs::read_to_string(&path)
                .unwrap()
                .lines()
                .for_each(|l| add(l.into())),
            "csv" => {
                let text = fs::read_to_string(&path).unwrap();
                let mut rows = text.lines();
                assert_eq!(
                    rows.next(),
                    Some("line"),
                    "{}: its header first",
                    path.display()
                );
                rows.for_each(|l| add(l.into()));
            }
            "jsonl" => fs::read_to_string(&path)
                .unwrap()
                .lines()
                .for_each(|l| add(serde_json::from_str(l).unwrap())),
            "json" => serde_json::from_str::<Vec<String>>(&fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .into_iter()
                .for_each(&mut add),
            "parquet" => parquet_lines(&path).into_iter().for_each(&mut add),
            other => panic!("{other}"),
        }
    }
    lines
}

fn parquet_lines(path: &Path) -> Vec<String> {
    use arrow_array::Array;
    let file = sdf_connectors::match_pattern(
        &path.display().to_string(),
        sdf_connectors::MatchOptions::default(),
    )
    .unwrap()
    .remove(0);
    let batches = sdf_core::testing::run_to_completion(&sdf_connectors::ReadParquet::new(), &file)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = Vec::new();
    for batch in batches {
        let column = batch
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        lines.extend((0..column.len()).map(|i| column.value(i).to_string()));
    }
    lines
}

/// From a trace: per step, in how many epochs it occurred and how many hits each had.
fn occurrences(trace: &[Hit]) -> BTreeMap<String, Vec<u32>> {
    let mut by_step: BTreeMap<String, Vec<(u64, u32)>> = BTreeMap::new();
    for hit in trace {
        let epochs = by_step.entry(hit.step.clone()).or_default();
        match epochs.last_mut() {
            Some((epoch, hits)) if *epoch == hit.epoch => *hits += 1,
            _ => epochs.push((hit.epoch, 1)),
        }
    }
    by_step
        .into_iter()
        .map(|(step, epochs)| (step, epochs.into_iter().map(|(_, n)| n).collect()))
        .collect()
}

/// The targets of `steps` a traced run offers: the first, second and a later epoch that has
/// the step (the third, or the last if fewer), at its first hit, and at its second where the
/// trace's epoch had two or more (a second staged file, a second publish).
fn targets(trace: &[Hit], steps: &[&str]) -> Vec<CrashTarget> {
    let mut targets = BTreeSet::new();
    for (name, epochs) in occurrences(trace) {
        if !steps.contains(&name.as_str()) {
            continue;
        }
        for ordinal in [1, 2, 3]
            .into_iter()
            .filter(|o| *o as usize <= epochs.len())
        {
            targets.insert((name.clone(), ordinal, 0));
            let with_two = epochs.iter().filter(|hits| **hits >= 2).count();
            if ordinal as usize <= with_two {
                targets.insert((name.clone(), ordinal, 1));
            }
        }
    }
    targets
        .into_iter()
        .map(|(step, epoch, index)| CrashTarget::new(&step, epoch, index))
        .collect()
}

/// Runs scenarios two at a time (the machine's cores); returns how many crash points they
/// exercised.
fn run_all(scenarios: Vec<(String, &'static str, &'static str, Vec<CrashTarget>)>) -> usize {
    let next = AtomicUsize::new(0);
    let points = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((name, format, cleanup, chain)) = scenarios.get(i) else {
                        return;
                    };
                    let started = Instant::now();
                    Scenario::new(&format!("{name}-{i}"), format, cleanup).crash_then_verify(chain);
                    if std::env::var_os("SDF_MATRIX_VERBOSE").is_some() {
                        eprintln!("{chain:?}: {:?}", started.elapsed());
                    }
                    points.fetch_add(chain.len(), Ordering::Relaxed);
                }
            });
        }
    });
    points.into_inner()
}

/// A run without crashes, traced: the steps the protocol takes for this format and clean-up.
fn trace_of(format: &'static str, cleanup: &'static str) -> Vec<Hit> {
    let started = Instant::now();
    let mut scenario = Scenario::new(&format!("trace-{format}-{cleanup}"), format, cleanup);
    let (trace, crashed) = scenario.run(None, 5);
    if std::env::var_os("SDF_MATRIX_VERBOSE").is_some() {
        eprintln!("trace {format} {cleanup}: {:?}", started.elapsed());
    }
    assert!(!crashed);
    let dir = scenario.dir.clone();
    scenario.crash_then_verify(&[]);
    let _ = fs::remove_dir_all(dir);
    trace
}

const STAGING: &[&str] = &[
    step::STAGE_CREATE,
    step::STAGE_WRITE,
    step::STAGE_FLUSH,
    step::STAGE_FSYNC,
    step::STAGE_DIR_FSYNC,
];

const COMMIT: &[&str] = &[
    step::CHECKPOINT_WRITE,
    step::CHECKPOINT_FSYNC,
    step::CHECKPOINT_KEEP_PREVIOUS,
    step::CHECKPOINT_RENAME,
    step::CHECKPOINT_DIR_FSYNC,
    step::PUBLISH_RENAME,
    step::PUBLISH_DIR_FSYNC,
    step::PUBLISH_MARK,
];

/// Every step of the protocol for text output with deletion after commit, in the first, second
/// and a later epoch; then the recovery steps crashed on the restart after a crash.
#[test]
fn a_crash_at_any_step_of_the_protocol_loses_and_duplicates_nothing() {
    let trace = trace_of("text", "delete");
    let steps: Vec<&str> = STAGING
        .iter()
        .chain(COMMIT)
        .chain(&[step::FINALIZE_DELETE])
        .copied()
        .collect();
    let first = targets(&trace, &steps);
    let seen: BTreeSet<&str> = first.iter().map(|t| t.step.as_str()).collect();
    for step in &steps {
        assert!(
            seen.contains(step),
            "the trace never took {step}: {trace:?}"
        );
    }
    let mut scenarios: Vec<_> = first
        .iter()
        .map(|t| ("text".to_string(), "text", "delete", vec![t.clone()]))
        .collect();
    // Recovery crashed too: a crash that leaves staged files (or a durable epoch not yet
    // published), then one in the restart's own recovery.
    for (first, then) in [
        (step::STAGE_WRITE, step::DISCARD_REMOVE),
        (step::STAGE_FSYNC, step::DISCARD_DIR_FSYNC),
        (step::PUBLISH_RENAME, step::PUBLISH_RENAME),
        (step::PUBLISH_RENAME, step::PUBLISH_MARK),
        (step::CHECKPOINT_DIR_FSYNC, step::PUBLISH_DIR_FSYNC),
        // The wedge of issue 14: the first publish done, the restart stages its first file.
        (step::PUBLISH_MARK, step::STAGE_WRITE),
        (step::FINALIZE_DELETE, step::STAGE_CREATE),
    ] {
        scenarios.push((
            "recovery".to_string(),
            "text",
            "delete",
            vec![CrashTarget::new(first, 1, 0), CrashTarget::new(then, 1, 0)],
        ));
    }
    let points = run_all(scenarios);
    eprintln!("protocol: {points} crash points exercised, each restarted to exactly-once output");
    assert!(points >= 40, "only {points} crash points");
}

/// The staging steps of every sink format, and a publish, in the first, second and a later
/// epoch: footers (JSON arrays, Parquet) and headers (CSV) survive every crash whole.
#[test]
fn every_sink_format_survives_a_crash_at_each_of_its_steps() {
    let mut scenarios = Vec::new();
    for format in ["csv", "jsonl", "json", "parquet"] {
        let trace = trace_of(format, "keep");
        let steps: Vec<&str> = STAGING
            .iter()
            .chain(&[step::PUBLISH_RENAME, step::CHECKPOINT_RENAME])
            .copied()
            .collect();
        for target in targets(&trace, &steps) {
            scenarios.push((format.to_string(), format, "keep", vec![target]));
        }
        scenarios.push((
            format!("{format}-recovery"),
            format,
            "keep",
            vec![
                CrashTarget::new(step::STAGE_WRITE, 2, 0),
                CrashTarget::new(step::DISCARD_REMOVE, 1, 0),
            ],
        ));
    }
    let points = run_all(scenarios);
    eprintln!("sink formats: {points} crash points exercised");
    assert!(points >= 40, "only {points} crash points");
}

/// The watch's archive after commit, crashed at each move: no input read twice, none lost,
/// none both archived and still in place.
#[test]
fn the_watch_clean_up_survives_a_crash_at_each_finalizer() {
    let trace = trace_of("text", "archive");
    let scenarios: Vec<_> = targets(&trace, &[step::FINALIZE_ARCHIVE])
        .into_iter()
        .map(|t| ("archive".to_string(), "text", "archive", vec![t]))
        .collect();
    assert!(!scenarios.is_empty(), "the trace never archived: {trace:?}");
    let points = run_all(scenarios);
    eprintln!("clean-up: {points} crash points exercised");
}
