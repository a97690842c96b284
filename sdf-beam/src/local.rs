//! Beam's Python job service on this machine, for tests and trying things out: apache-beam is
//! installed into a venv cached outside the project the first time, and the service runs on a
//! loopback port until dropped.
//!
//! The venv is `~/.cache/sdf/beam-<beam>-py<major.minor>/venv` (or under `$SDF_CACHE_DIR`),
//! built from PyPI with the `python3` on `PATH` (or `$SDF_PYTHON`). Processes that start at once
//! take a file lock, so one builds it and the others wait.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use crate::error::{BeamError, Result};

/// The apache-beam release installed (the one `proto/` comes from).
pub const BEAM: &str = "2.77.0";

fn failed(what: &str, detail: String) -> BeamError {
    BeamError::Refused {
        request: "to set up Beam's Python job service",
        status: format!("{what}: {detail}"),
    }
}

fn run(command: &mut Command, what: &str) -> Result<Output> {
    let output = command
        .output()
        .map_err(|e| failed(what, format!("could not start {command:?}: {e}")))?;
    if !output.status.success() {
        return Err(failed(
            what,
            format!(
                "{command:?} failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        ));
    }
    Ok(output)
}

fn cache_dir() -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("SDF_CACHE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|base| base.join("sdf"))
        .ok_or_else(|| {
            failed(
                "the cache",
                "neither XDG_CACHE_HOME nor HOME is set: set SDF_CACHE_DIR".into(),
            )
        })
}

/// The venv with apache-beam [`BEAM`] installed, built on first use.
pub fn venv() -> Result<PathBuf> {
    let python = std::env::var("SDF_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let version = run(
        Command::new(&python).args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]),
        "Beam needs Python 3 (python3 on PATH, or SDF_PYTHON)",
    )?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let home = cache_dir()?.join(format!("beam-{BEAM}-py{version}"));
    let io =
        |path: &Path, e: std::io::Error| failed("the cache", format!("{}: {e}", path.display()));
    std::fs::create_dir_all(&home).map_err(|e| io(&home, e))?;
    let lock_path = home.join("lock");
    let lock = File::create(&lock_path).map_err(|e| io(&lock_path, e))?;
    lock.lock().map_err(|e| io(&lock_path, e))?;
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
        )?;
        run(
            Command::new(venv.join("bin/pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("apache-beam=={BEAM}"),
            ]),
            "installing apache-beam from PyPI",
        )?;
        std::fs::write(&done, BEAM).map_err(|e| io(&done, e))?;
    }
    Ok(venv)
}

/// Beam's Python job service (`local_job_service_main`, the FnApiRunner) on a loopback port,
/// stopped when dropped.
#[derive(Debug)]
pub struct PythonJobService {
    child: Child,
    endpoint: String,
    dir: PathBuf,
}

impl PythonJobService {
    /// Starts one and waits (at most 60 s) until it listens.
    pub fn start() -> Result<PythonJobService> {
        let venv = venv()?;
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sdf-beam-job-{}-{n}", std::process::id()));
        let io = |e: std::io::Error| failed("its directory", format!("{}: {e}", dir.display()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(io)?;
        let port_file = dir.join("port");
        let log = File::create(dir.join("job_service.log")).map_err(io)?;
        // Its workers (Python's, for Python transforms) start with a bare `python`.
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
            .stdout(log.try_clone().map_err(io)?)
            .stderr(log)
            .spawn()
            .map_err(|e| failed("starting the job service", e.to_string()))?;
        let mut service = PythonJobService {
            child,
            endpoint: String::new(),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(port) = std::fs::read_to_string(&port_file)
                && let Ok(port) = port.trim().parse::<u16>()
            {
                service.endpoint = format!("localhost:{port}");
                return Ok(service);
            }
            if let Ok(Some(status)) = service.child.try_wait() {
                return Err(failed(
                    "the job service",
                    format!("it exited ({status}): {}", service.log()),
                ));
            }
            if Instant::now() > deadline {
                return Err(BeamError::Timeout {
                    what: "starting Beam's Python job service".to_string(),
                    after: Duration::from_secs(60),
                    hint: "see its log in the error; is the venv complete?",
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Where it listens: `localhost:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// What it printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("job_service.log")).unwrap_or_default()
    }
}

impl Drop for PythonJobService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Beam's own Python worker pool (`worker_pool_main --container_executable=EXE`) on a loopback
/// port, stopped when dropped: for each `StartWorker` it starts `EXE` with the flags of Beam's
/// container contract (`--id=… --control_endpoint=… --provision_endpoint=…`), as a runner
/// starts a PROCESS or DOCKER environment's boot command. Point an EXTERNAL environment at
/// [`address`](Self::address).
#[derive(Debug)]
pub struct PythonWorkerPool {
    child: Child,
    address: String,
    dir: PathBuf,
}

impl PythonWorkerPool {
    /// Starts one running `executable` for its workers, and waits (at most 60 s) until it
    /// listens.
    pub fn start(executable: &Path) -> Result<PythonWorkerPool> {
        let venv = venv()?;
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sdf-beam-pool-{}-{n}", std::process::id()));
        let io = |e: std::io::Error| failed("its directory", format!("{}: {e}", dir.display()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(io)?;
        // The pool listens on the port it is given; with port 0 it would say which only in
        // its log, so a free one is chosen here.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| failed("a free port", e.to_string()))?
            .port();
        let log = File::create(dir.join("worker_pool.log")).map_err(io)?;
        let child = Command::new(venv.join("bin/python"))
            .args(["-m", "apache_beam.runners.worker.worker_pool_main"])
            .arg(format!("--service_port={port}"))
            .arg(format!("--container_executable={}", executable.display()))
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().map_err(io)?)
            .stderr(log)
            .spawn()
            .map_err(|e| failed("starting Beam's worker pool", e.to_string()))?;
        let mut pool = PythonWorkerPool {
            child,
            address: format!("localhost:{port}"),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = pool.child.try_wait() {
                return Err(failed(
                    "Beam's worker pool",
                    format!("it exited ({status}): {}", pool.log()),
                ));
            }
            if Instant::now() > deadline {
                return Err(BeamError::Timeout {
                    what: "starting Beam's Python worker pool".to_string(),
                    after: Duration::from_secs(60),
                    hint: "see its log; is the venv complete?",
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(pool)
    }

    /// Where it listens: `localhost:PORT`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// What it (and the workers it started) printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("worker_pool.log")).unwrap_or_default()
    }
}

impl Drop for PythonWorkerPool {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The script [`run_on_fn_api_runner`] runs.
const FN_API_RUNNER_SCRIPT: &str = include_str!("run_fn_api_runner.py");

/// Runs `pipeline` on Beam's FnApiRunner directly (not through the job service, which does not
/// pass `direct_runner_bundle_repeat` on), with every bundle run `bundle_repeat` extra times
/// and those runs discarded, as a runner discards failed attempts. The pipeline's workers must
/// be reachable (an EXTERNAL environment at a running worker pool). Returns what the script
/// prints: `{"state": …, "counters": {"namespace/name/transform": value}}`, the committed
/// user counters.
pub fn run_on_fn_api_runner(
    pipeline: &crate::proto::pipeline::Pipeline,
    bundle_repeat: u32,
) -> Result<serde_json::Value> {
    use prost::Message;
    let venv = venv()?;
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("sdf-fn-api-runner-{}-{n}", std::process::id()));
    let io = |e: std::io::Error| failed("its directory", format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(&dir).map_err(io)?;
    let (script, proto) = (dir.join("run_fn_api_runner.py"), dir.join("pipeline.binpb"));
    std::fs::write(&script, FN_API_RUNNER_SCRIPT).map_err(io)?;
    std::fs::write(&proto, pipeline.encode_to_vec()).map_err(io)?;
    let output = run(
        Command::new(venv.join("bin/python"))
            .arg(&script)
            .arg(&proto)
            .arg(bundle_repeat.to_string()),
        "running the FnApiRunner",
    );
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output?.stdout).into_owned();
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .map_err(|e| failed("the FnApiRunner's answer", format!("{e}: {stdout}")))
}
