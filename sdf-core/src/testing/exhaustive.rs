//! `check_sdf_exhaustive`: split a DoFn's work after every claim, at every fraction, and check
//! that nothing is lost or duplicated.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

use super::FRACTIONS;
use super::driver::{CallProblem, Pending, call, drain, initial};
use super::violation::Violation;
use crate::dofn::SplittableDoFn;

/// Settings of [`check_sdf_exhaustive_with`].
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
}

impl Default for ExhaustiveOptions {
    fn default() -> Self {
        ExhaustiveOptions {
            fractions: FRACTIONS.to_vec(),
            depth: 3,
            max_split_points: 256,
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
}

/// What a DoFn check exercised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SdfReport {
    /// Records of the reference run.
    pub records: usize,
    /// Successful claims of the reference run's first call.
    pub claims: u64,
    /// Cases run (a split point and a fraction, or an initial split size).
    pub cases: usize,
    /// `process` calls made.
    pub calls: usize,
    /// Splits that succeeded.
    pub splits: usize,
    /// Checkpoints (fraction 0) that succeeded.
    pub checkpoints: usize,
    /// Finalizers registered in the reference run.
    pub finalizers: usize,
}

/// [`check_sdf_exhaustive_with`] with the default options.
pub fn check_sdf_exhaustive<F>(dofn: &F, input: &F::Input) -> Result<SdfReport, Violation>
where
    F: SplittableDoFn,
    F::Output: Eq + Hash + Debug,
{
    check_sdf_exhaustive_with(dofn, input, &ExhaustiveOptions::default())
}

/// Runs `process` to completion as the reference; then, for each number of claims `k` and each
/// fraction, splits after exactly `k` claims, finishes the primary and the residual (whose own
/// calls split again, down to `options.depth` levels, checkpoints included) and asserts that the
/// multiset of outputs equals the reference. It also cuts the initial restriction with
/// `split_restriction` at several sizes and checks the pieces the same way.
///
/// Checked along the way: `process` returns `Stop` only when `check_done` passes; a call that
/// claimed nothing emitted nothing; the tracker accepts every valid fraction.
///
/// Returns the first (smallest) violation: fewest claims, then fractions in order.
pub fn check_sdf_exhaustive_with<F>(
    dofn: &F,
    input: &F::Input,
    options: &ExhaustiveOptions,
) -> Result<SdfReport, Violation>
where
    F: SplittableDoFn,
    F::Output: Eq + Hash + Debug,
{
    let start = initial(dofn, input).map_err(|e| {
        Violation::new(
            "the DoFn has an initial restriction",
            format!("input {input:?}"),
            e.to_string(),
        )
    })?;
    let root = start.restriction.clone();
    let reference_case =
        format!("input {input:?}, restriction {root:?}, no splits (the reference)");
    let first =
        call(dofn, input, start, None, None).map_err(|p| contract_violation(&reference_case, p))?;
    let mut report = SdfReport {
        claims: first.claims,
        finalizers: first.finalizers,
        calls: 1,
        ..SdfReport::default()
    };
    let mut reference = first.outputs;
    for pending in first.residuals {
        report.calls += drain(dofn, input, pending, &mut reference)
            .map_err(|p| contract_violation(&reference_case, p))?;
    }
    report.records = reference.len();
    let expected = counts(&reference);

    for k in split_points(first.claims, options.max_split_points) {
        for (i, &fraction) in options.fractions.iter().enumerate() {
            report.cases += 1;
            let case = format!(
                "input {input:?}, restriction {root:?}, split after {k} claims at {fraction}"
            );
            let mut outputs = Vec::new();
            let plan = Plan {
                k,
                index: i,
                options,
            };
            let pending = initial(dofn, input)
                .map_err(|e| Violation::new("initial restriction", &case, e.to_string()))?;
            let mut trail = Vec::new();
            run_planned(
                dofn,
                input,
                pending,
                plan,
                0,
                &mut outputs,
                &mut report,
                &mut trail,
            )
            .map_err(|p| contract_violation(&format!("{case}{}", trail.join("")), p))?;
            compare(&expected, &outputs, &format!("{case}{}", trail.join("")))?;
        }
    }

    check_initial_splits(dofn, input, &expected, &mut report)?;
    Ok(report)
}

/// The split a case makes at each level: after `k` claims at `fractions[index]` at the top;
/// deeper levels vary both so that checkpoints and splits of residuals are covered too.
#[derive(Clone, Copy)]
struct Plan<'a> {
    k: u64,
    index: usize,
    options: &'a ExhaustiveOptions,
}

impl Plan<'_> {
    fn at(&self, level: usize) -> (u64, f64) {
        let fractions = &self.options.fractions;
        if level == 0 {
            (self.k, fractions[self.index])
        } else {
            let k = (self.k + level as u64) % 3;
            (k, fractions[(self.index + 2 * level) % fractions.len()])
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_planned<F: SplittableDoFn>(
    dofn: &F,
    input: &F::Input,
    pending: Pending<F>,
    plan: Plan<'_>,
    level: usize,
    outputs: &mut Vec<crate::Timestamped<F::Output>>,
    report: &mut SdfReport,
    trail: &mut Vec<String>,
) -> Result<(), CallProblem> {
    if level > plan.options.depth {
        report.calls += drain(dofn, input, pending, outputs)?;
        return Ok(());
    }
    let (k, fraction) = plan.at(level);
    let restriction = format!("{:?}", pending.restriction);
    let outcome = call(dofn, input, pending, Some((k, fraction)), None)?;
    report.calls += 1;
    match &outcome.scheduled {
        Some(Ok(Some(split))) => {
            report.splits += 1;
            if fraction == 0.0 {
                report.checkpoints += 1;
            }
            trail.push(format!(
                "; level {level}: {restriction} split after {k} claims at {fraction} into {:?} + {:?}",
                split.primary, split.residual
            ));
        }
        Some(Err(e)) => {
            return Err(CallProblem::Failed(crate::Error::message(format!(
                "the tracker refused try_split({fraction}) after {k} claims: {e}"
            ))));
        }
        _ => {}
    }
    outputs.extend(outcome.outputs);
    for residual in outcome.residuals {
        run_planned(
            dofn,
            input,
            residual,
            plan,
            level + 1,
            outputs,
            report,
            trail,
        )?;
    }
    Ok(())
}

/// Cuts the initial restriction with `split_restriction` at several desired sizes; the pieces
/// together must produce exactly the reference output.
fn check_initial_splits<F>(
    dofn: &F,
    input: &F::Input,
    expected: &HashMap<&crate::Timestamped<F::Output>, i64>,
    report: &mut SdfReport,
) -> Result<(), Violation>
where
    F: SplittableDoFn,
    F::Output: Eq + Hash + Debug,
{
    let root = dofn.initial_restriction(input).map_err(|e| {
        Violation::new(
            "the DoFn has an initial restriction",
            format!("input {input:?}"),
            e.to_string(),
        )
    })?;
    let size = dofn.restriction_size(input, &root);
    if size.is_nan() || size < 0.0 {
        return Err(Violation::new(
            "restriction_size is a size: >= 0",
            format!("input {input:?}, restriction {root:?}"),
            format!("restriction_size = {size}"),
        ));
    }
    if !size.is_finite() {
        return Ok(());
    }
    for divisor in [1.0, 2.0, 3.0, 10.0, size.max(1.0)] {
        report.cases += 1;
        let desired = size / divisor;
        let case = format!("input {input:?}, split_restriction({root:?}, desired size {desired})");
        let pieces = dofn
            .split_restriction(input, root.clone(), desired)
            .map_err(|e| Violation::new("split_restriction succeeds", &case, e.to_string()))?;
        let mut outputs = Vec::new();
        for restriction in pieces {
            let watermark = dofn.initial_watermark_state(input, &restriction);
            report.calls += drain(
                dofn,
                input,
                Pending {
                    restriction,
                    watermark,
                },
                &mut outputs,
            )
            .map_err(|p| contract_violation(&case, p))?;
        }
        compare(expected, &outputs, &case)?;
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
    let got = counts(got);
    let mut lost = Vec::new();
    let mut duplicated = Vec::new();
    for (item, &n) in expected {
        let m = got.get(item).copied().unwrap_or(0);
        if m < n {
            lost.push(format!("{item:?} ×{}", n - m));
        }
    }
    for (item, &m) in &got {
        let n = expected.get(item).copied().unwrap_or(0);
        if m > n {
            duplicated.push(format!("{item:?} ×{}", m - n));
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
        "nothing lost, nothing duplicated: the output of split work equals the unsplit output",
        case,
        format!("lost [{}]; extra [{}]", show(&lost), show(&duplicated)),
    ))
}

pub(crate) fn contract_violation(case: &str, problem: CallProblem) -> Violation {
    let law = match problem {
        CallProblem::Failed(_) => "process succeeds on the input",
        CallProblem::StoppedNotDone(_) => "process returns Stop only when check_done passes",
        CallProblem::OutputWithoutClaim(_) => "no output without a successful claim",
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
