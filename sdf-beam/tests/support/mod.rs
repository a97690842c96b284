//! What the Beam tests need from Python: apache-beam 2.77.0 in a venv the tests make
//! themselves, cached outside the clone.
//!
//! The venv is `~/.cache/sdf/beam-<beam>-py<major.minor>/venv` (or under `$SDF_CACHE_DIR`),
//! built from PyPI the first time with the `python3` on `PATH` (or `$SDF_PYTHON`). Test
//! binaries that run at once take a file lock, so one of them builds it and the others wait.
//! Nothing is skipped when Python is missing: the test fails and says what to install.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The apache-beam release the tests run against (the one `proto/` comes from).
pub const BEAM: &str = "2.77.0";

/// The Python interpreter to build the venv with.
fn python() -> String {
    std::env::var("SDF_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

fn cache_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SDF_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("neither XDG_CACHE_HOME nor HOME is set: set SDF_CACHE_DIR to a directory for the Beam venv");
    base.join("sdf")
}

fn run(command: &mut Command, what: &str) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not start {command:?}: {e}"));
    if !output.status.success() {
        panic!(
            "{what}: {command:?} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

/// The venv's directory, with apache-beam installed: built on first use.
pub fn venv() -> PathBuf {
    let python = python();
    let version = run(
        Command::new(&python).args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]),
        "the Beam tests need Python 3 (python3 on PATH, or SDF_PYTHON)",
    );
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let home = cache_dir().join(format!("beam-{BEAM}-py{version}"));
    std::fs::create_dir_all(&home)
        .unwrap_or_else(|e| panic!("{}: cannot create the Beam cache: {e}", home.display()));
    let lock = File::create(home.join("lock"))
        .unwrap_or_else(|e| panic!("{}: {e}", home.join("lock").display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("{}: cannot lock: {e}", home.join("lock").display()));
    let venv = home.join("venv");
    let done = home.join("installed");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&venv);
        eprintln!(
            "installing apache-beam {BEAM} into {} (once)",
            venv.display()
        );
        run(
            Command::new(&python).args(["-m", "venv"]).arg(&venv),
            "creating the Beam venv",
        );
        run(
            Command::new(venv.join("bin/pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("apache-beam=={BEAM}"),
            ]),
            "installing apache-beam from PyPI",
        );
        std::fs::write(&done, BEAM).unwrap_or_else(|e| panic!("{}: {e}", done.display()));
    }
    venv
}

/// Runs a Python script of `tests/support` with the venv's interpreter and returns its stdout.
pub fn run_script(script: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(script);
    let output = run(
        Command::new(venv().join("bin/python")).arg(&path),
        &format!("running {}", path.display()),
    );
    output.stdout
}

/// Beam's Python job service (`local_job_service_main`, the FnApiRunner) on a loopback port,
/// stopped when dropped.
pub struct JobServer {
    child: std::process::Child,
    /// `localhost:PORT`.
    pub endpoint: String,
    dir: PathBuf,
}

impl JobServer {
    /// Starts one and waits (at most 60 s) until it listens.
    pub fn start() -> JobServer {
        let venv = venv();
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sdf-beam-job-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port_file = dir.join("port");
        let log = File::create(dir.join("job_service.log")).unwrap();
        // Its workers (none for our EXTERNAL environment, but Python's own for Python
        // transforms) start with a bare `python`: the venv's comes first.
        let path = format!(
            "{}:{}",
            venv.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let child = Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "apache_beam.runners.portability.local_job_service_main",
                "--port",
                "0",
                "--port_file",
            ])
            .arg(&port_file)
            .env("PATH", path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting Beam's job service");
        let mut server = JobServer {
            child,
            endpoint: String::new(),
            dir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Ok(port) = std::fs::read_to_string(&port_file)
                && let Ok(port) = port.trim().parse::<u16>()
            {
                server.endpoint = format!("localhost:{port}");
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("Beam's job service exited ({status}):\n{}", server.log());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "Beam's job service did not start within 60 s:\n{}",
                server.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// What the job service printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("job_service.log")).unwrap_or_default()
    }
}

impl Drop for JobServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
