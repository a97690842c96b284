//! The runner's `ProvisionService`: what a worker learns about its job before it starts (the
//! pipeline options, where the logging, control and artifact services are).
//!
//! Every runner serves it; a worker started by a worker pool is told where in
//! `StartWorkerRequest.provision_endpoint`, one started by a PROCESS or DOCKER environment by
//! the `--provision_endpoint` flag. The request names the worker with the `worker_id` header,
//! which the Python FnApiRunner requires (it answers each worker with its own endpoints).

use std::collections::HashMap;
use std::time::Duration;

use crate::error::{BeamError, Result};
use crate::proto::fn_execution::GetProvisionInfoRequest;
use crate::proto::fn_execution::provision_service_client::ProvisionServiceClient;

/// How long the provision service may take to answer, once connected.
const ANSWER: Duration = Duration::from_secs(30);

/// What the runner's provision service told a worker.
///
/// The endpoints are `None` when the runner left them out (a runner that passes them only as
/// flags).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProvisionInfo {
    /// The pipeline options, as the runner sent them (a protobuf `Struct` as JSON): the Job
    /// API's keys, `beam:option:<name>:v1`. [`ProvisionInfo::options`] has them by name.
    pub pipeline_options: serde_json::Value,
    /// The logging service (`BeamFnLogging`).
    pub logging_endpoint: Option<String>,
    /// The control service (`BeamFnControl`).
    pub control_endpoint: Option<String>,
    /// The artifact retrieval service.
    pub artifact_endpoint: Option<String>,
    /// The worker status service.
    pub status_endpoint: Option<String>,
    /// The token to retrieve the job's staged artifacts with (empty if none).
    pub retrieval_token: String,
    /// The runner's capabilities (URNs).
    pub runner_capabilities: Vec<String>,
    /// Runner-specific metadata about the worker.
    pub metadata: HashMap<String, String>,
    /// Workers started together with this one (in the same environment).
    pub sibling_worker_ids: Vec<String>,
}

impl ProvisionInfo {
    /// Asks the provision service at `endpoint` (`host:port` or a URL) about worker
    /// `worker_id`. Connecting and the answer are bounded by 30 s each.
    pub async fn fetch(endpoint: &str, worker_id: &str) -> Result<ProvisionInfo> {
        let channel = super::worker::channel(endpoint, "provision service").await?;
        let mut request = tonic::Request::new(GetProvisionInfoRequest {});
        request.metadata_mut().insert(
            "worker_id",
            worker_id.parse().map_err(|_| {
                BeamError::Protocol(format!("a worker id that is no header: {worker_id:?}"))
            })?,
        );
        let mut client = ProvisionServiceClient::new(channel).max_decoding_message_size(usize::MAX);
        let answer = tokio::time::timeout(ANSWER, client.get_provision_info(request))
            .await
            .map_err(|_| BeamError::Timeout {
                what: format!("the provision service's answer at {endpoint}"),
                after: ANSWER,
                hint: "the runner is overloaded or stuck: check it; the runner starts the worker \
                       again if it needs one",
            })?
            .map_err(|s| {
                if s.code() == tonic::Code::Unavailable {
                    BeamError::Unreachable {
                        service: "provision service",
                        endpoint: endpoint.to_string(),
                        detail: s.message().to_string(),
                    }
                } else {
                    BeamError::Refused {
                        request: "the worker's provision info (GetProvisionInfo)",
                        status: format!("{:?} from {endpoint}: {}", s.code(), s.message()),
                    }
                }
            })?
            .into_inner();
        let info = answer.info.ok_or_else(|| {
            BeamError::Protocol(format!(
                "the provision service at {endpoint} answered without provision info"
            ))
        })?;
        Ok(ProvisionInfo::from_proto(info))
    }

    /// The runner's message as a [`ProvisionInfo`].
    pub fn from_proto(info: crate::proto::fn_execution::ProvisionInfo) -> ProvisionInfo {
        let url = |d: Option<crate::proto::pipeline::ApiServiceDescriptor>| {
            d.map(|d| d.url).filter(|u| !u.is_empty())
        };
        ProvisionInfo {
            pipeline_options: info
                .pipeline_options
                .map(|s| struct_to_json(&s))
                .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
            logging_endpoint: url(info.logging_endpoint),
            control_endpoint: url(info.control_endpoint),
            artifact_endpoint: url(info.artifact_endpoint),
            status_endpoint: url(info.status_endpoint),
            retrieval_token: info.retrieval_token,
            runner_capabilities: info.runner_capabilities,
            metadata: info.metadata,
            sibling_worker_ids: info.sibling_worker_ids,
        }
    }

    /// The pipeline options by the names they were given (`beam:option:<name>:v1` becomes
    /// `<name>`; other keys are kept as they are), as Beam's Python and Go SDKs read them.
    /// A runner that sends them nested under `options` (an older form) is read too.
    ///
    /// ```
    /// # use sdf_beam::harness::ProvisionInfo;
    /// let mut info = ProvisionInfo::from_proto(Default::default());
    /// info.pipeline_options = serde_json::json!({
    ///     "beam:option:job_name:v1": "count",
    ///     "plain": 1,
    /// });
    /// assert_eq!(info.options(), serde_json::json!({"job_name": "count", "plain": 1}));
    /// ```
    pub fn options(&self) -> serde_json::Value {
        options_by_name(&self.pipeline_options)
    }
}

/// `beam:option:<name>:v1` keys as `<name>`.
pub(crate) fn options_by_name(options: &serde_json::Value) -> serde_json::Value {
    let Some(fields) = options.as_object() else {
        return serde_json::Value::Object(Default::default());
    };
    if let Some(nested @ serde_json::Value::Object(_)) = fields.get("options") {
        return nested.clone();
    }
    let named = fields
        .iter()
        .map(|(k, v)| {
            let name = k
                .strip_prefix("beam:option:")
                .and_then(|rest| rest.strip_suffix(":v1"))
                .unwrap_or(k);
            (name.to_string(), v.clone())
        })
        .collect();
    serde_json::Value::Object(named)
}

/// A protobuf `Struct` as JSON (numbers are doubles, as in the `Struct` itself).
pub(crate) fn struct_to_json(s: &prost_types::Struct) -> serde_json::Value {
    serde_json::Value::Object(
        s.fields
            .iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect(),
    )
}

fn value_to_json(v: &prost_types::Value) -> serde_json::Value {
    use prost_types::value::Kind;
    match &v.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(*b),
        Some(Kind::NumberValue(n)) => number(*n),
        Some(Kind::StringValue(s)) => serde_json::Value::String(s.clone()),
        Some(Kind::ListValue(l)) => {
            serde_json::Value::Array(l.values.iter().map(value_to_json).collect())
        }
        Some(Kind::StructValue(s)) => struct_to_json(s),
    }
}

/// A whole double within ±2^53 as an integer (options such as `num_workers: 4` read back as
/// `4`, not `4.0`); any other finite double as itself; NaN and infinities (which JSON cannot
/// hold) as null.
fn number(n: f64) -> serde_json::Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if n.fract() == 0.0 && n.abs() <= EXACT {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(v: serde_json::Value) -> serde_json::Value {
        let proto = crate::job::to_proto_value(&v);
        value_to_json(&proto)
    }

    #[test]
    fn json_survives_a_struct_round_trip() {
        let cases = [
            ("null", json!(null)),
            ("bool", json!(true)),
            ("whole number reads back whole", json!(4)),
            ("negative", json!(-17)),
            ("fraction", json!(0.25)),
            ("string", json!("gs://bucket/tmp")),
            ("list", json!([1, "a", [false]])),
            (
                "nested",
                json!({"Gen": {"timings": [0.3], "fractions": [0.5]}}),
            ),
        ];
        for (name, v) in cases {
            assert_eq!(round_trip(v.clone()), v, "{name}");
        }
    }

    #[test]
    fn numbers_json_cannot_hold_are_null() {
        assert_eq!(number(f64::NAN), json!(null));
        assert_eq!(number(f64::INFINITY), json!(null));
        assert_eq!(number(1e300), json!(1e300));
    }

    #[test]
    fn options_are_read_by_name() {
        let cases = [
            (
                "urn keys",
                json!({"beam:option:a:v1": 1, "beam:option:b_c:v1": "x"}),
                json!({"a": 1, "b_c": "x"}),
            ),
            (
                "other keys kept",
                json!({"beam:option:a:v2": 1, "z": 2}),
                json!({"beam:option:a:v2": 1, "z": 2}),
            ),
            (
                "nested legacy form",
                json!({"options": {"a": 1}}),
                json!({"a": 1}),
            ),
            ("not an object", json!([1]), json!({})),
        ];
        for (name, raw, want) in cases {
            assert_eq!(options_by_name(&raw), want, "{name}");
        }
    }

    #[test]
    fn empty_endpoints_are_none() {
        let info = ProvisionInfo::from_proto(crate::proto::fn_execution::ProvisionInfo {
            control_endpoint: Some(crate::proto::pipeline::ApiServiceDescriptor {
                url: "localhost:1".into(),
                authentication: None,
            }),
            logging_endpoint: Some(Default::default()),
            ..Default::default()
        });
        assert_eq!(info.control_endpoint.as_deref(), Some("localhost:1"));
        assert_eq!(info.logging_endpoint, None);
        assert_eq!(info.pipeline_options, json!({}));
    }
}
