//! The Beam data plane on one core: decode the runner's input, run a DoFn, encode its output,
//! as a worker does for a bundle (in memory: no gRPC, no runner).
//!
//! - `fan_out`: one element whose restriction holds 1,000,000 positions (sdf-core's
//!   `CountFn`): the cost per small output element.
//! - `elementwise`: 100,000 elements, each its own restriction through a `map` (each decoded
//!   with its restriction and watermark state): the cost per input element.
//!
//! `cargo bench -p sdf-beam --bench data_plane`

use std::collections::HashMap;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use sdf_beam::coder::{
    Coder, Context, Double, GlobalWindow, GlobalWindowCoder, Instant, Kv, LengthPrefix, PaneInfo,
    SerdeJson, WindowedValue, WindowedValueCoder,
};
use sdf_beam::harness::{Registry, SDF_DOFN_URN, run_bundle_in_memory};
use sdf_beam::proto::fn_execution::{ProcessBundleDescriptor, RemoteGrpcPort, elements};
use sdf_beam::proto::pipeline::{FunctionSpec, PTransform, ParDoPayload};
use sdf_core::testing::CountFn;
use sdf_core::{OffsetRange, Timestamp, map};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn transform(urn: &str, payload: Vec<u8>, input: Option<&str>, output: Option<&str>) -> PTransform {
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
        outputs: output
            .map(|o| ("out".to_string(), o.to_string()))
            .into_iter()
            .collect(),
        ..Default::default()
    }
}

/// source → the process phase of DoFn `name` → sink.
fn descriptor(name: &str) -> ProcessBundleDescriptor {
    let port = RemoteGrpcPort::default().encode_to_vec();
    let pardo = ParDoPayload {
        do_fn: Some(FunctionSpec {
            urn: SDF_DOFN_URN.to_string(),
            payload: name.as_bytes().to_vec(),
        }),
        restriction_coder_id: "restriction".to_string(),
        ..Default::default()
    }
    .encode_to_vec();
    let transforms: HashMap<String, PTransform> = [
        (
            "read".to_string(),
            transform("beam:runner:source:v1", port.clone(), None, Some("in")),
        ),
        (
            "process".to_string(),
            transform(
                "beam:transform:sdf_process_sized_element_and_restrictions:v1",
                pardo,
                Some("in"),
                Some("out"),
            ),
        ),
        (
            "write".to_string(),
            transform("beam:runner:sink:v1", port, Some("out"), None),
        ),
    ]
    .into();
    ProcessBundleDescriptor {
        id: "bench".to_string(),
        transforms,
        ..Default::default()
    }
}

/// The runner's input: sized elements `((x, (r, w)), size)`, then the end.
fn input<X: Serialize + DeserializeOwned>(
    elements: impl IntoIterator<Item = (X, OffsetRange)>,
) -> Vec<elements::Data> {
    let coder = WindowedValueCoder {
        window: GlobalWindowCoder,
        value: Kv(
            Kv(
                LengthPrefix(SerdeJson::<X>::new()),
                Kv(
                    LengthPrefix(SerdeJson::<OffsetRange>::new()),
                    LengthPrefix(SerdeJson::<Timestamp>::new()),
                ),
            ),
            Double,
        ),
    };
    let mut data = Vec::new();
    for (x, r) in elements {
        let size = (r.end() - r.start()) as f64;
        let value = WindowedValue {
            value: ((x, (r, Timestamp::MIN)), size),
            timestamp: Instant(0),
            windows: vec![GlobalWindow],
            pane: PaneInfo::NO_FIRING,
        };
        coder.encode(&value, Context::Nested, &mut data).unwrap();
    }
    let chunk = |data, is_last| elements::Data {
        instruction_id: "in-memory".to_string(),
        transform_id: "read".to_string(),
        data,
        is_last,
    };
    vec![chunk(data, false), chunk(Vec::new(), true)]
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("data_plane");
    group.sample_size(10);

    let n = 1_000_000;
    let mut registry = Registry::new();
    registry.register("count", CountFn);
    let d = descriptor("count");
    let data = input([(("k".to_string(), n), OffsetRange::new(0, n))]);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("fan_out", |b| {
        b.iter(|| {
            let (out, residuals) = runtime
                .block_on(run_bundle_in_memory(&d, &registry, data.clone()))
                .unwrap();
            assert!(
                residuals.is_empty()
                    && out.iter().map(|d| d.data.len()).sum::<usize>() > n as usize
            );
        })
    });

    let n = 100_000;
    let mut registry = Registry::new();
    registry.register("double", map(|x: &i64| x * 2));
    let d = descriptor("double");
    let data = input((0..n).map(|i| (i, OffsetRange::new(0, 1))));
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("elementwise", |b| {
        b.iter(|| {
            runtime
                .block_on(run_bundle_in_memory(&d, &registry, data.clone()))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
