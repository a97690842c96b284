//! How a command ends: the exit code, and the one message a failure prints, in the words of
//! the command line (its flags), not of the library.

use std::error::Error;
use std::fmt;
use std::process::ExitCode;

use sdf_connectors::Error as ConnectorError;
use sdf_runtime::{CheckpointError, Error as RuntimeError};

/// The exit codes, as `--help` and the README list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    /// The command failed: a file could not be read or written (the message names it).
    Failed = 1,
    /// The command line is wrong (clap's own code for bad arguments too).
    Usage = 2,
    /// The --state or --out directory cannot be used: in use by another process, damaged,
    /// written for another job, or holding output of another run.
    State = 3,
    /// A file could not be read as its format (a watch stopped on it with --on-error fail).
    BadData = 4,
}

/// The text of the exit codes, for `--help`.
pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0  done (sdf watch and sdf tail: stopped by Ctrl-C or SIGTERM, state saved)
  1  failed: a file could not be read or written (the message names it)
  2  usage: the command line is wrong
  3  the --state or --out directory cannot be used (in use, damaged, another job's)
  4  a file cannot be read as its format (sdf watch --on-error fail stopped on it)";

/// A failure the command has already put in its own words.
#[derive(Debug)]
pub(crate) struct Fatal {
    pub code: Code,
    pub message: String,
}

impl Fatal {
    /// The failure, boxed as commands return it.
    pub fn boxed(code: Code, message: impl Into<String>) -> Box<dyn Error> {
        Box::new(Fatal {
            code,
            message: message.into(),
        })
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for Fatal {}

/// What a command prints for `error`, and its exit code.
pub(crate) fn report(error: &(dyn Error + 'static)) -> (Code, String) {
    if let Some(fatal) = error.downcast_ref::<Fatal>() {
        return (fatal.code, fatal.message.clone());
    }
    if let Some(e) = find::<CheckpointError>(error) {
        return (Code::State, state_message(e));
    }
    if let Some(RuntimeError::Checkpoint(e)) = error.downcast_ref::<RuntimeError>() {
        return (Code::State, state_message(e));
    }
    if let Some(e) = find::<ConnectorError>(error) {
        match e {
            ConnectorError::OutputBusy { dir, holder } => {
                let holder = holder.as_deref().unwrap_or("another process");
                return (
                    Code::State,
                    format!(
                        "--out {} is in use by {holder}: one sdf per output directory. Stop \
                         the other one, or give this one its own --out",
                        dir.display()
                    ),
                );
            }
            ConnectorError::OutputAhead { dir, files, .. } => {
                let some = files.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
                return (
                    Code::State,
                    format!(
                        "--out {} already holds output ({some}) that this run's --state did not \
                         write, or wrote after its last checkpoint: writing it again would \
                         duplicate records. Use an empty --out, or the --state that wrote it",
                        dir.display()
                    ),
                );
            }
            ConnectorError::AlreadyExists { path, .. } => {
                return (
                    Code::State,
                    format!(
                        "{} is in the way of this run's output and was not written by it: use \
                         an empty --out, or the --state that wrote it",
                        path.display()
                    ),
                );
            }
            _ => {}
        }
    }
    let code = if chain(error).any(is_bad_data) {
        Code::BadData
    } else {
        Code::Failed
    };
    // A reader's error names the file and the offset: it is the message. The runtime's frame
    // around it (the step, the element as `Debug`, the restriction, the library's advice on
    // dead letters) is for library users, not for the person who typed the command.
    if let Some(e) = find::<ConnectorError>(error) {
        return (code, cli_words(&e.to_string()));
    }
    if let Some(RuntimeError::StageFailed {
        stage,
        attempts,
        source,
        ..
    }) = error.downcast_ref::<RuntimeError>()
    {
        let tries = if *attempts == 1 {
            String::new()
        } else {
            format!(" (tried {attempts} times)")
        };
        return (
            code,
            format!(
                "the {stage} step failed{tries}: {}",
                cli_words(&source.to_string())
            ),
        );
    }
    (code, cli_words(&error.to_string()))
}

/// A library's advice in the words of the command line: its builder methods as the flags that
/// set them, and no advice the command line has no flag for.
fn cli_words(message: &str) -> String {
    const WORDS: &[(&str, &str)] = &[
        (
            "accept such records with ReadCsv::flexible(true)",
            "accept such records with --flexible",
        ),
        (
            "read the header as a record (ReadCsv::has_headers(false))",
            "read the header as a record (--no-header)",
        ),
        (
            "raise the maximum record length, or skip such records (TooLong::Skip)",
            "raise the limit with --max-record-length",
        ),
        ("connector: ", ""),
    ];
    let mut message = message.to_string();
    for (library, command_line) in WORDS {
        message = message.replace(library, command_line);
    }
    message
}

fn is_bad_data(e: &(dyn Error + 'static)) -> bool {
    e.downcast_ref::<ConnectorError>()
        .is_some_and(|c| c.is_permanent() && !matches!(c, ConnectorError::Io { .. }))
}

fn state_message(e: &CheckpointError) -> String {
    match e {
        CheckpointError::Busy { dir, holder } => format!(
            "--state {} is in use by {}: one sdf per state directory. Stop the other one, or give \
             this one its own --state",
            dir.display(),
            holder.as_deref().unwrap_or("another process")
        ),
        CheckpointError::Corrupt {
            path,
            reason,
            previous,
        } => {
            let previous = match previous {
                Some(p) => format!(
                    "The previous checkpoint (epoch {}) is kept in {}: docs/checkpoints.md (\"A \
                     damaged checkpoint\") says how to resume from it. ",
                    p.epoch,
                    p.path.display()
                ),
                None => String::new(),
            };
            format!(
                "the checkpoint {path} in --state is damaged: {reason}. {previous}Or start over \
                 with --reset-state and an empty --out"
            )
        }
        CheckpointError::OtherPipeline { path, reason } => format!(
            "--state holds the checkpoint of another job ({path}: {reason}). Use another --state \
             for this job, or run with --reset-state (and an empty --out) to start it over"
        ),
        CheckpointError::Unsupported { path, version, .. } => format!(
            "the checkpoint {path} in --state is format version {version}, written by another \
             release of sdf: run that release, or start over with --reset-state and an empty --out"
        ),
        other => other.to_string(),
    }
}

/// The errors of `error`'s chain, `error` first.
fn chain<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |e: &&'a (dyn Error + 'static)| (*e).source())
}

/// The first error of type `T` in `error`'s chain.
fn find<'a, T: Error + 'static>(error: &'a (dyn Error + 'static)) -> Option<&'a T> {
    chain(error).find_map(|e| e.downcast_ref::<T>())
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        ExitCode::from(code as u8)
    }
}
