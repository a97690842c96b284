//! Runs `process` calls synchronously, the way a runner would, for the kit's checks.

use std::fmt::Debug;
use std::sync::mpsc;

use futures::executor::block_on;

use crate::dofn::{ProcessContinuation, SplittableDoFn, WatermarkState};
use crate::error::{Error, Result};
use crate::output::{CollectEmitter, Output, Timestamped};
use crate::shared::{SharedTracker, SplitHandle};
use crate::time::Timestamp;
use crate::tracker::{RestrictionTracker, SplitResult};
use crate::watermark::WatermarkEstimator;

/// How many times in a row `run_to_completion` lets a restriction `Resume` before giving up.
pub const MAX_RESUMES: usize = 10_000;

/// A small batch size, so that the kit also exercises the output's flushes.
const BATCH_SIZE: usize = 7;

/// A restriction waiting to be processed, with its watermark-estimator state.
pub(crate) struct Pending<F: SplittableDoFn> {
    pub restriction: F::Restriction,
    pub watermark: WatermarkState<F>,
}

/// What one `process` call did.
pub(crate) struct CallOutcome<F: SplittableDoFn> {
    pub outputs: Vec<Timestamped<F::Output>>,
    pub claims: u64,
    /// Work handed back: a checkpoint after `Resume`, a scheduled split's residual, orphans.
    pub residuals: Vec<Pending<F>>,
    /// The outcome of the split scheduled with `schedule`, if it was reached.
    pub scheduled: Option<Result<Option<SplitResult<F::Restriction>>, crate::TrackerError>>,
    pub finalizers: usize,
}

/// Why a call broke the DoFn contract.
pub(crate) enum CallProblem {
    Failed(Error),
    StoppedNotDone(String),
    OutputWithoutClaim(usize),
}

impl std::fmt::Display for CallProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallProblem::Failed(e) => write!(f, "process failed: {e}"),
            CallProblem::StoppedNotDone(e) => write!(f, "process returned Stop, but {e}"),
            CallProblem::OutputWithoutClaim(n) => {
                write!(f, "process emitted {n} records without a successful claim")
            }
        }
    }
}

/// Runs one `process` call on `pending`. With `schedule = Some((k, f))` the tracker splits at
/// fraction `f` after exactly `k` claims. With `handle_to`, the call's [`SplitHandle`] is sent
/// there before `process` starts (for a concurrent splitter).
pub(crate) fn call<F: SplittableDoFn>(
    dofn: &F,
    input: &F::Input,
    pending: Pending<F>,
    schedule: Option<(u64, f64)>,
    handle_to: Option<mpsc::Sender<SplitHandle<F::Restriction>>>,
) -> Result<CallOutcome<F>, CallProblem> {
    // Every restriction and watermark state goes through serde first, as a runner persisting a
    // checkpoint would: one that does not survive it fails here or changes the output.
    let pending = Pending::<F> {
        restriction: round_trip(&pending.restriction, "restriction")?,
        watermark: round_trip(&pending.watermark, "watermark-estimator state")?,
    };
    let mut tracker = SharedTracker::new(dofn.new_tracker(input, pending.restriction));
    if let Some((claims, fraction)) = schedule {
        tracker.schedule_split(claims, fraction);
    }
    if let Some(to) = handle_to {
        let _ = to.send(tracker.split_handle());
    }
    let mut estimator = dofn.new_watermark_estimator(pending.watermark.clone());
    let mut emitter = CollectEmitter::default();
    let continuation = {
        let mut output = Output::new(&mut emitter, Timestamp::MIN, BATCH_SIZE);
        let result = block_on(async {
            let continuation = dofn
                .process(input, &mut tracker, &mut output, &mut estimator)
                .await?;
            output.flush().await?;
            Ok::<_, Error>(continuation)
        });
        estimator.observe_timestamp(output.max_timestamp());
        result.map_err(CallProblem::Failed)?
    };
    tracker.serve_requests();
    let claims = tracker.claims();
    let scheduled = tracker.take_scheduled_split();
    let (mut tracker, orphans) = tracker.finish();
    let mut residuals: Vec<Pending<F>> = orphans
        .into_iter()
        .map(|restriction| Pending {
            restriction,
            watermark: pending.watermark.clone(),
        })
        .collect();
    if let Some(Ok(Some(split))) = &scheduled {
        residuals.push(Pending {
            restriction: split.residual.clone(),
            watermark: pending.watermark.clone(),
        });
    }
    if let ProcessContinuation::Resume { .. } = continuation {
        match tracker.try_split(0.0) {
            Ok(Some(split)) => residuals.push(Pending {
                restriction: split.residual,
                watermark: estimator.state(),
            }),
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
    Ok(CallOutcome {
        outputs,
        claims,
        residuals,
        scheduled,
        finalizers: emitter.finalizers.len(),
    })
}

/// Serializes `value` to JSON and back.
fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + Debug>(
    value: &T,
    what: &str,
) -> Result<T, CallProblem> {
    let fail = |e: serde_json::Error| {
        CallProblem::Failed(Error::message(format!(
            "the {what} {value:?} does not survive serialization: {e}"
        )))
    };
    serde_json::from_str(&serde_json::to_string(value).map_err(fail)?).map_err(fail)
}

/// Processes `pending` and every residual it leaves until nothing is left, appending the output
/// to `outputs`. Returns the number of calls made.
pub(crate) fn drain<F: SplittableDoFn>(
    dofn: &F,
    input: &F::Input,
    pending: Pending<F>,
    outputs: &mut Vec<Timestamped<F::Output>>,
) -> Result<usize, CallProblem> {
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
        let outcome = call(dofn, input, next, None, None)?;
        outputs.extend(outcome.outputs);
        queue.extend(outcome.residuals);
    }
    Ok(calls)
}

/// The initial restriction of `input` with its initial watermark state.
pub(crate) fn initial<F: SplittableDoFn>(dofn: &F, input: &F::Input) -> Result<Pending<F>> {
    let restriction = dofn.initial_restriction(input)?;
    let watermark = dofn.initial_watermark_state(input, &restriction);
    Ok(Pending {
        restriction,
        watermark,
    })
}

/// Runs `dofn` on `input` to the end, as a runner without splitting would: the initial
/// restriction, then the residual of every `Resume`, until the work is done. Returns the records
/// in the order they were emitted.
///
/// Errors from the DoFn are returned; so is a broken contract (a `Stop` with work left, output
/// without a claim), as an [`Error`].
///
/// ```
/// use sdf_core::testing::{run_to_completion, CountFn};
/// let out = run_to_completion(&CountFn, &("k".to_string(), 3)).unwrap();
/// assert_eq!(out, [("k".to_string(), 0), ("k".to_string(), 1), ("k".to_string(), 2)]);
/// ```
pub fn run_to_completion<F: SplittableDoFn>(dofn: &F, input: &F::Input) -> Result<Vec<F::Output>>
where
    F::Restriction: Debug,
{
    let mut outputs = Vec::new();
    drain(dofn, input, initial(dofn, input)?, &mut outputs).map_err(|p| match p {
        CallProblem::Failed(e) => e,
        other => Error::message(other),
    })?;
    Ok(outputs.into_iter().map(|r| r.value).collect())
}
