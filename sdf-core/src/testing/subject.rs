//! [`Subject`]: the DoFn a check runs, as one instance or as a factory of fresh ones.

use crate::dofn::SplittableDoFn;

/// The DoFn under test: where the kit gets the instances it calls.
///
/// Every [`SplittableDoFn`] is a subject by itself: every call of a check then runs on that one
/// instance, so a residual always resumes *warm*, on the instance that made it (a reader that
/// parks its open file for the call that resumes it never takes its cold-open path). Pass
/// [`fresh`]`(|| make())` instead, and the kit also processes residuals and initial pieces on
/// new instances, some of them while the call that split them is still running: every cold
/// path runs, as it does on a runner with many workers or after a restart.
pub trait Subject: Sync {
    /// The DoFn.
    type DoFn: SplittableDoFn;

    /// The instance the reference run and warm calls use.
    fn instance(&self) -> &Self::DoFn;

    /// A new instance that shares nothing with the others, or `None` when the subject is a
    /// single instance.
    fn fresh(&self) -> Option<Self::DoFn>;
}

impl<F: SplittableDoFn> Subject for F {
    type DoFn = F;

    fn instance(&self) -> &F {
        self
    }

    fn fresh(&self) -> Option<F> {
        None
    }
}

/// A subject made by a factory: see [`fresh`].
pub struct Fresh<F, G> {
    first: F,
    make: G,
}

impl<F: std::fmt::Debug, G> std::fmt::Debug for Fresh<F, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Fresh").field(&self.first).finish()
    }
}

/// A subject whose instances come from `make`: each call of `make` must return an instance
/// that shares no state with the others (a new cache, a new pool of parked readers), as a new
/// worker process would have.
///
/// ```
/// use sdf_core::testing::{check_sdf_exhaustive, fresh, CountFn};
/// let report = check_sdf_exhaustive(&fresh(|| CountFn), &("k".to_string(), 6)).unwrap();
/// assert!(report.fresh_instances > 0);
/// ```
pub fn fresh<F, G>(make: G) -> Fresh<F, G>
where
    F: SplittableDoFn,
    G: Fn() -> F + Sync,
{
    Fresh {
        first: make(),
        make,
    }
}

impl<F, G> Subject for Fresh<F, G>
where
    F: SplittableDoFn,
    G: Fn() -> F + Sync,
{
    type DoFn = F;

    fn instance(&self) -> &F {
        &self.first
    }

    fn fresh(&self) -> Option<F> {
        Some((self.make)())
    }
}

/// The DoFn of a subject.
pub type DoFnOf<S> = <S as Subject>::DoFn;
/// The input of a subject's DoFn.
pub type InputOf<S> = <<S as Subject>::DoFn as SplittableDoFn>::Input;
/// The output of a subject's DoFn.
pub type OutputOf<S> = <<S as Subject>::DoFn as SplittableDoFn>::Output;
