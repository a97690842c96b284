//! Runs `process` calls synchronously, the way a runner would, for the kit's checks, and checks
//! what a single call can break: the restriction's serde, the watermark, output placement and
//! finalizers.

use std::fmt::Debug;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};

use async_trait::async_trait;
use futures::executor::block_on;

use super::subject::Subject;
use super::{cut, excerpt};
use crate::dofn::{ProcessContinuation, SplittableDoFn, WatermarkState};
use crate::error::{Error, Result};
use crate::output::{Emitter, Finalizer, Output, Timestamped};
use crate::shared::{ClaimProbe, KitHooks, OnSplit, SharedTracker, SplitHandle};
use crate::time::Timestamp;
use crate::tracker::{RestrictionTracker, SplitResult};
use crate::watermark::WatermarkEstimator;

/// How many times in a row `run_to_completion` lets a restriction `Resume` before giving up.
pub const MAX_RESUMES: usize = 10_000;

/// The batch size of most calls: small, so that the kit also exercises the output's flushes.
pub(crate) const BATCH_SIZE: usize = 7;

/// A restriction waiting to be processed, with its watermark-estimator state.
pub(crate) struct Pending<F: SplittableDoFn> {
    pub restriction: F::Restriction,
    pub watermark: WatermarkState<F>,
    /// The watermark the state was saved at: an estimator restored from it must report at
    /// least this.
    pub floor: Timestamp,
}

impl<F: SplittableDoFn> Pending<F> {
    /// A piece that starts from the DoFn's initial watermark state.
    pub fn initial(dofn: &F, input: &F::Input, restriction: F::Restriction) -> Self {
        let watermark = dofn.initial_watermark_state(input, &restriction);
        Pending {
            restriction,
            watermark,
            floor: Timestamp::MIN,
        }
    }
}

/// What a check lets a DoFn do that the kit would otherwise report.
#[derive(Debug, Clone, Default)]
pub(crate) struct Leniency {
    /// Records behind the watermark a call resumed with are accepted.
    pub allow_late: bool,
    /// Finalizers are counted and placed but not run.
    pub skip_finalizers: bool,
    /// A finalizer acknowledges the positions claimed before it was registered, all but the
    /// last `finalizer_lag` of them.
    pub finalizer_lag: u64,
    /// Records may follow the refused claim (a batch gathered over the call's claims, emitted
    /// when it ends).
    pub flush_after_refusal: bool,
}

/// How one call is made.
pub(crate) struct CallSpec<R> {
    /// Splits made after exactly so many claims, at the fraction, in order.
    pub schedule: Vec<(u64, f64)>,
    /// Where the call's split handle goes, before `process` starts (for a concurrent splitter).
    pub handle_to: Option<mpsc::Sender<SplitHandle<R>>>,
    /// Takes the residual of each scheduled split the moment it is made (the call does not
    /// return those residuals then).
    pub on_split: Option<OnSplit<R>>,
    /// The output's batch size: 1 places every record exactly against the claims.
    pub batch_size: usize,
}

impl<R> CallSpec<R> {
    pub fn plain() -> Self {
        CallSpec {
            schedule: Vec::new(),
            handle_to: None,
            on_split: None,
            batch_size: BATCH_SIZE,
        }
    }

    pub fn exact() -> Self {
        CallSpec {
            batch_size: 1,
            ..Self::plain()
        }
    }
}

/// What one `process` call did.
pub(crate) struct CallOutcome<F: SplittableDoFn> {
    pub outputs: Vec<Timestamped<F::Output>>,
    pub claims: u64,
    /// Work handed back: a checkpoint after `Resume`, the scheduled splits' residuals (unless
    /// `on_split` took them), orphans.
    pub residuals: Vec<Pending<F>>,
    /// The outcomes of the scheduled splits that were reached, in order.
    pub scheduled: Vec<Result<Option<SplitResult<F::Restriction>>, crate::TrackerError>>,
    /// Finalizers registered (and run, unless the check skips them).
    pub finalizers: usize,
    /// The estimator at the end of the call: its watermark and state, which a checkpoint's
    /// residual carries.
    pub end: (Timestamp, WatermarkState<F>),
}

/// Why a call broke the DoFn contract.
pub(crate) enum CallProblem {
    Failed(Error),
    StoppedNotDone(String),
    OutputWithoutClaim(usize),
    OutputAfterRefusal(String),
    SerdeChanged {
        what: &'static str,
        before: String,
        after: String,
    },
    RestoredBelowSaved {
        saved: Timestamp,
        restored: Timestamp,
    },
    WatermarkRegressed {
        when: &'static str,
        from: Timestamp,
        to: Timestamp,
    },
    Late {
        watermark: Timestamp,
        records: String,
    },
    FinalizerBeforeRecords(String),
    FinalizerFailed(Error),
}

impl std::fmt::Display for CallProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallProblem::Failed(e) => write!(f, "process failed: {e}"),
            CallProblem::StoppedNotDone(e) => write!(f, "process returned Stop, but {e}"),
            CallProblem::OutputWithoutClaim(n) => {
                write!(
                    f,
                    "process emitted {n} records before its first successful claim"
                )
            }
            CallProblem::OutputAfterRefusal(r) => write!(
                f,
                "process emitted {r} after a claim returned false (that work belongs to a \
                 residual, which emits it again; a DoFn that gathers the records of its claims \
                 and emits them when the call ends sets `flush_after_refusal(true)`)"
            ),
            CallProblem::SerdeChanged {
                what,
                before,
                after,
            } => write!(
                f,
                "the {what} changes through serde: {before} comes back as {after} \
                 (a field skipped or defaulted in serialization)"
            ),
            CallProblem::RestoredBelowSaved { saved, restored } => write!(
                f,
                "the watermark was {saved:?} when its state was saved; the estimator restored \
                 from that state reports {restored:?}"
            ),
            CallProblem::WatermarkRegressed { when, from, to } => {
                write!(f, "the watermark went from {from:?} to {to:?} {when}")
            }
            CallProblem::Late { watermark, records } => write!(
                f,
                "the call resumed with watermark {watermark:?} and emitted {records} behind it \
                 (late data; pass `allow_late(true)` if the DoFn means to)"
            ),
            CallProblem::FinalizerBeforeRecords(d) => write!(
                f,
                "a finalizer was registered before the records it acknowledges: {d}; a runner \
                 may run it as soon as the output before it is committed, and a crash then \
                 loses those records at the source (register it with `Output::after_commit` \
                 after emitting them, or set `finalizer_lag`)"
            ),
            CallProblem::FinalizerFailed(e) => write!(f, "a finalizer failed: {e}"),
        }
    }
}

/// The kit's emitter: collects the records, places each against the claims made so far (exact
/// at batch size 1, where each record is handed over as it is emitted), and runs finalizers
/// the moment they are registered, which is as early as a runner may.
struct KitEmitter<T> {
    records: Vec<Timestamped<T>>,
    probe: Arc<ClaimProbe>,
    batch_size: usize,
    leniency: Leniency,
    /// Claims made when each finalizer was registered.
    finalizers: Vec<u64>,
    problem: Option<CallProblem>,
}

impl<T> KitEmitter<T> {
    fn report(&mut self, problem: CallProblem) {
        self.problem.get_or_insert(problem);
    }
}

#[async_trait]
impl<T: Send + Debug> Emitter<T> for KitEmitter<T> {
    async fn emit_batch(&mut self, batch: &mut Vec<Timestamped<T>>) -> Result<()> {
        let returned = self.probe.returned.load(Ordering::Relaxed);
        let claims = self.probe.claims.load(Ordering::Relaxed);
        // A batch of the full size was handed over by the emit of its last record, now; a
        // shorter one by `after_commit` or the runner's last flush.
        let last_emitted_now = !returned && batch.len() >= self.batch_size;
        if !returned && claims == 0 {
            self.report(CallProblem::OutputWithoutClaim(batch.len()));
        }
        let last = batch.last().map(|r| excerpt(&r.value)).unwrap_or_default();
        if last_emitted_now
            && !self.leniency.flush_after_refusal
            && self.probe.refused.load(Ordering::Relaxed)
        {
            let record = last.clone();
            self.report(CallProblem::OutputAfterRefusal(format!(
                "the record {record}"
            )));
        }
        if last_emitted_now
            && self.leniency.finalizer_lag == 0
            && let Some(&at) = self.finalizers.last()
            && at == claims
            && claims > 0
        {
            self.report(CallProblem::FinalizerBeforeRecords(format!(
                "it was registered after claim {claims}, and the record {last} of that claim \
                 was emitted after it"
            )));
        }
        self.records.append(batch);
        Ok(())
    }

    fn register_finalizer(&mut self, finalizer: Finalizer) {
        self.finalizers
            .push(self.probe.claims.load(Ordering::Relaxed));
        if self.leniency.skip_finalizers {
            return;
        }
        // Everything emitted before it is committed (collected): run it now, on its own thread
        // so that it does not nest in the executor running `process`.
        let result = std::thread::scope(|scope| {
            scope
                .spawn(move || block_on(finalizer()))
                .join()
                .unwrap_or_else(|_| Err(Error::message("the finalizer panicked")))
        });
        if let Err(e) = result {
            self.report(CallProblem::FinalizerFailed(e));
        }
    }
}

/// Runs one `process` call on `pending`, as `spec` says.
pub(crate) fn call<F: SplittableDoFn>(
    dofn: &F,
    input: &F::Input,
    pending: Pending<F>,
    spec: CallSpec<F::Restriction>,
    leniency: &Leniency,
) -> Result<CallOutcome<F>, CallProblem>
where
    F::Output: Debug,
{
    // Every restriction and watermark state goes through serde first, as a runner persisting a
    // checkpoint would: one that does not survive it fails here or changes the output.
    let floor = pending.floor;
    let pending = Pending::<F> {
        restriction: round_trip(&pending.restriction, "restriction")?,
        watermark: round_trip(&pending.watermark, "watermark-estimator state")?,
        floor,
    };
    let mut tracker = SharedTracker::new(dofn.new_tracker(input, pending.restriction.clone()));
    for &(claims, fraction) in &spec.schedule {
        tracker.schedule_split(claims, fraction);
    }
    let spec_schedule = spec.schedule;
    let interleaved = spec.on_split.is_some();
    let probe = Arc::new(ClaimProbe::default());
    tracker.set_kit_hooks(KitHooks {
        probe: Arc::clone(&probe),
        on_split: spec.on_split,
    });
    if let Some(to) = spec.handle_to {
        let _ = to.send(tracker.split_handle());
    }
    let mut estimator = dofn.new_watermark_estimator(pending.watermark.clone());
    let start = estimator.current_watermark();
    if start < floor {
        return Err(CallProblem::RestoredBelowSaved {
            saved: floor,
            restored: start,
        });
    }
    let mut emitter = KitEmitter {
        records: Vec::new(),
        probe: Arc::clone(&probe),
        batch_size: spec.batch_size.max(1),
        leniency: leniency.clone(),
        finalizers: Vec::new(),
        problem: None,
    };
    let continuation = {
        let mut output = Output::new(&mut emitter, Timestamp::MIN, spec.batch_size);
        let result = block_on(async {
            let result = dofn
                .process(input, &mut tracker, &mut output, &mut estimator)
                .await;
            probe.returned.store(true, Ordering::Relaxed);
            let continuation = result?;
            output.flush().await?;
            Ok::<_, Error>(continuation)
        });
        let end = estimator.current_watermark();
        if end < start {
            return Err(CallProblem::WatermarkRegressed {
                when: "during the call",
                from: start,
                to: end,
            });
        }
        estimator.observe_timestamp(output.max_timestamp());
        let observed = estimator.current_watermark();
        if observed < end {
            return Err(CallProblem::WatermarkRegressed {
                when: "when the runner reported the call's largest output timestamp",
                from: end,
                to: observed,
            });
        }
        result.map_err(CallProblem::Failed)?
    };
    if let Some(problem) = emitter.problem.take() {
        return Err(problem);
    }
    tracker.serve_requests();
    let claims = tracker.claims();
    let scheduled = tracker.take_scheduled_splits();
    let (mut tracker, orphans) = tracker.finish();
    let split_residual = |restriction| Pending {
        restriction,
        watermark: pending.watermark.clone(),
        floor,
    };
    // A checkpoint's residual carries the estimator's state at the end of the call, as the
    // runtime gives it (it resumes after everything the call emitted); a split's residual, the
    // state the call started from.
    let end = Pending::<F> {
        restriction: pending.restriction.clone(),
        floor: estimator.current_watermark(),
        watermark: estimator.state(),
    };
    let checkpoint_residual = |restriction| Pending {
        restriction,
        watermark: end.watermark.clone(),
        floor: end.floor,
    };
    let mut residuals: Vec<Pending<F>> = orphans.into_iter().map(split_residual).collect();
    if !interleaved {
        for (split, &(_, fraction)) in scheduled.iter().zip(&spec_schedule) {
            if let Ok(Some(split)) = split {
                residuals.push(if fraction == 0.0 {
                    checkpoint_residual(split.residual.clone())
                } else {
                    split_residual(split.residual.clone())
                });
            }
        }
    }
    if let ProcessContinuation::Resume { .. } = continuation {
        match tracker.try_split(0.0) {
            Ok(Some(split)) => residuals.push(checkpoint_residual(split.residual)),
            Ok(None) => {}
            Err(e) => return Err(CallProblem::Failed(e.into())),
        }
    }
    if let Err(e) = tracker.check_done() {
        return Err(CallProblem::StoppedNotDone(e.to_string()));
    }
    let outputs = emitter.records;
    if claims == 0 && !outputs.is_empty() {
        return Err(CallProblem::OutputWithoutClaim(outputs.len()));
    }
    if !leniency.allow_late {
        let late: Vec<_> = outputs.iter().filter(|r| r.timestamp < start).collect();
        if let Some(first) = late.first() {
            return Err(CallProblem::Late {
                watermark: start,
                records: format!(
                    "{} records, the first {} at {:?}",
                    late.len(),
                    excerpt(&first.value),
                    first.timestamp
                ),
            });
        }
    }
    Ok(CallOutcome {
        outputs,
        claims,
        residuals,
        scheduled,
        finalizers: emitter.finalizers.len(),
        end: (end.floor, end.watermark),
    })
}

/// Serializes `value` to JSON and back, and requires it to come back the same (compared by
/// its `Debug` text, as the trait asks for no `PartialEq`).
pub(crate) fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + Debug>(
    value: &T,
    what: &'static str,
) -> Result<T, CallProblem> {
    let fail = |e: serde_json::Error| {
        CallProblem::Failed(Error::message(format!(
            "the {what} {} does not survive serialization: {e}",
            excerpt(value)
        )))
    };
    let back: T =
        serde_json::from_str(&serde_json::to_string(value).map_err(fail)?).map_err(fail)?;
    let (before, after) = (format!("{value:?}"), format!("{back:?}"));
    if before != after {
        return Err(CallProblem::SerdeChanged {
            what,
            before: cut(before),
            after: cut(after),
        });
    }
    Ok(back)
}

/// Processes `pending` and every residual it leaves until nothing is left, on `dofn`,
/// appending the output to `outputs`. Returns the number of calls made.
pub(crate) fn drain<F: SplittableDoFn>(
    dofn: &F,
    input: &F::Input,
    pending: Pending<F>,
    outputs: &mut Vec<Timestamped<F::Output>>,
    leniency: &Leniency,
) -> Result<usize, CallProblem>
where
    F::Output: Debug,
{
    let mut queue = vec![pending];
    let mut calls = 0;
    while let Some(next) = queue.pop() {
        calls += 1;
        if calls > MAX_RESUMES {
            return Err(CallProblem::Failed(Error::message(format!(
                "the restriction did not finish after {MAX_RESUMES} calls; \
                 the kit checks DoFns whose work for the input ends"
            ))));
        }
        let outcome = call(dofn, input, next, CallSpec::plain(), leniency)?;
        outputs.extend(outcome.outputs);
        queue.extend(outcome.residuals);
    }
    Ok(calls)
}

/// A fresh instance of the subject, set up (`setup` called), or `None` for a single instance.
pub(crate) fn fresh_instance<S: Subject>(subject: &S) -> Result<Option<S::DoFn>, CallProblem> {
    let Some(dofn) = subject.fresh() else {
        return Ok(None);
    };
    block_on(dofn.setup()).map_err(|e| {
        CallProblem::Failed(Error::message(format!(
            "setup of a fresh instance failed: {e}"
        )))
    })?;
    Ok(Some(dofn))
}

/// Calls `teardown` on a fresh instance the kit is done with.
pub(crate) fn retire<F: SplittableDoFn>(dofn: F) -> Result<(), CallProblem> {
    block_on(dofn.teardown()).map_err(|e| {
        CallProblem::Failed(Error::message(format!(
            "teardown of a fresh instance failed: {e}"
        )))
    })
}

/// The initial restriction of `input` with its initial watermark state.
pub(crate) fn initial<F: SplittableDoFn>(dofn: &F, input: &F::Input) -> Result<Pending<F>> {
    let restriction = dofn.initial_restriction(input)?;
    Ok(Pending::initial(dofn, input, restriction))
}

/// Runs `dofn` on `input` to the end, as a runner without splitting would: the initial
/// restriction, then the residual of every `Resume`, until the work is done. Returns the records
/// in the order they were emitted.
///
/// Errors from the DoFn are returned; so is a broken contract (a `Stop` with work left, output
/// before the first claim, a watermark that goes back, a restriction that changes through
/// serde), as an [`Error`]. Finalizers run as they are registered. As a runner, it accepts
/// late records and records emitted after the refused claim; the checks do not.
///
/// ```
/// use sdf_core::testing::{run_to_completion, CountFn};
/// let out = run_to_completion(&CountFn, &("k".to_string(), 3)).unwrap();
/// assert_eq!(out, [("k".to_string(), 0), ("k".to_string(), 1), ("k".to_string(), 2)]);
/// ```
pub fn run_to_completion<F: SplittableDoFn>(dofn: &F, input: &F::Input) -> Result<Vec<F::Output>>
where
    F::Output: Debug,
{
    let mut outputs = Vec::new();
    drain(
        dofn,
        input,
        initial(dofn, input)?,
        &mut outputs,
        &Leniency {
            allow_late: true,
            flush_after_refusal: true,
            ..Leniency::default()
        },
    )
    .map_err(|p| match p {
        CallProblem::Failed(e) => e,
        other => Error::message(other),
    })?;
    Ok(outputs.into_iter().map(|r| r.value).collect())
}
