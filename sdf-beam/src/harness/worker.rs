//! One SDK worker: the control stream's instructions, each bundle on its own task.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sdf_core::Finalizer;
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint};

use super::bundle::{Bundle, Splits};
use super::data::{DataStream, tokio_stream_from};
use super::registry::Registry;
use crate::error::{BeamError, Result};
use crate::proto::fn_execution::beam_fn_control_client::BeamFnControlClient;
use crate::proto::fn_execution::instruction_request::Request;
use crate::proto::fn_execution::instruction_response::Response;
use crate::proto::fn_execution::{
    FinalizeBundleResponse, GetProcessBundleDescriptorRequest, InstructionRequest,
    InstructionResponse, MonitoringInfosMetadataResponse, ProcessBundleDescriptor,
    ProcessBundleProgressResponse, ProcessBundleRequest, ProcessBundleResponse,
    ProcessBundleSplitResponse, RegisterResponse,
};
use crate::proto::pipeline::ApiServiceDescriptor;

/// How long a split waits for the running call to reach its next claim.
const SPLIT_WAIT: Duration = Duration::from_millis(200);

/// How long a progress report waits for the running call to reach its next claim.
const PROGRESS_WAIT: Duration = Duration::from_millis(50);

/// How long connecting to an endpoint the runner gave may take.
const CONNECT: Duration = Duration::from_secs(30);

/// Where a worker connects, as the runner said (`StartWorkerRequest`, or the boot flags).
///
/// ```
/// # use sdf_beam::harness::WorkerEndpoints;
/// let endpoints = WorkerEndpoints::new("worker-1", "localhost:4000").logging("localhost:4001");
/// assert_eq!(endpoints.provision, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerEndpoints {
    /// The worker's id, sent with every stream as the `worker_id` header.
    pub worker_id: String,
    /// The control service.
    pub control: String,
    /// The logging service: the worker's `tracing` events go there (see [`BeamLogLayer`]).
    ///
    /// [`BeamLogLayer`]: super::BeamLogLayer
    pub logging: Option<String>,
    /// The provision service: the job's pipeline options (see [`ProvisionInfo`]).
    ///
    /// [`ProvisionInfo`]: super::ProvisionInfo
    pub provision: Option<String>,
}

impl WorkerEndpoints {
    /// A worker `worker_id` of the control service at `control`, without logging or
    /// provision service.
    pub fn new(worker_id: impl Into<String>, control: impl Into<String>) -> WorkerEndpoints {
        WorkerEndpoints {
            worker_id: worker_id.into(),
            control: control.into(),
            logging: None,
            provision: None,
        }
    }

    /// With the logging service at `url`.
    pub fn logging(mut self, url: impl Into<String>) -> WorkerEndpoints {
        self.logging = Some(url.into());
        self
    }

    /// With the provision service at `url`.
    pub fn provision(mut self, url: impl Into<String>) -> WorkerEndpoints {
        self.provision = Some(url.into());
        self
    }
}

/// What a worker pool's workers did, for tests and metrics.
#[derive(Debug, Default)]
pub struct HarnessStats {
    /// Bundles processed to the end.
    pub bundles: AtomicU64,
    /// Runner splits answered inside a running element (primary and residual roots).
    pub element_splits: AtomicU64,
    /// Runner splits answered at an element boundary only.
    pub channel_splits: AtomicU64,
    /// Residual roots returned with finished bundles (self-checkpoints, late splits).
    pub bundle_residuals: AtomicU64,
    /// Bundles whose finalizers ran on the runner's `FinalizeBundle`.
    pub finalized: AtomicU64,
}

impl HarnessStats {
    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

struct Shared {
    control: BeamFnControlClient<Channel>,
    /// Held while a data stream is being opened.
    connecting: tokio::sync::Mutex<()>,
    stats: Arc<HarnessStats>,
    registry: Registry,
    worker_id: String,
    descriptors: Mutex<HashMap<String, Arc<ProcessBundleDescriptor>>>,
    data: Mutex<HashMap<String, DataStream>>,
    /// Running bundles' split points, by instruction id.
    running: Mutex<HashMap<String, Splits>>,
    /// Finalizers of bundles that asked for finalization, by instruction id.
    finalizers: Mutex<HashMap<String, Vec<Finalizer>>>,
    /// The short ids of the metrics this worker reported.
    short_ids: Mutex<super::short_ids::ShortIds>,
    responses: mpsc::Sender<InstructionResponse>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) async fn channel(url: &str, service: &'static str) -> Result<Channel> {
    let address = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let unreachable = |detail: String| BeamError::Unreachable {
        service,
        endpoint: url.to_string(),
        detail,
    };
    let endpoint = Endpoint::from_shared(address)
        .map_err(|e| unreachable(format!("not an address: {e}")))?
        .connect_timeout(CONNECT);
    tokio::time::timeout(CONNECT, endpoint.connect())
        .await
        .map_err(|_| unreachable(format!("no connection within {CONNECT:?}")))?
        .map_err(|e| unreachable(source_chain(&e)))
}

/// An error with its sources (tonic's own text is only "transport error").
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Runs a worker until the runner closes its control stream.
pub async fn run_worker(endpoints: WorkerEndpoints, registry: Registry) -> Result<()> {
    run_worker_with(endpoints, registry, Arc::default()).await
}

/// [`run_worker`], counting what it does in `stats`.
///
/// With a logging endpoint, the events of the worker's tasks go to it at `INFO` and above
/// (see [`BeamLogLayer`](super::BeamLogLayer) for the rule and what the process must install).
pub async fn run_worker_with(
    endpoints: WorkerEndpoints,
    registry: Registry,
    stats: Arc<HarnessStats>,
) -> Result<()> {
    run_worker_logged(endpoints, registry, stats, tracing::Level::INFO).await
}

/// [`run_worker_with`], sending events up to `level` to the logging service.
pub(crate) async fn run_worker_logged(
    endpoints: WorkerEndpoints,
    registry: Registry,
    stats: Arc<HarnessStats>,
    level: tracing::Level,
) -> Result<()> {
    match endpoints.logging.clone() {
        Some(url) => {
            super::logging::LogStream::start(&url, &endpoints.worker_id, level)
                .run(serve(endpoints, registry, stats))
                .await
        }
        None => serve(endpoints, registry, stats).await,
    }
}

/// Answers the control stream's instructions until it ends.
pub(crate) async fn serve(
    endpoints: WorkerEndpoints,
    registry: Registry,
    stats: Arc<HarnessStats>,
) -> Result<()> {
    let channel = channel(&endpoints.control, "control service").await?;
    let (responses, outgoing) = mpsc::channel::<InstructionResponse>(64);
    let mut request = tonic::Request::new(tokio_stream_from(outgoing));
    request.metadata_mut().insert(
        "worker_id",
        endpoints.worker_id.parse().map_err(|_| {
            BeamError::Protocol(format!(
                "a worker id that is no header: {:?}",
                endpoints.worker_id
            ))
        })?,
    );
    let mut control = BeamFnControlClient::new(channel)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    let mut instructions = tokio::time::timeout(CONNECT, control.control(request))
        .await
        .map_err(|_| BeamError::Unreachable {
            service: "control service",
            endpoint: endpoints.control.clone(),
            detail: format!("the control stream did not open within {CONNECT:?}"),
        })?
        .map_err(|s| BeamError::Protocol(format!("opening the control stream: {s}")))?
        .into_inner();
    let shared = Arc::new(Shared {
        control: control.clone(),
        connecting: tokio::sync::Mutex::new(()),
        stats,
        registry,
        worker_id: endpoints.worker_id.clone(),
        descriptors: Mutex::default(),
        data: Mutex::default(),
        running: Mutex::default(),
        finalizers: Mutex::default(),
        short_ids: Mutex::default(),
        responses,
    });
    loop {
        let instruction = match instructions.message().await {
            Ok(Some(i)) => i,
            Ok(None) => break,
            Err(status) => {
                tracing::warn!(worker = %endpoints.worker_id, "the control stream failed: {status}");
                break;
            }
        };
        let shared = Arc::clone(&shared);
        // The instruction's events go to this worker's runner, with its id.
        let scope = instruction.instruction_id.clone();
        tokio::spawn(super::logging::in_instruction(&scope, async move {
            let id = instruction.instruction_id.clone();
            let response = match handle(&shared, instruction).await {
                Ok(response) => InstructionResponse {
                    instruction_id: id,
                    error: String::new(),
                    response: Some(response),
                },
                Err(e) => InstructionResponse {
                    instruction_id: id,
                    error: e.to_string(),
                    response: None,
                },
            };
            let _ = shared.responses.send(response).await;
        }));
    }
    Ok(())
}

async fn handle(shared: &Arc<Shared>, instruction: InstructionRequest) -> Result<Response> {
    let id = instruction.instruction_id;
    match instruction.request {
        Some(Request::Register(register)) => {
            let mut descriptors = lock(&shared.descriptors);
            for d in register.process_bundle_descriptor {
                descriptors.insert(d.id.clone(), Arc::new(d));
            }
            Ok(Response::Register(RegisterResponse {}))
        }
        Some(Request::ProcessBundle(request)) => process_bundle(shared, &id, request).await,
        Some(Request::ProcessBundleSplit(request)) => {
            let splits = lock(&shared.running).get(&request.instruction_id).cloned();
            let mut response = ProcessBundleSplitResponse::default();
            let Some(splits) = splits else {
                // Not running (any more): nothing to split.
                return Ok(Response::ProcessBundleSplit(response));
            };
            let mut desired: Vec<_> = request.desired_splits.into_iter().collect();
            desired.sort_by(|a, b| a.0.cmp(&b.0));
            for (transform_id, desired) in desired {
                let Some(split) = splits.get(&transform_id) else {
                    continue;
                };
                // A failed split fails its bundle (the source checks), not this answer: the
                // other transforms' cuts are answered.
                let answer = match split.split(&transform_id, &desired, SPLIT_WAIT).await {
                    Ok(answer) => answer,
                    Err(e) => {
                        tracing::error!(transform = %transform_id, "a split could not be sent: {e}");
                        None
                    }
                };
                if let Some(answer) = answer {
                    response.channel_splits.push(answer.channel);
                    if let Some(element) = answer.element {
                        response.primary_roots.push(element.primary);
                        response.residual_roots.push(element.residual);
                        shared.stats.element_splits.fetch_add(1, Ordering::Relaxed);
                    } else {
                        shared.stats.channel_splits.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Ok(Response::ProcessBundleSplit(response))
        }
        Some(Request::ProcessBundleProgress(request)) => {
            let splits = lock(&shared.running).get(&request.instruction_id).cloned();
            let mut monitoring_infos = Vec::new();
            let mut ids: Vec<_> = splits.into_iter().flatten().collect();
            ids.sort_by(|a, b| a.0.cmp(&b.0));
            for (id, split) in ids {
                monitoring_infos.push(super::bundle::read_index(&id, split.index()));
                // The running element's completed and remaining work, which runners that
                // split on progress (Prism, Dataflow) read.
                if let Some(p) = split.element_progress(PROGRESS_WAIT).await {
                    monitoring_infos.extend(super::bundle::element_progress(&p));
                }
            }
            let monitoring_data = lock(&shared.short_ids).data(&monitoring_infos);
            Ok(Response::ProcessBundleProgress(
                ProcessBundleProgressResponse {
                    monitoring_infos,
                    monitoring_data,
                    consuming_received_data: None,
                },
            ))
        }
        Some(Request::FinalizeBundle(request)) => {
            let finalizers = lock(&shared.finalizers)
                .remove(&request.instruction_id)
                .unwrap_or_default();
            let any = !finalizers.is_empty();
            // Every finalizer runs, whatever an earlier one did; their errors are reported
            // together.
            let mut errors = Vec::new();
            for finalizer in finalizers {
                if let Err(e) = finalizer().await {
                    errors.push(e.to_string());
                }
            }
            if any {
                shared.stats.finalized.fetch_add(1, Ordering::Relaxed);
            }
            if !errors.is_empty() {
                return Err(BeamError::Protocol(format!(
                    "{} finalizers of bundle {} failed: {}",
                    errors.len(),
                    request.instruction_id,
                    errors.join("; ")
                )));
            }
            Ok(Response::FinalizeBundle(FinalizeBundleResponse {}))
        }
        Some(Request::MonitoringInfos(request)) => {
            Ok(Response::MonitoringInfos(MonitoringInfosMetadataResponse {
                monitoring_info: lock(&shared.short_ids).metadata(&request.monitoring_info_id),
            }))
        }
        Some(other) => Err(BeamError::Protocol(format!(
            "instruction {id}: {} is not supported by this SDK",
            request_name(&other)
        ))),
        None => Err(BeamError::Protocol(format!(
            "instruction {id} has no request"
        ))),
    }
}

fn request_name(request: &Request) -> &'static str {
    match request {
        Request::ProcessBundle(_) => "ProcessBundle",
        Request::ProcessBundleProgress(_) => "ProcessBundleProgress",
        Request::ProcessBundleSplit(_) => "ProcessBundleSplit",
        Request::FinalizeBundle(_) => "FinalizeBundle",
        Request::MonitoringInfos(_) => "MonitoringInfos",
        Request::HarnessMonitoringInfos(_) => "HarnessMonitoringInfos",
        Request::SampleData(_) => "SampleData",
        Request::Register(_) => "Register",
    }
}

async fn data_stream(shared: &Shared, descriptor: &ApiServiceDescriptor) -> Result<DataStream> {
    // One stream per endpoint and worker: the runner may route any of this worker's data to
    // any of its streams, so a second one would take data no bundle reads. Bundles that start
    // together wait for the one connection; a stream that ended is replaced.
    let _connecting = shared.connecting.lock().await;
    if let Some(stream) = lock(&shared.data).get(&descriptor.url)
        && stream.is_alive()
    {
        return Ok(stream.clone());
    }
    let channel = channel(&descriptor.url, "data service").await?;
    let stream = tokio::time::timeout(CONNECT, DataStream::connect(channel, &shared.worker_id))
        .await
        .map_err(|_| BeamError::Unreachable {
            service: "data service",
            endpoint: descriptor.url.clone(),
            detail: format!("the data stream did not open within {CONNECT:?}"),
        })??;
    lock(&shared.data).insert(descriptor.url.clone(), stream.clone());
    Ok(stream)
}

/// A registered descriptor, or the runner's answer for it (runners send descriptors on
/// request, `GetProcessBundleDescriptor`, more often than with `Register`).
async fn descriptor(shared: &Shared, id: &str) -> Result<Arc<ProcessBundleDescriptor>> {
    if let Some(d) = lock(&shared.descriptors).get(id) {
        return Ok(Arc::clone(d));
    }
    let mut control = shared.control.clone();
    let request = GetProcessBundleDescriptorRequest {
        process_bundle_descriptor_id: id.to_string(),
    };
    let d = tokio::time::timeout(CONNECT, control.get_process_bundle_descriptor(request))
        .await
        .map_err(|_| {
            BeamError::Protocol(format!(
                "the runner did not send descriptor {id} within {CONNECT:?}"
            ))
        })?
        .map_err(|s| BeamError::Protocol(format!("the runner refused descriptor {id}: {s}")))?
        .into_inner();
    Ok(Arc::clone(
        lock(&shared.descriptors)
            .entry(id.to_string())
            .or_insert_with(|| Arc::new(d)),
    ))
}

async fn process_bundle(
    shared: &Arc<Shared>,
    id: &str,
    request: ProcessBundleRequest,
) -> Result<Response> {
    let descriptor = descriptor(shared, &request.process_bundle_descriptor_id).await?;
    // Every data source of a descriptor names the same data endpoint in practice; the first
    // one's is used for the bundle's input and output.
    let endpoint = descriptor
        .transforms
        .values()
        .filter(|t| {
            t.spec.as_ref().is_some_and(|s| {
                s.urn == super::bundle::DATA_SOURCE || s.urn == super::bundle::DATA_SINK
            })
        })
        .find_map(|t| {
            use prost::Message;
            crate::proto::fn_execution::RemoteGrpcPort::decode(t.spec.as_ref()?.payload.as_slice())
                .ok()?
                .api_service_descriptor
        });
    let data = match endpoint {
        Some(endpoint) => data_stream(shared, &endpoint).await?,
        None => {
            return Err(BeamError::Protocol(format!(
                "bundle {id}: its descriptor has no data source or sink"
            )));
        }
    };
    let mut inbound = data.open(id);
    let result = async {
        let bundle = Bundle::build(&descriptor, &shared.registry, id, &data.sender())?;
        lock(&shared.running).insert(id.to_string(), bundle.splits());
        let inline = request.elements.map(|e| e.data).unwrap_or_default();
        bundle.run(inline, &mut inbound).await
    }
    .await;
    lock(&shared.running).remove(id);
    data.close(id);
    let finished = result?;
    shared.stats.bundles.fetch_add(1, Ordering::Relaxed);
    shared
        .stats
        .bundle_residuals
        .fetch_add(finished.leftovers.residuals.len() as u64, Ordering::Relaxed);
    let requires_finalization = !finished.leftovers.finalizers.is_empty();
    if requires_finalization {
        lock(&shared.finalizers).insert(id.to_string(), finished.leftovers.finalizers);
    }
    let monitoring_data = lock(&shared.short_ids).data(&finished.monitoring);
    Ok(Response::ProcessBundle(ProcessBundleResponse {
        residual_roots: finished.leftovers.residuals,
        monitoring_infos: finished.monitoring,
        requires_finalization,
        monitoring_data,
        elements: None,
    }))
}
