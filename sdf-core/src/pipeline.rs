//! [`PipelineBuilder`]: what a composite transform needs from a runner's pipeline while it is
//! built.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::dofn::SplittableDoFn;

/// A runner's pipeline under construction, as a composite transform sees it: a bounded source
/// from a list, and a splittable DoFn applied to a collection. A connector writes its
/// conveniences against this trait (`sdf-connectors`' `MatchFiles::apply` adds a source of its
/// patterns and its DoFn), so it needs no runner; the embedded runtime's `Pipeline`
/// implements it.
///
/// # Contract
///
/// - Building runs nothing: each method adds a step and returns its output collection.
/// - [`from_iter`](Self::from_iter)`(name, items)` adds a bounded source named `name`: every
///   item once, in order, with timestamp [`Timestamp::MIN`](crate::Timestamp::MIN), then the
///   watermark +∞. A runner that resumes from durable progress may skip the items read before
///   it, so `items` must be the same each time the pipeline is built.
/// - [`apply`](Self::apply)`(name, input, dofn)` adds a step named `name` that runs `dofn` on
///   every element of `input`, with its restrictions split, checkpointed and resumed as the
///   runner decides, and returns what `dofn` emits. `input` is consumed: a collection feeds
///   one step.
/// - Names identify steps (in checkpoints, metrics, errors) and must be distinct within a
///   pipeline: a composite transform names the steps it adds after the name it was given
///   (`{name}/patterns`, `name`), so two uses under different names never clash. (The embedded
///   runtime refuses to run a pipeline with two steps of one name.)
/// - The bounds are the embedded runtime's: any `Send + 'static` item for a source, and a
///   serializable input for a DoFn (a checkpoint holds the work still to do for an element). An
///   implementation cannot ask for more, so a runner that needs more (a coder for every
///   output, say) does not implement this trait as it stands.
///
/// ```
/// use sdf_core::{PipelineBuilder, map};
///
/// /// A composite transform: the lengths of some words, as a source and a step named after it.
/// fn lengths<P: PipelineBuilder>(
///     p: &mut P,
///     name: &str,
///     words: Vec<String>,
/// ) -> P::Collection<usize> {
///     let words = p.from_iter(&format!("{name}/words"), words);
///     p.apply(name, words, map(|w: &String| w.len()))
/// }
///
/// /// A builder that only records the steps it is given.
/// #[derive(Default)]
/// struct Steps(Vec<String>);
///
/// impl PipelineBuilder for Steps {
///     type Collection<T> = std::marker::PhantomData<T>;
///
///     fn from_iter<T, I>(&mut self, name: &str, _items: I) -> Self::Collection<T>
///     where
///         T: Send + 'static,
///         I: IntoIterator<Item = T> + Send + 'static,
///         I::IntoIter: Send,
///     {
///         self.0.push(format!("source {name}"));
///         std::marker::PhantomData
///     }
///
///     fn apply<F>(
///         &mut self,
///         name: &str,
///         _input: Self::Collection<F::Input>,
///         _dofn: F,
///     ) -> Self::Collection<F::Output>
///     where
///         F: sdf_core::SplittableDoFn,
///         F::Input: serde::Serialize + serde::de::DeserializeOwned,
///     {
///         self.0.push(format!("step {name}"));
///         std::marker::PhantomData
///     }
/// }
///
/// let mut p = Steps::default();
/// let _lengths = lengths(&mut p, "lengths", vec!["a".into(), "bc".into()]);
/// assert_eq!(p.0, ["source lengths/words", "step lengths"]);
/// ```
pub trait PipelineBuilder {
    /// A collection of records flowing from one step to the next.
    type Collection<T>;

    /// Adds a bounded source named `name`: the items, with timestamp
    /// [`Timestamp::MIN`](crate::Timestamp::MIN), then watermark +∞.
    // The name of the embedded runtime's `Pipeline::from_iter`, which this is: a composite reads
    // the same against the trait as against the runtime. It adds a step; it converts nothing.
    #[allow(clippy::wrong_self_convention)]
    fn from_iter<T, I>(&mut self, name: &str, items: I) -> Self::Collection<T>
    where
        T: Send + 'static,
        I: IntoIterator<Item = T> + Send + 'static,
        I::IntoIter: Send;

    /// Adds the step `name`: `dofn` applied to every element of `input`.
    fn apply<F>(
        &mut self,
        name: &str,
        input: Self::Collection<F::Input>,
        dofn: F,
    ) -> Self::Collection<F::Output>
    where
        F: SplittableDoFn,
        F::Input: Serialize + DeserializeOwned;
}
