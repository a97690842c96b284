//! `check_concurrent_splits`: `process` on one thread, splits from another at random moments.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures::executor::block_on;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::driver::{Pending, call, drain, initial};
use super::exhaustive::{compare, contract_violation, counts};
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
}

impl Default for ConcurrentOptions {
    fn default() -> Self {
        ConcurrentOptions {
            seed: 0x5eed,
            repetitions: 100,
            splits_per_call: 3,
            depth: 3,
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
}

/// What a concurrent check exercised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConcurrentReport {
    /// Repetitions run.
    pub repetitions: u64,
    /// `process` calls made.
    pub calls: usize,
    /// Splits requested from the other thread.
    pub requested: usize,
    /// Of those, splits that succeeded.
    pub splits: usize,
}

/// [`check_concurrent_splits_with`] with the default options.
pub fn check_concurrent_splits<F>(dofn: &F, input: &F::Input) -> Result<ConcurrentReport, Violation>
where
    F: SplittableDoFn,
    F::Output: Eq + Hash + Debug,
{
    check_concurrent_splits_with(dofn, input, &ConcurrentOptions::default())
}

/// Runs `process` on one thread while this thread splits its tracker at random moments (through
/// its [`SplitHandle`](crate::SplitHandle), as a runner does), with random fractions,
/// checkpoints included; residuals are processed the same way. The output of every repetition
/// must equal the output of an unsplit run, as a multiset.
///
/// Deterministic in its choices (seeded), not in its timing: each repetition races the two
/// threads differently. A failure names the seed and the splits that happened, which
/// `check_sdf_exhaustive` can usually reproduce deterministically.
pub fn check_concurrent_splits_with<F>(
    dofn: &F,
    input: &F::Input,
    options: &ConcurrentOptions,
) -> Result<ConcurrentReport, Violation>
where
    F: SplittableDoFn,
    F::Output: Eq + Hash + Debug,
{
    let started = Instant::now();
    let mut reference = Vec::new();
    let case = format!("input {input:?}, no splits (the reference)");
    let first = initial(dofn, input)
        .map_err(|e| Violation::new("initial restriction", &case, e.to_string()))?;
    drain(dofn, input, first, &mut reference).map_err(|p| contract_violation(&case, p))?;
    // Splits land anywhere in a call that takes about as long as the reference run.
    let window = started.elapsed().max(Duration::from_micros(50));
    let expected = counts(&reference);
    let mut report = ConcurrentReport::default();

    for repetition in 0..options.repetitions {
        let seed = options.seed.wrapping_add(repetition);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut trail = Vec::new();
        let mut outputs = Vec::new();
        let case = |trail: &Vec<String>| format!("input {input:?}, seed {seed}{}", trail.join(""));
        let mut queue = vec![(
            initial(dofn, input)
                .map_err(|e| Violation::new("initial restriction", case(&trail), e.to_string()))?,
            0,
        )];
        while let Some((pending, level)) = queue.pop() {
            report.calls += 1;
            let restriction = format!("{:?}", pending.restriction);
            let watermark = pending.watermark.clone();
            let splits = if level < options.depth {
                options.splits_per_call
            } else {
                0
            };
            let (outcome, split_log) = std::thread::scope(|scope| {
                let (to, from) = mpsc::channel();
                let worker = scope.spawn(move || call(dofn, input, pending, None, Some(to)));
                let mut log = Vec::new();
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
                        log.push((fraction, block_on(handle.try_split(fraction))));
                    }
                }
                (worker.join(), log)
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
            for (fraction, reply) in split_log {
                report.requested += 1;
                match reply {
                    Ok(Some(split)) => {
                        report.splits += 1;
                        trail.push(format!(
                            "; {restriction} split at {fraction} into {:?} + {:?}",
                            split.primary, split.residual
                        ));
                        queue.push((
                            Pending {
                                restriction: split.residual,
                                watermark: watermark.clone(),
                            },
                            level + 1,
                        ));
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
