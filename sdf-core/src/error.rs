//! Errors of `sdf-core`: one crate-level [`Error`], plus narrow enums for the operations that have
//! failures of their own ([`TrackerError`], [`WatermarkError`]).
//!
//! Every message says what was wrong and what to do about it. Positions and restrictions are
//! rendered with `Debug` so that the error types stay non-generic.

use std::fmt;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Misuse of a [`RestrictionTracker`](crate::RestrictionTracker), reported by the tracker itself.
///
/// These are bugs in the calling code (a DoFn or a runner), never conditions of the data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TrackerError {
    /// A claim was not strictly greater than the previously attempted position.
    #[error(
        "claim of {position} is not after the last attempted position {last_attempted}: \
         claims must strictly increase; a DoFn claims each position once, in order"
    )]
    ClaimNotIncreasing {
        /// The position the caller tried to claim.
        position: String,
        /// The last position attempted before it.
        last_attempted: String,
    },
    /// A claim before the start of the restriction.
    #[error(
        "claim of {position} is before the start of the restriction {restriction}: \
         start claiming at the restriction's start (`current_restriction()`), not at 0"
    )]
    ClaimBeforeStart {
        /// The position the caller tried to claim.
        position: String,
        /// The tracker's restriction.
        restriction: String,
    },
    /// A claim after an earlier claim had returned `false`.
    #[error(
        "claim of {position} after a claim already returned false: when `try_claim` returns \
         false the DoFn must stop processing and return `ProcessContinuation::Stop`"
    )]
    ClaimAfterStop {
        /// The position the caller tried to claim.
        position: String,
    },
    /// A split fraction outside `[0, 1]`, or not a number.
    ///
    /// Policy: fractions are never clamped. A fraction outside the range is a bug in the
    /// runner's split policy, and clamping would hide it.
    #[error(
        "split fraction {fraction} is outside [0, 1]: pass 0 for a checkpoint, a value in (0, 1) \
         for a split of the remaining work, 1 to keep everything"
    )]
    InvalidFraction {
        /// The rejected fraction.
        fraction: f64,
    },
    /// `check_done` found work that was neither claimed nor split off.
    #[error(
        "restriction {restriction} is not done: {unclaimed} was never claimed. A DoFn must claim \
         until `try_claim` returns false, or return `ProcessContinuation::Resume` so that the \
         runner checkpoints the rest"
    )]
    NotDone {
        /// The tracker's restriction.
        restriction: String,
        /// A description of the unclaimed work.
        unclaimed: String,
    },
    /// The restriction given to a tracker is malformed.
    #[error("invalid restriction {restriction}: {reason}")]
    InvalidRestriction {
        /// The restriction.
        restriction: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A watermark estimator was asked to move its watermark backwards.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WatermarkError {
    /// [`ManualWatermarkEstimator::set_watermark`](crate::ManualWatermarkEstimator::set_watermark)
    /// was given a value below the current watermark. The watermark is left unchanged.
    #[error(
        "watermark regression: {proposed:?} is before the current watermark {current:?}; \
         a watermark never goes backwards. Set it to a lower bound on the timestamps of all \
         future output, or ignore this error to keep the current value"
    )]
    Regression {
        /// The current watermark, which is kept.
        current: crate::Timestamp,
        /// The rejected value.
        proposed: crate::Timestamp,
    },
}

/// The error of every fallible operation in `sdf-core` and of a DoFn's methods.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tracker was misused.
    #[error(transparent)]
    Tracker(#[from] TrackerError),
    /// A watermark estimator refused an update.
    #[error(transparent)]
    Watermark(#[from] WatermarkError),
    /// The downstream of an [`Output`](crate::Output) is gone (the pipeline was cancelled or
    /// failed). The DoFn should return; its unfinished work is kept by the runner.
    #[error("output receiver closed: the pipeline is shutting down; return from process")]
    OutputClosed,
    /// An error raised by user code (a DoFn, a source, a connector), with its context.
    #[error("{context}: {source}")]
    User {
        /// What was being done, e.g. `"reading /data/a.txt at offset 4096"`.
        context: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// An error that no retry can fix: the input itself is bad (a corrupt file, a record over
    /// the reader's limit, a value that does not parse). A runner does not retry the call: it
    /// sends the element to the dead letters, or fails, at once. Made with
    /// [`Error::permanent`]; every other error is worth a retry ([`Error::is_retryable`]).
    #[error("{context}: {source}")]
    Permanent {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    /// Wraps any error with a description of what was being done when it happened.
    ///
    /// ```
    /// use sdf_core::Error;
    /// let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
    /// let err = Error::user("opening /data/a.txt", io);
    /// assert_eq!(err.to_string(), "opening /data/a.txt: no such file");
    /// ```
    pub fn user(
        context: impl fmt::Display,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Error::User {
            context: context.to_string(),
            source: source.into(),
        }
    }

    /// An error of user code that retrying cannot fix (see [`Error::Permanent`]).
    ///
    /// ```
    /// use sdf_core::Error;
    /// let err = Error::permanent("parsing /data/a.csv at byte 7", "not a number: \"x1\"");
    /// assert!(!err.is_retryable());
    /// assert!(Error::message("the server is busy").is_retryable());
    /// ```
    pub fn permanent(
        context: impl fmt::Display,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Error::Permanent {
            context: context.to_string(),
            source: source.into(),
        }
    }

    /// Whether running the call again may succeed: false for [`Error::Permanent`] only.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Error::Permanent { .. })
    }

    /// An error raised by user code with only a message.
    pub fn message(message: impl fmt::Display) -> Self {
        Error::User {
            context: "error".to_string(),
            source: message.to_string().into(),
        }
    }
}
