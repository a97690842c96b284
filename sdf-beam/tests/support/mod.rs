//! What the Beam tests need from Python: `sdf_beam::local`'s venv and job service, and the
//! scripts beside this file. Nothing is skipped when Python is missing: the test fails and says
//! what to install.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

#[allow(unused_imports)] // Not every test file checks the release.
pub use sdf_beam::local::BEAM;

/// Beam's Python job service, started for one test.
pub struct JobServer {
    service: sdf_beam::local::PythonJobService,
    /// `localhost:PORT`.
    pub endpoint: String,
}

impl JobServer {
    /// Starts one.
    pub fn start() -> JobServer {
        let service = sdf_beam::local::PythonJobService::start().unwrap_or_else(|e| panic!("{e}"));
        let endpoint = service.endpoint().to_string();
        JobServer { service, endpoint }
    }

    /// What it printed so far.
    pub fn log(&self) -> String {
        self.service.log()
    }
}

/// Runs a Python script of `tests/support` with the venv's interpreter and returns its stdout.
pub fn run_script(script: &str) -> Vec<u8> {
    let venv = sdf_beam::local::venv().unwrap_or_else(|e| panic!("{e}"));
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(script);
    let output = Command::new(venv.join("bin/python"))
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", path.display()));
    assert!(
        output.status.success(),
        "{} failed: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}
