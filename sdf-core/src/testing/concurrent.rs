//! `check_concurrent_splits`: `process` on one thread, splits from another at random moments.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures::executor::block_on;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::driver::{CallSpec, Leniency, Pending, call, drain, fresh_instance, initial, retire};
use super::excerpt;
use super::exhaustive::{compare, contract_violation, counts, reference};
use super::subject::{InputOf, OutputOf, Subject};
use super::violation::Violation;
use crate::dofn::SplittableDoFn;

/// Settings of [`check_concurrent_splits_with`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConcurrentOptions {
    /// The seed; repetition `i` uses `seed + i`. A failure names its seed, which replays the same
    /// choices (fractions, delays), though not the same thread timing.
    pub seed: u64,
    /// How many times the whole input is processed under concurrent splits.
    pub repetitions: u64,
    /// At most this many splits are attempted during one `process` call.
    pub splits_per_call: usize,
    /// Residuals are split again down to this many levels.
    pub depth: usize,
    /// Every third repetition starts from the pieces of `split_restriction` (the initial
    /// restriction cut into about this many), as a runner does before processing.
    pub initial_pieces: usize,
    /// Accept records emitted behind the watermark their call resumed with.
    pub allow_late: bool,
    /// Run finalizers as they are registered (the default).
    pub run_finalizers: bool,
    /// See [`ExhaustiveOptions::finalizer_lag`](super::ExhaustiveOptions::finalizer_lag).
    pub finalizer_lag: u64,
    /// Accept records emitted after the claim that was refused: a DoFn that gathers the
    /// records of several claims (an Arrow batch) and emits them when the call ends. Their
    /// positions cannot be checked then; the comparison of outputs still is.
    pub flush_after_refusal: bool,
}

impl Default for ConcurrentOptions {
    fn default() -> Self {
        ConcurrentOptions {
            seed: 0x5eed,
            repetitions: 100,
            splits_per_call: 3,
            depth: 3,
            initial_pieces: 3,
            allow_late: false,
            run_finalizers: true,
            finalizer_lag: 0,
            flush_after_refusal: false,
        }
    }
}

impl ConcurrentOptions {
    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the number of repetitions.
    pub fn repetitions(mut self, repetitions: u64) -> Self {
        self.repetitions = repetitions;
        self
    }

    /// Sets the most splits attempted per call.
    pub fn splits_per_call(mut self, splits: usize) -> Self {
        self.splits_per_call = splits;
        self
    }

    /// Sets the depth.
    pub fn depth(mut self, depth: usize) -> Self {
        self.depth = depth;
        self
    }

    /// Sets how many pieces `split_restriction` is asked for (0: never start from pieces).
    pub fn initial_pieces(mut self, pieces: usize) -> Self {
        self.initial_pieces = pieces;
        self
    }

    /// Accepts late records.
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

    fn leniency(&self) -> Leniency {
        Leniency {
            allow_late: self.allow_late,
            skip_finalizers: !self.run_finalizers,
            finalizer_lag: self.finalizer_lag,
            flush_after_refusal: self.flush_after_refusal,
        }
    }
}

/// What a concurrent check exercised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConcurrentReport {
    /// Records of the reference run.
    pub records: usize,
    /// Successful claims of the reference run.
    pub claims: u64,
    /// Repetitions run.
    pub repetitions: u64,
    /// `process` calls made.
    pub calls: usize,
    /// Splits requested from the other thread.
    pub requested: usize,
    /// Of those, splits that succeeded.
    pub splits: usize,
    /// Repetitions that started from `split_restriction`'s pieces.
    pub from_pieces: u64,
    /// Residuals processed on a fresh instance while the call that split them still ran.
    pub interleaved: usize,
}

impl std::fmt::Display for ConcurrentReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} records from {} claims (the reference); {} repetitions ({} from pieces), \
             {} calls, {} of {} splits made, {} residuals interleaved on fresh instances",
            self.records,
            self.claims,
            self.repetitions,
            self.from_pieces,
            self.calls,
            self.splits,
            self.requested,
            self.interleaved
        )
    }
}

/// [`check_concurrent_splits_with`] with the default options.
pub fn check_concurrent_splits<S>(
    subject: &S,
    input: &InputOf<S>,
) -> Result<ConcurrentReport, Violation>
where
    S: Subject,
    OutputOf<S>: Eq + Hash + Debug,
{
    check_concurrent_splits_with(subject, input, &ConcurrentOptions::default())
}

/// Runs `process` on one thread while this thread splits its tracker at random moments (through
/// its [`SplitHandle`](crate::SplitHandle), as a runner does), with random fractions,
/// checkpoints included; residuals are processed the same way. The output of every repetition
/// must equal the output of an unsplit run, as a multiset. Every third repetition starts from
/// the pieces of `split_restriction`. With a [`fresh`](super::fresh) subject, every other
/// repetition processes each split's residual at once on a fresh instance, on its own thread,
/// while the call that split it goes on.
///
/// Every call is checked as in [`check_sdf_exhaustive_with`](super::check_sdf_exhaustive_with)
/// (serde, watermarks, output placement, finalizers).
///
/// Deterministic in its choices (seeded), not in its timing: each repetition races the two
/// threads differently. A failure names the seed and the splits that happened, which
/// `check_sdf_exhaustive` can usually reproduce deterministically.
pub fn check_concurrent_splits_with<S>(
    subject: &S,
    input: &InputOf<S>,
    options: &ConcurrentOptions,
) -> Result<ConcurrentReport, Violation>
where
    S: Subject,
    OutputOf<S>: Eq + Hash + Debug,
{
    run(subject, input, None, options)
}

/// [`check_concurrent_splits_with`] against an oracle: the reference run must produce exactly
/// `expected` (values, as a multiset).
pub fn check_concurrent_splits_expecting<S>(
    subject: &S,
    input: &InputOf<S>,
    expected: impl IntoIterator<Item = OutputOf<S>>,
    options: &ConcurrentOptions,
) -> Result<ConcurrentReport, Violation>
where
    S: Subject,
    OutputOf<S>: Eq + Hash + Debug,
{
    let expected: Vec<_> = expected.into_iter().collect();
    run(subject, input, Some(&expected), options)
}

type Queue<F> = Vec<(Pending<F>, usize)>;

fn run<S>(
    subject: &S,
    input: &InputOf<S>,
    expected: Option<&[OutputOf<S>]>,
    options: &ConcurrentOptions,
) -> Result<ConcurrentReport, Violation>
where
    S: Subject,
    OutputOf<S>: Eq + Hash + Debug,
{
    let leniency = options.leniency();
    let dofn = subject.instance();
    let started = Instant::now();
    let reference = reference(subject, input, expected, &leniency)?;
    // Splits land anywhere in a call that takes about as long as the reference run.
    let window = started.elapsed().max(Duration::from_micros(50));
    let expected = counts(&reference.outputs);
    let mut report = ConcurrentReport {
        records: reference.outputs.len(),
        claims: reference.claims,
        ..ConcurrentReport::default()
    };
    let cold = subject.fresh().is_some();

    for repetition in 0..options.repetitions {
        let seed = options.seed.wrapping_add(repetition);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut trail = Vec::new();
        let mut outputs = Vec::new();
        let interleave = cold && repetition % 2 == 1;
        let case = |trail: &Vec<String>| {
            format!(
                "input {}, seed {seed}{}{}",
                excerpt(input),
                if interleave {
                    ", residuals at once on fresh instances"
                } else {
                    ""
                },
                trail.join("")
            )
        };
        let mut queue: Queue<S::DoFn> = Vec::new();
        let first = initial(dofn, input)
            .map_err(|e| Violation::new("initial restriction", case(&trail), e.to_string()))?;
        let size = dofn.restriction_size(input, &first.restriction);
        if options.initial_pieces > 1 && repetition % 3 == 2 && size.is_finite() && size > 0.0 {
            let desired = size / options.initial_pieces as f64;
            let pieces = dofn
                .split_restriction(input, first.restriction.clone(), desired)
                .map_err(|e| {
                    Violation::new("split_restriction succeeds", case(&trail), e.to_string())
                })?;
            trail.push(format!(
                "; split_restriction(desired size {desired}) gave {} pieces",
                pieces.len()
            ));
            report.from_pieces += 1;
            for piece in pieces {
                queue.push((Pending::initial(dofn, input, piece), 0));
            }
        } else {
            queue.push((first, 0));
        }
        while let Some((pending, level)) = queue.pop() {
            report.calls += 1;
            let restriction = excerpt(&pending.restriction);
            let watermark = pending.watermark.clone();
            let floor = pending.floor;
            let splits = if level < options.depth {
                options.splits_per_call
            } else {
                0
            };
            let (outcome, split_log, side) = std::thread::scope(|scope| {
                let (to, from) = mpsc::channel();
                let worker = scope.spawn(|| {
                    let spec = CallSpec {
                        handle_to: Some(to),
                        ..CallSpec::plain()
                    };
                    call(dofn, input, pending, spec, &leniency)
                });
                let mut log = Vec::new();
                let mut side = Vec::new();
                if let Ok(handle) = from.recv() {
                    for _ in 0..splits {
                        spin_for(window.mul_f64(rng.random_range(0.0..1.2)));
                        if handle.is_closed() {
                            break;
                        }
                        let fraction = if rng.random_bool(0.25) {
                            0.0
                        } else {
                            rng.random_range(0.0..1.0)
                        };
                        let reply = block_on(handle.try_split(fraction));
                        if interleave && let Ok(Some(split)) = &reply {
                            let residual = Pending::<S::DoFn> {
                                restriction: split.residual.clone(),
                                watermark: watermark.clone(),
                                floor,
                            };
                            let leniency = &leniency;
                            side.push(scope.spawn(move || {
                                let fresh = fresh_instance(subject)?.expect("cold is checked");
                                let mut outputs = Vec::new();
                                let calls = drain(&fresh, input, residual, &mut outputs, leniency);
                                retire(fresh)?;
                                calls.map(|calls| (calls, outputs))
                            }));
                        }
                        log.push((fraction, reply));
                    }
                }
                let side: Vec<_> = side.into_iter().map(|h| h.join()).collect();
                (worker.join(), log, side)
            });
            let outcome = match outcome {
                Ok(result) => result.map_err(|p| contract_violation(&case(&trail), p))?,
                Err(_) => {
                    return Err(Violation::new(
                        "process does not panic",
                        case(&trail),
                        format!("the call on {restriction} panicked"),
                    ));
                }
            };
            outputs.extend(outcome.outputs);
            for residual in outcome.residuals {
                queue.push((residual, level + 1));
            }
            let outcome_end = outcome.end;
            for (fraction, reply) in split_log {
                report.requested += 1;
                match reply {
                    Ok(Some(split)) => {
                        report.splits += 1;
                        trail.push(format!(
                            "; {restriction} split at {fraction} into {} + {}",
                            excerpt(&split.primary),
                            excerpt(&split.residual)
                        ));
                        if !interleave {
                            // A checkpoint resumes after the call: the state at its end.
                            let (floor, watermark) = if fraction == 0.0 {
                                outcome_end.clone()
                            } else {
                                (floor, watermark.clone())
                            };
                            queue.push((
                                Pending {
                                    restriction: split.residual,
                                    watermark,
                                    floor,
                                },
                                level + 1,
                            ));
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        return Err(Violation::new(
                            "law 6: fractions in [0, 1] are accepted",
                            case(&trail),
                            format!("try_split({fraction}) on {restriction} returned Err({e})"),
                        ));
                    }
                }
            }
            for joined in side {
                report.interleaved += 1;
                match joined {
                    Ok(Ok((calls, out))) => {
                        report.calls += calls;
                        outputs.extend(out);
                    }
                    Ok(Err(p)) => return Err(contract_violation(&case(&trail), p)),
                    Err(_) => {
                        return Err(Violation::new(
                            "process does not panic",
                            case(&trail),
                            "a residual's call on a fresh instance panicked",
                        ));
                    }
                }
            }
        }
        compare(&expected, &outputs, &case(&trail))?;
        report.repetitions += 1;
    }
    Ok(report)
}

/// Busy-waits: sleeping is far coarser than the moments a split must land between.
fn spin_for(duration: Duration) {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}
