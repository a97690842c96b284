//! Arming the [crash points](crate::crash) of a process: record every step it reaches, and abort
//! it at one of them.
//!
//! A crash test runs a pipeline in a child process (the honest form of a crash: the process is
//! gone, with every byte of its memory), in two kinds of runs:
//!
//! 1. a **trace** run, armed with [`CrashPlan::trace`] only: it lists the steps the protocol
//!    went through, each with its epoch ([`read_trace`]);
//! 2. one **crash** run per point of interest, armed with a [`CrashTarget`]: the process aborts
//!    (`std::process::abort`, no destructor, no flush) just before that step, after appending
//!    `crash <step> <epoch>` to the trace so the harness can tell the crash happened there.
//!
//! A target names a step, an index *i* and an ordinal *n*: it is the (*i* + 1)-th hit of the
//! step within the *n*-th epoch that reaches *i* + 1 hits of it. `publish.rename@2#0` is the
//! first publish of the second epoch that publishes anything; `stage.create@1#1` the second
//! staged file of the first epoch that stages two. Counting epochs by the step's own
//! occurrences (rather than by number) keeps a target reachable however the run's timing
//! falls: an epoch without records has no staged write, and is not counted for that step.
//!
//! The child arms itself with [`arm_from_env`] from [`CRASH_AT_ENV`] and [`TRACE_ENV`].

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The environment variable holding the [`CrashTarget`] of a child process.
pub const CRASH_AT_ENV: &str = "SDF_CRASH_AT";
/// The environment variable holding the path of a child process's trace.
pub const TRACE_ENV: &str = "SDF_CRASH_TRACE";

/// Where a crash run aborts: the `index`-th hit (from 0) of `step` within the `epoch`-th epoch
/// (from 1) that reaches `index + 1` hits of `step`. Written `step@epoch#index`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CrashTarget {
    /// One of [`crate::crash::step`].
    pub step: String,
    /// Which epoch among those that reach `index + 1` hits of the step, from 1.
    pub epoch: u32,
    /// Which hit of the step within that epoch, from 0.
    pub index: u32,
}

impl CrashTarget {
    /// The `index`-th hit of `step` in the `epoch`-th epoch that has it.
    pub fn new(step: &str, epoch: u32, index: u32) -> Self {
        CrashTarget {
            step: step.to_string(),
            epoch,
            index,
        }
    }
}

impl fmt::Display for CrashTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}#{}", self.step, self.epoch, self.index)
    }
}

impl FromStr for CrashTarget {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("'{text}' is not a crash target: write step@epoch#index");
        let (step, rest) = text.split_once('@').ok_or_else(bad)?;
        let (epoch, index) = rest.split_once('#').ok_or_else(bad)?;
        if !crate::crash::step::ALL.contains(&step) {
            return Err(format!("'{step}' is not a crash point"));
        }
        Ok(CrashTarget {
            step: step.to_string(),
            epoch: epoch.parse().map_err(|_| bad())?,
            index: index.parse().map_err(|_| bad())?,
        })
    }
}

/// What an armed process does at its crash points.
#[derive(Debug, Clone, Default)]
pub struct CrashPlan {
    trace: Option<PathBuf>,
    crash_at: Option<CrashTarget>,
}

impl CrashPlan {
    /// Appends every step reached to the file at `path` (`<step> <epoch>` per line).
    pub fn trace(mut self, path: impl Into<PathBuf>) -> Self {
        self.trace = Some(path.into());
        self
    }

    /// Aborts the process just before `target`.
    pub fn crash_at(mut self, target: CrashTarget) -> Self {
        self.crash_at = Some(target);
        self
    }
}

/// One step a traced process reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The step's name.
    pub step: String,
    /// The epoch it belonged to.
    pub epoch: u64,
    /// Whether the process aborted there.
    pub crashed: bool,
}

static ARMED: AtomicBool = AtomicBool::new(false);
static EPOCH: AtomicU64 = AtomicU64::new(0);
static STATE: Mutex<Option<Armed>> = Mutex::new(None);

struct Armed {
    trace: Option<File>,
    crash_at: Option<CrashTarget>,
    /// Per step: the last epoch it occurred in, its hits there, and how many epochs reached
    /// the target's number of hits.
    seen: HashMap<&'static str, (u64, u32, u32)>,
}

/// Arms this process: from now on, crash points follow `plan`.
///
/// # Panics
/// If the trace file cannot be opened (a test's setup error).
pub fn arm(plan: CrashPlan) {
    let trace = plan.trace.as_ref().map(|path| {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|e| panic!("cannot open the crash trace {}: {e}", path.display()))
    });
    *lock() = Some(Armed {
        trace,
        crash_at: plan.crash_at,
        seen: HashMap::new(),
    });
    ARMED.store(true, Ordering::Release);
}

/// Arms this process from [`CRASH_AT_ENV`] and [`TRACE_ENV`], if either is set; returns
/// whether it did.
///
/// # Panics
/// If [`CRASH_AT_ENV`] does not hold a [`CrashTarget`].
pub fn arm_from_env() -> bool {
    let crash_at = std::env::var(CRASH_AT_ENV).ok().filter(|t| !t.is_empty());
    let trace = std::env::var_os(TRACE_ENV).filter(|t| !t.is_empty());
    if crash_at.is_none() && trace.is_none() {
        return false;
    }
    let mut plan = CrashPlan::default();
    if let Some(target) = crash_at {
        plan = plan.crash_at(target.parse().unwrap_or_else(|e: String| panic!("{e}")));
    }
    if let Some(trace) = trace {
        plan = plan.trace(trace);
    }
    arm(plan);
    true
}

/// The steps a traced process reached, in order (an absent file is an empty trace).
///
/// # Panics
/// If the trace exists but cannot be read, or holds a line this module did not write.
pub fn read_trace(path: &Path) -> Vec<Hit> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("cannot read the crash trace {}: {e}", path.display()),
    };
    text.lines()
        .map(|line| {
            let mut words = line.split(' ');
            let (crashed, step) = match words.next() {
                Some("crash") => (true, words.next()),
                step => (false, step),
            };
            let epoch = words.next().and_then(|e| e.parse().ok());
            match (step, epoch) {
                (Some(step), Some(epoch)) => Hit {
                    step: step.to_string(),
                    epoch,
                    crashed,
                },
                _ => panic!("{}: not a trace line: {line:?}", path.display()),
            }
        })
        .collect()
}

pub(crate) fn set_epoch(epoch: u64) {
    EPOCH.store(epoch, Ordering::Release);
}

pub(crate) fn hit(step: &'static str) {
    if !ARMED.load(Ordering::Acquire) {
        return;
    }
    let epoch = EPOCH.load(Ordering::Acquire);
    let mut guard = lock();
    let Some(armed) = guard.as_mut() else { return };
    let entry = armed.seen.entry(step).or_insert((u64::MAX, 0, 0));
    if entry.0 != epoch {
        (entry.0, entry.1) = (epoch, 0);
    }
    entry.1 += 1;
    let crash = match &armed.crash_at {
        Some(t) if t.step == step && entry.1 == t.index + 1 => {
            // This epoch reaches the target's number of hits.
            entry.2 += 1;
            entry.2 == t.epoch
        }
        _ => false,
    };
    if let Some(trace) = &mut armed.trace {
        let line = if crash {
            format!("crash {step} {epoch}\n")
        } else {
            format!("{step} {epoch}\n")
        };
        // One write per line, unbuffered: what was written survives the abort.
        let _ = trace.write_all(line.as_bytes());
    }
    if crash {
        std::process::abort();
    }
}

fn lock() -> std::sync::MutexGuard<'static, Option<Armed>> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_round_trip_and_bad_ones_are_refused() {
        let target: CrashTarget = "publish.rename@2#1".parse().unwrap();
        assert_eq!(target, CrashTarget::new("publish.rename", 2, 1));
        assert_eq!(target.to_string(), "publish.rename@2#1");
        assert!("publish.rename@2".parse::<CrashTarget>().is_err());
        assert!(
            "no.such@1#0"
                .parse::<CrashTarget>()
                .unwrap_err()
                .contains("not a crash point")
        );
    }
}
