//! `harness::boot::run` in a worker process started by Beam's own worker pool
//! (`apache_beam.runners.worker.worker_pool_main --container_executable=EXE`), which passes
//! the container contract's flags, for a job on Beam's Python job service.
//!
//! This file is its own `main` (`harness = false`): run with `--id=…`, as the pool runs it,
//! it is the worker (`boot::run`); otherwise it is the test, and the pool's executable is this
//! very binary (`std::env::current_exe`). The worker builds its DoFns from the pipeline
//! options it fetched from the provision service: they say which file its DoFn appends the
//! elements to and which marker it logs, so the test sees both through the runner only.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use sdf_beam::harness::Registry;
use sdf_beam::harness::boot::{self, BootArgs};
use sdf_beam::proto::pipeline::Pipeline;
use sdf_beam::translate::{BeamPipeline, external_environment};
use sdf_beam::{BeamError, Create, JobService};
use sdf_core::flat_map;

const TEST: &str = "beams_worker_pool_runs_this_binary_through_boot";
const ELEMENTS: i64 = 20;
/// The line the worker appends once `boot::run` returned.
const RETURNED: &str = "boot::run returned Ok";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a.starts_with("--id")) {
        return worker(args);
    }
    if args.iter().any(|a| a == "--list") {
        println!("{TEST}: test");
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| TEST.contains(f.as_str())) {
        println!("test result: ok. 0 passed; 1 filtered out");
        return ExitCode::SUCCESS;
    }
    println!("running 1 test");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(beams_worker_pool_runs_this_binary_through_boot());
    println!("test {TEST} ... ok");
    ExitCode::SUCCESS
}

/// The pipeline, the same in the test and in the worker; `sink` (the worker's) is where the
/// `Write` step appends its elements and the marker it logs.
fn pipeline(pool: &str, sink: Option<(PathBuf, String)>) -> (Pipeline, Registry) {
    let mut p = BeamPipeline::new(external_environment(pool));
    let numbers = p.root("Create", Create::new((1..=ELEMENTS).collect::<Vec<_>>()));
    p.apply(
        "Write",
        &numbers,
        flat_map(move |x: &i64| {
            if let Some((path, marker)) = &sink {
                append(path, &x.to_string());
                tracing::info!("{marker} {x}");
            }
            Vec::<i64>::new()
        }),
    );
    p.build()
}

fn append(path: &Path, line: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    writeln!(file, "{line}").unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// The worker: what Beam's pool started with the contract's flags.
fn worker(args: Vec<String>) -> ExitCode {
    let args = match BootArgs::parse(args) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("boot_process worker: {e}");
            return ExitCode::from(2);
        }
    };
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        eprintln!("boot_process worker: no runtime");
        return ExitCode::FAILURE;
    };
    let mut out = None;
    let result = runtime.block_on(boot::run(args, |options| {
        let option = |name: &str| {
            options[name].as_str().map(str::to_string).ok_or_else(|| {
                BeamError::Protocol(format!("no {name} in the provisioned options {options}"))
            })
        };
        let path = PathBuf::from(option("sdf_test_out")?);
        out = Some(path.clone());
        Ok(pipeline("unused", Some((path, option("sdf_test_marker")?))).1)
    }));
    match result {
        Ok(()) => {
            if let Some(path) = out {
                append(&path, RETURNED);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("boot_process worker: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Waits up to 20 s for `read` to hold.
fn eventually(what: &str, mut read: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !read() {
        if Instant::now() > deadline {
            eprintln!("{what}: not within 20 s");
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

async fn beams_worker_pool_runs_this_binary_through_boot() {
    let dir = std::env::temp_dir().join(format!("sdf-boot-process-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a directory");
    let out = dir.join("elements");
    let marker = format!("sdf-boot-marker-{}", std::process::id());
    let exe = std::env::current_exe().expect("this test's binary");
    let server = support::JobServer::start();
    let pool = sdf_beam::local::PythonWorkerPool::start(&exe).unwrap_or_else(|e| panic!("{e}"));
    let (pipeline, _) = pipeline(pool.address(), None);
    let service = JobService::connect(&server.endpoint, Duration::from_secs(30))
        .await
        .unwrap();
    let options: BTreeMap<String, serde_json::Value> = [
        ("sdf_test_out".to_string(), out.display().to_string().into()),
        ("sdf_test_marker".to_string(), marker.clone().into()),
    ]
    .into();
    let job = service.submit("boot", pipeline, &options).await.unwrap();
    let logs = || {
        format!(
            "job service:\n{}\nworker pool:\n{}",
            server.log(),
            pool.log()
        )
    };
    job.wait(Duration::from_secs(300))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", logs()));

    // The worker ends when the runner closes its control stream.
    let read = || std::fs::read_to_string(&out).unwrap_or_default();
    assert!(
        eventually("the worker's end", || read().contains(RETURNED)),
        "boot::run did not return after the job:\n{}\n{}",
        read(),
        logs()
    );
    let mut elements: Vec<i64> = read()
        .lines()
        .filter(|l| *l != RETURNED)
        .map(|l| l.parse().expect("an element"))
        .collect();
    elements.sort_unstable();
    assert_eq!(elements, (1..=ELEMENTS).collect::<Vec<_>>(), "{}", logs());
    // Beam's pool started this binary with the contract's flags.
    let started = pool.log();
    for flag in [
        "--id=",
        "--logging_endpoint=",
        "--artifact_endpoint=",
        "--provision_endpoint=",
        "--control_endpoint=",
    ] {
        assert!(started.contains(flag), "{flag} not passed: {started}");
    }
    assert!(
        eventually("the marker in the runner's log", || server
            .log()
            .contains(&format!("message: \"{marker} 1\""))),
        "the worker's log never reached the runner:\n{}",
        logs()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
