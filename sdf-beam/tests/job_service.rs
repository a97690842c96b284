//! The Job API against Beam's real Python job service: a job that fails is reported with the
//! runner's reason, a pipeline it cannot run is refused naming what it lacks, an endpoint
//! nobody listens on is a bounded, clear error. (Jobs that run to DONE are the harness's
//! tests.)

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use sdf_beam::model::{IMPULSE, ModelBuilder};
use sdf_beam::proto::pipeline::FunctionSpec;
use sdf_beam::{BeamError, JobService};

fn impulse_only() -> ModelBuilder {
    let mut model = ModelBuilder::new();
    let bytes = model.coder(sdf_beam::coder::urn::BYTES, &[], &[]);
    let out = model.pcollection("impulse.out", &bytes, true);
    model.transform(
        "Impulse",
        FunctionSpec {
            urn: IMPULSE.to_string(),
            payload: Vec::new(),
        },
        &[],
        &[("out", &out)],
        "",
    );
    model
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_refused_jobs_say_why() {
    let server = support::JobServer::start();
    let service = JobService::connect(&server.endpoint, Duration::from_secs(30))
        .await
        .unwrap();
    let job = service
        .submit("impulse", impulse_only().build(), &BTreeMap::new())
        .await
        .unwrap();
    // No SDK environment at all: the FnApiRunner has no worker to give the impulse to.
    let err = job.wait(Duration::from_secs(120)).await.unwrap_err();
    let BeamError::JobFailed { state, errors, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(state, "FAILED");
    assert!(
        errors.iter().any(|e| e.contains("get_worker_handlers")),
        "{err}"
    );

    let mut model = impulse_only();
    model.require("beam:requirement:sdf:not_a_requirement:v1");
    let err = match service.submit("bad", model.build(), &BTreeMap::new()).await {
        Ok(job) => job.wait(Duration::from_secs(120)).await.unwrap_err(),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(
        text.contains("beam:requirement:sdf:not_a_requirement:v1"),
        "{text}"
    );
}

#[tokio::test]
async fn an_endpoint_nobody_listens_on_is_a_clear_error() {
    // A port just released: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("127.0.0.1:{port}");
    let err = JobService::connect(&endpoint, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, BeamError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&endpoint) && text.contains("--job-endpoint"),
        "{text}"
    );
}
