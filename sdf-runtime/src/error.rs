//! Errors of `sdf-runtime`.

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a pipeline failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `process` call kept failing after every retry.
    #[error(
        "stage '{stage}' failed on element {element} (restriction {restriction}) after {attempts} \
         attempts: {source}. Fix the cause and rerun, or send such elements to a dead-letter \
         output with `Pipeline::apply_with_dead_letters`"
    )]
    StageFailed {
        /// The stage's name.
        stage: String,
        /// The element, as `Debug`.
        element: String,
        /// The restriction that failed, as `Debug`.
        restriction: String,
        /// How many times it was tried.
        attempts: u32,
        /// The last error.
        #[source]
        source: Box<sdf_core::Error>,
    },
    /// A DoFn method other than `process` failed (`setup`, `initial_restriction`, ...).
    #[error("stage '{stage}': {what} failed: {source}")]
    DoFn {
        /// The stage's name.
        stage: String,
        /// Which method.
        what: String,
        /// The error.
        #[source]
        source: Box<sdf_core::Error>,
    },
    /// A sink refused records or failed to commit.
    #[error("sink '{sink}' failed: {source}")]
    Sink {
        /// The sink's name.
        sink: String,
        /// The error.
        #[source]
        source: Box<sdf_core::Error>,
    },
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(Box<crate::checkpoint::store::CheckpointError>),
    /// The pipeline was cancelled with [`PipelineHandle::cancel`](crate::PipelineHandle::cancel).
    #[error("the pipeline was cancelled")]
    Cancelled,
    /// A step of the pipeline has no translation to a Beam pipeline
    /// ([`Pipeline::into_beam`](crate::Pipeline::into_beam), feature `beam`).
    #[error("step '{step}' cannot run on a Beam runner: {reason}")]
    NotPortable {
        /// The step's name.
        step: String,
        /// Why, and what to use instead.
        reason: String,
    },
    /// A task of the runtime panicked outside user code, or the runtime could not start.
    #[error("runtime failure: {0}")]
    Internal(String),
}
