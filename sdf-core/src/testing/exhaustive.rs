//! `check_sdf_exhaustive`: split a DoFn's work after every claim, at every fraction, and check
//! that nothing is lost or duplicated.

use std::collections::HashMap;
use std::fmt::{self, Debug};
use std::hash::Hash;
use std::sync::mpsc;

use super::FRACTIONS;
use super::driver::{
    CallProblem, CallSpec, Leniency, Pending, call, drain, fresh_instance, initial, retire,
};
use super::excerpt;
use super::subject::{InputOf, OutputOf, Subject};
use super::violation::Violation;
use crate::dofn::SplittableDoFn;
use crate::output::Timestamped;

/// Settings of [`check_sdf_exhaustive_with`] and [`check_sdf_exhaustive_expecting`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExhaustiveOptions {
    /// The fractions to split at, after each number of claims.
    pub fractions: Vec<f64>,
    /// How many levels of residuals are split again (each with a split derived from the case).
    pub depth: usize,
    /// At most this many claim counts are tried: all of them when the reference run claims
    /// fewer, otherwise the first and last few and an even spread in between.
    pub max_split_points: usize,
    /// How many times the first call of each case is split (the primary of one split is split
    /// again, one or two claims later, at another fraction).
    pub splits_per_call: usize,
    /// Accept records emitted behind the watermark their call resumed with.
    pub allow_late: bool,
    /// Run finalizers as they are registered (the default), as early as a runner may. Turn it
    /// off for a DoFn whose finalizers destroy the test input, which the kit reads many times.
    pub run_finalizers: bool,
    /// A finalizer acknowledges the positions claimed before it was registered, all but the
    /// last `finalizer_lag` of them (default 0: it acknowledges the position just claimed, so
    /// no record of that position may follow it).
    pub finalizer_lag: u64,
    /// Accept records emitted after the claim that was refused: a DoFn that gathers the
    /// records of several claims (an Arrow batch) and emits them when the call ends. Their
    /// positions cannot be checked then; the comparison of outputs still is.
    pub flush_after_refusal: bool,
}

impl Default for ExhaustiveOptions {
    fn default() -> Self {
        ExhaustiveOptions {
            fractions: FRACTIONS.to_vec(),
            depth: 3,
            max_split_points: 256,
            splits_per_call: 2,
            allow_late: false,
            run_finalizers: true,
            finalizer_lag: 0,
            flush_after_refusal: false,
        }
    }
}

impl ExhaustiveOptions {
    /// Sets the fractions.
    pub fn fractions(mut self, fractions: &[f64]) -> Self {
        self.fractions = fractions.to_vec();
        self
    }

    /// Sets the depth.
    pub fn depth(mut self, depth: usize) -> Self {
        self.depth = depth;
        self
    }

    /// Sets the maximum number of claim counts tried.
    pub fn max_split_points(mut self, max: usize) -> Self {
        self.max_split_points = max;
        self
    }

    /// Sets how many times the first call of a case is split (at least 1).
    pub fn splits_per_call(mut self, splits: usize) -> Self {
        self.splits_per_call = splits.max(1);
        self
    }

    /// Accepts late records (behind the watermark their call resumed with).
    pub fn allow_late(mut self, allow: bool) -> Self {
        self.allow_late = allow;
        self
    }

    /// Whether finalizers run.
    pub fn run_finalizers(mut self, run: bool) -> Self {
        self.run_finalizers = run;
        self
    }

    /// Sets how many of the last claimed positions a finalizer does not acknowledge.
    pub fn finalizer_lag(mut self, lag: u64) -> Self {
        self.finalizer_lag = lag;
        self
    }

    /// Accepts records emitted after the refused claim (see the field).
    pub fn flush_after_refusal(mut self, accept: bool) -> Self {
        self.flush_after_refusal = accept;
        self
    }

    pub(crate) fn leniency(&self) -> Leniency {
        Leniency {
            allow_late: self.allow_late,
            skip_finalizers: !self.run_finalizers,
            finalizer_lag: self.finalizer_lag,
            flush_after_refusal: self.flush_after_refusal,
        }
    }
}

/// What a DoFn check exercised. Read `records` and `claims` first: a check of a run that
/// claimed nothing proves nothing (the kit refuses one whose restriction has a size).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SdfReport {
    /// Records of the reference run.
    pub records: usize,
    /// Successful claims of the reference run (all its calls).
    pub claims: u64,
    /// Cases run (a split point and a fraction, or an initial split size).
    pub cases: usize,
    /// `process` calls made.
    pub calls: usize,
    /// Splits that succeeded.
    pub splits: usize,
    /// Checkpoints (fraction 0) that succeeded.
    pub checkpoints: usize,
    /// Calls whose primary was split a second time.
    pub nested_splits: usize,
    /// Fresh instances residuals and pieces were processed on (0 for a single instance: pass
    /// [`fresh`](super::fresh) to cover cold paths).
    pub fresh_instances: usize,
    /// Residuals processed while the call that split them was still running.
    pub interleaved: usize,
    /// Finalizers registered in the reference run.
    pub finalizers: usize,
}

impl fmt::Display for SdfReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} records from {} claims (the reference); {} cases, {} calls, {} splits \
             ({} checkpoints, {} nested), {} fresh instances ({} interleaved), {} finalizers",
            self.records,
            self.claims,
            self.cases,
            self.calls,
            self.splits,
            self.checkpoints,
            self.nested_splits,
            self.fresh_instances,
            self.interleaved,
            self.finalizers
        )
    }
}

/// [`check_sdf_exhaustive_with`] with the default options.
pub fn check_sdf_exhaustive<S>(subject: &S, input: &InputOf<S>) -> Result<SdfReport, Violation>
where
    S: Subject,
    OutputOf<S>: Eq + Hash + Debug,
{
    check_sdf_exhaustive_with(subject, input, &ExhaustiveOptions::default())
}

/// Runs `process` to completion as the reference; then, for each number of claims `k` and each
/// fraction, splits after exactly `k` claims (and the primary again a claim or two later),
/// finishes the primary and the residuals (whose own calls split again, down to
/// `options.depth` levels, checkpoints included) and asserts that the multiset of outputs, with
/// their timestamps, equals the reference. It also cuts the initial restriction with
/// `split_restriction` at several sizes and checks the pieces the same way.
///
/// With a [`fresh`](super::fresh) subject every case runs twice: residuals on the instance that
/// split them, then each on a new instance, the first one while the call that split it is
/// still running (in the middle of its claim).
///
/// Checked in every call: the restriction and watermark state come back from serde unchanged
/// (by their `Debug` text); a restored estimator reports at least the watermark saved; the
/// watermark never decreases in a call; no record is behind the watermark the call resumed
/// with; no record before the first successful claim or after a refused one; finalizers
/// follow the records they acknowledge, and succeed when run; `Stop` only when `check_done`
/// passes; every valid fraction is accepted. A reference run that claims nothing while
/// `restriction_size` is positive is refused as vacuous.
///
/// Returns the first (smallest) violation: fewest claims, then fractions in order.
pub fn check_sdf_exhaustive_with<S>(
    subject: &S,
    input: &InputOf<S>,
    options: &ExhaustiveOptions,
) -> Result<SdfReport, Violation>
where
    S: Subject,
    OutputOf<S>: Eq + Hash + Debug,
{
    run(subject, input, None, options)
}

/// [`check_sdf_exhaustive_with`] against an oracle: the reference run must first produce
/// exactly `expected` (as a multiset of values, timestamps aside), so that a bug the unsplit
/// run shares with the split ones (a last record emitted twice) is caught too.
///
/// ```
/// use sdf_core::testing::*;
/// let expected: Vec<_> = (0..5).map(|i| ("k".to_string(), i)).collect();
/// let report = check_sdf_exhaustive_expecting(
///     &CountFn, &("k".to_string(), 5), expected, &ExhaustiveOptions::default()).unwrap();
/// assert_eq!(report.records, 5);
/// ```
pub fn check_sdf_exhaustive_expecting<S>(
    subject: &S,
    input: &InputOf<S>,
    expected: impl IntoIterator<Item = OutputOf<S>>,
    options: &ExhaustiveOptions,
) -> Result<SdfReport, Violation>
where
    S: Subject,
    OutputOf<S>: Eq + Hash + Debug,
{
    let expected: Vec<_> = expected.into_iter().collect();
    run(subject, input, Some(&expected), options)
}

/// The reference run, checked against `expected` when there is one and against vacuity.
pub(crate) struct Reference<T> {
    pub outputs: Vec<Timestamped<T>>,
    pub claims: u64,
    /// Claims of the first call: where a split can land in it.
    pub first_claims: u64,
    pub calls: usize,
    pub finalizers: usize,
}

/// Runs the reference: the initial restriction and its residuals, each record placed exactly
/// (batch size 1).
pub(crate) fn reference<S>(
    subject: &S,
    input: &InputOf<S>,
    expected: Option<&[OutputOf<S>]>,
    leniency: &Leniency,
) -> Result<Reference<OutputOf<S>>, Violation>
where
    S: Subject,
    OutputOf<S>: Eq + Hash + Debug,
{
    let dofn = subject.instance();
    let start = initial(dofn, input).map_err(|e| {
        Violation::new(
            "the DoFn has an initial restriction",
            format!("input {}", excerpt(input)),
            e.to_string(),
        )
    })?;
    let root = start.restriction.clone();
    let size = dofn.restriction_size(input, &root);
    let case = format!(
        "input {}, restriction {}, no splits (the reference)",
        excerpt(input),
        excerpt(&root)
    );
    let mut run = Reference {
        outputs: Vec::new(),
        claims: 0,
        first_claims: 0,
        calls: 0,
        finalizers: 0,
    };
    let mut queue = vec![start];
    while let Some(pending) = queue.pop() {
        run.calls += 1;
        if run.calls > super::MAX_RESUMES {
            return Err(contract_violation(
                &case,
                CallProblem::Failed(crate::Error::message(
                    "the restriction did not finish; the kit checks DoFns whose work ends",
                )),
            ));
        }
        let outcome = call(dofn, input, pending, CallSpec::exact(), leniency)
            .map_err(|p| contract_violation(&case, p))?;
        if run.calls == 1 {
            run.first_claims = outcome.claims;
        }
        run.claims += outcome.claims;
        run.finalizers += outcome.finalizers;
        run.outputs.extend(outcome.outputs);
        queue.extend(outcome.residuals);
    }
    if run.claims == 0 && size > 0.0 && expected.is_none() {
        return Err(Violation::new(
            "no vacuous pass: the reference run claims something when restriction_size > 0",
            case,
            format!(
                "restriction_size = {size}, but the reference run made 0 successful claims and \
                 emitted {} records: every split run would match it whatever it lost (if the \
                 input really holds nothing, say so with `check_sdf_exhaustive_expecting` and \
                 no records)",
                run.outputs.len()
            ),
        ));
    }
    if let Some(expected) = expected {
        let values: Vec<&OutputOf<S>> = run.outputs.iter().map(|r| &r.value).collect();
        let expected: Vec<&OutputOf<S>> = expected.iter().collect();
        compare_as(
            "the unsplit output is the expected output",
            &counts(&expected),
            &values,
            &case,
        )?;
    }
    Ok(run)
}

fn run<S>(
    subject: &S,
    input: &InputOf<S>,
    expected: Option<&[OutputOf<S>]>,
    options: &ExhaustiveOptions,
) -> Result<SdfReport, Violation>
where
    S: Subject,
    OutputOf<S>: Eq + Hash + Debug,
{
    let leniency = options.leniency();
    let dofn = subject.instance();
    let reference = reference(subject, input, expected, &leniency)?;
    let mut report = SdfReport {
        records: reference.outputs.len(),
        claims: reference.claims,
        finalizers: reference.finalizers,
        calls: reference.calls,
        ..SdfReport::default()
    };
    let expected = counts(&reference.outputs);
    let root = dofn
        .initial_restriction(input)
        .map_err(|e| Violation::new("initial restriction", excerpt(input), e.to_string()))?;
    let first_claims = reference.first_claims;
    let ctx = Ctx {
        subject,
        input,
        options,
        leniency,
    };
    let modes: &[Mode] = if subject.fresh().is_some() {
        &[Mode::Warm, Mode::Cold]
    } else {
        &[Mode::Warm]
    };
    for k in split_points(first_claims, options.max_split_points) {
        for (i, &fraction) in options.fractions.iter().enumerate() {
            for &mode in modes {
                report.cases += 1;
                let case = format!(
                    "input {}, restriction {}, split after {k} claims at {fraction}{}",
                    excerpt(input),
                    excerpt(&root),
                    mode.describe()
                );
                let plan = Plan { k, index: i };
                let pending = initial(dofn, input)
                    .map_err(|e| Violation::new("initial restriction", &case, e.to_string()))?;
                let mut acc = Acc::default();
                let result = ctx.run_planned(dofn, pending, plan, 0, mode, &mut acc);
                let case = format!("{case}{}", acc.trail.join(""));
                acc.add_to(&mut report);
                result.map_err(|p| contract_violation(&case, p))?;
                compare(&expected, &acc.outputs, &case)?;
            }
        }
    }

    check_initial_splits(&ctx, &expected, &mut report)?;
    Ok(report)
}

/// Whether a case's residuals stay on the instance that made them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// On the instance that split them, after the call returned.
    Warm,
    /// Each on a fresh instance; the first split's residual while the call is still running.
    Cold,
}

impl Mode {
    fn describe(self) -> &'static str {
        match self {
            Mode::Warm => "",
            Mode::Cold => ", residuals on fresh instances (the first interleaved)",
        }
    }
}

/// What a case produced and exercised.
struct Acc<T> {
    outputs: Vec<Timestamped<T>>,
    trail: Vec<String>,
    calls: usize,
    splits: usize,
    checkpoints: usize,
    nested: usize,
    fresh: usize,
    interleaved: usize,
}

impl<T> Default for Acc<T> {
    fn default() -> Self {
        Acc {
            outputs: Vec::new(),
            trail: Vec::new(),
            calls: 0,
            splits: 0,
            checkpoints: 0,
            nested: 0,
            fresh: 0,
            interleaved: 0,
        }
    }
}

impl<T> Acc<T> {
    fn absorb(&mut self, other: Acc<T>) {
        self.outputs.extend(other.outputs);
        self.trail.extend(other.trail);
        self.calls += other.calls;
        self.splits += other.splits;
        self.checkpoints += other.checkpoints;
        self.nested += other.nested;
        self.fresh += other.fresh;
        self.interleaved += other.interleaved;
    }

    fn add_to(&self, report: &mut SdfReport) {
        report.calls += self.calls;
        report.splits += self.splits;
        report.checkpoints += self.checkpoints;
        report.nested_splits += self.nested;
        report.fresh_instances += self.fresh;
        report.interleaved += self.interleaved;
    }
}

/// The split a case makes at each level: after `k` claims at `fractions[index]` at the top;
/// deeper levels vary both so that checkpoints and splits of residuals are covered too.
#[derive(Clone, Copy)]
struct Plan {
    k: u64,
    index: usize,
}

struct Ctx<'a, S: Subject> {
    subject: &'a S,
    input: &'a InputOf<S>,
    options: &'a ExhaustiveOptions,
    leniency: Leniency,
}

type Restriction<S> = <<S as Subject>::DoFn as SplittableDoFn>::Restriction;

impl<S> Ctx<'_, S>
where
    S: Subject,
    OutputOf<S>: Eq + Hash + Debug,
{
    /// The splits of a call at `level`: `(claims, fraction)`, in order.
    fn schedule(&self, plan: Plan, level: usize) -> Vec<(u64, f64)> {
        let fractions = &self.options.fractions;
        if level > 0 {
            let k = (plan.k + level as u64) % 3;
            return vec![(k, fractions[(plan.index + 2 * level) % fractions.len()])];
        }
        let mut schedule = vec![(plan.k, fractions[plan.index])];
        for n in 1..self.options.splits_per_call.max(1) {
            let k = plan.k + n as u64 + (plan.index as u64 + n as u64) % 2;
            schedule.push((k, fractions[(plan.index + 5 * n) % fractions.len()]));
        }
        schedule
    }

    fn run_planned(
        &self,
        dofn: &S::DoFn,
        pending: Pending<S::DoFn>,
        plan: Plan,
        level: usize,
        mode: Mode,
        acc: &mut Acc<OutputOf<S>>,
    ) -> Result<(), CallProblem> {
        if level > self.options.depth {
            acc.calls += drain(dofn, self.input, pending, &mut acc.outputs, &self.leniency)?;
            return Ok(());
        }
        let schedule = self.schedule(plan, level);
        let restriction = excerpt(&pending.restriction);
        let interleave = mode == Mode::Cold && level == 0;
        let (outcome, side) = if interleave {
            self.call_interleaved(dofn, pending, schedule.clone(), plan, acc)?
        } else {
            let spec = CallSpec {
                schedule: schedule.clone(),
                ..CallSpec::plain()
            };
            (call(dofn, self.input, pending, spec, &self.leniency)?, None)
        };
        acc.calls += 1;
        for (n, (scheduled, &(k, fraction))) in outcome.scheduled.iter().zip(&schedule).enumerate()
        {
            match scheduled {
                Ok(Some(split)) => {
                    acc.splits += 1;
                    if n > 0 {
                        acc.nested += 1;
                    }
                    if fraction == 0.0 {
                        acc.checkpoints += 1;
                    }
                    acc.trail.push(format!(
                        "; level {level}: {restriction} split after {k} claims at {fraction} into {} + {}",
                        excerpt(&split.primary),
                        excerpt(&split.residual)
                    ));
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(CallProblem::Failed(crate::Error::message(format!(
                        "the tracker refused try_split({fraction}) after {k} claims: {e}"
                    ))));
                }
            }
        }
        if let Some(side) = side {
            acc.absorb(side);
        }
        acc.outputs.extend(outcome.outputs);
        for residual in outcome.residuals {
            self.run_residual(dofn, residual, plan, level + 1, mode, acc)?;
        }
        Ok(())
    }

    /// A residual: on `dofn` (warm), or on a fresh instance (cold).
    fn run_residual(
        &self,
        dofn: &S::DoFn,
        residual: Pending<S::DoFn>,
        plan: Plan,
        level: usize,
        mode: Mode,
        acc: &mut Acc<OutputOf<S>>,
    ) -> Result<(), CallProblem> {
        match mode {
            Mode::Warm => self.run_planned(dofn, residual, plan, level, mode, acc),
            Mode::Cold => {
                let fresh = fresh_instance(self.subject)?
                    .expect("cold mode is only used with a fresh subject");
                acc.fresh += 1;
                let result = self.run_planned(&fresh, residual, plan, level, mode, acc);
                retire(fresh)?;
                result
            }
        }
    }

    /// Makes the call with `schedule`; the residual of each scheduled split is processed on a
    /// fresh instance the moment the split is made, while the call waits in its claim.
    #[allow(clippy::type_complexity)]
    fn call_interleaved(
        &self,
        dofn: &S::DoFn,
        pending: Pending<S::DoFn>,
        schedule: Vec<(u64, f64)>,
        plan: Plan,
        acc: &mut Acc<OutputOf<S>>,
    ) -> Result<
        (
            super::driver::CallOutcome<S::DoFn>,
            Option<Acc<OutputOf<S>>>,
        ),
        CallProblem,
    > {
        std::thread::scope(|scope| {
            let (to_side, side_queue) = mpsc::channel::<Pending<S::DoFn>>();
            let (done, wait) = mpsc::channel::<()>();
            let side = scope.spawn(move || {
                let mut side = Acc::default();
                let mut result = Ok(());
                while let Ok(residual) = side_queue.recv() {
                    if result.is_ok() {
                        side.interleaved += 1;
                        result = self.run_residual(dofn, residual, plan, 1, Mode::Cold, &mut side);
                    }
                    let _ = done.send(());
                }
                (side, result)
            });
            let watermark = pending.watermark.clone();
            let floor = pending.floor;
            let hook = move |split: &crate::SplitResult<Restriction<S>>| {
                let residual = Pending {
                    restriction: split.residual.clone(),
                    watermark: watermark.clone(),
                    floor,
                };
                if to_side.send(residual).is_ok() {
                    let _ = wait.recv();
                }
            };
            let spec = CallSpec {
                schedule,
                on_split: Some(Box::new(hook)),
                ..CallSpec::plain()
            };
            let outcome = call(dofn, self.input, pending, spec, &self.leniency);
            let (side, side_result) = match side.join() {
                Ok(done) => done,
                Err(_) => {
                    return Err(CallProblem::Failed(crate::Error::message(
                        "a residual's call panicked",
                    )));
                }
            };
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(e) => {
                    acc.absorb(side);
                    return Err(e);
                }
            };
            if let Err(e) = side_result {
                acc.absorb(side);
                return Err(e);
            }
            Ok((outcome, Some(side)))
        })
    }
}

/// Cuts the initial restriction with `split_restriction` at several desired sizes; the pieces
/// together must produce exactly the reference output. With a fresh subject, each piece is
/// also processed on its own new instance.
fn check_initial_splits<S>(
    ctx: &Ctx<'_, S>,
    expected: &HashMap<&Timestamped<OutputOf<S>>, i64>,
    report: &mut SdfReport,
) -> Result<(), Violation>
where
    S: Subject,
    OutputOf<S>: Eq + Hash + Debug,
{
    let (dofn, input) = (ctx.subject.instance(), ctx.input);
    let root = dofn.initial_restriction(input).map_err(|e| {
        Violation::new(
            "the DoFn has an initial restriction",
            format!("input {}", excerpt(input)),
            e.to_string(),
        )
    })?;
    let size = dofn.restriction_size(input, &root);
    if size.is_nan() || size < 0.0 {
        return Err(Violation::new(
            "restriction_size is a size: >= 0",
            format!("input {}, restriction {}", excerpt(input), excerpt(&root)),
            format!("restriction_size = {size}"),
        ));
    }
    if !size.is_finite() {
        return Ok(());
    }
    let cold = ctx.subject.fresh().is_some();
    for divisor in [1.0, 2.0, 3.0, 10.0, size.max(1.0)] {
        for on_fresh in [false, true] {
            if on_fresh && !cold {
                continue;
            }
            report.cases += 1;
            let desired = size / divisor;
            let case = format!(
                "input {}, split_restriction({}, desired size {desired}){}",
                excerpt(input),
                excerpt(&root),
                if on_fresh {
                    ", each piece on a fresh instance"
                } else {
                    ""
                }
            );
            let pieces = dofn
                .split_restriction(input, root.clone(), desired)
                .map_err(|e| Violation::new("split_restriction succeeds", &case, e.to_string()))?;
            let mut outputs = Vec::new();
            for restriction in pieces {
                let pending = Pending::initial(dofn, input, restriction);
                let result = if on_fresh {
                    let fresh = fresh_instance(ctx.subject)
                        .map_err(|p| contract_violation(&case, p))?
                        .expect("checked above");
                    report.fresh_instances += 1;
                    let result = drain(&fresh, input, pending, &mut outputs, &ctx.leniency);
                    retire(fresh).map_err(|p| contract_violation(&case, p))?;
                    result
                } else {
                    drain(dofn, input, pending, &mut outputs, &ctx.leniency)
                };
                report.calls += result.map_err(|p| contract_violation(&case, p))?;
            }
            compare(expected, &outputs, &case)?;
        }
    }
    Ok(())
}

/// The claim counts to split at: all of `0..=claims`, or a spread of at most `max` of them.
pub(crate) fn split_points(claims: u64, max: usize) -> Vec<u64> {
    let n = claims + 1;
    let max = (max as u64).max(8);
    if n <= max {
        return (0..n).collect();
    }
    let mut points: Vec<u64> = (0..4).chain(claims - 3..=claims).collect();
    let inner = max - 8;
    points.extend((1..=inner).map(|i| 3 + i * (claims - 6) / (inner + 1)));
    points.sort_unstable();
    points.dedup();
    points
}

pub(crate) fn counts<T: Eq + Hash>(items: &[T]) -> HashMap<&T, i64> {
    let mut map = HashMap::new();
    for item in items {
        *map.entry(item).or_insert(0) += 1;
    }
    map
}

/// Compares a case's output with the reference, as multisets.
pub(crate) fn compare<T: Eq + Hash + Debug>(
    expected: &HashMap<&T, i64>,
    got: &[T],
    case: &str,
) -> Result<(), Violation> {
    compare_as(
        "nothing lost, nothing duplicated: the output of split work equals the unsplit output",
        expected,
        got,
        case,
    )
}

fn compare_as<T: Eq + Hash + Debug>(
    law: &str,
    expected: &HashMap<&T, i64>,
    got: &[T],
    case: &str,
) -> Result<(), Violation> {
    let got = counts(got);
    let mut lost = Vec::new();
    let mut duplicated = Vec::new();
    for (item, &n) in expected {
        let m = got.get(item).copied().unwrap_or(0);
        if m < n {
            lost.push(format!("{} ×{}", excerpt(item), n - m));
        }
    }
    for (item, &m) in &got {
        let n = expected.get(item).copied().unwrap_or(0);
        if m > n {
            duplicated.push(format!("{} ×{}", excerpt(item), m - n));
        }
    }
    if lost.is_empty() && duplicated.is_empty() {
        return Ok(());
    }
    lost.sort();
    duplicated.sort();
    let show = |v: &[String]| {
        let head = v.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        if v.len() > 5 {
            format!("{head}, … ({} in all)", v.len())
        } else {
            head
        }
    };
    Err(Violation::new(
        law,
        case,
        format!("lost [{}]; extra [{}]", show(&lost), show(&duplicated)),
    ))
}

pub(crate) fn contract_violation(case: &str, problem: CallProblem) -> Violation {
    let law = match problem {
        CallProblem::Failed(_) => "process succeeds on the input",
        CallProblem::StoppedNotDone(_) => "process returns Stop only when check_done passes",
        CallProblem::OutputWithoutClaim(_) => "no output without a successful claim",
        CallProblem::OutputAfterRefusal(_) => "no output after a claim returned false",
        CallProblem::SerdeChanged { .. } => {
            "restrictions and watermark states survive serde unchanged"
        }
        CallProblem::RestoredBelowSaved { .. } => {
            "watermark: an estimator restored from saved state reports at least the watermark saved"
        }
        CallProblem::WatermarkRegressed { .. } => "watermark: never decreases",
        CallProblem::Late { .. } => {
            "watermark: no record behind the watermark its call resumed with"
        }
        CallProblem::FinalizerBeforeRecords(_) => "finalizers follow the records they acknowledge",
        CallProblem::FinalizerFailed(_) => "finalizers succeed",
    };
    Violation::new(law, case, problem.to_string())
}

#[cfg(test)]
mod tests {
    use super::split_points;

    #[test]
    fn split_points_cover_all_or_a_spread() {
        assert_eq!(split_points(3, 256), vec![0, 1, 2, 3]);
        let spread = split_points(10_000, 16);
        assert_eq!(spread.len(), 16);
        assert_eq!(&spread[..4], &[0, 1, 2, 3]);
        assert_eq!(&spread[12..], &[9_997, 9_998, 9_999, 10_000]);
        assert!(spread.windows(2).all(|w| w[0] < w[1]));
    }
}
