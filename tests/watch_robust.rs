//! `sdf watch` (and `sdf tail`) as a user runs them, in the ways that used to wedge them or make
//! them silently wrong: killed at the wrong moment, stopped by a signal, files still being
//! written, poison files, a changed pattern, output inside the watched pattern, two watchers on
//! one state, permanent errors.
//!
//! Every wait here waits for something the pipeline does (a file published, a staged file
//! appearing, the process exiting), bounded generously so that a busy machine is only slower;
//! no assertion depends on how long anything took.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

fn sdf() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sdf"))
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sdf-robust-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("in")).unwrap();
        Scratch(dir)
    }
    fn inbox(&self) -> PathBuf {
        self.0.join("in")
    }
    fn out(&self) -> PathBuf {
        self.0.join("out")
    }
    fn state(&self) -> PathBuf {
        self.0.join("state")
    }
    fn pattern(&self) -> String {
        format!("{}/*.txt", self.inbox().display())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A running `sdf watch`, its stderr kept in a file.
struct Watch {
    child: Child,
    stderr: PathBuf,
}

impl Watch {
    fn start(s: &Scratch, extra: &[&str]) -> Watch {
        Watch::start_on(s, &s.pattern(), extra)
    }

    /// `sdf watch PATTERN` on `s`'s --out and --state, with `extra` options (which replace the
    /// defaults of the same name).
    fn start_on(s: &Scratch, pattern: &str, extra: &[&str]) -> Watch {
        let stderr = s.0.join(format!("stderr-{}", rand_suffix()));
        let default = |flag: &'static str, value: &'static str| -> Vec<&'static str> {
            if extra.contains(&flag) {
                vec![]
            } else {
                vec![flag, value]
            }
        };
        let child = sdf()
            .args(["watch", pattern, "--poll", "50ms", "--status", "0"])
            .args(default("--checkpoint", "200ms"))
            .args(default("--settle", "200ms"))
            .arg("--out")
            .arg(s.out())
            .arg("--state")
            .arg(s.state())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Watch { child, stderr }
    }

    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Waits for the process to exit (at most a minute); its status and stderr.
    fn exit(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, fs::read_to_string(&self.stderr).unwrap());
            }
            assert!(
                Instant::now() < deadline,
                "sdf did not exit within a minute"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether it is still running (it has not failed).
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "sdf watch exited with {status}: {}",
                fs::read_to_string(&self.stderr).unwrap()
            );
        }
    }
}

/// A number not used before in this process, for file names.
fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Runs a command that must refuse and exit by itself: its status and stderr, killing it (and
/// failing) if it is still running after a minute.
fn refused(mut command: Command) -> (ExitStatus, String) {
    let stderr = std::env::temp_dir().join(format!(
        "sdf-robust-refused-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let child = command
        .stdout(Stdio::null())
        .stderr(fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut watch = Watch { child, stderr };
    let deadline = Instant::now() + Duration::from_secs(60);
    while watch.child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            watch.child.kill().unwrap();
            panic!("still running after a minute: it was not refused");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let path = watch.stderr.clone();
    let result = watch.exit();
    let _ = fs::remove_file(path);
    result
}

/// Writes `n` lines into `in/<name>` whole: beside it, then renamed into place.
fn drop_file(s: &Scratch, name: &str, n: usize) -> Vec<String> {
    let lines: Vec<String> = (0..n).map(|i| format!("{name} line {i}")).collect();
    let staging = s.0.join(format!(".{name}.tmp"));
    let mut f = fs::File::create(&staging).unwrap();
    for line in &lines {
        writeln!(f, "{line}").unwrap();
    }
    drop(f);
    fs::rename(&staging, s.inbox().join(name)).unwrap();
    lines
}

/// Every line of the files published in `dir`, with its count.
fn published(dir: &Path) -> HashMap<String, usize> {
    let mut lines = HashMap::new();
    for entry in fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_file() {
            for line in fs::read_to_string(&path).unwrap().lines() {
                *lines.entry(line.to_string()).or_default() += 1;
            }
        }
    }
    lines
}

/// Staged files in `out`'s staging directory.
fn staged(out: &Path) -> usize {
    fs::read_dir(out.join(".sdf-staging")).map_or(0, |d| {
        d.filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with("part-") && name.ends_with(".tmp")
        })
        .count()
    })
}

/// Waits (at most a minute) until `done` holds, with the watch still running.
fn until(watch: &mut Watch, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        watch.assert_running();
        assert!(Instant::now() < deadline, "waited a minute for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn has_all(out: &Path, lines: &[String]) -> bool {
    let got = published(out);
    lines.iter().all(|l| got.contains_key(l))
}

fn assert_exactly(out: &Path, want: &[String]) {
    let got = published(out);
    let mut expected: HashMap<String, usize> = HashMap::new();
    for line in want {
        *expected.entry(line.clone()).or_default() += 1;
    }
    let lost: Vec<_> = expected
        .keys()
        .filter(|l| !got.contains_key(*l))
        .take(5)
        .collect();
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).take(5).collect();
    let extra: Vec<_> = got
        .keys()
        .filter(|l| !expected.contains_key(*l))
        .take(5)
        .collect();
    assert!(
        lost.is_empty() && twice.is_empty() && extra.is_empty(),
        "lost {lost:?}, twice {twice:?}, never written {extra:?}"
    );
}

/// The staged names the latest checkpoint in `state` publishes for the output sink.
fn latest_published_staged_names(state: &Path) -> Vec<String> {
    let Ok(text) = fs::read_to_string(state.join("checkpoint.json")) else {
        return Vec::new();
    };
    let checkpoint: serde_json::Value = serde_json::from_str(&text).unwrap();
    checkpoint["commits"]["out"]["files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .map(|f| f["staged"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Starts a watch, lets it publish one file (the first it stages) and kills it (SIGKILL) while
/// its latest checkpoint is still the one that published it: read from the state directory
/// afterwards, and tried again if an empty checkpoint came first. Returns the lines dropped.
fn kill_after_its_first_publish(s: &Scratch, name: &str) -> Vec<String> {
    let mut want = Vec::new();
    for attempt in 0..50 {
        let mut watch = Watch::start(s, &["--checkpoint", "1s"]);
        let lines = drop_file(s, &format!("{name}-{attempt}.txt"), 50);
        want.extend(lines.clone());
        until(&mut watch, "the file published", || {
            has_all(&s.out(), &lines)
        });
        watch.kill_9();
        let names = latest_published_staged_names(&s.state());
        if names.len() == 1 && names[0].ends_with("00000001.tmp") {
            return want;
        }
    }
    panic!("50 attempts never killed the watch right after its first publish");
}

/// Starts a watch on a state whose latest checkpoint published files, and kills it (SIGKILL)
/// while the first file it staged is not yet published, the checkpoint still the old one.
fn kill_with_its_first_file_staged(s: &Scratch, name: &str) -> Vec<String> {
    let mut want = Vec::new();
    for attempt in 0..50 {
        // A long checkpoint interval: the kill comes before this run's first checkpoint.
        let mut watch = Watch::start(s, &["--checkpoint", "3s"]);
        let lines = drop_file(s, &format!("{name}-{attempt}.txt"), 50);
        want.extend(lines.clone());
        let mut staged_now = false;
        until(&mut watch, "the file staged or published", || {
            staged_now = staged(&s.out()) > 0;
            staged_now || has_all(&s.out(), &lines)
        });
        watch.kill_9();
        if staged_now
            && !has_all(&s.out(), &lines)
            && !latest_published_staged_names(&s.state()).is_empty()
        {
            return want;
        }
    }
    panic!("50 attempts never killed the watch with its first file staged");
}

/// The wedge of issue 14, deterministically: a run is killed while its latest checkpoint is the
/// one that published a file; the restart stages its first file and is killed before it is
/// published; the next restart must come up and lose or duplicate nothing. (Staged names
/// restarted at 1 in every process, so the second run's staged file took the staged name the
/// durable epoch's commit refers to, and every restart refused: "already exists and was not
/// published by this sink".)
#[test]
fn a_kill_while_records_are_staged_after_a_restart_does_not_wedge_the_watch() {
    let s = Scratch::new("wedge");
    let mut want = kill_after_its_first_publish(&s, "first-run");
    want.extend(kill_with_its_first_file_staged(&s, "second-run"));
    let mut watch = Watch::start(&s, &[]);
    let last = drop_file(&s, "last.txt", 10);
    want.extend(last);
    until(&mut watch, "every file published", || {
        has_all(&s.out(), &want)
    });
    watch.signal("TERM");
    let (status, stderr) = watch.exit();
    assert!(status.success(), "{status}: {stderr}");
    assert_exactly(&s.out(), &want);
    assert_eq!(staged(&s.out()), 0);
}

#[test]
fn sigint_and_sigterm_save_a_checkpoint_and_exit_0_without_a_panic() {
    for signal in ["INT", "TERM"] {
        let s = Scratch::new(&format!("signal-{signal}"));
        let mut watch = Watch::start(&s, &[]);
        let lines = drop_file(&s, "a.txt", 20);
        until(&mut watch, "the file published", || {
            has_all(&s.out(), &lines)
        });
        watch.signal(signal);
        let (status, stderr) = watch.exit();
        assert_eq!(status.code(), Some(0), "SIG{signal}: {stderr}");
        assert!(!stderr.contains("panicked"), "SIG{signal}: {stderr}");
        assert!(stderr.contains("saving a checkpoint"), "{stderr}");
    }
}

#[test]
fn sdf_tail_stops_on_sigint_and_sigterm_without_a_panic() {
    for signal in ["INT", "TERM"] {
        let s = Scratch::new(&format!("tail-{signal}"));
        let log = s.inbox().join("a.log");
        fs::write(&log, "first\n").unwrap();
        let stderr = s.0.join("stderr");
        let mut child = sdf()
            .args(["tail", &format!("{}/*.log", s.inbox().display())])
            .args(["--poll", "20ms"])
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line, "first\n");
        Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        let stderr = fs::read_to_string(&stderr).unwrap();
        assert_eq!(status.code(), Some(0), "SIG{signal}: {stderr}");
        assert!(!stderr.contains("panicked"), "SIG{signal}: {stderr}");
    }
}

/// `cp big.txt in/` into a watched directory: the file is read once it is whole, never half.
#[test]
fn a_file_still_being_written_is_read_whole() {
    let s = Scratch::new("half-written");
    let mut watch = Watch::start(&s, &["--settle", "60m"]);
    let path = s.inbox().join("big.txt");
    let mut writer = fs::File::create(&path).unwrap();
    let mut want = Vec::new();
    for part in 0..4 {
        for i in 0..2_000 {
            let line = format!("big part {part} line {i}");
            writeln!(writer, "{line}").unwrap();
            want.push(line);
        }
        // Half a line, the rest in the next part: a truncated record if read now.
        write!(writer, "big cut {part} ").unwrap();
        writer.flush().unwrap();
        // A file renamed in after the write: once it is out, a poll has seen big.txt open.
        // (One renamed in before the watcher started waits for the settle time: a new one
        // follows every 100 ms until one is out.)
        let before = published(&s.out()).len();
        for attempt in 0.. {
            drop_file(&s, &format!("marker-{part}-{attempt}.txt"), 1);
            let deadline = Instant::now() + Duration::from_millis(100);
            while Instant::now() < deadline && published(&s.out()).len() == before {
                watch.assert_running();
                std::thread::sleep(Duration::from_millis(2));
            }
            if published(&s.out()).len() > before {
                break;
            }
            assert!(attempt < 600, "no marker was published in a minute");
        }
        assert!(
            !published(&s.out()).keys().any(|l| l.starts_with("big")),
            "big.txt was read while it was being written (part {part})"
        );
        writeln!(writer, "end").unwrap();
        want.push(format!("big cut {part} end"));
    }
    drop(writer);
    until(&mut watch, "big.txt published", || has_all(&s.out(), &want));
    watch.signal("TERM");
    let (status, stderr) = watch.exit();
    assert!(status.success(), "{stderr}");
    let big: HashMap<String, usize> = published(&s.out())
        .into_iter()
        .filter(|(line, _)| line.starts_with("big"))
        .collect();
    assert_eq!(big.len(), want.len(), "no record cut, none lost");
    assert!(big.values().all(|n| *n == 1), "each once");
}

/// Writes a JSON-lines file whole into `in/`.
fn drop_jsonl(s: &Scratch, name: &str, text: &str) {
    let staging = s.0.join(format!(".{name}.tmp"));
    fs::write(&staging, text).unwrap();
    fs::rename(&staging, s.inbox().join(name)).unwrap();
}

fn start_jsonl(s: &Scratch, extra: &[&str]) -> Watch {
    let pattern = format!("{}/*.jsonl", s.inbox().display());
    let options = [&["--format", "jsonl", "--settle", "0"], extra].concat();
    Watch::start_on(s, &pattern, &options)
}

#[test]
fn a_poison_file_goes_to_the_dead_letter_directory_and_the_watch_goes_on() {
    let s = Scratch::new("poison-dead-letter");
    let dead = s.0.join("dead");
    let dead_arg = dead.display().to_string();
    let mut watch = start_jsonl(&s, &["--dead-letter", &dead_arg]);
    drop_jsonl(&s, "good-1.jsonl", "{\"a\":1}\n{\"a\":2}\n");
    drop_jsonl(&s, "bad.jsonl", "{\"a\":3}\n{\"a\": oops}\n{\"a\":4}\n");
    drop_jsonl(&s, "good-2.jsonl", "{\"a\":5}\n");
    until(&mut watch, "the good files and the dead letter", || {
        published(&s.out()).len() == 3 && !published(&dead).is_empty()
    });
    let letters: Vec<serde_json::Value> = published(&dead)
        .keys()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert!(
        letter["element"]["path"]
            .as_str()
            .unwrap()
            .ends_with("bad.jsonl"),
        "{letter}"
    );
    assert!(
        letter["error"].as_str().unwrap().contains("bad.jsonl"),
        "{letter}"
    );
    assert!(
        letter["restriction"].is_object(),
        "the range not ingested: {letter}"
    );
    // A restart does not fail on it again, and goes on.
    watch.kill_9();
    let mut watch = start_jsonl(&s, &["--dead-letter", &dead_arg]);
    drop_jsonl(&s, "good-3.jsonl", "{\"a\":6}\n");
    until(&mut watch, "the file after the restart", || {
        published(&s.out()).len() == 4
    });
    watch.signal("INT");
    let (status, stderr) = watch.exit();
    assert!(status.success(), "{stderr}");
    assert_eq!(published(&dead).len(), 1, "listed once");
}

#[test]
fn with_on_error_fail_a_poison_file_stops_the_watch_and_a_restart_goes_on_without_it() {
    let s = Scratch::new("poison-fail");
    let mut watch = start_jsonl(&s, &[]);
    drop_jsonl(&s, "good-1.jsonl", "{\"a\":1}\n");
    until(&mut watch, "the good file", || {
        published(&s.out()).len() == 1
    });
    drop_jsonl(&s, "bad.jsonl", "{\"a\": oops}\n");
    let (status, stderr) = watch.exit();
    assert_eq!(status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("bad.jsonl")
            && stderr.contains("set aside")
            && stderr.contains("--dead-letter"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !stderr.contains("retrying"),
        "a bad file is not retried: {stderr}"
    );
    let mut watch = start_jsonl(&s, &[]);
    drop_jsonl(&s, "good-2.jsonl", "{\"a\":2}\n");
    until(&mut watch, "the file after the restart", || {
        published(&s.out()).len() == 2
    });
    watch.signal("TERM");
    let (status, stderr) = watch.exit();
    assert!(status.success(), "the restart went on: {stderr}");
}

#[test]
fn corrupt_compression_is_not_retried() {
    let s = Scratch::new("corrupt-gzip");
    let stderr = s.0.join("stderr");
    let child = sdf()
        .args(["watch", &format!("{}/*.gz", s.inbox().display())])
        .args(["--poll", "50ms", "--status", "0", "--settle", "0"])
        .arg("--out")
        .arg(s.out())
        .arg("--state")
        .arg(s.state())
        .stderr(fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    gz.extend_from_slice(b"this is not deflate data at all");
    fs::write(s.inbox().join("bad.txt.gz"), gz).unwrap();
    let (status, stderr) = Watch { child, stderr }.exit();
    assert_eq!(status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("bad.txt.gz"), "{stderr}");
    assert!(!stderr.contains("retrying"), "{stderr}");
}

#[test]
fn a_state_written_for_other_patterns_is_refused_and_reset_state_starts_over() {
    let s = Scratch::new("other-patterns");
    let mut watch = Watch::start(&s, &[]);
    let lines = drop_file(&s, "a.txt", 5);
    until(&mut watch, "the file published", || {
        has_all(&s.out(), &lines)
    });
    watch.signal("TERM");
    assert!(watch.exit().0.success());
    let run = |pattern: &str, out: &Path, extra: &[&str]| {
        let mut command = sdf();
        command
            .args(["watch", pattern, "--status", "0"])
            .arg("--out")
            .arg(out)
            .arg("--state")
            .arg(s.state())
            .args(extra);
        refused(command)
    };
    let other = format!("{}/*.log", s.inbox().display());
    let (status, stderr) = run(&other, &s.out(), &[]);
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("*.log") && stderr.contains("--reset-state"),
        "{stderr}"
    );
    // Another --out is another job too.
    let (status, stderr) = run(&s.pattern(), &s.0.join("out2"), &[]);
    assert_eq!(status.code(), Some(3), "{stderr}");
    // --reset-state on the old output: refused, or every record would be written again.
    let (status, stderr) = run(&other, &s.out(), &["--reset-state"]);
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("empty --out"), "{stderr}");
}

#[test]
fn out_or_state_inside_the_watched_pattern_is_refused_before_anything_runs() {
    let s = Scratch::new("feeding");
    for (out, state, flag) in [
        (s.inbox(), s.state(), "--out"),
        (s.out(), s.inbox(), "--state"),
    ] {
        let pattern = format!("{}/*", s.inbox().display());
        let mut command = sdf();
        command
            .args(["watch", &pattern])
            .arg("--out")
            .arg(&out)
            .arg("--state")
            .arg(&state);
        let (status, stderr) = refused(command);
        assert_eq!(status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(flag) && stderr.contains("its own files"),
            "{stderr}"
        );
        assert!(!s.state().exists() && !s.out().exists(), "nothing ran");
    }
}

#[test]
fn a_second_watch_on_a_state_in_use_is_refused_at_once() {
    let s = Scratch::new("two-watchers");
    let mut first = Watch::start(&s, &[]);
    let lines = drop_file(&s, "a.txt", 5);
    until(&mut first, "the file published", || {
        has_all(&s.out(), &lines)
    });
    let second = Watch::start(&s, &[]);
    let (status, stderr) = second.exit();
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("in use by process"), "{stderr}");
    // The first one is unharmed.
    let more = drop_file(&s, "b.txt", 5);
    until(&mut first, "the next file published", || {
        has_all(&s.out(), &more)
    });
    first.signal("TERM");
    let (status, stderr) = first.exit();
    assert!(status.success(), "{stderr}");
    let mut want = lines;
    want.extend(more);
    assert_exactly(&s.out(), &want);
}
