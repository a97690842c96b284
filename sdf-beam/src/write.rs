//! [`BundleSink`]: a transactional [`Sink`] on a Beam runner, written per bundle attempt and
//! published only for the attempts the runner committed.

use sdf_core::Sink;

/// Opens one [`Sink`] per bundle attempt, for [`BeamPipeline::write`].
///
/// A Beam runner retries failed bundles, splits running ones and may run a bundle and discard
/// what it produced; it commits a bundle's outputs (and its metrics) only for the attempt it
/// keeps. So each attempt writes into a place of its own, and the runner's commit of the
/// attempt's *output* decides what is published: Beam's own pattern for exactly-once files.
///
/// # Protocol
///
/// [`BeamPipeline::write`] adds three transforms:
///
/// 1. **write**, fused with the step that makes the records: the first record of an attempt
///    opens a sink with a key unique to that attempt ([`open`](Self::open); lowercase hex, safe
///    in a file name); records are written in batches; when the attempt's input ends, the
///    sink's `prepare(1)` makes them durable, the sink is dropped, and its commit message goes
///    downstream as one element. An attempt that fails, or that the runner discards, never
///    commits that element: its staged data is never published.
/// 2. **group**: a `GroupByKey` on the key, which makes publishing a stage of its own, fed only
///    with the elements of committed attempts.
/// 3. **publish**: for each message, `open(key)` again (on any worker) and `commit(1,
///    message)`. A publishing bundle may itself be retried, so `commit` may run more than once
///    for one message: it must be idempotent, as [`Sink::commit`] already requires.
///
/// `recover` is never called: the runner's commit takes its place. Data staged by attempts the
/// runner discarded stays where the sink put it; remove it once the job is done (for
/// `WriteFiles`, the per-attempt staging directories; `sdf read --out` does).
///
/// A closure `Fn(&str) -> sdf_core::Result<S>` is a `BundleSink`.
///
/// [`BeamPipeline::write`]: crate::translate::BeamPipeline::write
pub trait BundleSink<T: Send>: Send + Sync + 'static {
    /// The sink of one attempt.
    type Sink: Sink<T>;

    /// The sink for the attempt `key`: a new place to stage into when writing, the same place
    /// again when publishing.
    fn open(&self, key: &str) -> sdf_core::Result<Self::Sink>;
}

impl<T, S, F> BundleSink<T> for F
where
    T: Send,
    S: Sink<T>,
    F: Fn(&str) -> sdf_core::Result<S> + Send + Sync + 'static,
{
    type Sink = S;

    fn open(&self, key: &str) -> sdf_core::Result<S> {
        self(key)
    }
}
