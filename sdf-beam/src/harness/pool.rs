//! The `BeamFnExternalWorkerPool` service: a runner with an EXTERNAL environment asks it to
//! start workers, each of which dials back to the runner's control endpoint.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;
use tonic::{Request, Response, Status};

use super::logging::level_from_options;
use super::provision::ProvisionInfo;
use super::registry::Registry;
use super::worker::{HarnessStats, WorkerEndpoints, run_worker_logged};
use crate::error::{BeamError, Result};
use crate::proto::fn_execution::beam_fn_external_worker_pool_server::{
    BeamFnExternalWorkerPool, BeamFnExternalWorkerPoolServer,
};
use crate::proto::fn_execution::{
    StartWorkerRequest, StartWorkerResponse, StopWorkerRequest, StopWorkerResponse,
};

/// A running worker pool, stopped when dropped.
#[derive(Debug)]
pub struct WorkerPool {
    address: SocketAddr,
    stats: Arc<HarnessStats>,
    server: JoinHandle<()>,
    workers: Arc<Mutex<HashMap<String, JoinHandle<()>>>>,
}

/// How a worker's registry is made.
enum Registries {
    /// The same for every worker.
    Fixed(Registry),
    /// From the job's pipeline options, which the worker fetches from the provision service.
    FromOptions(Arc<BuildFn>),
}

type BuildFn = dyn Fn(&serde_json::Value) -> Result<Registry> + Send + Sync;

struct Service {
    stats: Arc<HarnessStats>,
    registries: Registries,
    workers: Arc<Mutex<HashMap<String, JoinHandle<()>>>>,
}

impl Service {
    /// The registry of the worker `request` starts, and the level it logs at.
    async fn registry(
        &self,
        request: &StartWorkerRequest,
    ) -> Result<(Registry, tracing::Level), String> {
        let build = match &self.registries {
            Registries::Fixed(registry) => return Ok((registry.clone(), tracing::Level::INFO)),
            Registries::FromOptions(build) => build,
        };
        let Some(endpoint) = url(&request.provision_endpoint) else {
            return Err(format!(
                "StartWorker for {} without a provision endpoint: this pool builds its workers \
                 from the pipeline options, which only the provision service has",
                request.worker_id
            ));
        };
        let info = ProvisionInfo::fetch(&endpoint, &request.worker_id)
            .await
            .map_err(|e| e.to_string())?;
        let options = info.options();
        let level = match level_from_options(&options) {
            Ok(level) => level,
            Err(e) => {
                tracing::warn!(worker = %request.worker_id, "{e}");
                tracing::Level::INFO
            }
        };
        let registry = build(&options).map_err(|e| {
            format!("building the worker's DoFns from the pipeline options failed: {e}")
        })?;
        Ok((registry, level))
    }
}

/// A descriptor's URL, if it has one.
fn url(descriptor: &Option<crate::proto::pipeline::ApiServiceDescriptor>) -> Option<String> {
    descriptor
        .as_ref()
        .map(|d| d.url.clone())
        .filter(|u| !u.is_empty())
}

#[tonic::async_trait]
impl BeamFnExternalWorkerPool for Service {
    async fn start_worker(
        &self,
        request: Request<StartWorkerRequest>,
    ) -> std::result::Result<Response<StartWorkerResponse>, Status> {
        let request = request.into_inner();
        let Some(control) = url(&request.control_endpoint) else {
            return Ok(Response::new(StartWorkerResponse {
                error: "StartWorker without a control endpoint".to_string(),
            }));
        };
        let mut endpoints = WorkerEndpoints::new(request.worker_id.clone(), control);
        endpoints.logging = url(&request.logging_endpoint);
        endpoints.provision = url(&request.provision_endpoint);
        // Answered in the response, where the runner reports it as the reason the worker did
        // not start.
        let (registry, level) = match self.registry(&request).await {
            Ok(built) => built,
            Err(error) => return Ok(Response::new(StartWorkerResponse { error })),
        };
        let stats = Arc::clone(&self.stats);
        let id = request.worker_id.clone();
        let worker = tokio::spawn(async move {
            if let Err(e) = run_worker_logged(endpoints, registry, stats, level).await {
                tracing::error!(worker = %id, "the worker stopped: {e}");
            }
        });
        self.workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(request.worker_id, worker);
        Ok(Response::new(StartWorkerResponse {
            error: String::new(),
        }))
    }

    async fn stop_worker(
        &self,
        request: Request<StopWorkerRequest>,
    ) -> std::result::Result<Response<StopWorkerResponse>, Status> {
        let id = request.into_inner().worker_id;
        if let Some(worker) = self
            .workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id)
        {
            worker.abort();
        }
        Ok(Response::new(StopWorkerResponse {
            error: String::new(),
        }))
    }
}

/// A bound but not yet serving worker pool: its address goes into the pipeline's
/// environment before the pipeline (and so the registry) is complete.
#[derive(Debug)]
pub struct PoolListener {
    listener: tokio::net::TcpListener,
    address: SocketAddr,
}

impl PoolListener {
    /// Listens on `address` (port 0: any free port).
    pub async fn bind(address: SocketAddr) -> Result<PoolListener> {
        let listener =
            tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| BeamError::Unreachable {
                    service: "worker pool",
                    endpoint: address.to_string(),
                    detail: format!("cannot listen: {e}"),
                })?;
        let address = listener
            .local_addr()
            .map_err(|e| BeamError::Protocol(e.to_string()))?;
        Ok(PoolListener { listener, address })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves the pool with the DoFns of `registry`.
    ///
    /// Its workers send their `tracing` events to the runner's logging service at `INFO`
    /// and above (when the process's subscriber has a [`BeamLogLayer`]).
    ///
    /// [`BeamLogLayer`]: super::BeamLogLayer
    pub fn serve(self, registry: Registry) -> WorkerPool {
        self.serve_registries(Registries::Fixed(registry))
    }

    /// Serves the pool with DoFns built for each worker from its job's pipeline options, as
    /// [`boot::run`](super::boot::run) builds them: the worker fetches its provision info,
    /// and `build` is given the options by name ([`ProvisionInfo::options`]); the worker
    /// logs at the options' `default_sdk_harness_log_level` (`INFO` if absent).
    ///
    /// A provision service that cannot be reached, or an error of `build`, is the
    /// `StartWorker` answer's error, which the runner reports.
    pub fn serve_with<B>(self, build: B) -> WorkerPool
    where
        B: Fn(&serde_json::Value) -> Result<Registry> + Send + Sync + 'static,
    {
        self.serve_registries(Registries::FromOptions(Arc::new(build)))
    }

    fn serve_registries(self, registries: Registries) -> WorkerPool {
        let workers: Arc<Mutex<HashMap<String, JoinHandle<()>>>> = Arc::default();
        let stats = Arc::new(HarnessStats::default());
        let service = Service {
            stats: Arc::clone(&stats),
            registries,
            workers: Arc::clone(&workers),
        };
        let incoming = tonic::transport::server::TcpIncoming::from(self.listener);
        let server = tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(BeamFnExternalWorkerPoolServer::new(service))
                .serve_with_incoming(incoming)
                .await;
            if let Err(e) = served {
                tracing::error!("the worker pool stopped: {e}");
            }
        });
        WorkerPool {
            address: self.address,
            stats,
            server,
            workers,
        }
    }
}

impl WorkerPool {
    /// The address the pool listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// What its workers did so far.
    pub fn stats(&self) -> &HarnessStats {
        &self.stats
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.server.abort();
        for (_, worker) in self
            .workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
        {
            worker.abort();
        }
    }
}
