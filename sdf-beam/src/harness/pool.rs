//! The `BeamFnExternalWorkerPool` service: a runner with an EXTERNAL environment asks it to
//! start workers, each of which dials back to the runner's control endpoint.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;
use tonic::{Request, Response, Status};

use super::registry::Registry;
use super::worker::{HarnessStats, WorkerEndpoints, run_worker_with};
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

struct Service {
    stats: Arc<HarnessStats>,
    registry: Registry,
    workers: Arc<Mutex<HashMap<String, JoinHandle<()>>>>,
}

#[tonic::async_trait]
impl BeamFnExternalWorkerPool for Service {
    async fn start_worker(
        &self,
        request: Request<StartWorkerRequest>,
    ) -> std::result::Result<Response<StartWorkerResponse>, Status> {
        let request = request.into_inner();
        let Some(control) = request.control_endpoint.map(|c| c.url) else {
            return Ok(Response::new(StartWorkerResponse {
                error: "StartWorker without a control endpoint".to_string(),
            }));
        };
        let endpoints = WorkerEndpoints {
            worker_id: request.worker_id.clone(),
            control,
        };
        let registry = self.registry.clone();
        let stats = Arc::clone(&self.stats);
        let id = request.worker_id.clone();
        let worker = tokio::spawn(async move {
            if let Err(e) = run_worker_with(endpoints, registry, stats).await {
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
    pub fn serve(self, registry: Registry) -> WorkerPool {
        let workers: Arc<Mutex<HashMap<String, JoinHandle<()>>>> = Arc::default();
        let stats = Arc::new(HarnessStats::default());
        let service = Service {
            stats: Arc::clone(&stats),
            registry,
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
