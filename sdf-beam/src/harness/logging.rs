//! The worker's `tracing` events on the runner's logging service (`BeamFnLogging`).
//!
//! # Which events go to which runner
//!
//! One global [`BeamLogLayer`] serves every worker of the process; it routes by a task-local
//! that each worker sets on its own tasks. **An event goes to the runner of the worker whose
//! task emitted it**: the worker's control loop and the task of each instruction (the bundle,
//! and the DoFn calls, which run on it), and nothing else. Events of other tasks (the
//! submitting program, another worker, tonic's connection tasks) never reach this worker's
//! runner, whatever their span. A task a DoFn spawns itself is not the worker's task; wrap
//! its future in [`with_worker_log`] to keep its events with the worker.
//!
//! A task-local rather than a span per worker: spans do not cross `tokio::spawn` either, and a
//! span can be disabled by the process's filter (`RUST_LOG=warn` drops an info span), which
//! would silently cut the route; a task-local is untouched by filters.
//!
//! # Never in the worker's way
//!
//! An event is formatted and put in a bounded queue (1,024 entries) with `try_send`: when the
//! queue is full the entry is dropped and counted, and the count is sent later as a warning
//! entry of its own. A logging service that cannot be reached, or a stream that fails, is
//! reported on the process's other layers and the worker goes on without it (there is no
//! reconnection). When the worker ends, the entries still queued are sent within 5 s.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::proto::fn_execution::LogEntry;
use crate::proto::fn_execution::beam_fn_logging_client::BeamFnLoggingClient;
use crate::proto::fn_execution::log_entry::List;
use crate::proto::fn_execution::log_entry::severity::Enum as Severity;

/// How many entries may wait for the stream before new ones are dropped.
const QUEUE: usize = 1024;
/// How many entries one message of the stream carries at most.
const BATCH: usize = 256;
/// How long opening the stream may take.
const OPEN: Duration = Duration::from_secs(30);
/// How long the entries still queued at the worker's end may take to be sent.
const FLUSH: Duration = Duration::from_secs(5);

tokio::task_local! {
    static WORKER_LOG: Scope;
}

/// The route of a worker's task: its sink, and the instruction the task runs (if any).
#[derive(Clone)]
struct Scope {
    sink: Arc<Sink>,
    instruction_id: Option<Arc<str>>,
}

struct Sink {
    entries: mpsc::Sender<LogEntry>,
    /// Entries dropped since the last warning about them.
    dropped: AtomicU64,
    /// False once the stream ended: entries are no longer made.
    alive: AtomicBool,
    /// The most verbose level sent.
    max_level: Level,
}

/// The `tracing` layer that sends a worker's events to its runner's logging service.
///
/// Add it to the process's subscriber once; it sends nothing for events outside a worker
/// (see the module's rule), so it costs one task-local lookup per event there.
/// [`boot::run`](super::boot::run) installs it itself when the program set no subscriber.
///
/// Each event becomes a `LogEntry`: severity from the level (`TRACE`…`ERROR` to Beam's of the
/// same names), the time it was emitted, the message followed by the event's other fields as
/// `name=value`, `log_location` the event's target, `thread` the thread's name, the
/// `instruction_id` of the instruction whose task emitted it, and the `transform_id` of the
/// event's own `transform_id` or `transform` field, or else of its nearest span with a
/// `transform_id` field. Events more verbose than the worker's level (`INFO`, or the
/// pipeline option `default_sdk_harness_log_level`) are not sent.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// let subscriber = tracing_subscriber::registry().with(sdf_beam::harness::BeamLogLayer::new());
/// let _ = tracing::subscriber::set_global_default(subscriber);
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct BeamLogLayer {
    _private: (),
}

impl BeamLogLayer {
    /// The layer.
    pub fn new() -> BeamLogLayer {
        BeamLogLayer::default()
    }
}

/// A span's `transform_id` field, kept in its extensions.
struct TransformId(String);

impl<S> Layer<S> for BeamLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        if attrs.metadata().fields().field("transform_id").is_none() {
            return;
        }
        let mut text = Text::default();
        attrs.record(&mut text);
        if let (Some(transform), Some(span)) = (text.transform, ctx.span(id)) {
            span.extensions_mut().insert(TransformId(transform));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let _ = WORKER_LOG.try_with(|scope| scope.log(event, &ctx));
    }
}

impl Scope {
    fn log<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let sink = &self.sink;
        let metadata = event.metadata();
        if *metadata.level() > sink.max_level || !sink.alive.load(Ordering::Relaxed) {
            return;
        }
        if sink.entries.capacity() == 0 {
            // Full: not worth formatting.
            sink.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        let transform_id = text.transform.take().or_else(|| {
            ctx.event_scope(event)?
                .find_map(|span| span.extensions().get::<TransformId>().map(|t| t.0.clone()))
        });
        let entry = LogEntry {
            severity: severity(metadata.level()) as i32,
            timestamp: Some(SystemTime::now().into()),
            message: text.message(),
            trace: String::new(),
            instruction_id: self.instruction_id.as_deref().unwrap_or("").to_string(),
            transform_id: transform_id.unwrap_or_default(),
            log_location: metadata.target().to_string(),
            thread: std::thread::current().name().unwrap_or("").to_string(),
            custom_data: None,
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = sink.entries.try_send(entry) {
            sink.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn severity(level: &Level) -> Severity {
    match *level {
        Level::ERROR => Severity::Error,
        Level::WARN => Severity::Warn,
        Level::INFO => Severity::Info,
        Level::DEBUG => Severity::Debug,
        Level::TRACE => Severity::Trace,
    }
}

/// An event's message and other fields; `transform_id` (or `transform`) apart.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
    transform: Option<String>,
}

impl Text {
    fn message(self) -> String {
        match (self.message.is_empty(), self.fields.is_empty()) {
            (_, true) => self.message,
            (true, false) => self.fields,
            (false, false) => format!("{} {}", self.message, self.fields),
        }
    }

    fn field(&mut self, field: &Field, value: std::fmt::Arguments<'_>) {
        use std::fmt::Write;
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value}");
            }
            "transform_id" | "transform" if self.transform.is_none() => {
                self.transform = Some(value.to_string());
            }
            name => {
                if !self.fields.is_empty() {
                    self.fields.push(' ');
                }
                let _ = write!(self.fields, "{name}={value}");
            }
        }
    }
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.field(field, format_args!("{value:?}"));
    }
}

/// Runs `future` in the worker log scope of the calling task: the events of a task a DoFn
/// spawns go to its worker's runner as the DoFn's own do (with the same instruction id).
/// Outside a worker's task it is `future` unchanged.
///
/// ```no_run
/// # async fn f() {
/// tokio::spawn(sdf_beam::harness::with_worker_log(async {
///     tracing::info!("reaches the runner's log, as if the DoFn had logged it");
/// }));
/// # }
/// ```
pub fn with_worker_log<F: Future>(future: F) -> impl Future<Output = F::Output> {
    match WORKER_LOG.try_with(Scope::clone) {
        Ok(scope) => futures::future::Either::Left(WORKER_LOG.scope(scope, future)),
        Err(_) => futures::future::Either::Right(future),
    }
}

/// Runs `future` as instruction `id` of the calling task's worker, if it logs to a runner.
pub(crate) fn in_instruction<F: Future>(
    id: &str,
    future: F,
) -> impl Future<Output = F::Output> + use<F> {
    match WORKER_LOG.try_with(Scope::clone) {
        Ok(scope) => futures::future::Either::Left(WORKER_LOG.scope(
            Scope {
                instruction_id: Some(id.into()),
                ..scope
            },
            future,
        )),
        Err(_) => futures::future::Either::Right(future),
    }
}

/// The worker's level: the pipeline option `default_sdk_harness_log_level` (Beam's Python
/// names: `DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL`; also `TRACE`, `WARN`, `NOTICE`),
/// `INFO` when absent. An unknown value is an error naming it.
pub(crate) fn level_from_options(options: &serde_json::Value) -> Result<Level, String> {
    let Some(value) = options.get("default_sdk_harness_log_level") else {
        return Ok(Level::INFO);
    };
    let name = value.as_str().map(str::to_ascii_uppercase);
    match name.as_deref() {
        Some("TRACE") => Ok(Level::TRACE),
        Some("DEBUG") => Ok(Level::DEBUG),
        Some("INFO" | "NOTICE") => Ok(Level::INFO),
        Some("WARN" | "WARNING") => Ok(Level::WARN),
        Some("ERROR" | "CRITICAL" | "FATAL") => Ok(Level::ERROR),
        _ => Err(format!(
            "default_sdk_harness_log_level {value} is no level (TRACE, DEBUG, INFO, WARNING, \
             ERROR, CRITICAL); logging at INFO"
        )),
    }
}

/// A worker's stream to the logging service, opened in the background.
pub(crate) struct LogStream {
    sink: Arc<Sink>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl LogStream {
    /// Starts streaming the events of `worker_id`'s tasks to `endpoint`, those up to
    /// `max_level`. Never fails: an endpoint that cannot be reached is reported on the
    /// process's own log, and the worker's events are then not sent.
    pub fn start(endpoint: &str, worker_id: &str, max_level: Level) -> LogStream {
        let (entries, receiver) = mpsc::channel(QUEUE);
        let sink = Arc::new(Sink {
            entries,
            dropped: AtomicU64::new(0),
            alive: AtomicBool::new(true),
            max_level,
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(stream(
            endpoint.to_string(),
            worker_id.to_string(),
            receiver,
            stopped,
            Arc::clone(&sink),
        ));
        LogStream { sink, stop, task }
    }

    /// Runs `future` with this stream as its task's (and its instructions') route, then sends
    /// what is still queued (bounded by 5 s) and closes the stream.
    pub async fn run<F: Future>(self, future: F) -> F::Output {
        let scope = Scope {
            sink: Arc::clone(&self.sink),
            instruction_id: None,
        };
        let output = WORKER_LOG.scope(scope, future).await;
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(FLUSH, &mut task).await.is_err() {
            task.abort();
            tracing::warn!(
                "the logging service did not take the worker's last entries within {FLUSH:?}; \
                 they were dropped"
            );
        }
        output
    }
}

async fn stream(
    endpoint: String,
    worker_id: String,
    receiver: mpsc::Receiver<LogEntry>,
    stopped: oneshot::Receiver<()>,
    sink: Arc<Sink>,
) {
    let result = async {
        let channel = super::worker::channel(&endpoint, "logging service").await?;
        let mut request = tonic::Request::new(batches(receiver, stopped, Arc::clone(&sink)));
        let header = worker_id.parse().map_err(|_| {
            crate::BeamError::Protocol(format!("a worker id that is no header: {worker_id:?}"))
        })?;
        request.metadata_mut().insert("worker_id", header);
        let mut client = BeamFnLoggingClient::new(channel);
        let mut controls = tokio::time::timeout(OPEN, client.logging(request))
            .await
            .map_err(|_| crate::BeamError::Unreachable {
                service: "logging service",
                endpoint: endpoint.clone(),
                detail: format!("the logging stream did not open within {OPEN:?}"),
            })?
            .map_err(|s| {
                crate::BeamError::Protocol(format!("opening the logging stream at {endpoint}: {s}"))
            })?
            .into_inner();
        // The runner's answers (`LogControl`) carry nothing to act on; reading them to the
        // end keeps the stream open until both sides finished.
        loop {
            match controls.message().await {
                Ok(Some(_)) => {}
                Ok(None) => return Ok(()),
                Err(s) => {
                    return Err(crate::BeamError::Protocol(format!(
                        "the logging stream at {endpoint} failed: {s}"
                    )));
                }
            }
        }
    }
    .await;
    sink.alive.store(false, Ordering::Relaxed);
    if let Err(e) = result {
        // Not in the worker's scope: this goes to the process's other layers only.
        tracing::warn!(worker = %worker_id, "{e}; the worker goes on without sending its logs");
    }
}

/// The queued entries as the stream's messages, at most [`BATCH`] each, a warning about the
/// entries dropped since the last message first; the stream ends once `stopped` fired (or its
/// sender is gone) and the queue is empty.
fn batches(
    mut receiver: mpsc::Receiver<LogEntry>,
    stopped: oneshot::Receiver<()>,
    sink: Arc<Sink>,
) -> impl futures::Stream<Item = List> + Send + 'static {
    let mut stopped = Some(stopped);
    futures::stream::poll_fn(move |cx| {
        if let Some(s) = stopped.as_mut()
            && Pin::new(s).poll(cx).is_ready()
        {
            // No more entries are taken; those queued are still read.
            receiver.close();
            stopped = None;
        }
        let first = match receiver.poll_recv(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(first) => first,
        };
        let mut log_entries = Vec::new();
        let dropped = sink.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            log_entries.push(dropped_warning(dropped));
        }
        let Some(first) = first else {
            // The end: the last count of dropped entries, if any, then nothing.
            return Poll::Ready((!log_entries.is_empty()).then_some(List { log_entries }));
        };
        log_entries.push(first);
        while log_entries.len() < BATCH {
            match receiver.try_recv() {
                Ok(entry) => log_entries.push(entry),
                Err(_) => break,
            }
        }
        Poll::Ready(Some(List { log_entries }))
    })
}

fn dropped_warning(dropped: u64) -> LogEntry {
    LogEntry {
        severity: Severity::Warn as i32,
        timestamp: Some(SystemTime::now().into()),
        message: format!(
            "{dropped} log entries of this worker were dropped: it logged faster than the \
             logging service took them"
        ),
        log_location: module_path!().to_string(),
        ..LogEntry::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use tracing_subscriber::layer::SubscriberExt;

    /// A sink without a stream, and its queue.
    fn sink(max_level: Level) -> (Arc<Sink>, mpsc::Receiver<LogEntry>) {
        let (entries, receiver) = mpsc::channel(4);
        let sink = Arc::new(Sink {
            entries,
            dropped: AtomicU64::new(0),
            alive: AtomicBool::new(true),
            max_level,
        });
        (sink, receiver)
    }

    fn scope(sink: &Arc<Sink>, instruction: Option<&str>) -> Scope {
        Scope {
            sink: Arc::clone(sink),
            instruction_id: instruction.map(Into::into),
        }
    }

    fn drain(receiver: &mut mpsc::Receiver<LogEntry>) -> Vec<LogEntry> {
        std::iter::from_fn(|| receiver.try_recv().ok()).collect()
    }

    #[tokio::test]
    async fn an_event_becomes_an_entry_with_its_fields_level_and_ids() {
        let (sink, mut receiver) = sink(Level::INFO);
        let subscriber = tracing_subscriber::registry().with(BeamLogLayer::new());
        let _guard = tracing::subscriber::set_default(subscriber);
        WORKER_LOG
            .scope(scope(&sink, Some("bundle-7")), async {
                tracing::warn!(records = 3, path = "a.txt", "read {}", "done");
                tracing::error!(transform = "Count", "failed");
                let span = tracing::info_span!("call", transform_id = "Read");
                let _entered = span.enter();
                tracing::info!("inside");
                tracing::debug!("too verbose");
            })
            .await;
        let entries = drain(&mut receiver);
        let got: Vec<_> = entries
            .iter()
            .map(|e| {
                (
                    e.severity,
                    e.message.as_str(),
                    e.instruction_id.as_str(),
                    e.transform_id.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    Severity::Warn as i32,
                    "read done records=3 path=a.txt",
                    "bundle-7",
                    ""
                ),
                (Severity::Error as i32, "failed", "bundle-7", "Count"),
                (Severity::Info as i32, "inside", "bundle-7", "Read"),
            ]
        );
        assert_eq!(entries[0].log_location, module_path!());
        assert!(entries[0].timestamp.is_some());
    }

    #[tokio::test]
    async fn events_outside_a_worker_or_of_another_worker_stay_apart() {
        let (a, mut a_queue) = sink(Level::INFO);
        let (b, mut b_queue) = sink(Level::INFO);
        let subscriber = tracing_subscriber::registry().with(BeamLogLayer::new());
        let _guard = tracing::subscriber::set_default(subscriber);
        tracing::info!("the program's own");
        WORKER_LOG
            .scope(scope(&a, None), async { tracing::info!("a's") })
            .await;
        WORKER_LOG
            .scope(scope(&b, None), async {
                tracing::info!("b's");
                in_instruction("7", async { tracing::info!("b's instruction") }).await;
            })
            .await;
        let messages = |q: &mut mpsc::Receiver<LogEntry>| -> Vec<(String, String)> {
            drain(q)
                .into_iter()
                .map(|e| (e.message, e.instruction_id))
                .collect()
        };
        assert_eq!(messages(&mut a_queue), [("a's".into(), "".into())]);
        assert_eq!(
            messages(&mut b_queue),
            [
                ("b's".into(), "".into()),
                ("b's instruction".into(), "7".into())
            ]
        );
    }

    #[tokio::test]
    async fn a_full_queue_drops_entries_and_the_count_is_sent_first_later() {
        let (sink, receiver) = sink(Level::INFO);
        let subscriber = tracing_subscriber::registry().with(BeamLogLayer::new());
        let _guard = tracing::subscriber::set_default(subscriber);
        WORKER_LOG
            .scope(scope(&sink, None), async {
                for i in 0..10 {
                    tracing::info!("entry {i}");
                }
            })
            .await;
        assert_eq!(sink.dropped.load(Ordering::Relaxed), 6, "queue of 4");
        let (stop, stopped) = oneshot::channel();
        let mut batches = Box::pin(batches(receiver, stopped, Arc::clone(&sink)));
        let first = batches.next().await.expect("a batch").log_entries;
        let messages: Vec<_> = first.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages.len(), 5);
        assert!(messages[0].starts_with("6 log entries"), "{messages:?}");
        assert_eq!(first[0].severity, Severity::Warn as i32);
        assert_eq!(messages[1..], ["entry 0", "entry 1", "entry 2", "entry 3"]);
        // Stopped: the stream ends once the queue is empty.
        stop.send(()).expect("the stream listens");
        assert!(batches.next().await.is_none());
    }

    #[tokio::test]
    async fn the_last_drop_count_is_sent_before_the_stream_ends() {
        let (sink, receiver) = sink(Level::INFO);
        sink.dropped.store(2, Ordering::Relaxed);
        let (stop, stopped) = oneshot::channel();
        drop(stop);
        let mut batches = Box::pin(batches(receiver, stopped, Arc::clone(&sink)));
        let last = batches.next().await.expect("the count").log_entries;
        assert!(last[0].message.starts_with("2 log entries"), "{last:?}");
        assert!(batches.next().await.is_none());
    }

    #[test]
    fn levels_are_read_from_the_options() {
        let cases = [
            ("absent", serde_json::json!({}), Ok(Level::INFO)),
            (
                "python name",
                serde_json::json!({"default_sdk_harness_log_level": "WARNING"}),
                Ok(Level::WARN),
            ),
            (
                "lower case",
                serde_json::json!({"default_sdk_harness_log_level": "debug"}),
                Ok(Level::DEBUG),
            ),
            (
                "critical is error",
                serde_json::json!({"default_sdk_harness_log_level": "CRITICAL"}),
                Ok(Level::ERROR),
            ),
        ];
        for (name, options, want) in cases {
            assert_eq!(level_from_options(&options), want, "{name}");
        }
        let err = level_from_options(&serde_json::json!({"default_sdk_harness_log_level": 5}))
            .unwrap_err();
        assert!(err.contains("5 is no level"), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_logging_service_closes_the_sink_and_nothing_waits() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = LogStream::start(&format!("127.0.0.1:{port}"), "w", Level::INFO);
        let sink = Arc::clone(&log.sink);
        let out = log
            .run(async {
                // Let the connection fail.
                for _ in 0..200 {
                    if !sink.alive.load(Ordering::Relaxed) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                tracing::info!("nowhere to go");
                42
            })
            .await;
        assert_eq!(out, 42);
        assert!(!sink.alive.load(Ordering::Relaxed));
    }
}
