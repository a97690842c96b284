//! `check_tracker_contract`: every claim prefix × every fraction × nested splits, against the
//! laws of [`RestrictionTracker`](crate::RestrictionTracker).

use std::collections::HashSet;
use std::fmt::Debug;

use super::fixtures::{FixturePosition, FixtureRestriction, TrackerFixture};
use super::violation::Violation;
use super::{FRACTIONS, INVALID_FRACTIONS, TINY_FRACTIONS};
use crate::tracker::{Progress, RestrictionTracker};

/// What `check_tracker_contract` exercised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContractReport {
    /// Distinct restrictions checked (the one given, then residuals, nested).
    pub restrictions: usize,
    /// Cases run: a claim prefix and a fraction on a fresh tracker.
    pub cases: usize,
    /// Splits that succeeded, checkpoints included.
    pub splits: usize,
    /// Checkpoints (fraction 0) that succeeded.
    pub checkpoints: usize,
}

/// How deep `check_tracker_contract` follows residuals by default: the residual of a split is
/// checked like the original, and so are its residuals, up to this depth.
pub const CONTRACT_DEPTH: usize = 2;

/// Settings of [`check_tracker_contract_with`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ContractOptions {
    /// The fractions every case splits at: [`FRACTIONS`](super::FRACTIONS) and
    /// [`TINY_FRACTIONS`](super::TINY_FRACTIONS) (down to the smallest subnormal) by default.
    pub fractions: Vec<f64>,
    /// How deep residuals are followed ([`CONTRACT_DEPTH`] by default).
    pub depth: usize,
    /// The fraction the primary of each split is split at once more, after one more claim
    /// (default `Some(0.5)`; `None`: never).
    pub nested_fraction: Option<f64>,
}

impl Default for ContractOptions {
    fn default() -> Self {
        ContractOptions {
            fractions: FRACTIONS.iter().chain(TINY_FRACTIONS).copied().collect(),
            depth: CONTRACT_DEPTH,
            nested_fraction: Some(0.5),
        }
    }
}

impl ContractOptions {
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

    /// Sets the fraction of the nested split.
    pub fn nested_fraction(mut self, fraction: Option<f64>) -> Self {
        self.nested_fraction = fraction;
        self
    }
}

/// Checks every law of the [`RestrictionTracker`](crate::RestrictionTracker) contract on the
/// fixture's tracker for `restriction`.
///
/// For each number of claims `k` from 0 to all positions, and each fraction of
/// [`FRACTIONS`](super::FRACTIONS), a fresh tracker claims `k` positions and splits; the kit
/// checks both halves against the positions of the restriction, finishes the primary (the next
/// position must be refused, `check_done` must then pass, a further claim must fail), splits the
/// primary once more after one more claim, and follows the residuals to
/// [`CONTRACT_DEPTH`]. Invalid fractions must be refused. Keep restrictions small (tens of
/// positions): the work grows with the square of their size.
///
/// Returns the first (smallest) violation.
///
/// ```
/// use sdf_core::OffsetRange;
/// use sdf_core::testing::{check_tracker_contract, OffsetFixture};
/// let report = check_tracker_contract(&OffsetFixture, &OffsetRange::new(0, 8)).unwrap();
/// assert!(report.splits > 100);
/// ```
pub fn check_tracker_contract<Fx>(
    fixture: &Fx,
    restriction: &FixtureRestriction<Fx>,
) -> Result<ContractReport, Violation>
where
    Fx: TrackerFixture,
    FixtureRestriction<Fx>: PartialEq,
    FixturePosition<Fx>: Clone + PartialEq + Debug,
{
    check_tracker_contract_with(fixture, restriction, &ContractOptions::default())
}

/// [`check_tracker_contract`] with other fractions, depth or nested splits.
pub fn check_tracker_contract_with<Fx>(
    fixture: &Fx,
    restriction: &FixtureRestriction<Fx>,
    options: &ContractOptions,
) -> Result<ContractReport, Violation>
where
    Fx: TrackerFixture,
    FixtureRestriction<Fx>: PartialEq,
    FixturePosition<Fx>: Clone + PartialEq + Debug,
{
    let mut checker = Checker {
        fixture,
        options,
        report: ContractReport::default(),
        seen: HashSet::new(),
    };
    checker.check_restriction(restriction, 0, String::new())?;
    Ok(checker.report)
}

struct Checker<'a, Fx> {
    fixture: &'a Fx,
    options: &'a ContractOptions,
    report: ContractReport,
    seen: HashSet<String>,
}

type R<Fx> = FixtureRestriction<Fx>;
type P<Fx> = FixturePosition<Fx>;

impl<Fx> Checker<'_, Fx>
where
    Fx: TrackerFixture,
    R<Fx>: PartialEq,
    P<Fx>: Clone + PartialEq + Debug,
{
    fn check_restriction(
        &mut self,
        r: &R<Fx>,
        depth: usize,
        path: String,
    ) -> Result<(), Violation> {
        if !self.seen.insert(format!("{r:?}")) {
            return Ok(());
        }
        self.report.restrictions += 1;
        let all = self.fixture.positions(r);
        self.check_fresh(r, &all, &path)?;
        let mut residuals = Vec::new();
        for k in 0..=all.len() {
            if k > 0 {
                self.check_repeated_claim(r, &all, k, &path)?;
            }
            let claims: Vec<usize> = (0..k).collect();
            for &fraction in &self.options.fractions {
                self.report.cases += 1;
                if let Some(residual) = self.check_split(r, &all, &claims, fraction, &path)? {
                    residuals.push(residual);
                }
            }
            for &fraction in INVALID_FRACTIONS {
                self.check_invalid_fraction(r, &all, k, fraction, &path)?;
            }
        }
        // Claims with gaps: a DoFn may skip positions (every other one here). A tracker that
        // computes splits from the number of claims instead of the last position fails this.
        for k in 2..=all.len().div_ceil(2) {
            let claims: Vec<usize> = (0..all.len()).step_by(2).take(k).collect();
            for &fraction in &self.options.fractions {
                self.report.cases += 1;
                self.check_split(r, &all, &claims, fraction, &path)?;
            }
        }
        if depth < self.options.depth {
            for residual in residuals {
                let path = format!("{path}residual {residual:?} of {r:?} → ");
                self.check_restriction(&residual, depth + 1, path)?;
            }
        }
        Ok(())
    }

    /// A fresh tracker, with the positions at `claims` (indices into `all`) claimed; every claim
    /// must succeed.
    fn claimed(
        &self,
        r: &R<Fx>,
        all: &[P<Fx>],
        claims: &[usize],
        case: &str,
    ) -> Result<Fx::Tracker, Violation> {
        let mut t = self.fixture.new_tracker(r);
        let mut previous = t.progress();
        let mut bounded = t.is_bounded();
        for p in claims.iter().map(|&i| &all[i]) {
            match t.try_claim(p.clone()) {
                Ok(true) => {}
                other => {
                    return Err(Violation::new(
                        "law 2: every position of the restriction can be claimed, in order",
                        case,
                        format!("try_claim({p:?}) returned {other:?}"),
                    ));
                }
            }
            let progress = t.progress();
            check_progress(progress, case)?;
            if t.is_bounded()
                && (progress.completed < previous.completed
                    || progress.remaining > previous.remaining)
            {
                return Err(Violation::new(
                    "law 9: progress of a bounded tracker moves forward while claiming",
                    case,
                    format!("after claiming {p:?}: {previous:?} then {progress:?}"),
                ));
            }
            if bounded && !t.is_bounded() {
                return Err(Violation::new(
                    "law 10: boundedness only settles",
                    case,
                    format!("is_bounded() went from true to false after claiming {p:?}"),
                ));
            }
            bounded = t.is_bounded();
            previous = progress;
        }
        Ok(t)
    }

    fn check_fresh(&self, r: &R<Fx>, all: &[P<Fx>], path: &str) -> Result<(), Violation> {
        let case = format!("{path}fresh tracker for {r:?}");
        let t = self.fixture.new_tracker(r);
        if t.current_restriction() != *r {
            return Err(Violation::new(
                "law 1: a fresh tracker's restriction is the one it was given",
                case,
                format!("current_restriction() = {:?}", t.current_restriction()),
            ));
        }
        if !all.is_empty() && t.check_done().is_ok() {
            return Err(Violation::new(
                "law 8: check_done fails while a position is unclaimed",
                case,
                format!("check_done() passed with {} positions unclaimed", all.len()),
            ));
        }
        check_progress(t.progress(), &case)
    }

    /// Claiming the last position again, or an earlier one, must fail.
    fn check_repeated_claim(
        &self,
        r: &R<Fx>,
        all: &[P<Fx>],
        k: usize,
        path: &str,
    ) -> Result<(), Violation> {
        let claims: Vec<usize> = (0..k).collect();
        let backwards = [k - 1].into_iter().chain(k.checked_sub(2));
        for again in backwards {
            let case = format!(
                "{path}restriction {r:?}, after claiming up to {:?}, claiming {:?}",
                all[k - 1],
                all[again]
            );
            let mut t = self.claimed(r, all, &claims, &case)?;
            if let Ok(claimed) = t.try_claim(all[again].clone()) {
                return Err(Violation::new(
                    "law 3: claims strictly increase",
                    case,
                    format!("the claim returned Ok({claimed}) instead of an error"),
                ));
            }
        }
        Ok(())
    }

    fn check_invalid_fraction(
        &self,
        r: &R<Fx>,
        all: &[P<Fx>],
        k: usize,
        fraction: f64,
        path: &str,
    ) -> Result<(), Violation> {
        let case = split_case(path, r, all, k, fraction);
        let claims: Vec<usize> = (0..k).collect();
        let mut t = self.claimed(r, all, &claims, &case)?;
        let result = t.try_split(fraction);
        if result.is_ok() || t.current_restriction() != *r {
            return Err(Violation::new(
                "law 6: fractions are validated, never clamped",
                case,
                format!(
                    "try_split returned {result:?}; restriction now {:?}",
                    t.current_restriction()
                ),
            ));
        }
        Ok(())
    }

    /// One case: the claims (indices into `all`), then `try_split(fraction)`, then the rest of
    /// the primary. Returns the residual of a successful split.
    fn check_split(
        &mut self,
        r: &R<Fx>,
        all: &[P<Fx>],
        claims: &[usize],
        fraction: f64,
        path: &str,
    ) -> Result<Option<R<Fx>>, Violation> {
        // Positions up to the last claimed one are covered: claimed, or skipped for good.
        let k = claims.last().map_or(0, |&i| i + 1);
        let case = if claims.len() == k {
            split_case(path, r, all, k, fraction)
        } else {
            let claimed: Vec<_> = claims.iter().map(|&i| &all[i]).collect();
            format!("{path}restriction {r:?}, after claiming {claimed:?}, try_split({fraction})")
        };
        let mut t = self.claimed(r, all, claims, &case)?;
        let split = match t.try_split(fraction) {
            Err(e) => {
                return Err(Violation::new(
                    "law 6: fractions in [0, 1] are accepted",
                    case,
                    format!("try_split returned Err({e})"),
                ));
            }
            Ok(None) => {
                if t.current_restriction() != *r {
                    return Err(Violation::new(
                        "law 1: a declined split leaves the restriction unchanged",
                        case,
                        format!("current_restriction() = {:?}", t.current_restriction()),
                    ));
                }
                if fraction == 0.0 && k < all.len() {
                    return Err(Violation::new(
                        "law 4: a checkpoint with unclaimed work splits",
                        case,
                        format!(
                            "try_split(0.0) returned None with {:?} unclaimed",
                            &all[k..]
                        ),
                    ));
                }
                self.finish(&mut t, &all[k..], None, r, &case)?;
                return Ok(None);
            }
            Ok(Some(split)) => split,
        };
        self.report.splits += 1;
        if fraction == 0.0 {
            self.report.checkpoints += 1;
        }
        if fraction > 0.0 && self.fixture.checkpoint_only(r) {
            return Err(Violation::new(
                "law 11: a checkpoint-only restriction splits only at fraction 0",
                case,
                format!(
                    "try_split({fraction}) split it into {:?} + {:?}",
                    split.primary, split.residual
                ),
            ));
        }
        let primary = self.fixture.positions(&split.primary);
        let residual = self.fixture.positions(&split.residual);
        let found = format!(
            "primary {:?} holds {primary:?}, residual {:?} holds {residual:?}",
            split.primary, split.residual
        );
        if fraction == 1.0 {
            return Err(Violation::new(
                "law 5: fraction 1 never splits",
                case,
                found,
            ));
        }
        if self
            .fixture
            .new_tracker(&split.residual)
            .check_done()
            .is_ok()
        {
            return Err(Violation::new(
                "law 1: a split's residual is never empty",
                case,
                format!("a fresh tracker for the residual is already done; {found}"),
            ));
        }
        if t.current_restriction() != split.primary {
            return Err(Violation::new(
                "law 1: after a split the tracker's restriction is the primary",
                case,
                format!(
                    "current_restriction() = {:?}; {found}",
                    t.current_restriction()
                ),
            ));
        }
        if !concat_eq(&primary, &residual, all) {
            return Err(Violation::new(
                "law 1: split halves are exact (disjoint, together the original)",
                case,
                format!("{found}; the original holds {all:?}"),
            ));
        }
        if primary.len() < k {
            return Err(Violation::new(
                "law 2: claimed work stays in the primary",
                case,
                found,
            ));
        }
        if fraction == 0.0 && primary.len() != k {
            return Err(Violation::new(
                "law 4: a checkpoint keeps exactly what was claimed",
                case,
                found,
            ));
        }
        if fraction == 0.0 && k == all.len() && self.fixture.is_dense(r) {
            return Err(Violation::new(
                "law 4: after the last position was claimed, a checkpoint returns None",
                case,
                found,
            ));
        }
        check_progress(t.progress(), &case)?;

        // Split the primary once more, after one more claim.
        let mut claimed = k;
        let mut tail = primary;
        let mut beyond = residual.first().cloned();
        if claimed < tail.len() {
            let p = tail[claimed].clone();
            if t.try_claim(p.clone()) != Ok(true) {
                return Err(Violation::new(
                    "law 2: every position of the primary can be claimed",
                    format!("{case}, then claiming {p:?}"),
                    found,
                ));
            }
            claimed += 1;
            let nested = self.options.nested_fraction;
            if let Some(Ok(Some(second))) = nested.map(|f| t.try_split(f)) {
                let p2 = self.fixture.positions(&second.primary);
                let r2 = self.fixture.positions(&second.residual);
                if !concat_eq(&p2, &r2, &tail)
                    || p2.len() < claimed
                    || t.current_restriction() != second.primary
                {
                    return Err(Violation::new(
                        "law 1: a split of a split is exact",
                        format!(
                            "{case}, then claiming {p:?}, then try_split({})",
                            nested.unwrap_or_default()
                        ),
                        format!(
                            "primary {:?} holds {p2:?}, residual {:?} holds {r2:?}; before it held {tail:?}",
                            second.primary, second.residual
                        ),
                    ));
                }
                beyond = r2.first().cloned().or(beyond);
                tail = p2;
            }
        }
        self.finish(&mut t, &tail[claimed..], beyond, &split.primary, &case)?;
        Ok(Some(split.residual))
    }

    /// Claims the `rest` of the current restriction, then checks that the tracker stops:
    /// `beyond` (the first position after it), or its end claim, is refused; `check_done` passes;
    /// a further claim fails; a checkpoint finds nothing.
    fn finish(
        &self,
        t: &mut Fx::Tracker,
        rest: &[P<Fx>],
        beyond: Option<P<Fx>>,
        current: &R<Fx>,
        case: &str,
    ) -> Result<(), Violation> {
        if !rest.is_empty() && t.check_done().is_ok() {
            return Err(Violation::new(
                "law 8: check_done fails while a position is unclaimed",
                case,
                format!("check_done() passed with {rest:?} unclaimed"),
            ));
        }
        for p in rest {
            let claimed = t.try_claim(p.clone());
            if claimed != Ok(true) {
                return Err(Violation::new(
                    "law 2: every position of the primary can be claimed",
                    case,
                    format!("try_claim({p:?}) returned {claimed:?}; the primary is {current:?}"),
                ));
            }
        }
        let Some(stop) = beyond.or_else(|| self.fixture.end_claim(current)) else {
            return Ok(());
        };
        let refused = t.try_claim(stop.clone());
        if refused != Ok(false) {
            return Err(Violation::new(
                "law 1: a position after the primary is refused",
                case,
                format!("try_claim({stop:?}) returned {refused:?}; the primary is {current:?}"),
            ));
        }
        if let Err(e) = t.check_done() {
            return Err(Violation::new(
                "law 8: check_done passes after a claim returned false",
                case,
                format!("check_done() failed: {e}"),
            ));
        }
        let again = t.try_claim(stop.clone());
        if again.is_ok() {
            return Err(Violation::new(
                "law 7: a false claim ends the call",
                case,
                format!("a claim after the refused one returned {again:?}"),
            ));
        }
        match t.try_split(0.0) {
            Ok(None) => Ok(()),
            other => Err(Violation::new(
                "law 4: after a claim returned false, a checkpoint returns None",
                case,
                format!("try_split(0.0) returned {other:?}"),
            )),
        }
    }
}

fn split_case<Rs: Debug, Ps: Debug>(
    path: &str,
    r: &Rs,
    all: &[Ps],
    k: usize,
    fraction: f64,
) -> String {
    let last = if k == 0 {
        String::new()
    } else {
        format!(", the last {:?}", all[k - 1])
    };
    format!("{path}restriction {r:?}, after {k} claims{last}, try_split({fraction})")
}

fn concat_eq<T: PartialEq>(a: &[T], b: &[T], whole: &[T]) -> bool {
    a.len() + b.len() == whole.len() && whole[..a.len()] == *a && whole[a.len()..] == *b
}

fn check_progress(progress: Progress, case: &str) -> Result<(), Violation> {
    let Progress {
        completed,
        remaining,
    } = progress;
    if completed.is_nan()
        || remaining.is_nan()
        || completed < 0.0
        || remaining < 0.0
        || completed.is_infinite()
    {
        return Err(Violation::new(
            "law 9: progress values are finite (remaining may be infinite) and >= 0",
            case,
            format!("{progress:?}"),
        ));
    }
    Ok(())
}
