//! A splittable DoFn as Beam runs it: the four expanded SDF transforms (pair with restriction,
//! split and size, truncate, process) and the unexpanded ParDo, each an [`Operator`].
//!
//! On the wire an element is `X` (its input coder), a restriction `R` and its watermark state
//! `W` are `length_prefix(serde_json)`, and the restriction coder a pipeline declares for the
//! DoFn is `kv(R, W)` (the rule Beam's Python SDK follows): so the runner's paired element is
//! `kv(X, kv(R, W))` and the sized one `kv(kv(X, kv(R, W)), double)`. Everything is in the
//! global window; timestamps are Beam's milliseconds (an sdf timestamp's microseconds are
//! floored).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use sdf_core::{
    Emitter, Finalizer, Output, ProcessContinuation, RestrictionTracker, SharedTracker,
    SplitHandle, SplittableDoFn, Timestamp, Timestamped, WatermarkEstimator, WatermarkState,
};

use super::ops::{Consumers, Operator, SharedLeftovers, TypedValue, Verbatim};
use super::split::{ElementProgress, ElementSplit, ElementSplitter, SourceSplit};
use crate::coder::{
    Coder, CoderError, Context, Double, GlobalWindow, GlobalWindowCoder, Instant, Kv, LengthPrefix,
    PaneInfo, SerdeJson, WindowedValue, WindowedValueCoder,
};
use crate::error::{BeamError, Result};
use crate::proto::fn_execution::{BundleApplication, DelayedBundleApplication};
use crate::proto::pipeline::is_bounded;

/// Which of the SDF's transforms an operator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// `beam:transform:sdf_pair_with_restriction:v1`.
    Pair,
    /// `beam:transform:sdf_split_and_size_restrictions:v1`.
    SplitAndSize,
    /// `beam:transform:sdf_truncate_sized_restrictions:v1`.
    Truncate,
    /// `beam:transform:sdf_process_sized_element_and_restrictions:v1`.
    Process,
    /// `beam:transform:pardo:v1`, not expanded by the runner: all of the above in one.
    Unexpanded,
}

/// What an operator is built with.
pub(crate) struct OpContext {
    /// The transform's id in the bundle descriptor.
    pub transform_id: String,
    /// The local name of its main input.
    pub input_local: String,
    /// The local names of its outputs.
    pub output_locals: Vec<String>,
    /// Its (one) output's consumers.
    pub consumers: Consumers,
    /// Residuals and finalizers of the bundle.
    pub leftovers: SharedLeftovers,
    /// The split point of the data source feeding it, for the process phase.
    pub split: Option<Arc<SourceSplit>>,
}

/// A registered DoFn, with its types erased.
pub(crate) trait ErasedStep: Send + Sync {
    /// The operator of `phase`; an error if the step cannot run as that phase (a plain
    /// ParDo's step asked to run an SDF phase).
    fn operator(&self, phase: Phase, context: OpContext) -> Result<Box<dyn Operator>>;
}

/// An input coder for a DoFn: `length_prefix(serde_json)` for our own types, or the impulse's
/// empty bytes for a root DoFn whose input is `()`.
pub trait InputCoder<T>: Coder<Value = T> + Clone + Send + Sync + 'static {}

impl<T, C: Coder<Value = T> + Clone + Send + Sync + 'static> InputCoder<T> for C {}

/// The impulse's element (one empty byte string) as `()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImpulseBytes;

impl Coder for ImpulseBytes {
    type Value = ();

    fn encode(&self, _: &(), context: Context, out: &mut Vec<u8>) -> Result<(), CoderError> {
        crate::coder::Bytes.encode(&Vec::new(), context, out)
    }

    fn decode(&self, input: &mut &[u8], context: Context) -> Result<(), CoderError> {
        let bytes = crate::coder::Bytes.decode(input, context)?;
        if !bytes.is_empty() {
            return Err(CoderError::malformed(
                "impulse",
                format!("{} bytes where the impulse sends none", bytes.len()),
            ));
        }
        Ok(())
    }
}

pub(crate) type Json<T> = LengthPrefix<SerdeJson<T>>;
type RW<F> = Kv<Json<<F as SplittableDoFn>::Restriction>, Json<WatermarkState<F>>>;
pub(crate) type Windowed<C> = WindowedValueCoder<GlobalWindowCoder, C>;

/// A DoFn and its input coder.
pub(crate) struct SdfStep<F: SplittableDoFn, C> {
    dofn: Arc<F>,
    input: C,
}

impl<F, C> SdfStep<F, C>
where
    F: SplittableDoFn,
    C: InputCoder<F::Input>,
{
    pub fn new(dofn: F, input: C) -> Self {
        Self::shared(Arc::new(dofn), input)
    }

    pub fn shared(dofn: Arc<F>, input: C) -> Self {
        SdfStep { dofn, input }
    }

    fn element_coder(&self) -> Windowed<C> {
        windowed(self.input.clone())
    }

    fn paired_coder(&self) -> Windowed<Kv<C, RW<F>>> {
        windowed(Kv(self.input.clone(), Kv(json(), json())))
    }

    fn sized_coder(&self) -> Windowed<Kv<Kv<C, RW<F>>, Double>> {
        windowed(Kv(Kv(self.input.clone(), Kv(json(), json())), Double))
    }

    /// The sized element's coder with the element already encoded (as `C` encodes it,
    /// nested): what is written for each piece of one element, without cloning it.
    fn sized_encoded_coder(&self) -> Windowed<Kv<Kv<Verbatim, RW<F>>, Double>> {
        windowed(Kv(Kv(Verbatim, Kv(json(), json())), Double))
    }

    /// The paired element's coder with the element already encoded.
    fn paired_encoded_coder(&self) -> Windowed<Kv<Verbatim, RW<F>>> {
        windowed(Kv(Verbatim, Kv(json(), json())))
    }

    /// `x` as its input coder writes it, nested.
    fn encode_input(&self, x: &F::Input) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.input.encode(x, Context::Nested, &mut bytes)?;
        Ok(bytes)
    }
}

pub(crate) fn json<T>() -> Json<T> {
    SerdeJson::length_prefixed()
}

pub(crate) fn windowed<C>(value: C) -> Windowed<C> {
    WindowedValueCoder {
        window: GlobalWindowCoder,
        value,
    }
}

/// An sdf timestamp as Beam's: milliseconds, floored, within Beam's range.
pub(crate) fn to_beam(t: Timestamp) -> Instant {
    let millis = t.as_micros().div_euclid(1000);
    Instant(millis.clamp(Instant::MIN.0, Instant::MAX.0))
}

/// A Beam timestamp as sdf's: its ends are sdf's infinities.
pub(crate) fn from_beam(t: Instant) -> Timestamp {
    if t <= Instant::MIN {
        Timestamp::MIN
    } else if t >= Instant::MAX {
        Timestamp::MAX
    } else {
        Timestamp::from_millis(t.0)
    }
}

/// A watermark as the protobuf timestamp of `output_watermarks`.
fn proto_timestamp(t: Timestamp) -> prost_types::Timestamp {
    let millis = to_beam(t).0;
    prost_types::Timestamp {
        seconds: millis.div_euclid(1000),
        nanos: (millis.rem_euclid(1000) * 1_000_000) as i32,
    }
}

fn decode_one<C: Coder>(coder: &C, input: &mut &[u8]) -> Result<C::Value> {
    Ok(coder.decode(input, Context::Nested)?)
}

fn dofn_error(what: &str, e: sdf_core::Error) -> BeamError {
    BeamError::Protocol(format!("{what}: {e}"))
}

impl<F, C> ErasedStep for SdfStep<F, C>
where
    F: SplittableDoFn,
    C: InputCoder<F::Input>,
{
    fn operator(&self, phase: Phase, context: OpContext) -> Result<Box<dyn Operator>> {
        let step = SdfStep {
            dofn: Arc::clone(&self.dofn),
            input: self.input.clone(),
        };
        Ok(Box::new(SdfOp {
            step,
            phase,
            context,
            buffer: Vec::new(),
        }))
    }
}

/// One phase of one SDF in a bundle.
struct SdfOp<F: SplittableDoFn, C> {
    step: SdfStep<F, C>,
    phase: Phase,
    context: OpContext,
    buffer: Vec<u8>,
}

/// How many pieces a restriction is cut into before processing (Beam's runners split further
/// while it runs).
const INITIAL_PIECES: f64 = 8.0;

impl<F, C> SdfOp<F, C>
where
    F: SplittableDoFn,
    C: InputCoder<F::Input>,
{
    async fn emit<V: Coder>(
        &mut self,
        coder: &Windowed<V>,
        value: &WindowedValue<GlobalWindow, V::Value>,
    ) -> Result<()> {
        self.buffer.clear();
        coder.encode(value, Context::Nested, &mut self.buffer)?;
        let buffer = std::mem::take(&mut self.buffer);
        let result = self.context.consumers.emit(&buffer).await;
        self.buffer = buffer;
        result
    }

    fn pieces(&self, x: &F::Input, r: F::Restriction) -> Result<Vec<(F::Restriction, f64)>> {
        let dofn = &*self.step.dofn;
        let size = dofn.restriction_size(x, &r);
        let desired = if size.is_finite() && size > 0.0 {
            size / INITIAL_PIECES
        } else {
            f64::INFINITY
        };
        let pieces = dofn
            .split_restriction(x, r, desired)
            .map_err(|e| dofn_error(&format!("split_restriction of {x:?}"), e))?;
        Ok(pieces
            .into_iter()
            .map(|p| {
                let size = dofn.restriction_size(x, &p);
                (p, size)
            })
            .collect())
    }

    /// Runs the process phase for one element and restriction.
    async fn process(
        &mut self,
        element: &WindowedValue<GlobalWindow, ()>,
        x: &Arc<F::Input>,
        r: F::Restriction,
        w: WatermarkState<F>,
        splittable: bool,
    ) -> Result<Option<Checkpoint<F>>> {
        let dofn = Arc::clone(&self.step.dofn);
        let mut tracker = SharedTracker::new(dofn.new_tracker(x, r));
        let is_bounded = tracker.is_bounded();
        let root = Roots {
            step: SdfStep {
                dofn: Arc::clone(&dofn),
                input: self.step.input.clone(),
            },
            x: Arc::clone(x),
            element: element.clone(),
            transform_id: self.context.transform_id.clone(),
            input_local: self.context.input_local.clone(),
            output_locals: self.context.output_locals.clone(),
            is_bounded,
        };
        let root = Arc::new(root);
        let late: Late<F> = Arc::default();
        if splittable && let Some(split) = &self.context.split {
            split.set_splitter(Arc::new(Splitter {
                handle: tracker.split_handle(),
                roots: Arc::clone(&root),
                watermark: w.clone(),
                late: Arc::clone(&late),
            }));
        }
        let mut estimator = dofn.new_watermark_estimator(w.clone());
        let mut emitter = BeamEmitter::<F::Output> {
            element: element.clone(),
            consumers: &mut self.context.consumers,
            finalizers: Vec::new(),
            _records: std::marker::PhantomData,
        };
        let mut output = Output::new(&mut emitter, from_beam(element.timestamp), 256);
        let continuation = dofn
            .process(&**x, &mut tracker, &mut output, &mut estimator)
            .await
            .map_err(|e| dofn_error(&format!("process of {x:?}"), e))?;
        output.flush().await.map_err(|e| dofn_error("output", e))?;
        let max_timestamp = output.max_timestamp();
        drop(output);
        let finalizers = std::mem::take(&mut emitter.finalizers);
        let (mut tracker, mut orphans) = tracker.finish();
        // Answers that came after their requester stopped waiting: `finish` answered every
        // request, so each is here now.
        for mut reply in late.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            if let Some(Ok(Some(split))) = reply.try_take() {
                orphans.push(split.residual);
            }
        }
        if max_timestamp > Timestamp::MIN {
            estimator.observe_timestamp(max_timestamp);
        }
        let mut residuals = Vec::new();
        let mut checkpoint = None;
        match continuation {
            ProcessContinuation::Stop => tracker
                .check_done()
                .map_err(|e| BeamError::Protocol(format!("process of {x:?} returned Stop: {e}")))?,
            ProcessContinuation::Resume { delay } => {
                let split = tracker
                    .try_split(0.0)
                    .map_err(|e| BeamError::Protocol(format!("checkpoint of {x:?}: {e}")))?;
                if let Some(split) = split {
                    if splittable {
                        residuals.push(root.residual(split.residual, estimator.state(), delay)?);
                    } else {
                        // An unexpanded ParDo's input is the bare element: a residual root
                        // could not say which restriction is left, so the caller resumes it.
                        checkpoint = Some((split.residual, estimator.state(), delay));
                    }
                }
            }
        }
        // Splits made after their requester stopped waiting: the runner must still get them.
        for orphan in orphans {
            residuals.push(root.residual(orphan, w.clone(), Duration::ZERO)?);
        }
        let mut leftovers = self
            .context
            .leftovers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        leftovers.residuals.extend(residuals);
        leftovers.finalizers.extend(finalizers);
        Ok(checkpoint)
    }
}

impl<F, C> SdfOp<F, C>
where
    F: SplittableDoFn,
    C: InputCoder<F::Input>,
{
    /// An element of the DoFn's input, for the pair phase or the unexpanded ParDo.
    async fn on_element(&mut self, e: WindowedValue<GlobalWindow, F::Input>) -> Result<()> {
        let dofn = Arc::clone(&self.step.dofn);
        let r = dofn
            .initial_restriction(&e.value)
            .map_err(|err| dofn_error(&format!("initial_restriction of {:?}", e.value), err))?;
        let w = dofn.initial_watermark_state(&e.value, &r);
        if self.phase == Phase::Pair {
            let x_bytes = self.step.encode_input(&e.value)?;
            let paired = rewrap(&e, (x_bytes, (r, w)));
            return self.emit(&self.step.paired_encoded_coder(), &paired).await;
        }
        let bare = rewrap(&e, ());
        let x = Arc::new(e.value);
        for (piece, _) in self.pieces(&x, r)? {
            let mut next = Some((piece, w.clone(), Duration::ZERO));
            // Resumed here, after its delay, until the restriction is done.
            while let Some((r, w, delay)) = next {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                next = self.process(&bare, &x, r, w, false).await?;
            }
        }
        Ok(())
    }
}

/// A self-checkpoint's residual, its watermark state and the delay asked for.
type Checkpoint<F> = (
    <F as SplittableDoFn>::Restriction,
    WatermarkState<F>,
    Duration,
);

#[async_trait]
impl<F, C> Operator for SdfOp<F, C>
where
    F: SplittableDoFn,
    C: InputCoder<F::Input>,
{
    async fn element(&mut self, input: &mut &[u8]) -> Result<()> {
        let dofn = Arc::clone(&self.step.dofn);
        match self.phase {
            Phase::Pair | Phase::Unexpanded => {
                let e = decode_one(&self.step.element_coder(), input)?;
                self.on_element(e).await
            }
            Phase::SplitAndSize => {
                let e = decode_one(&self.step.paired_coder(), input)?;
                let (x, (r, w)) = &e.value;
                let x_bytes = self.step.encode_input(x)?;
                for (piece, size) in self.pieces(x, r.clone())? {
                    let sized = rewrap(&e, ((x_bytes.clone(), (piece, w.clone())), size));
                    self.emit(&self.step.sized_encoded_coder(), &sized).await?;
                }
                Ok(())
            }
            Phase::Truncate => {
                let e = decode_one(&self.step.sized_coder(), input)?;
                let bare = rewrap(&e, ());
                let ((x, (r, w)), _) = e.value;
                if let Some(kept) = dofn.truncate_restriction(&x, r) {
                    let size = dofn.restriction_size(&x, &kept);
                    let sized = rewrap(&bare, ((x, (kept, w)), size));
                    self.emit(&self.step.sized_coder(), &sized).await?;
                }
                Ok(())
            }
            Phase::Process => {
                let e = decode_one(&self.step.sized_coder(), input)?;
                let bare = rewrap(&e, ());
                let ((x, (r, w)), _) = e.value;
                self.process(&bare, &Arc::new(x), r, w, true)
                    .await
                    .map(|_| ())
            }
        }
    }

    async fn value(&mut self, value: TypedValue) -> Result<()> {
        match self.phase {
            Phase::Pair | Phase::Unexpanded => {
                let x = value.value.downcast::<F::Input>().map_err(|_| {
                    BeamError::Protocol(format!(
                        "transform {} was handed a value that is not its input type {}",
                        self.context.transform_id,
                        std::any::type_name::<F::Input>()
                    ))
                })?;
                let e = WindowedValue {
                    value: *x,
                    timestamp: value.timestamp,
                    windows: value.windows,
                    pane: value.pane,
                };
                self.on_element(e).await
            }
            phase => Err(BeamError::Protocol(format!(
                "transform {} ({phase:?}) reads the runner's paired or sized elements, but was \
                 handed a value in memory",
                self.context.transform_id
            ))),
        }
    }

    async fn finish(&mut self) -> Result<()> {
        self.context.consumers.finish().await
    }
}

pub(crate) fn rewrap<A, B>(
    e: &WindowedValue<GlobalWindow, A>,
    value: B,
) -> WindowedValue<GlobalWindow, B> {
    WindowedValue {
        value,
        timestamp: e.timestamp,
        windows: e.windows.clone(),
        pane: e.pane,
    }
}

/// What a process call needs to describe its element to the runner as a root.
struct Roots<F: SplittableDoFn, C> {
    step: SdfStep<F, C>,
    x: Arc<F::Input>,
    element: WindowedValue<GlobalWindow, ()>,
    transform_id: String,
    input_local: String,
    output_locals: Vec<String>,
    is_bounded: bool,
}

impl<F, C> Roots<F, C>
where
    F: SplittableDoFn,
    C: InputCoder<F::Input>,
{
    fn application(&self, r: F::Restriction, w: WatermarkState<F>) -> Result<BundleApplication> {
        let size = self.step.dofn.restriction_size(&self.x, &r);
        let watermark = F::WatermarkEstimator::from_state(w.clone()).current_watermark();
        // Encoded only when a root is made (a split or a checkpoint), not for every call.
        let x = self.step.encode_input(&self.x)?;
        let sized = rewrap(&self.element, ((x, (r, w)), size));
        let mut element = Vec::new();
        self.step
            .sized_encoded_coder()
            .encode(&sized, Context::Nested, &mut element)?;
        Ok(BundleApplication {
            transform_id: self.transform_id.clone(),
            input_id: self.input_local.clone(),
            element,
            output_watermarks: self
                .output_locals
                .iter()
                .map(|o| (o.clone(), proto_timestamp(watermark)))
                .collect(),
            is_bounded: if self.is_bounded {
                is_bounded::Enum::Bounded as i32
            } else {
                is_bounded::Enum::Unbounded as i32
            },
        })
    }

    fn residual(
        &self,
        r: F::Restriction,
        w: WatermarkState<F>,
        delay: Duration,
    ) -> Result<DelayedBundleApplication> {
        Ok(DelayedBundleApplication {
            application: Some(self.application(r, w)?),
            requested_time_delay: (!delay.is_zero()).then(|| prost_types::Duration {
                seconds: delay.as_secs() as i64,
                nanos: delay.subsec_nanos() as i32,
            }),
        })
    }
}

/// Splits the running call's restriction for the runner.
struct Splitter<F: SplittableDoFn, C> {
    handle: SplitHandle<F::Restriction>,
    roots: Arc<Roots<F, C>>,
    /// The watermark state the call started from: what a residual split off while it runs
    /// resumes from (never ahead of the call's own).
    watermark: WatermarkState<F>,
    /// Replies not awaited in time, for the call to collect when it ends.
    late: Late<F>,
}

/// Split replies whose requester stopped waiting.
type Late<F> =
    Arc<std::sync::Mutex<Vec<sdf_core::SplitReplyFuture<<F as SplittableDoFn>::Restriction>>>>;

impl<F, C> ElementSplitter for Splitter<F, C>
where
    F: SplittableDoFn,
    C: InputCoder<F::Input>,
{
    fn split(&self, fraction: f64, wait: Duration) -> BoxFuture<'_, Result<Option<ElementSplit>>> {
        Box::pin(async move {
            let mut reply = self.handle.try_split(fraction);
            // Not answered in time: "no split". The reply is kept, and if the call makes the
            // split later, the call returns its residual with the bundle: nothing is lost.
            let answer = match tokio::time::timeout(wait, &mut reply).await {
                Ok(answer) => answer,
                Err(_) => {
                    // Under the lock the call drains these with, after its tracker closed:
                    // a call still running will collect the reply; one that ended has
                    // answered it, and the answer is taken here.
                    let mut late = self.late.lock().unwrap_or_else(|e| e.into_inner());
                    if !self.handle.is_closed() {
                        late.push(reply);
                        return Ok(None);
                    }
                    drop(late);
                    match reply.try_take() {
                        Some(answer) => answer,
                        None => return Ok(None),
                    }
                }
            };
            // A tracker that refuses the split (a fraction it cannot honour): "no split",
            // never an error that fails the bundle.
            let split = match answer {
                Ok(Some(split)) => split,
                Ok(None) => return Ok(None),
                Err(e) => {
                    tracing::warn!("a runner split of {fraction} was refused by the tracker: {e}");
                    return Ok(None);
                }
            };
            // From here the work is split: if its roots cannot be encoded the bundle must fail
            // (loudly), since the residual would otherwise be lost.
            Ok(Some(ElementSplit {
                primary: self
                    .roots
                    .application(split.primary, self.watermark.clone())?,
                residual: self.roots.residual(
                    split.residual,
                    self.watermark.clone(),
                    Duration::ZERO,
                )?,
            }))
        })
    }

    fn progress(&self, wait: Duration) -> BoxFuture<'_, Option<ElementProgress>> {
        Box::pin(async move {
            let snapshot = tokio::time::timeout(wait, self.handle.snapshot())
                .await
                .ok()??;
            Some(ElementProgress {
                transform_id: self.roots.transform_id.clone(),
                completed: snapshot.progress.completed,
                remaining: snapshot.progress.remaining,
            })
        })
    }
}

/// Hands each record on as a windowed value in its element's windows: in memory to the next
/// transform of the bundle, or encoded where it must be ([`Consumers::emit_value`]).
struct BeamEmitter<'c, T> {
    element: WindowedValue<GlobalWindow, ()>,
    consumers: &'c mut Consumers,
    finalizers: Vec<Finalizer>,
    _records: std::marker::PhantomData<fn(T)>,
}

#[async_trait]
impl<T: Send + 'static> Emitter<T> for BeamEmitter<'_, T> {
    async fn emit_batch(&mut self, batch: &mut Vec<Timestamped<T>>) -> sdf_core::Result<()> {
        for record in batch.drain(..) {
            let value = WindowedValue {
                value: record.value,
                timestamp: to_beam(record.timestamp),
                windows: self.element.windows.clone(),
                pane: PaneInfo::NO_FIRING,
            };
            self.consumers
                .emit_value(value)
                .await
                .map_err(|e| sdf_core::Error::message(e.to_string()))?;
        }
        Ok(())
    }

    fn register_finalizer(&mut self, finalizer: Finalizer) {
        self.finalizers.push(finalizer);
    }
}
