//! The Fn API data stream: one bidirectional gRPC stream per data endpoint, multiplexing the
//! elements of every bundle, routed here by instruction id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tonic::transport::Channel;

use crate::error::{BeamError, Result};
use crate::proto::fn_execution::beam_fn_data_client::BeamFnDataClient;
use crate::proto::fn_execution::{Elements, elements};

/// Elements of one bundle, as they arrive.
pub(crate) type Inbound = mpsc::UnboundedReceiver<elements::Data>;

enum Route {
    /// The bundle is running: its data goes here.
    Open(mpsc::UnboundedSender<elements::Data>),
    /// Data arrived before the bundle asked for it: kept until it does.
    Early(mpsc::UnboundedSender<elements::Data>, Inbound),
}

/// A connected data stream.
#[derive(Clone)]
pub(crate) struct DataStream {
    routes: Arc<Mutex<HashMap<String, Route>>>,
    /// Instructions whose bundle ended: their late data is dropped, not kept.
    closed: Arc<Mutex<std::collections::HashSet<String>>>,
    alive: Arc<std::sync::atomic::AtomicBool>,
    outbound: mpsc::Sender<Elements>,
}

impl DataStream {
    /// Connects to the data endpoint at `channel`.
    pub async fn connect(channel: Channel, worker_id: &str) -> Result<DataStream> {
        let (outbound, receiver) = mpsc::channel::<Elements>(16);
        let mut request = tonic::Request::new(tokio_stream_from(receiver));
        request.metadata_mut().insert(
            "worker_id",
            worker_id.parse().map_err(|_| {
                BeamError::Protocol(format!("a worker id that is no header: {worker_id:?}"))
            })?,
        );
        let mut client = BeamFnDataClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        let mut inbound = client
            .data(request)
            .await
            .map_err(|s| BeamError::Protocol(format!("opening the data stream: {s}")))?
            .into_inner();
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let closed: Arc<Mutex<std::collections::HashSet<String>>> = Arc::default();
        let alive = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let stream = DataStream {
            routes: Arc::clone(&routes),
            closed: Arc::clone(&closed),
            alive: Arc::clone(&alive),
            outbound,
        };
        tokio::spawn(async move {
            while let Ok(Some(elements)) = inbound.message().await {
                let mut routes = routes.lock().unwrap_or_else(|e| e.into_inner());
                let closed = closed.lock().unwrap_or_else(|e| e.into_inner());
                for data in elements.data {
                    if closed.contains(&data.instruction_id) {
                        continue;
                    }
                    let route = routes
                        .entry(data.instruction_id.clone())
                        .or_insert_with(|| {
                            let (tx, rx) = mpsc::unbounded_channel();
                            Route::Early(tx, rx)
                        });
                    let tx = match route {
                        Route::Open(tx) | Route::Early(tx, _) => tx,
                    };
                    // A bundle that already ended (failed) drops the rest of its data.
                    let _ = tx.send(data);
                }
            }
            // The stream ended: every waiting bundle sees its input end (and fails if it was
            // not complete), and the worker opens a new stream for the next bundle.
            alive.store(false, std::sync::atomic::Ordering::Release);
            routes.lock().unwrap_or_else(|e| e.into_inner()).clear();
        });
        Ok(stream)
    }

    /// The elements of `instruction_id`, from the first that arrived.
    pub fn open(&self, instruction_id: &str) -> Inbound {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        match routes.remove(instruction_id) {
            Some(Route::Early(tx, rx)) => {
                routes.insert(instruction_id.to_string(), Route::Open(tx));
                rx
            }
            _ => {
                let (tx, rx) = mpsc::unbounded_channel();
                routes.insert(instruction_id.to_string(), Route::Open(tx));
                rx
            }
        }
    }

    /// Forgets a bundle's route; data that still arrives for it is dropped.
    pub fn close(&self, instruction_id: &str) {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        routes.remove(instruction_id);
        self.closed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(instruction_id.to_string());
    }

    /// Whether the stream is still open.
    pub fn is_alive(&self) -> bool {
        self.alive.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Where a bundle's output goes.
    pub fn sender(&self) -> mpsc::Sender<Elements> {
        self.outbound.clone()
    }
}

/// An mpsc receiver as the stream a tonic client sends.
pub(crate) fn tokio_stream_from<T: Send + 'static>(
    mut receiver: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}
