//! A bundle descriptor the harness cannot run is refused with a reason, never a hang or a
//! stack overflow: here, a cycle of transforms.

use std::collections::HashMap;

use prost::Message;
use sdf_beam::harness::{Registry, SDF_DOFN_URN, run_bundle_in_memory};
use sdf_beam::proto::fn_execution::{ProcessBundleDescriptor, RemoteGrpcPort};
use sdf_beam::proto::pipeline::{FunctionSpec, PTransform, ParDoPayload};
use sdf_core::map;

fn transform(urn: &str, payload: Vec<u8>, input: Option<&str>, output: &str) -> PTransform {
    PTransform {
        unique_name: urn.to_string(),
        spec: Some(FunctionSpec {
            urn: urn.to_string(),
            payload,
        }),
        inputs: input
            .map(|i| ("in".to_string(), i.to_string()))
            .into_iter()
            .collect(),
        outputs: [("out".to_string(), output.to_string())].into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_cycle_of_transforms_is_refused() {
    let pardo = ParDoPayload {
        do_fn: Some(FunctionSpec {
            urn: SDF_DOFN_URN.to_string(),
            payload: b"double".to_vec(),
        }),
        restriction_coder_id: "r".to_string(),
        ..Default::default()
    }
    .encode_to_vec();
    let process = "beam:transform:sdf_process_sized_element_and_restrictions:v1";
    let transforms: HashMap<String, PTransform> = [
        (
            "read".to_string(),
            transform(
                "beam:runner:source:v1",
                RemoteGrpcPort::default().encode_to_vec(),
                None,
                "x",
            ),
        ),
        // Reads what it writes.
        (
            "loop".to_string(),
            transform(process, pardo, Some("x"), "x"),
        ),
    ]
    .into();
    let descriptor = ProcessBundleDescriptor {
        id: "cyclic".to_string(),
        transforms,
        ..Default::default()
    };
    let mut registry = Registry::new();
    registry.register("double", map(|x: &i64| x * 2));
    let err = run_bundle_in_memory(&descriptor, &registry, Vec::new())
        .await
        .expect_err("a cyclic descriptor must be refused");
    assert!(err.to_string().contains("a cycle?"), "{err}");
}
