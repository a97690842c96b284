//! The boot entry point: what a worker process started by a runner (a PROCESS or DOCKER
//! environment, or a worker pool such as Beam's `worker_pool_main --container_executable`)
//! runs with the flags it was given.
//!
//! Beam's container contract passes `--id`, `--logging_endpoint`, `--artifact_endpoint`,
//! `--provision_endpoint` and `--control_endpoint`, each as `--flag=value` (Beam's Python
//! worker pool and FnApiRunner, Java's process and Docker environments), and Beam's own boot
//! programs also take `--semi_persist_dir`. [`BootArgs::parse`] reads those, in either form
//! (`--flag=value` or `--flag value`, with one dash or two as Go's `flag` package does), and
//! refuses any other.
//!
//! ```no_run
//! use sdf_beam::harness::boot::{self, BootArgs};
//! # async fn main_() -> sdf_beam::Result<()> {
//! let args = BootArgs::parse(std::env::args().skip(1))?;
//! boot::run(args, |options| {
//!     // Build the same pipeline as the submitting program, from its options.
//!     let _ = options.get("input");
//!     Ok(sdf_beam::harness::Registry::new())
//! })
//! .await
//! # }
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use super::logging::{BeamLogLayer, LogStream, level_from_options};
use super::provision::ProvisionInfo;
use super::registry::Registry;
use super::worker::{HarnessStats, WorkerEndpoints, serve};
use crate::error::{BeamError, Result};

/// The flags a runner starts a worker process with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BootArgs {
    /// `--id`: the worker's id (required), sent with every request as `worker_id`.
    pub id: String,
    /// `--control_endpoint`: the control service; the provision info's when absent.
    pub control_endpoint: Option<String>,
    /// `--logging_endpoint`: the logging service; the provision info's when absent.
    pub logging_endpoint: Option<String>,
    /// `--provision_endpoint`: the provision service (the pipeline options).
    pub provision_endpoint: Option<String>,
    /// `--artifact_endpoint`: the artifact retrieval service (not used: an sdf worker is
    /// the program itself, with nothing to stage).
    pub artifact_endpoint: Option<String>,
    /// `--semi_persist_dir`: a directory kept across the worker's restarts (not used yet).
    pub semi_persist_dir: Option<PathBuf>,
}

/// A command line that is not the one Beam's runners pass to a worker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BootArgsError {
    /// A flag this entry point does not know.
    #[error(
        "unknown flag {flag}: a Beam worker takes --id, --control_endpoint, --logging_endpoint, \
         --provision_endpoint, --artifact_endpoint and --semi_persist_dir"
    )]
    Unknown {
        /// The flag as given.
        flag: String,
    },
    /// A flag at the end of the line, or followed by another flag, without its value.
    #[error("flag --{flag} has no value: pass --{flag}=VALUE")]
    MissingValue {
        /// The flag's name.
        flag: &'static str,
    },
    /// A flag given twice.
    #[error("flag --{flag} is given twice")]
    Repeated {
        /// The flag's name.
        flag: &'static str,
    },
    /// An argument that is not a flag.
    #[error("unexpected argument {arg:?}: a Beam worker takes only --flag=value arguments")]
    NotAFlag {
        /// The argument.
        arg: String,
    },
    /// No `--id`.
    #[error("no --id: the runner names each worker it starts with --id=ID")]
    MissingId,
    /// Neither a control nor a provision endpoint: the worker cannot find its runner.
    #[error(
        "neither --control_endpoint nor --provision_endpoint: the worker cannot find its runner \
         (a runner passes both; run this as a runner's worker, not by hand)"
    )]
    MissingControl,
}

const FLAGS: [&str; 6] = [
    "id",
    "control_endpoint",
    "logging_endpoint",
    "provision_endpoint",
    "artifact_endpoint",
    "semi_persist_dir",
];

impl BootArgs {
    /// Reads the flags (the command line without the program's name).
    ///
    /// An empty value is an absent flag (Beam's Python worker pool passes
    /// `--logging_endpoint=` when the runner gave none).
    ///
    /// ```
    /// # use sdf_beam::harness::boot::BootArgs;
    /// let args = BootArgs::parse(["--id=1", "--provision_endpoint", "localhost:5000"])?;
    /// assert_eq!(args.id, "1");
    /// assert_eq!(args.provision_endpoint.as_deref(), Some("localhost:5000"));
    /// assert_eq!(args.control_endpoint, None);
    /// # Ok::<(), sdf_beam::harness::boot::BootArgsError>(())
    /// ```
    pub fn parse<I>(args: I) -> Result<BootArgs, BootArgsError>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let mut values: [Option<String>; 6] = Default::default();
        let mut args = args.into_iter().map(Into::into).peekable();
        while let Some(arg) = args.next() {
            let Some(flag) = arg
                .strip_prefix("--")
                .or_else(|| arg.strip_prefix('-'))
                .filter(|f| !f.is_empty())
            else {
                return Err(BootArgsError::NotAFlag { arg });
            };
            let (name, inline) = match flag.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (flag, None),
            };
            let Some(index) = FLAGS.iter().position(|f| *f == name) else {
                return Err(BootArgsError::Unknown {
                    flag: arg.split('=').next().unwrap_or(&arg).to_string(),
                });
            };
            let flag = FLAGS[index];
            let value = match inline {
                Some(value) => value,
                None => match args.next_if(|next| !next.starts_with('-')) {
                    Some(value) => value,
                    None => return Err(BootArgsError::MissingValue { flag }),
                },
            };
            if values[index].replace(value).is_some() {
                return Err(BootArgsError::Repeated { flag });
            }
        }
        let [id, control, logging, provision, artifact, semi_persist] =
            values.map(|v| v.filter(|v| !v.is_empty()));
        let id = id.ok_or(BootArgsError::MissingId)?;
        if control.is_none() && provision.is_none() {
            return Err(BootArgsError::MissingControl);
        }
        Ok(BootArgs {
            id,
            control_endpoint: control,
            logging_endpoint: logging,
            provision_endpoint: provision,
            artifact_endpoint: artifact,
            semi_persist_dir: semi_persist.map(PathBuf::from),
        })
    }
}

/// Runs the worker the runner started this process for, until the runner closes its control
/// stream:
///
/// 1. fetches the provision info from `--provision_endpoint` (its control and logging
///    endpoints stand in for absent flags; without a provision endpoint the options are
///    empty);
/// 2. sends the worker's `tracing` events to the logging service, at the level of the
///    pipeline option `default_sdk_harness_log_level` (`INFO` if absent). If the program set
///    no global subscriber, one is installed: [`BeamLogLayer`], and warnings and errors on
///    stderr (runners keep a worker's stderr; its stdout may be a pipe nobody reads). A program
///    with its own subscriber must add [`BeamLogLayer`] to it;
/// 3. builds the registry with `build` from the pipeline options by name
///    ([`ProvisionInfo::options`]): the program builds the same pipeline as the one it
///    submitted, so the DoFns have the same names;
/// 4. runs the worker ([`run_worker_with`](super::run_worker_with)).
///
/// Every connection is bounded by 30 s; an endpoint that cannot be reached is an error that
/// names it. An error of `build` is logged to the runner as well as returned.
pub async fn run<B>(args: BootArgs, build: B) -> Result<()>
where
    B: FnOnce(&serde_json::Value) -> Result<Registry>,
{
    run_with(args, build, Arc::default()).await
}

/// [`run`], counting what the worker does in `stats`.
pub async fn run_with<B>(args: BootArgs, build: B, stats: Arc<HarnessStats>) -> Result<()>
where
    B: FnOnce(&serde_json::Value) -> Result<Registry>,
{
    let info = match &args.provision_endpoint {
        Some(endpoint) => Some(ProvisionInfo::fetch(endpoint, &args.id).await?),
        None => None,
    };
    let from_info =
        |pick: fn(&ProvisionInfo) -> &Option<String>| info.as_ref().and_then(|i| pick(i).clone());
    let control = args
        .control_endpoint
        .clone()
        .or_else(|| from_info(|i| &i.control_endpoint))
        .ok_or_else(|| {
            BeamError::Protocol(format!(
                "no control endpoint: no --control_endpoint, and the provision service at {} \
                 gave none; pass --control_endpoint",
                args.provision_endpoint.as_deref().unwrap_or("(none)")
            ))
        })?;
    let logging = args
        .logging_endpoint
        .clone()
        .or_else(|| from_info(|i| &i.logging_endpoint));
    let options = info
        .as_ref()
        .map(ProvisionInfo::options)
        .unwrap_or_else(|| serde_json::Value::Object(Default::default()));
    let (level, bad_level) = match level_from_options(&options) {
        Ok(level) => (level, None),
        Err(e) => (tracing::Level::INFO, Some(e)),
    };
    install_subscriber(level);
    let mut endpoints = WorkerEndpoints::new(args.id.clone(), control);
    endpoints.logging = logging.clone();
    endpoints.provision = args.provision_endpoint.clone();
    let worker = async move {
        if let Some(e) = bad_level {
            tracing::warn!("{e}");
        }
        let registry = build(&options).inspect_err(|e| {
            tracing::error!("building the worker's DoFns from the pipeline options failed: {e}");
        })?;
        serve(endpoints, registry, stats).await
    };
    match logging {
        Some(url) => LogStream::start(&url, &args.id, level).run(worker).await,
        None => worker.await,
    }
}

/// Sets the process's global subscriber, unless the program set one: [`BeamLogLayer`] for
/// events up to `level`, and warnings and errors on stderr.
fn install_subscriber(level: tracing::Level) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::layer::SubscriberExt;
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_filter(LevelFilter::WARN);
    let subscriber = tracing_subscriber::registry()
        .with(LevelFilter::from_level(level).max(LevelFilter::WARN))
        .with(BeamLogLayer::new())
        .with(stderr);
    // Fails only when the program set its own, which is then kept.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<BootArgs, BootArgsError> {
        BootArgs::parse(args.iter().copied())
    }

    #[test]
    fn the_flags_of_beams_worker_pool_are_read() {
        // What apache_beam/runners/worker/worker_pool_main.py passes, in its order.
        let args = parse(&[
            "--id=1-1",
            "--logging_endpoint=localhost:4001",
            "--artifact_endpoint=localhost:4000",
            "--provision_endpoint=localhost:4000",
            "--control_endpoint=localhost:4000",
        ])
        .unwrap();
        assert_eq!(
            args,
            BootArgs {
                id: "1-1".into(),
                control_endpoint: Some("localhost:4000".into()),
                logging_endpoint: Some("localhost:4001".into()),
                provision_endpoint: Some("localhost:4000".into()),
                artifact_endpoint: Some("localhost:4000".into()),
                semi_persist_dir: None,
            }
        );
    }

    #[test]
    fn both_forms_and_both_dashes_read_the_same() {
        let cases: [(&str, &[&str]); 4] = [
            (
                "equals",
                &[
                    "--id=w",
                    "--control_endpoint=h:1",
                    "--semi_persist_dir=/tmp/s",
                ],
            ),
            (
                "space",
                &[
                    "--id",
                    "w",
                    "--control_endpoint",
                    "h:1",
                    "--semi_persist_dir",
                    "/tmp/s",
                ],
            ),
            (
                "one dash",
                &[
                    "-id=w",
                    "-control_endpoint",
                    "h:1",
                    "-semi_persist_dir=/tmp/s",
                ],
            ),
            (
                "mixed",
                &[
                    "--semi_persist_dir",
                    "/tmp/s",
                    "--id=w",
                    "--control_endpoint",
                    "h:1",
                ],
            ),
        ];
        for (name, args) in cases {
            let args = parse(args).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(args.id, "w", "{name}");
            assert_eq!(args.control_endpoint.as_deref(), Some("h:1"), "{name}");
            assert_eq!(
                args.semi_persist_dir,
                Some(PathBuf::from("/tmp/s")),
                "{name}"
            );
            assert_eq!(args.provision_endpoint, None, "{name}");
        }
    }

    #[test]
    fn a_provision_endpoint_alone_is_enough() {
        let args = parse(&["--id=w", "--provision_endpoint=h:2"]).unwrap();
        assert_eq!(args.control_endpoint, None);
        assert_eq!(args.provision_endpoint.as_deref(), Some("h:2"));
    }

    #[test]
    fn an_empty_value_is_an_absent_flag() {
        let args = parse(&["--id=w", "--control_endpoint=h:1", "--logging_endpoint="]).unwrap();
        assert_eq!(args.logging_endpoint, None);
    }

    #[test]
    fn bad_command_lines_are_refused_naming_what_is_wrong() {
        use BootArgsError::*;
        let cases: [(&str, &[&str], BootArgsError, &str); 9] = [
            ("no id", &["--control_endpoint=h:1"], MissingId, "--id"),
            (
                "empty id",
                &["--id=", "--control_endpoint=h:1"],
                MissingId,
                "--id",
            ),
            (
                "no control nor provision",
                &["--id=w", "--logging_endpoint=h:3"],
                MissingControl,
                "--control_endpoint",
            ),
            (
                "unknown",
                &["--id=w", "--worker_threads=4"],
                Unknown {
                    flag: "--worker_threads".into(),
                },
                "--worker_threads",
            ),
            (
                "unknown, space form",
                &["--options", "{}"],
                Unknown {
                    flag: "--options".into(),
                },
                "--options",
            ),
            (
                "value missing at the end",
                &["--id"],
                MissingValue { flag: "id" },
                "--id=VALUE",
            ),
            (
                "value missing before a flag",
                &["--id", "--control_endpoint=h:1"],
                MissingValue { flag: "id" },
                "--id",
            ),
            (
                "repeated",
                &["--id=a", "--id=b"],
                Repeated { flag: "id" },
                "twice",
            ),
            (
                "positional",
                &["worker"],
                NotAFlag {
                    arg: "worker".into(),
                },
                "\"worker\"",
            ),
        ];
        for (name, args, want, text) in cases {
            let err = parse(args).unwrap_err();
            assert_eq!(err, want, "{name}");
            assert!(err.to_string().contains(text), "{name}: {err}");
        }
    }

    #[test]
    fn a_lone_dash_or_double_dash_is_not_a_flag() {
        for arg in ["-", "--"] {
            assert_eq!(
                parse(&[arg]).unwrap_err(),
                BootArgsError::NotAFlag { arg: arg.into() }
            );
        }
    }

    #[tokio::test]
    async fn an_unreachable_provision_service_names_itself() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let endpoint = format!("127.0.0.1:{port}");
        let args = parse(&["--id=w", &format!("--provision_endpoint={endpoint}")]).unwrap();
        let err = run(args, |_| Ok(Registry::new())).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("provision service") && text.contains(&endpoint),
            "{text}"
        );
        assert!(text.contains("the runner gave this address"), "{text}");
    }

    #[tokio::test]
    async fn an_error_of_build_is_returned_before_the_worker_connects() {
        // A control endpoint nobody serves: build fails first, and its error is the answer.
        let args = parse(&["--id=w", "--control_endpoint=127.0.0.1:1"]).unwrap();
        let err = run(args, |_| Err(BeamError::Protocol("no input option".into())))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "protocol: no input option");
    }

    #[tokio::test]
    async fn an_unreachable_control_service_names_itself() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let endpoint = format!("127.0.0.1:{port}");
        let args = parse(&["--id=w", &format!("--control_endpoint={endpoint}")]).unwrap();
        let mut built = false;
        let err = run(args, |options| {
            assert_eq!(options, &serde_json::json!({}), "no provision: no options");
            built = true;
            Ok(Registry::new())
        })
        .await
        .unwrap_err();
        assert!(built);
        let text = err.to_string();
        assert!(
            text.contains("control service") && text.contains(&endpoint),
            "{text}"
        );
    }
}
