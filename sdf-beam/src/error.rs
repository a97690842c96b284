//! What can go wrong running on a Beam runner.

use std::time::Duration;

use crate::coder::CoderError;

/// An error of the Beam runner or harness.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BeamError {
    /// The job endpoint (or another endpoint the runner gave) could not be reached.
    #[error("cannot reach the Beam {service} at {endpoint}: {detail} ({})", unreachable_hint(.service))]
    Unreachable {
        /// Which service.
        service: &'static str,
        /// Its address.
        endpoint: String,
        /// What the connection said.
        detail: String,
    },
    /// The runner refused a request (a pipeline it cannot run, an unknown job).
    #[error("the Beam runner refused {request}: {status}")]
    Refused {
        /// What was asked.
        request: &'static str,
        /// The runner's answer.
        status: String,
    },
    /// The job ended in a state other than DONE.
    #[error("job {job_id} ended {state}{}", errors_text(.errors))]
    JobFailed {
        /// The runner's id of the job.
        job_id: String,
        /// Its final state (FAILED, CANCELLED, …).
        state: String,
        /// The runner's error messages about it, oldest first.
        errors: Vec<String>,
    },
    /// A wait longer than its bound.
    #[error("{what} took longer than {after:?}; {hint}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// The bound.
        after: Duration,
        /// What to do.
        hint: &'static str,
    },
    /// A step failed in the worker (a sink's I/O, a counter that overflows).
    #[error("{transform}: {detail}")]
    Step {
        /// The transform's id.
        transform: String,
        /// What failed, with the step's own error.
        detail: String,
    },
    /// The boot entry point's command line is not the one Beam's runners pass.
    #[error(transparent)]
    BootArgs(#[from] crate::harness::boot::BootArgsError),
    /// Bytes from the runner that no coder of the pipeline decodes.
    #[error(transparent)]
    Coder(#[from] CoderError),
    /// The runner broke the protocol (a message the Fn API does not allow here).
    #[error("protocol: {0}")]
    Protocol(String),
}

/// What to do when `service` cannot be reached: the job service's address is the user's, the
/// others are the runner's (flags of the boot command, `StartWorker`, provision info).
fn unreachable_hint(service: &str) -> &'static str {
    match service {
        "job service" => {
            "is the job service running? start one as docs/beam.md says, or pass its address \
             with --job-endpoint"
        }
        "worker pool" => "is the address free, and one this machine has?",
        _ => {
            "the runner gave this address to the worker: is the runner still running, and can \
             this machine reach it (firewall, container network)?"
        }
    }
}

fn errors_text(errors: &[String]) -> String {
    match errors.last() {
        None => String::new(),
        Some(last) => format!(": {last}"),
    }
}

/// A result with a [`BeamError`].
pub type Result<T, E = BeamError> = std::result::Result<T, E>;
