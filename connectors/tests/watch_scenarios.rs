//! Watch scenarios as data: each `watch_scenarios/*.json` file is a directory's history (files
//! created, appended to, touched, deleted, renamed, with the clock set by hand), the polls of a
//! continuous match with the files each must emit, restarts from the serialized restriction and
//! watermark in the middle, and commits that run the clean-up finalizers.
//!
//! The driver calls `process` as the runtime does: one call per poll, `try_split(0.0)` after a
//! `Resume`, the residual and the estimator state carried to the next call. A restart
//! serializes both to JSON and resumes with a new DoFn instance.

mod match_support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use match_support::{TestDir, set_mtime};
use sdf_connectors::{
    Admission, AdmissionOrder, ContinuousMatch, MatchAll, Termination, WatchRestriction,
};
use sdf_core::{
    Clock, CollectEmitter, Finalizer, ManualWatermarkEstimator, Output, ProcessContinuation,
    RestrictionTracker, SharedTracker, SplittableDoFn, Timestamp, WatermarkEstimator,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    description: String,
    pattern: String,
    #[serde(default = "default_allowance")]
    late_allowance_s: u64,
    #[serde(default)]
    match_updated_files: bool,
    max_files_per_poll: Option<usize>,
    max_bytes_per_poll: Option<u64>,
    #[serde(default)]
    newest_first: bool,
    #[serde(default)]
    termination: TerminationSpec,
    #[serde(default)]
    cleanup: CleanupSpec,
    /// The settle time; 0 (the scenarios' default) takes every listed file as complete.
    #[serde(default)]
    settle_s: u64,
    steps: Vec<Step>,
}

fn default_allowance() -> u64 {
    60
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TerminationSpec {
    #[default]
    Never,
    AfterPollsWithoutNewFile(u32),
    AfterSeconds(u64),
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CleanupSpec {
    #[default]
    Keep,
    Delete,
    Archive(String),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Step {
    /// Sets the wall clock, in seconds.
    Clock {
        at: i64,
    },
    /// Creates (or overwrites) a file of `size` bytes modified at `mtime`.
    Create {
        path: String,
        mtime: i64,
        size: usize,
    },
    /// Appends `size` bytes and sets the modification time.
    Append {
        path: String,
        size: usize,
        mtime: i64,
    },
    /// Sets the modification time only.
    Touch {
        path: String,
        mtime: i64,
    },
    Delete {
        path: String,
    },
    Rename {
        from: String,
        to: String,
    },
    /// One `process` call: the files it emits, in order; optionally the watermark after it (in
    /// seconds) and whether the watch terminates.
    Poll {
        emits: Vec<String>,
        watermark: Option<i64>,
        #[serde(default)]
        stops: bool,
    },
    /// Serializes the restriction and watermark, and resumes with a new DoFn.
    Restart,
    /// The output so far is committed: the clean-up finalizers run.
    Commit,
    /// Which files exist now.
    Expect {
        #[serde(default)]
        present: Vec<String>,
        #[serde(default)]
        absent: Vec<String>,
    },
}

struct FakeClock(AtomicI64);

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.0.load(Ordering::Relaxed))
    }
}

struct Driver {
    scenario_dir: TestDir,
    clock: Arc<FakeClock>,
    pattern: String,
    restriction: WatchRestriction,
    watermark: Timestamp,
    finalizers: Vec<Finalizer>,
}

impl Driver {
    fn dofn(&self, s: &Scenario) -> ContinuousMatch {
        let termination = match s.termination {
            TerminationSpec::Never => Termination::Never,
            TerminationSpec::AfterPollsWithoutNewFile(n) => {
                Termination::AfterPollsWithoutNewFile(n)
            }
            TerminationSpec::AfterSeconds(d) => Termination::After(Duration::from_secs(d)),
        };
        let mut admission = Admission::unlimited();
        if let Some(n) = s.max_files_per_poll {
            admission = admission.max_files(n);
        }
        if let Some(b) = s.max_bytes_per_poll {
            admission = admission.max_bytes(b);
        }
        if s.newest_first {
            admission = admission.order(AdmissionOrder::NewestFirst);
        }
        let dofn = MatchAll::new()
            .continuously(Duration::from_secs(10), termination)
            .late_allowance(Duration::from_secs(s.late_allowance_s))
            .match_updated_files(s.match_updated_files)
            .admission(admission)
            .notifications(false)
            .settle(Duration::from_secs(s.settle_s))
            .clock(self.clock.clone());
        match &s.cleanup {
            CleanupSpec::Keep => dofn,
            CleanupSpec::Delete => dofn.delete_after_commit(),
            CleanupSpec::Archive(dir) => {
                dofn.archive_after_commit(self.scenario_dir.path().join(dir))
            }
        }
    }

    /// One `process` call; returns the names emitted and whether the watch stopped.
    fn poll(&mut self, dofn: &ContinuousMatch) -> (Vec<String>, bool) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut tracker =
            SharedTracker::new(dofn.new_tracker(&self.pattern, self.restriction.clone()));
        let mut estimator = ManualWatermarkEstimator::from_state(self.watermark);
        let mut emitter = CollectEmitter::default();
        let continuation = runtime.block_on(async {
            let mut output = Output::new(&mut emitter, Timestamp::MIN, 16);
            let c = dofn
                .process(&self.pattern, &mut tracker, &mut output, &mut estimator)
                .await
                .unwrap();
            output.flush().await.unwrap();
            c
        });
        let (mut tracker, orphans) = tracker.finish();
        assert!(orphans.is_empty());
        let stopped = match continuation {
            ProcessContinuation::Resume { .. } => {
                let split = tracker
                    .try_split(0.0)
                    .unwrap()
                    .expect("a resumed watch has a residual");
                self.restriction = split.residual;
                false
            }
            ProcessContinuation::Stop => {
                tracker.check_done().unwrap();
                self.restriction = WatchRestriction::Done;
                true
            }
        };
        self.watermark = estimator.state();
        for record in &emitter.records {
            assert_eq!(
                record.timestamp, record.value.modified,
                "files carry their mtime"
            );
        }
        self.finalizers.extend(emitter.finalizers);
        let root = self.scenario_dir.path().join("watched");
        let names = emitter
            .records
            .iter()
            .map(|r| {
                r.value
                    .path
                    .strip_prefix(&root)
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        (names, stopped)
    }

    fn restart(&mut self) {
        let restriction = serde_json::to_string(&self.restriction).unwrap();
        let watermark = serde_json::to_string(&self.watermark).unwrap();
        self.restriction = serde_json::from_str(&restriction).unwrap();
        self.watermark = serde_json::from_str(&watermark).unwrap();
        // Finalizers of output that was never committed are lost with the process.
        self.finalizers.clear();
    }
}

fn seconds(s: i64) -> Timestamp {
    Timestamp::from_millis(s * 1000)
}

fn run(file: &Path) {
    let text = std::fs::read_to_string(file).unwrap();
    let s: Scenario =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let name = file.file_stem().unwrap().to_string_lossy().into_owned();
    let scenario_dir = TestDir::new(&format!("watch-{name}"));
    let watched = scenario_dir.path().join("watched");
    std::fs::create_dir_all(&watched).unwrap();
    let mut driver = Driver {
        pattern: format!("{}/{}", watched.display(), s.pattern),
        scenario_dir,
        clock: Arc::new(FakeClock(AtomicI64::new(0))),
        restriction: WatchRestriction::Done,
        watermark: Timestamp::MIN,
        finalizers: Vec::new(),
    };
    let mut dofn = driver.dofn(&s);
    driver.restriction = dofn.initial_restriction(&driver.pattern).unwrap();
    for (i, step) in s.steps.iter().enumerate() {
        let at = format!("{name} ({}), step {i}: {step:?}", s.description);
        let path = |rel: &str| watched.join(rel);
        match step {
            Step::Clock { at } => driver
                .clock
                .0
                .store(seconds(*at).as_micros(), Ordering::Relaxed),
            Step::Create {
                path: p,
                mtime,
                size,
            } => {
                std::fs::create_dir_all(path(p).parent().unwrap()).unwrap();
                std::fs::write(path(p), vec![b'x'; *size]).unwrap();
                set_mtime(&path(p), *mtime);
            }
            Step::Append {
                path: p,
                size,
                mtime,
            } => {
                use std::io::Write;
                let mut f = std::fs::File::options().append(true).open(path(p)).unwrap();
                f.write_all(&vec![b'y'; *size]).unwrap();
                drop(f);
                set_mtime(&path(p), *mtime);
            }
            Step::Touch { path: p, mtime } => set_mtime(&path(p), *mtime),
            Step::Delete { path: p } => std::fs::remove_file(path(p)).unwrap(),
            Step::Rename { from, to } => std::fs::rename(path(from), path(to)).unwrap(),
            Step::Poll {
                emits,
                watermark,
                stops,
            } => {
                let (got, stopped) = driver.poll(&dofn);
                assert_eq!(&got, emits, "{at}");
                assert_eq!(stopped, *stops, "{at}: whether the watch stops");
                if let Some(w) = watermark {
                    assert_eq!(driver.watermark, seconds(*w), "{at}: the watermark");
                }
            }
            Step::Restart => {
                driver.restart();
                dofn = driver.dofn(&s);
            }
            Step::Commit => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                for finalizer in driver.finalizers.drain(..) {
                    runtime.block_on(finalizer()).unwrap();
                }
            }
            Step::Expect { present, absent } => {
                for p in present {
                    assert!(
                        driver.scenario_dir.path().join(p).exists(),
                        "{at}: {p} is missing"
                    );
                }
                for p in absent {
                    assert!(
                        !driver.scenario_dir.path().join(p).exists(),
                        "{at}: {p} is still there"
                    );
                }
            }
        }
    }
}

#[test]
fn every_watch_scenario() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/watch_scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "scenarios found: {files:?}");
    for file in &files {
        run(file);
        eprintln!(
            "scenario {} passed",
            file.file_name().unwrap().to_string_lossy()
        );
    }
}
