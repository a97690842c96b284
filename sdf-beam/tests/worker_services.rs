//! The runner's provision and logging services, as a worker of our pool uses them, on Beam's
//! real Python job service (the FnApiRunner): the worker builds its DoFns from the pipeline
//! options it fetched, and its DoFns' `tracing` events reach the runner's log.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use sdf_beam::harness::{BeamLogLayer, PoolListener};
use sdf_beam::translate::{BeamPipeline, external_environment};
use sdf_beam::{Create, JobService};
use sdf_core::flat_map;

/// The process's subscriber: only the runner log layer (events outside a worker go nowhere).
fn install_log_layer() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber = tracing_subscriber::registry().with(BeamLogLayer::new());
        tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
    });
}

/// A marker no other run prints.
fn marker(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("sdf-{what}-{}-{nanos}", std::process::id())
}

/// The log entry (as the FnApiRunner prints it: the `LogEntry` in protobuf text, one field a
/// line) whose message starts with `marker`, waiting up to 20 s for it to be printed.
fn entry_in_log(server: &support::JobServer, marker: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = server.log();
        if let Some(at) = log.find(&format!("message: \"{marker}")) {
            let start = log[..at].rfind("severity:").unwrap_or(at);
            let end = log[at..].find("\n\n").map_or(log.len(), |e| at + e);
            return Some(log[start..end].to_string());
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_worker_builds_from_provisioned_options_and_logs_to_the_runner() {
    install_log_layer();
    let server = support::JobServer::start();
    let listener = PoolListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let option = marker("option");
    let inside = marker("inside");
    let outside = marker("outside");
    let mut p = BeamPipeline::new(external_environment(&listener.address().to_string()));
    let numbers = p.root("Create", Create::new([1i64, 2, 3]));
    let logged = inside.clone();
    p.apply(
        "Log",
        &numbers,
        flat_map(move |x: &i64| {
            tracing::info!(element = *x, "{logged}");
            Vec::<i64>::new()
        }),
    );
    let (pipeline, registry) = p.build();
    let seen: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let options_seen = Arc::clone(&seen);
    let _pool = listener.serve_with(move |options| {
        options_seen.lock().unwrap().push(options.clone());
        Ok(registry.clone())
    });
    let service = JobService::connect(&server.endpoint, Duration::from_secs(30))
        .await
        .unwrap();
    let options: BTreeMap<String, serde_json::Value> =
        [("sdf_test_marker".to_string(), option.clone().into())].into();
    // Not a worker's task: this must not reach the runner.
    tracing::info!("{outside}");
    let job = service
        .submit("services", pipeline, &options)
        .await
        .unwrap();
    job.wait(Duration::from_secs(300))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));

    let seen = seen.lock().unwrap().clone();
    println!("the options the worker was provisioned with: {seen:#?}");
    assert!(!seen.is_empty(), "no worker was started");
    for options in &seen {
        assert_eq!(
            options["sdf_test_marker"],
            serde_json::json!(option),
            "the option by name, from the provision service: {options}"
        );
    }

    let entry = entry_in_log(&server, &inside)
        .unwrap_or_else(|| panic!("{inside} never reached the runner:\n{}", server.log()));
    println!("{entry}");
    assert!(entry.contains("severity: INFO"), "{entry}");
    assert!(entry.contains("element=1"), "the event's fields: {entry}");
    assert!(
        entry.contains("log_location: \"worker_services\""),
        "the target: {entry}"
    );
    assert!(
        entry.contains("instruction_id: \""),
        "the bundle's instruction: {entry}"
    );
    assert!(
        !server.log().contains(&outside),
        "an event of the test's own task reached the runner"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_cannot_be_built_fails_the_job_with_the_reason() {
    let server = support::JobServer::start();
    let listener = PoolListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let mut p = BeamPipeline::new(external_environment(&listener.address().to_string()));
    p.root("Create", Create::new([1i64]));
    let (pipeline, _) = p.build();
    let _pool = listener.serve_with(|options| {
        Err(sdf_beam::BeamError::Protocol(format!(
            "sdf-test: no input option in {options}"
        )))
    });
    let service = JobService::connect(&server.endpoint, Duration::from_secs(30))
        .await
        .unwrap();
    let job = service
        .submit("unbuildable", pipeline, &BTreeMap::new())
        .await
        .unwrap();
    let err = job.wait(Duration::from_secs(120)).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("building the worker's DoFns from the pipeline options failed")
            && text.contains("sdf-test: no input option"),
        "{text}"
    );
}
