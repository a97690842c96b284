//! A bundle descriptor the harness cannot run is refused with a reason, never a hang or a
//! stack overflow: here, a cycle of transforms.

use std::collections::HashMap;

use prost::Message;
use sdf_beam::harness::{Registry, SDF_DOFN_URN, run_bundle_in_memory};
use sdf_beam::proto::fn_execution::{ProcessBundleDescriptor, RemoteGrpcPort, elements};
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

/// source → the process phase of `CountFn` → sink.
fn count_descriptor() -> ProcessBundleDescriptor {
    let port = RemoteGrpcPort::default().encode_to_vec();
    let pardo = ParDoPayload {
        do_fn: Some(FunctionSpec {
            urn: SDF_DOFN_URN.to_string(),
            payload: b"count".to_vec(),
        }),
        restriction_coder_id: "r".to_string(),
        ..Default::default()
    }
    .encode_to_vec();
    let mut sink = transform("beam:runner:sink:v1", port.clone(), Some("out"), "unused");
    sink.outputs.clear();
    let transforms: HashMap<String, PTransform> = [
        (
            "read".to_string(),
            transform("beam:runner:source:v1", port, None, "in"),
        ),
        (
            "process".to_string(),
            transform(
                "beam:transform:sdf_process_sized_element_and_restrictions:v1",
                pardo,
                Some("in"),
                "out",
            ),
        ),
        ("write".to_string(), sink),
    ]
    .into();
    ProcessBundleDescriptor {
        id: "count".to_string(),
        transforms,
        ..Default::default()
    }
}

/// Sized elements `((key, n), ([0, n), state))`, encoded back to back.
fn sized(elements: &[(&str, i64)]) -> Vec<u8> {
    use sdf_beam::coder::{
        Coder, Context, Double, GlobalWindow, GlobalWindowCoder, Instant, Kv, LengthPrefix,
        PaneInfo, SerdeJson, WindowedValue, WindowedValueCoder,
    };
    use sdf_core::{OffsetRange, Timestamp};
    let coder = WindowedValueCoder {
        window: GlobalWindowCoder,
        value: Kv(
            Kv(
                LengthPrefix(SerdeJson::<(String, i64)>::new()),
                Kv(
                    LengthPrefix(SerdeJson::<OffsetRange>::new()),
                    LengthPrefix(SerdeJson::<Timestamp>::new()),
                ),
            ),
            Double,
        ),
    };
    let mut data = Vec::new();
    for &(key, n) in elements {
        let value = WindowedValue {
            value: (
                (
                    (key.to_string(), n),
                    (OffsetRange::new(0, n), Timestamp::MIN),
                ),
                n as f64,
            ),
            timestamp: Instant(0),
            windows: vec![GlobalWindow],
            pane: PaneInfo::NO_FIRING,
        };
        coder.encode(&value, Context::Nested, &mut data).unwrap();
    }
    data
}

fn chunk(data: &[u8], is_last: bool) -> elements::Data {
    elements::Data {
        instruction_id: "in-memory".to_string(),
        transform_id: "read".to_string(),
        data: data.to_vec(),
        is_last,
    }
}

fn output_bytes(out: Vec<elements::Data>) -> Vec<u8> {
    out.into_iter().flat_map(|d| d.data).collect()
}

#[tokio::test]
async fn an_element_cut_across_data_chunks_anywhere_is_read_once() {
    let mut registry = Registry::new();
    registry.register("count", sdf_core::testing::CountFn);
    let descriptor = count_descriptor();
    let data = sized(&[("a", 3), ("bb", 2), ("c", 4)]);
    let (whole, _) = run_bundle_in_memory(&descriptor, &registry, vec![chunk(&data, true)])
        .await
        .unwrap();
    let whole = output_bytes(whole);
    assert!(!whole.is_empty());
    // Every cut into two chunks, and every cut into three with a one-byte middle chunk.
    for cut in 0..=data.len() {
        let input = vec![chunk(&data[..cut], false), chunk(&data[cut..], true)];
        let (out, _) = run_bundle_in_memory(&descriptor, &registry, input)
            .await
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!(output_bytes(out), whole, "cut at {cut}");
        if cut < data.len() {
            let input = vec![
                chunk(&data[..cut], false),
                chunk(&data[cut..cut + 1], false),
                chunk(&data[cut + 1..], false),
                chunk(&[], true),
            ];
            let (out, _) = run_bundle_in_memory(&descriptor, &registry, input)
                .await
                .unwrap_or_else(|e| panic!("cuts at {cut} and {}: {e}", cut + 1));
            assert_eq!(output_bytes(out), whole, "cuts at {cut} and {}", cut + 1);
        }
    }
}

#[tokio::test]
async fn a_stream_that_ends_inside_an_element_is_an_error() {
    let mut registry = Registry::new();
    registry.register("count", sdf_core::testing::CountFn);
    let data = sized(&[("a", 3), ("bb", 2)]);
    let input = vec![chunk(&data[..data.len() - 3], false), chunk(&[], true)];
    let err = run_bundle_in_memory(&count_descriptor(), &registry, input)
        .await
        .expect_err("a truncated element must fail the bundle");
    assert!(err.to_string().contains("ended inside element 1"), "{err}");
}

/// `CountFn`, but drained (`truncate_restriction`): key `half` keeps the first half of its
/// range, key `drop` nothing, any other key all of it.
struct Draining;

#[async_trait::async_trait]
impl sdf_core::SplittableDoFn for Draining {
    type Input = (String, i64);
    type Output = (String, i64);
    type Restriction = sdf_core::OffsetRange;
    type Tracker = sdf_core::OffsetRangeTracker;
    type WatermarkEstimator = sdf_core::MonotonicWatermarkEstimator;

    fn initial_restriction(
        &self,
        (_, n): &(String, i64),
    ) -> sdf_core::Result<sdf_core::OffsetRange> {
        Ok(sdf_core::OffsetRange::new(0, *n))
    }

    fn new_tracker(
        &self,
        _: &(String, i64),
        r: sdf_core::OffsetRange,
    ) -> sdf_core::OffsetRangeTracker {
        sdf_core::OffsetRangeTracker::new(r)
    }

    fn truncate_restriction(
        &self,
        (key, _): &(String, i64),
        r: sdf_core::OffsetRange,
    ) -> Option<sdf_core::OffsetRange> {
        match key.as_str() {
            "half" => Some(sdf_core::OffsetRange::new(
                r.start(),
                r.start() + (r.end() - r.start()) / 2,
            )),
            "drop" => None,
            _ => Some(r),
        }
    }

    async fn process(
        &self,
        _: &(String, i64),
        _: &mut sdf_core::SharedTracker<sdf_core::OffsetRangeTracker>,
        _: &mut sdf_core::Output<'_, (String, i64)>,
        _: &mut sdf_core::MonotonicWatermarkEstimator,
    ) -> sdf_core::Result<sdf_core::ProcessContinuation> {
        unreachable!("only the truncate phase runs in this test")
    }
}

#[tokio::test]
async fn a_drain_truncates_each_restriction_through_the_dofn() {
    use sdf_beam::coder::{
        Coder, Context, Double, GlobalWindowCoder, Kv, LengthPrefix, SerdeJson, WindowedValueCoder,
    };
    use sdf_core::{OffsetRange, Timestamp};
    let mut descriptor = count_descriptor();
    descriptor
        .transforms
        .get_mut("process")
        .unwrap()
        .spec
        .as_mut()
        .unwrap()
        .urn = "beam:transform:sdf_truncate_sized_restrictions:v1".to_string();
    let mut registry = Registry::new();
    registry.register("count", Draining);
    let data = sized(&[("half", 10), ("drop", 4), ("all", 6)]);
    let (out, _) = run_bundle_in_memory(&descriptor, &registry, vec![chunk(&data, true)])
        .await
        .unwrap();
    let bytes = output_bytes(out);
    let coder = WindowedValueCoder {
        window: GlobalWindowCoder,
        value: Kv(
            Kv(
                LengthPrefix(SerdeJson::<(String, i64)>::new()),
                Kv(
                    LengthPrefix(SerdeJson::<OffsetRange>::new()),
                    LengthPrefix(SerdeJson::<Timestamp>::new()),
                ),
            ),
            Double,
        ),
    };
    let mut input = &bytes[..];
    let mut kept = Vec::new();
    while !input.is_empty() {
        let e = coder.decode(&mut input, Context::Nested).unwrap();
        let (((key, _), (r, _)), size) = e.value;
        kept.push((key, r.start(), r.end(), size));
    }
    assert_eq!(
        kept,
        [
            ("half".to_string(), 0, 5, 5.0),
            ("all".to_string(), 0, 6, 6.0)
        ]
    );
}
