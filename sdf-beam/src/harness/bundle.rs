//! Running one `ProcessBundleRequest`: the descriptor's transforms as operators, fed from the
//! data stream (or the request's own elements), their output sent back, their residuals and
//! finalizers collected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prost::Message;

use super::ops::{Consumer, Consumers, DataSink, Encoder, Leftovers, Operator, SharedLeftovers};
use super::registry::{Registry, SDF_DOFN_URN};
use super::split::SourceSplit;
use super::step::{OpContext, Phase};
use crate::coder::{AnyCoder, Coder, CoderError, Context};
use crate::error::{BeamError, Result};
use crate::proto::fn_execution::{Elements, ProcessBundleDescriptor, RemoteGrpcPort, elements};
use crate::proto::pipeline::{MonitoringInfo, PTransform, ParDoPayload};
use tokio::sync::mpsc;

/// The data read transform.
pub(crate) const DATA_SOURCE: &str = "beam:runner:source:v1";
/// The data write transform.
pub(crate) const DATA_SINK: &str = "beam:runner:sink:v1";
/// The expanded SDF transforms.
pub(crate) const PAIR: &str = "beam:transform:sdf_pair_with_restriction:v1";
pub(crate) const SPLIT_AND_SIZE: &str = "beam:transform:sdf_split_and_size_restrictions:v1";
pub(crate) const TRUNCATE: &str = "beam:transform:sdf_truncate_sized_restrictions:v1";
pub(crate) const PROCESS: &str = "beam:transform:sdf_process_sized_element_and_restrictions:v1";

/// The longest chain of fused transforms a descriptor may have (a cycle would not end).
const MAX_CHAIN: usize = 256;

/// The split points of a running bundle's sources, by transform id.
pub(crate) type Splits = HashMap<String, Arc<SourceSplit>>;

/// A data source of the bundle and what it feeds.
struct Source {
    split: Arc<SourceSplit>,
    target: Target,
    /// The next element's index.
    index: i64,
    done: bool,
    /// The start of an element whose bytes continue in the next chunk (the Fn API's data is
    /// a byte stream cut into chunks anywhere).
    pending: Vec<u8>,
}

enum Target {
    /// One operator: it decodes each element from the front of the data.
    Op(Box<dyn Operator>),
    /// Anything else: elements are delimited with the port's coder first.
    Delimited(AnyCoder, Consumers),
}

impl Source {
    fn check(&self) -> Result<()> {
        match self.split.failed() {
            Some(why) => Err(BeamError::Protocol(format!(
                "the bundle cannot complete: a runner split was made but not sent ({why})"
            ))),
            None => Ok(()),
        }
    }

    /// Processes the elements of one chunk of the data stream. An element cut by the end of
    /// the chunk is kept, unprocessed (decoding comes before any effect), and completed by the
    /// next; one cut by the end of the stream (`is_last`) is an error.
    async fn chunk(&mut self, chunk: &[u8], is_last: bool) -> Result<()> {
        self.check()?;
        let joined;
        let mut data = if self.pending.is_empty() {
            chunk
        } else {
            let mut bytes = std::mem::take(&mut self.pending);
            bytes.extend_from_slice(chunk);
            joined = bytes;
            &joined[..]
        };
        while !data.is_empty() {
            if !self.split.begin(self.index) {
                // Split off: this element and every later one are the runner's residual.
                return Ok(());
            }
            let before = data;
            let result = match &mut self.target {
                Target::Op(op) => op.element(&mut data).await,
                Target::Delimited(coder, consumers) => {
                    match coder.decode(&mut data, Context::Nested) {
                        Ok(_) => {
                            let element = &before[..before.len() - data.len()];
                            consumers.emit(element).await
                        }
                        Err(e) => Err(e.into()),
                    }
                }
            };
            if let Err(BeamError::Coder(CoderError::Truncated { .. })) = &result
                && !is_last
            {
                self.split.not_begun(self.index);
                self.pending = before.to_vec();
                return Ok(());
            }
            self.split.end(self.index);
            self.index += 1;
            if let Err(BeamError::Coder(e @ CoderError::Truncated { .. })) = &result {
                return Err(BeamError::Protocol(format!(
                    "the data stream ended inside element {} ({} bytes of it): {e}",
                    self.index - 1,
                    before.len()
                )));
            }
            result?;
        }
        if is_last && !self.pending.is_empty() {
            return Err(BeamError::Protocol(format!(
                "the data stream ended inside element {} ({} bytes of it)",
                self.index,
                self.pending.len()
            )));
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<()> {
        match &mut self.target {
            Target::Op(op) => op.finish().await,
            Target::Delimited(_, consumers) => consumers.finish().await,
        }
    }
}

/// A bundle, built and ready to run.
pub(crate) struct Bundle {
    instruction_id: String,
    sources: HashMap<String, Source>,
    leftovers: SharedLeftovers,
}

/// What a bundle left.
pub(crate) struct Finished {
    pub leftovers: Leftovers,
    pub monitoring: Vec<MonitoringInfo>,
}

struct Builder<'a> {
    descriptor: &'a ProcessBundleDescriptor,
    registry: &'a Registry,
    instruction_id: &'a str,
    output: &'a mpsc::Sender<Elements>,
    leftovers: SharedLeftovers,
    /// PCollection id → the transforms that read it.
    readers: HashMap<&'a str, Vec<&'a str>>,
}

fn not_supported(id: &str, t: &PTransform, why: &str) -> BeamError {
    let urn = t.spec.as_ref().map_or("", |s| s.urn.as_str());
    BeamError::Protocol(format!("transform {id} ({}, {urn}): {why}", t.unique_name))
}

impl Builder<'_> {
    fn consumers(
        &self,
        pcollection: &str,
        split: Option<&Arc<SourceSplit>>,
        depth: usize,
        producer: &str,
        encoder: Option<Encoder>,
    ) -> Result<Consumers> {
        if depth > MAX_CHAIN {
            return Err(BeamError::Protocol(format!(
                "bundle descriptor {}: a chain of more than {MAX_CHAIN} transforms after \
                 {pcollection} (a cycle?)",
                self.descriptor.id
            )));
        }
        let mut consumers = Vec::new();
        for &id in self
            .readers
            .get(pcollection)
            .map_or(&[][..], |v| v.as_slice())
        {
            let t = &self.descriptor.transforms[id];
            let urn = t.spec.as_ref().map_or("", |s| s.urn.as_str());
            if urn == DATA_SINK {
                consumers.push(Consumer::Sink(DataSink::new(
                    self.instruction_id,
                    id,
                    self.output.clone(),
                )));
            } else {
                consumers.push(Consumer::Op(self.operator(id, split, depth)?));
            }
        }
        Ok(Consumers {
            list: consumers,
            encoder,
            producer: producer.to_string(),
            buffer: Vec::new(),
        })
    }

    fn operator(
        &self,
        id: &str,
        split: Option<&Arc<SourceSplit>>,
        depth: usize,
    ) -> Result<Box<dyn Operator>> {
        let t = &self.descriptor.transforms[id];
        let spec = t
            .spec
            .as_ref()
            .ok_or_else(|| not_supported(id, t, "no spec"))?;
        let phase = match spec.urn.as_str() {
            PAIR => Phase::Pair,
            SPLIT_AND_SIZE => Phase::SplitAndSize,
            TRUNCATE => Phase::Truncate,
            PROCESS => Phase::Process,
            crate::model::PAR_DO => Phase::Unexpanded,
            _ => return Err(not_supported(id, t, "not a transform this SDK runs")),
        };
        let payload = ParDoPayload::decode(spec.payload.as_slice())
            .map_err(|e| not_supported(id, t, &format!("its ParDoPayload does not decode: {e}")))?;
        let do_fn = payload
            .do_fn
            .as_ref()
            .ok_or_else(|| not_supported(id, t, "no DoFn"))?;
        if do_fn.urn != SDF_DOFN_URN {
            return Err(not_supported(
                id,
                t,
                &format!("a DoFn of another SDK ({})", do_fn.urn),
            ));
        }
        let name = String::from_utf8_lossy(&do_fn.payload);
        let step = self.registry.get(&name).ok_or_else(|| {
            not_supported(
                id,
                t,
                &format!(
                    "no DoFn is registered as {name:?} in this worker (registered: {:?}); the \
                     worker must build the same pipeline as the program that submitted it",
                    self.registry.names()
                ),
            )
        })?;
        if !payload.side_inputs.is_empty()
            || !payload.state_specs.is_empty()
            || !payload.timer_family_specs.is_empty()
        {
            return Err(not_supported(
                id,
                t,
                "side inputs, state and timers are not supported",
            ));
        }
        let mut main_inputs = t
            .inputs
            .iter()
            .filter(|(k, _)| !payload.side_inputs.contains_key(*k));
        let (input_local, _) = main_inputs
            .next()
            .ok_or_else(|| not_supported(id, t, "no main input"))?;
        let mut outputs: Vec<_> = t.outputs.iter().collect();
        outputs.sort();
        if outputs.len() > 1 {
            return Err(not_supported(id, t, "more than one output"));
        }
        let consumers = match outputs.first() {
            Some((_, pcollection)) => self.consumers(
                pcollection,
                None,
                depth + 1,
                &name,
                self.registry.encoder(&name),
            )?,
            None => Consumers::default(),
        };
        step.operator(
            phase,
            OpContext {
                transform_id: id.to_string(),
                input_local: input_local.clone(),
                output_locals: outputs.iter().map(|(k, _)| (*k).clone()).collect(),
                consumers,
                leftovers: Arc::clone(&self.leftovers),
                split: split.cloned(),
            },
        )
    }
}

impl Bundle {
    /// Builds the operators of `descriptor` for one bundle, sending its output to `output`.
    pub fn build(
        descriptor: &ProcessBundleDescriptor,
        registry: &Registry,
        instruction_id: &str,
        output: &mpsc::Sender<Elements>,
    ) -> Result<Bundle> {
        let mut readers: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut ids: Vec<&String> = descriptor.transforms.keys().collect();
        ids.sort();
        for id in &ids {
            for pcollection in descriptor.transforms[*id].inputs.values() {
                readers
                    .entry(pcollection.as_str())
                    .or_default()
                    .push(id.as_str());
            }
        }
        let builder = Builder {
            descriptor,
            registry,
            instruction_id,
            output,
            leftovers: Arc::new(Mutex::new(Leftovers::default())),
            readers,
        };
        let mut sources = HashMap::new();
        for id in ids {
            let t = &descriptor.transforms[id];
            if t.spec.as_ref().map(|s| s.urn.as_str()) != Some(DATA_SOURCE) {
                continue;
            }
            let port = RemoteGrpcPort::decode(t.spec.as_ref().expect("checked").payload.as_slice())
                .map_err(|e| {
                    not_supported(id, t, &format!("its RemoteGrpcPort does not decode: {e}"))
                })?;
            let output = t
                .outputs
                .values()
                .next()
                .ok_or_else(|| not_supported(id, t, "a data source with no output"))?;
            let split = Arc::new(SourceSplit::default());
            let consumers = builder.consumers(output, Some(&split), 0, id, None)?;
            let target =
                if consumers.list.len() == 1 && matches!(consumers.list[0], Consumer::Op(_)) {
                    match consumers.list.into_iter().next() {
                        Some(Consumer::Op(op)) => Target::Op(op),
                        _ => unreachable!("checked"),
                    }
                } else {
                    let coder = AnyCoder::from_proto(&port.coder_id, &descriptor.coders)?;
                    Target::Delimited(coder, consumers)
                };
            sources.insert(
                id.clone(),
                Source {
                    split,
                    target,
                    index: 0,
                    done: false,
                    pending: Vec::new(),
                },
            );
        }
        tracing::debug!(
            bundle = instruction_id,
            descriptor = %descriptor.id,
            sources = sources.len(),
            "bundle built"
        );
        Ok(Bundle {
            instruction_id: instruction_id.to_string(),
            sources,
            leftovers: builder.leftovers,
        })
    }

    /// The split points, for the control stream.
    pub fn splits(&self) -> Splits {
        self.sources
            .iter()
            .map(|(id, s)| (id.clone(), Arc::clone(&s.split)))
            .collect()
    }

    /// Runs the bundle: `inline` elements first (the request's own), then the data stream's
    /// until every source has had its last.
    pub async fn run(
        mut self,
        inline: Vec<elements::Data>,
        inbound: &mut super::data::Inbound,
    ) -> Result<Finished> {
        for data in inline {
            self.data(data).await?;
        }
        while self.sources.values().any(|s| !s.done) {
            let Some(data) = inbound.recv().await else {
                return Err(BeamError::Protocol(format!(
                    "the data stream ended before bundle {} had all its input",
                    self.instruction_id
                )));
            };
            self.data(data).await?;
        }
        let mut ids: Vec<_> = self.sources.keys().cloned().collect();
        ids.sort();
        let mut monitoring = Vec::new();
        for id in ids {
            let source = self.sources.get_mut(&id).expect("listed");
            source.finish().await?;
            source.check()?;
            monitoring.push(read_index(&id, source.index - 1));
        }
        let leftovers =
            std::mem::take(&mut *self.leftovers.lock().unwrap_or_else(|e| e.into_inner()));
        monitoring.extend(
            leftovers
                .counters
                .iter()
                .map(|((transform, name), value)| user_counter(transform, name, *value)),
        );
        Ok(Finished {
            leftovers,
            monitoring,
        })
    }

    async fn data(&mut self, data: elements::Data) -> Result<()> {
        let source = self.sources.get_mut(&data.transform_id).ok_or_else(|| {
            BeamError::Protocol(format!(
                "data for {} in bundle {}, which has no such data source",
                data.transform_id, self.instruction_id
            ))
        })?;
        tracing::trace!(transform = %data.transform_id, bytes = data.data.len(), is_last = data.is_last, "input");
        source.chunk(&data.data, data.is_last).await?;
        if data.is_last {
            source.done = true;
        }
        Ok(())
    }
}

/// `beam:metric:data_channel:read_index:v1`: the index of the last element read.
pub(crate) fn read_index(transform_id: &str, index: i64) -> MonitoringInfo {
    let mut payload = Vec::new();
    crate::coder::write_varint(index, &mut payload);
    MonitoringInfo {
        urn: "beam:metric:data_channel:read_index:v1".to_string(),
        r#type: "beam:metrics:sum_int64:v1".to_string(),
        payload,
        labels: [("PTRANSFORM".to_string(), transform_id.to_string())].into(),
        start_time: None,
    }
}

/// `beam:metric:ptransform_progress:{completed,remaining}:v1` of the running element: each an
/// iterable of one double (`beam:metrics:progress:v1`), labelled with the process transform.
pub(crate) fn element_progress(p: &super::split::ElementProgress) -> [MonitoringInfo; 2] {
    let info = |urn: &str, value: f64| {
        let mut payload = Vec::new();
        crate::coder::IterableCoder(crate::coder::Double)
            .encode(&vec![value], Context::Outer, &mut payload)
            .expect("an iterable of one double always encodes");
        MonitoringInfo {
            urn: urn.to_string(),
            r#type: "beam:metrics:progress:v1".to_string(),
            payload,
            labels: [("PTRANSFORM".to_string(), p.transform_id.clone())].into(),
            start_time: None,
        }
    };
    [
        info("beam:metric:ptransform_progress:completed:v1", p.completed),
        info("beam:metric:ptransform_progress:remaining:v1", p.remaining),
    ]
}

/// A user counter of the bundle (`beam:metric:user:sum_int64:v1`, namespace
/// [`COUNTER_NAMESPACE`](crate::COUNTER_NAMESPACE)): the runner sums these over the bundles it
/// commits, and reports them as the job's committed metrics.
pub(crate) fn user_counter(transform_id: &str, name: &str, value: i64) -> MonitoringInfo {
    let mut payload = Vec::new();
    crate::coder::write_varint(value, &mut payload);
    MonitoringInfo {
        urn: crate::metrics::USER_SUM_INT64.to_string(),
        r#type: "beam:metrics:sum_int64:v1".to_string(),
        payload,
        labels: [
            ("PTRANSFORM".to_string(), transform_id.to_string()),
            (
                "NAMESPACE".to_string(),
                crate::COUNTER_NAMESPACE.to_string(),
            ),
            ("NAME".to_string(), name.to_string()),
        ]
        .into(),
        start_time: None,
    }
}

/// Runs one bundle of `descriptor` in memory, without a runner: `input` is what the runner
/// would send on the data stream, the answer what the worker would send back (the output
/// chunks, in order) and the residual roots it would return. For tests and benchmarks of the
/// data plane.
pub async fn run_bundle_in_memory(
    descriptor: &ProcessBundleDescriptor,
    registry: &Registry,
    input: Vec<elements::Data>,
) -> Result<(
    Vec<elements::Data>,
    Vec<crate::proto::fn_execution::DelayedBundleApplication>,
)> {
    let (tx, mut rx) = mpsc::channel::<Elements>(1024);
    let bundle = Bundle::build(descriptor, registry, "in-memory", &tx)?;
    drop(tx);
    let (inbound_tx, mut inbound) = mpsc::unbounded_channel();
    drop(inbound_tx);
    let collect = tokio::spawn(async move {
        let mut out = Vec::new();
        while let Some(e) = rx.recv().await {
            out.extend(e.data);
        }
        out
    });
    let finished = bundle.run(input, &mut inbound).await?;
    let output = collect
        .await
        .map_err(|e| BeamError::Protocol(format!("the output collector failed: {e}")))?;
    Ok((output, finished.leftovers.residuals))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use async_trait::async_trait;
    use sdf_core::{
        MonotonicWatermarkEstimator, OffsetRange, OffsetRangeTracker, Output, ProcessContinuation,
        SharedTracker, SplittableDoFn, Timestamp,
    };

    use super::*;
    use crate::coder::{
        Double, GlobalWindow, GlobalWindowCoder, Instant, Kv, LengthPrefix, PaneInfo, SerdeJson,
        WindowedValue, WindowedValueCoder,
    };
    use crate::proto::pipeline::FunctionSpec;

    /// Emits `0..n`, a millisecond per claim.
    struct Slow;

    #[async_trait]
    impl SplittableDoFn for Slow {
        type Input = i64;
        type Output = i64;
        type Restriction = OffsetRange;
        type Tracker = OffsetRangeTracker;
        type WatermarkEstimator = MonotonicWatermarkEstimator;

        fn initial_restriction(&self, n: &i64) -> sdf_core::Result<OffsetRange> {
            Ok(OffsetRange::new(0, *n))
        }

        fn new_tracker(&self, _: &i64, r: OffsetRange) -> OffsetRangeTracker {
            OffsetRangeTracker::new(r)
        }

        async fn process(
            &self,
            _: &i64,
            tracker: &mut SharedTracker<OffsetRangeTracker>,
            output: &mut Output<'_, i64>,
            _: &mut MonotonicWatermarkEstimator,
        ) -> sdf_core::Result<ProcessContinuation> {
            let mut i = tracker.current_restriction().start();
            while tracker.try_claim(i)? {
                output.emit(i).await?;
                tokio::time::sleep(Duration::from_millis(1)).await;
                i += 1;
            }
            Ok(ProcessContinuation::Stop)
        }
    }

    fn transform(
        urn: &str,
        payload: Vec<u8>,
        input: Option<&str>,
        output: Option<&str>,
    ) -> PTransform {
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
            outputs: output
                .map(|o| ("out".to_string(), o.to_string()))
                .into_iter()
                .collect(),
            ..Default::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_running_element_reports_its_trackers_progress() {
        let port = RemoteGrpcPort::default().encode_to_vec();
        let pardo = ParDoPayload {
            do_fn: Some(FunctionSpec {
                urn: SDF_DOFN_URN.to_string(),
                payload: b"slow".to_vec(),
            }),
            restriction_coder_id: "r".to_string(),
            ..Default::default()
        }
        .encode_to_vec();
        let descriptor = ProcessBundleDescriptor {
            id: "slow".to_string(),
            transforms: [
                (
                    "read".to_string(),
                    transform(DATA_SOURCE, port.clone(), None, Some("in")),
                ),
                (
                    "process".to_string(),
                    transform(PROCESS, pardo, Some("in"), Some("out")),
                ),
                (
                    "write".to_string(),
                    transform(DATA_SINK, port, Some("out"), None),
                ),
            ]
            .into(),
            ..Default::default()
        };
        let mut registry = Registry::new();
        registry.register("slow", Slow);
        let n = 400i64;
        let coder = WindowedValueCoder {
            window: GlobalWindowCoder,
            value: Kv(
                Kv(
                    LengthPrefix(SerdeJson::<i64>::new()),
                    Kv(
                        LengthPrefix(SerdeJson::<OffsetRange>::new()),
                        LengthPrefix(SerdeJson::<Timestamp>::new()),
                    ),
                ),
                Double,
            ),
        };
        let mut data = Vec::new();
        let value = WindowedValue {
            value: ((n, (OffsetRange::new(0, n), Timestamp::MIN)), n as f64),
            timestamp: Instant(0),
            windows: vec![GlobalWindow],
            pane: PaneInfo::NO_FIRING,
        };
        coder.encode(&value, Context::Nested, &mut data).unwrap();
        let (tx, mut rx) = mpsc::channel::<Elements>(1024);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let bundle = Bundle::build(&descriptor, &registry, "b", &tx).unwrap();
        drop(tx);
        let split = Arc::clone(&bundle.splits()["read"]);
        let input = vec![elements::Data {
            instruction_id: "b".to_string(),
            transform_id: "read".to_string(),
            data,
            is_last: true,
        }];
        let running = tokio::spawn(async move {
            let (_tx, mut inbound) = mpsc::unbounded_channel();
            bundle.run(input, &mut inbound).await.map(|_| ())
        });
        let mut seen = Vec::new();
        while !running.is_finished() && seen.len() < 3 {
            if let Some(p) = split.element_progress(Duration::from_secs(1)).await {
                assert_eq!(p.transform_id, "process");
                assert_eq!(p.completed + p.remaining, n as f64, "{p:?}");
                seen.push(p.completed);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        running.await.unwrap().unwrap();
        drain.await.unwrap();
        assert!(seen.len() >= 2, "progress while running: {seen:?}");
        assert!(
            seen.windows(2).all(|w| w[0] <= w[1]) && seen[0] > 0.0,
            "{seen:?}"
        );
        let [done, left] = element_progress(&super::super::split::ElementProgress {
            transform_id: "process".to_string(),
            completed: 1.5,
            remaining: 2.0,
        });
        // An iterable of one double: a count of 1, then the big-endian double.
        assert_eq!(
            done.payload,
            [&1i32.to_be_bytes()[..], &1.5f64.to_be_bytes()].concat()
        );
        assert_eq!(left.urn, "beam:metric:ptransform_progress:remaining:v1");
    }
}
