//! The kill -9 soak of the real binary: `sdf watch` killed with SIGKILL at random moments over
//! a seeded schedule, with files arriving while it runs, while it is down and as it restarts,
//! and files touched after they were ingested. Every restart must come up (a run that exits by
//! itself fails the test with its message), and at the end every input line must be in the
//! output exactly once.
//!
//! The random timing only chooses *when* to kill; nothing asserts on how long anything took,
//! and any moment is a correct moment to kill, so the soak cannot fail for timing.
//!
//! CI runs 30 kills. The long soak: `SDF_SOAK_KILLS=1000 cargo test --test watch_soak
//! -- --nocapture` (the seed is `SDF_SOAK_SEED`, printed at the start).

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A small, seeded generator (xorshift64*): the schedule is the same for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Soak {
    dir: PathBuf,
    files: usize,
    want: Vec<String>,
    rng: Rng,
}

impl Soak {
    fn inbox(&self) -> PathBuf {
        self.dir.join("in")
    }

    fn start(&self, run: usize) -> Child {
        sdf_watch(&self.dir, run)
    }

    /// A new file, whole, renamed into place.
    fn drop_file(&mut self) {
        let name = format!("f{:05}.txt", self.files);
        self.files += 1;
        let lines = 1 + self.rng.below(400) as usize;
        let tmp = self.dir.join(format!(".{name}"));
        let mut f = fs::File::create(&tmp).unwrap();
        for i in 0..lines {
            let line = format!("{name} {i}");
            writeln!(f, "{line}").unwrap();
            self.want.push(line);
        }
        drop(f);
        fs::rename(&tmp, self.inbox().join(name)).unwrap();
    }

    /// Touches one of the last 20 files, which may already be ingested: its modification time
    /// changes, its content does not; it must not be read twice. (Recent ones: a file touched
    /// after the watch forgot it, beyond the late allowance, is new again by the documented
    /// late-file rule.)
    fn touch_one(&mut self) {
        if self.files == 0 {
            return;
        }
        let recent = self.files.min(20) as u64;
        let name = format!("f{:05}.txt", self.files as u64 - 1 - self.rng.below(recent));
        let path = self.inbox().join(name);
        if let Ok(f) = fs::File::options().append(true).open(&path) {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
    }

    /// Does what happens between two events: new files, touches.
    fn traffic(&mut self) {
        match self.rng.below(10) {
            0..=5 => self.drop_file(),
            6 => self.touch_one(),
            _ => {}
        }
    }
}

fn sdf_watch(dir: &Path, run: usize) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sdf"))
        .args(["watch", &format!("{}/*.txt", dir.join("in").display())])
        .args([
            "--poll",
            "50ms",
            "--checkpoint",
            "100ms",
            "--settle",
            "100ms",
        ])
        .args(["--status", "0"])
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--state")
        .arg(dir.join("state"))
        .stdout(Stdio::null())
        .stderr(fs::File::create(dir.join(format!("stderr-{}", run % 2))).unwrap())
        .spawn()
        .unwrap()
}

fn published(out: &Path) -> HashMap<String, usize> {
    let mut lines = HashMap::new();
    for entry in fs::read_dir(out).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_file() {
            for line in fs::read_to_string(&path).unwrap().lines() {
                *lines.entry(line.to_string()).or_default() += 1;
            }
        }
    }
    lines
}

#[test]
fn watch_killed_at_random_moments_publishes_every_line_once() {
    let kills: usize = std::env::var("SDF_SOAK_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(30);
    let seed: u64 = std::env::var("SDF_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_50a6);
    let dir = std::env::temp_dir().join(format!("sdf-soak-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("in")).unwrap();
    eprintln!("soak: {kills} kills, seed {seed}, in {}", dir.display());
    let mut soak = Soak {
        dir: dir.clone(),
        files: 0,
        want: Vec::new(),
        rng: Rng(seed | 1),
    };
    let started = Instant::now();
    for run in 0..kills {
        // Restarts race new arrivals: files land just before and just after the start.
        if soak.rng.below(2) == 0 {
            soak.drop_file();
        }
        let mut child = soak.start(run);
        // Up to 600 ms of life, with traffic every 0-60 ms.
        let life = Duration::from_millis(soak.rng.below(600));
        let until = Instant::now() + life;
        while Instant::now() < until {
            soak.traffic();
            std::thread::sleep(Duration::from_millis(soak.rng.below(60)));
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "run {run} exited by itself ({status}): {}",
                fs::read_to_string(dir.join(format!("stderr-{}", run % 2))).unwrap()
            );
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Files arrive while it is down.
        for _ in 0..soak.rng.below(3) {
            soak.traffic();
        }
    }
    // The last run: everything published, then a clean stop.
    let mut child = soak.start(kills);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let got = published(&dir.join("out"));
        if soak.want.iter().all(|l| got.contains_key(l)) {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the last run exited ({status}): {}",
                fs::read_to_string(dir.join(format!("stderr-{}", kills % 2))).unwrap()
            );
        }
        assert!(
            Instant::now() < deadline,
            "the last run did not catch up in 5 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let stderr = fs::read_to_string(dir.join(format!("stderr-{}", kills % 2))).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    let got = published(&dir.join("out"));
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(twice.is_empty(), "lines published twice: {twice:?}");
    assert_eq!(got.len(), soak.want.len(), "lines lost or made up");
    eprintln!(
        "soak: {kills} kills, {} files, {} lines, each published once, in {:.1} s",
        soak.files,
        soak.want.len(),
        started.elapsed().as_secs_f64()
    );
    fs::remove_dir_all(&dir).unwrap();
}
