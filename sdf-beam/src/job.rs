//! Submitting a pipeline through Beam's Job API and following it to its end.
//!
//! Every wait is bounded: connecting by [`JobService::connect`]'s timeout, Prepare and Run by
//! 120 s, the job by [`Job::wait`]'s.

use std::collections::BTreeMap;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::error::{BeamError, Result};
use crate::metrics::Counter;
use crate::proto::job_management::job_message::MessageImportance;
use crate::proto::job_management::job_messages_response::Response;
use crate::proto::job_management::job_service_client::JobServiceClient;
use crate::proto::job_management::job_state::Enum as JobState;
use crate::proto::job_management::{
    GetJobMetricsRequest, GetJobStateRequest, JobMessagesRequest, PrepareJobRequest, RunJobRequest,
};
use crate::proto::pipeline::Pipeline;

/// How long the job service may take to answer Prepare or Run.
const ANSWER: Duration = Duration::from_secs(120);

/// A connection to a Beam job service (Beam's Python job service, a Flink or Spark job
/// server, Prism).
#[derive(Debug, Clone)]
pub struct JobService {
    endpoint: String,
    client: JobServiceClient<Channel>,
}

/// A job the service accepted.
#[derive(Debug)]
pub struct Job {
    id: String,
    endpoint: String,
    client: JobServiceClient<Channel>,
}

/// How a job ended.
#[derive(Debug, Clone)]
pub struct JobOutcome {
    /// The job's id.
    pub job_id: String,
    /// Its final state's name (`DONE`).
    pub state: String,
    /// Every message the runner sent about it, oldest first, with its importance.
    pub messages: Vec<(String, String)>,
    /// The user counters the runner committed ([`metrics`](crate::metrics)), or `None` if the
    /// job service does not report metrics (its `GetJobMetrics` is unimplemented).
    pub counters: Option<Vec<Counter>>,
}

impl JobService {
    /// Connects to `endpoint` (`host:port` or a URL), waiting at most `timeout`.
    pub async fn connect(endpoint: &str, timeout: Duration) -> Result<JobService> {
        let url = if endpoint.contains("://") {
            endpoint.to_string()
        } else {
            format!("http://{endpoint}")
        };
        let unreachable = |detail: String| BeamError::Unreachable {
            service: "job service",
            endpoint: endpoint.to_string(),
            detail,
        };
        let channel = Endpoint::from_shared(url)
            .map_err(|e| unreachable(format!("not an address: {e}")))?
            .connect_timeout(timeout);
        let channel = tokio::time::timeout(timeout, channel.connect())
            .await
            .map_err(|_| unreachable(format!("no connection within {timeout:?}")))?
            .map_err(|e| unreachable(source_text(&e)))?;
        let client = JobServiceClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        Ok(JobService {
            endpoint: endpoint.to_string(),
            client,
        })
    }

    /// The address connected to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Prepares and runs `pipeline` with `options` (Beam pipeline options by name, e.g.
    /// `direct_test_splits`; sent as `beam:option:<name>:v1`).
    pub async fn submit(
        &self,
        job_name: &str,
        pipeline: Pipeline,
        options: &BTreeMap<String, serde_json::Value>,
    ) -> Result<Job> {
        let mut client = self.client.clone();
        let endpoint = self.endpoint.clone();
        let fields = options
            .iter()
            .map(|(k, v)| (format!("beam:option:{k}:v1"), to_proto_value(v)))
            .collect();
        let timeout = |what: &str| BeamError::Timeout {
            what: format!("the job service's answer to {what}"),
            after: ANSWER,
            hint: "the job service is overloaded or stuck: check it, then submit again",
        };
        let prepare = client.prepare(PrepareJobRequest {
            pipeline: Some(pipeline),
            pipeline_options: Some(prost_types::Struct { fields }),
            job_name: job_name.to_string(),
        });
        let prepared = tokio::time::timeout(ANSWER, prepare)
            .await
            .map_err(|_| timeout("Prepare"))?
            .map_err(|s| refused("the pipeline (Prepare)", &s, &endpoint))?
            .into_inner();
        let run = client.run(RunJobRequest {
            preparation_id: prepared.preparation_id,
            retrieval_token: String::new(),
        });
        let run = tokio::time::timeout(ANSWER, run)
            .await
            .map_err(|_| timeout("Run"))?
            .map_err(|s| refused("to run the job (Run)", &s, &endpoint))?
            .into_inner();
        Ok(Job {
            id: run.job_id,
            endpoint: self.endpoint.clone(),
            client,
        })
    }
}

impl Job {
    /// The runner's id of the job.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Follows the job's messages and states until it ends, at most `timeout`; `Ok` only for
    /// `DONE`.
    pub async fn wait(mut self, timeout: Duration) -> Result<JobOutcome> {
        let id = self.id.clone();
        let endpoint = self.endpoint.clone();
        let follow = async {
            let mut stream = self
                .client
                .get_message_stream(JobMessagesRequest { job_id: id.clone() })
                .await
                .map_err(|s| refused("the job's message stream", &s, &endpoint))?
                .into_inner();
            let mut messages = Vec::new();
            let mut last = JobState::Unspecified;
            while let Some(item) = stream
                .message()
                .await
                .map_err(|s| refused("the job's message stream", &s, &endpoint))?
            {
                match item.response {
                    Some(Response::MessageResponse(m)) => {
                        let importance = MessageImportance::try_from(m.importance)
                            .map_or("UNKNOWN", |i| i.as_str_name());
                        messages.push((importance.to_string(), m.message_text));
                    }
                    Some(Response::StateResponse(s)) => {
                        last = JobState::try_from(s.state).unwrap_or(JobState::Unspecified);
                        if is_terminal(last) {
                            break;
                        }
                    }
                    None => {}
                }
            }
            if !is_terminal(last) {
                // The stream ended without a final state: ask for it.
                let state = self
                    .client
                    .get_state(GetJobStateRequest { job_id: id.clone() })
                    .await
                    .map_err(|s| refused("the job's state", &s, &endpoint))?
                    .into_inner();
                last = JobState::try_from(state.state).unwrap_or(JobState::Unspecified);
            }
            Ok::<_, BeamError>((last, messages))
        };
        let (state, messages) =
            tokio::time::timeout(timeout, follow)
                .await
                .map_err(|_| BeamError::Timeout {
                    what: format!("job {}", self.id),
                    after: timeout,
                    hint: "the runner may still be running it; cancel it with the runner's tools, \
                       or give it longer",
                })??;
        let mut outcome = JobOutcome {
            job_id: self.id.clone(),
            state: state.as_str_name().to_string(),
            messages,
            counters: None,
        };
        if state == JobState::Done {
            outcome.counters = self.committed_counters().await?;
            return Ok(outcome);
        }
        Err(BeamError::JobFailed {
            job_id: outcome.job_id,
            state: outcome.state,
            errors: outcome
                .messages
                .into_iter()
                .filter(|(importance, _)| importance == "JOB_MESSAGE_ERROR")
                .map(|(_, text)| text)
                .collect(),
        })
    }
}

impl Job {
    /// The committed user counters of the job, `None` where the service reports no metrics.
    async fn committed_counters(&mut self) -> Result<Option<Vec<Counter>>> {
        let request = GetJobMetricsRequest {
            job_id: self.id.clone(),
        };
        let answer = tokio::time::timeout(ANSWER, self.client.get_job_metrics(request))
            .await
            .map_err(|_| BeamError::Timeout {
                what: format!("the metrics of job {}", self.id),
                after: ANSWER,
                hint: "the job service is not answering; check that it is still running",
            })?;
        let metrics = match answer {
            Ok(response) => response.into_inner().metrics.unwrap_or_default(),
            Err(status) if status.code() == tonic::Code::Unimplemented => return Ok(None),
            Err(status) => return Err(refused("the job's metrics", &status, &self.endpoint)),
        };
        let counters =
            crate::metrics::counters(&metrics.committed).map_err(|detail| BeamError::Refused {
                request: "the job's metrics",
                status: detail,
            })?;
        Ok(Some(counters))
    }
}

/// As Beam's job services: STOPPED is also the state of a job not started yet.
fn is_terminal(state: JobState) -> bool {
    matches!(
        state,
        JobState::Done
            | JobState::Failed
            | JobState::Cancelled
            | JobState::Updated
            | JobState::Drained
    )
}

fn refused(request: &'static str, status: &tonic::Status, endpoint: &str) -> BeamError {
    if status.code() == tonic::Code::Unavailable {
        return BeamError::Unreachable {
            service: "job service",
            endpoint: endpoint.to_string(),
            detail: status.message().to_string(),
        };
    }
    BeamError::Refused {
        request,
        status: format!("{:?}: {}", status.code(), status.message()),
    }
}

fn source_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A JSON value as a protobuf `Value`.
pub(crate) fn to_proto_value(v: &serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(to_proto_value).collect(),
        }),
        serde_json::Value::Object(o) => Kind::StructValue(prost_types::Struct {
            fields: o
                .iter()
                .map(|(k, v)| (k.clone(), to_proto_value(v)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}
