//! The process-wide IO runtime on which every object-store request runs.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};

use crate::error::{Error, Result};

/// The handle of the IO runtime: created at the first object-store request, 2 worker threads named
/// `sdf-io`, alive until the process ends. An error if its threads cannot be started.
///
/// Object-store clients need a tokio reactor and timers; running them here keeps them off the
/// caller's runtime, which may be a current-thread runtime, the conformance kit's driver, or
/// none. You need it only to run requests of your own next to the connectors' (e.g. to put
/// test objects into a store from synchronous code).
pub fn io_runtime() -> Result<&'static Handle> {
    static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sdf-io")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });
    match runtime {
        Ok(runtime) => Ok(runtime.handle()),
        Err(e) => Err(Error::Store {
            what: "starting the IO runtime for",
            url: "object stores".into(),
            offset: None,
            source: e.clone().into(),
        }),
    }
}

/// Runs `request` on the IO runtime and awaits it from any async context.
pub(crate) async fn run<T: Send + 'static>(
    request: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    io_runtime()?.spawn(request).await.map_err(joined)?
}

/// Runs `request` on the IO runtime and blocks this thread until it is done. Never call it
/// from a task of the IO runtime itself.
pub(crate) fn wait<T: Send + 'static>(
    request: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    io_runtime()?.spawn(async move {
        let _ = tx.send(request.await);
    });
    rx.recv().map_err(|_| Error::Store {
        what: "waiting for",
        url: "an object-store request".into(),
        offset: None,
        source: "the request panicked on the IO runtime".into(),
    })?
}

fn joined(e: tokio::task::JoinError) -> Error {
    Error::Store {
        what: "waiting for",
        url: "an object-store request".into(),
        offset: None,
        source: Box::new(e),
    }
}
