//! [`WatchTracker`]: Beam's `GrowthTracker` for a continuous match. A poll's round is claimed as
//! one position; every split is a checkpoint after the last claimed round.

use sdf_core::{Progress, RestrictionTracker, SplitResult, TrackerError};
use serde::{Deserialize, Serialize};

use super::state::{PollRound, WatchState};

/// The work of a continuous match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatchRestriction {
    /// Poll from this state, again and again, until the watch terminates. Its positions are the
    /// rounds of the polls from the state on, numbered from [`WatchState::polls`].
    Polling(WatchState),
    /// Rounds an earlier call claimed, up to poll number `end` (exclusive): emitted again,
    /// exactly, if that call is retried (Beam's `NonPollingGrowthState`).
    Replay {
        /// The claimed rounds, in poll order.
        rounds: Vec<PollRound>,
        /// One past the last poll number of this restriction.
        end: u64,
    },
    /// No work (the primary of a checkpoint taken before any claim).
    Done,
}

/// What a continuous match claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchPosition {
    /// One poll's round.
    Round(PollRound),
    /// "Nothing more": always refused, ends the call.
    End,
}

/// Tracks the rounds a continuous-match call claims.
///
/// - Claims: rounds with increasing poll numbers; a round of a [`Replay`](WatchRestriction::Replay)
///   must be the recorded one. [`End`](WatchPosition::End), a round past a terminal round or
///   past a replay's end is refused.
/// - Splits: any fraction below 1 is a checkpoint. Before a claim: primary
///   [`Done`](WatchRestriction::Done), residual everything. After claims: primary
///   `Replay { the claimed rounds }`, residual `Polling(state after the last round)`, or
///   nothing when that round terminated the watch.
/// - Progress: rounds claimed, and `1` remaining while polls remain (unknown, not zero).
///
/// ```
/// use sdf_connectors::{WatchPosition, WatchRestriction, WatchState, WatchTracker, WatchPolicy};
/// use sdf_core::{RestrictionTracker, Timestamp};
/// let policy = WatchPolicy::default();
/// let round = WatchState::new()
///     .poll(Vec::<Result<_, ()>>::new(), Timestamp::from_millis(1), &policy)
///     .unwrap();
/// let next = round.next.clone().unwrap();
/// let mut t = WatchTracker::new(WatchRestriction::Polling(WatchState::new()));
/// assert!(t.try_claim(WatchPosition::Round(round.clone()))?);
/// let split = t.try_split(0.0)?.unwrap();
/// assert_eq!(split.primary, WatchRestriction::Replay { rounds: vec![round], end: 1 });
/// assert_eq!(split.residual, WatchRestriction::Polling(next));
/// # Ok::<(), sdf_core::TrackerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct WatchTracker {
    restriction: WatchRestriction,
    claimed: Vec<PollRound>,
    last: Option<u64>,
    stopped: bool,
}

impl WatchTracker {
    /// A tracker for `restriction`, nothing claimed.
    pub fn new(restriction: WatchRestriction) -> Self {
        WatchTracker {
            restriction,
            claimed: Vec::new(),
            last: None,
            stopped: false,
        }
    }

    /// The rounds claimed so far.
    pub fn claimed(&self) -> &[PollRound] {
        &self.claimed
    }

    fn first_poll(&self) -> Option<u64> {
        match &self.restriction {
            WatchRestriction::Polling(state) => Some(state.polls()),
            WatchRestriction::Replay { rounds, .. } => rounds.first().map(|r| r.poll),
            WatchRestriction::Done => None,
        }
    }

    /// Whether a claim of `round` is within the restriction (`Ok(false)`: past its end).
    fn admits(&self, round: &PollRound) -> Result<bool, TrackerError> {
        match &self.restriction {
            WatchRestriction::Done => Ok(false),
            WatchRestriction::Polling(_) => {
                Ok(self.claimed.last().is_none_or(|r| r.next.is_some()))
            }
            WatchRestriction::Replay { rounds, end } => {
                if round.poll >= *end {
                    return Ok(false);
                }
                match rounds.iter().find(|r| r.poll == round.poll) {
                    Some(recorded) if recorded != round => Err(TrackerError::InvalidRestriction {
                        restriction: format!("replay of poll {}", round.poll),
                        reason: "the claimed round differs from the recorded one: a replay \
                                 claims the rounds of its restriction, unchanged"
                            .into(),
                    }),
                    _ => Ok(true),
                }
            }
        }
    }

    /// Whether nothing is left to claim.
    fn is_done(&self) -> bool {
        self.stopped
            || match &self.restriction {
                WatchRestriction::Done => true,
                WatchRestriction::Polling(_) => {
                    self.claimed.last().is_some_and(|r| r.next.is_none())
                }
                WatchRestriction::Replay { end, .. } => self.last.is_some_and(|l| l + 1 >= *end),
            }
    }
}

impl RestrictionTracker for WatchTracker {
    type Restriction = WatchRestriction;
    type Position = WatchPosition;

    fn try_claim(&mut self, position: WatchPosition) -> Result<bool, TrackerError> {
        if self.stopped {
            return Err(TrackerError::ClaimAfterStop {
                position: describe(&position),
            });
        }
        let WatchPosition::Round(round) = position else {
            self.stopped = true;
            return Ok(false);
        };
        if let Some(last) = self.last
            && round.poll <= last
        {
            return Err(TrackerError::ClaimNotIncreasing {
                position: format!("poll {}", round.poll),
                last_attempted: format!("poll {last}"),
            });
        }
        if self.first_poll().is_some_and(|first| round.poll < first) {
            return Err(TrackerError::ClaimBeforeStart {
                position: format!("poll {}", round.poll),
                restriction: describe_restriction(&self.restriction),
            });
        }
        let admitted = self.admits(&round)?;
        self.last = Some(round.poll);
        if admitted {
            self.claimed.push(round);
        } else {
            self.stopped = true;
        }
        Ok(admitted)
    }

    fn try_split(
        &mut self,
        fraction: f64,
    ) -> Result<Option<SplitResult<WatchRestriction>>, TrackerError> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(TrackerError::InvalidFraction { fraction });
        }
        if fraction == 1.0 || self.is_done() {
            return Ok(None);
        }
        let Some(last) = self.claimed.last() else {
            let residual = std::mem::replace(&mut self.restriction, WatchRestriction::Done);
            return Ok(Some(SplitResult {
                primary: WatchRestriction::Done,
                residual,
            }));
        };
        let end = last.poll + 1;
        let residual = match &self.restriction {
            WatchRestriction::Polling(_) => match &last.next {
                Some(next) => WatchRestriction::Polling(next.clone()),
                None => return Ok(None),
            },
            WatchRestriction::Replay { rounds, end: old } => {
                let rest: Vec<PollRound> =
                    rounds.iter().filter(|r| r.poll >= end).cloned().collect();
                if rest.is_empty() {
                    return Ok(None);
                }
                WatchRestriction::Replay {
                    rounds: rest,
                    end: *old,
                }
            }
            WatchRestriction::Done => return Ok(None),
        };
        let primary = WatchRestriction::Replay {
            rounds: self.claimed.clone(),
            end,
        };
        self.restriction = primary.clone();
        Ok(Some(SplitResult { primary, residual }))
    }

    fn current_restriction(&self) -> WatchRestriction {
        self.restriction.clone()
    }

    fn check_done(&self) -> Result<(), TrackerError> {
        if self.is_done() {
            return Ok(());
        }
        let unclaimed = match (&self.restriction, self.last) {
            (WatchRestriction::Polling(_), Some(last)) => format!("the polls after poll {last}"),
            (WatchRestriction::Polling(state), None) => {
                format!("the polls from poll {}", state.polls())
            }
            (_, last) => format!("the recorded rounds after {last:?}"),
        };
        Err(TrackerError::NotDone {
            restriction: describe_restriction(&self.restriction),
            unclaimed,
        })
    }

    fn progress(&self) -> Progress {
        let completed = self.claimed.len() as f64;
        if self.is_done() {
            return Progress::new(completed, 0.0);
        }
        let remaining = match &self.restriction {
            WatchRestriction::Replay { rounds, .. } => {
                let after = self.last.map_or(0, |l| l + 1);
                rounds.iter().filter(|r| r.poll >= after).count() as f64
            }
            _ => 1.0,
        };
        Progress::new(completed, remaining)
    }

    fn is_bounded(&self) -> bool {
        !matches!(self.restriction, WatchRestriction::Polling(_)) || self.is_done()
    }
}

fn describe(position: &WatchPosition) -> String {
    match position {
        WatchPosition::Round(round) => format!("poll {}", round.poll),
        WatchPosition::End => "End".into(),
    }
}

fn describe_restriction(restriction: &WatchRestriction) -> String {
    match restriction {
        WatchRestriction::Polling(state) => format!("Polling(from poll {})", state.polls()),
        WatchRestriction::Replay { rounds, end } => {
            let polls: Vec<u64> = rounds.iter().map(|r| r.poll).collect();
            format!("Replay(polls {polls:?}, end {end})")
        }
        WatchRestriction::Done => "Done".into(),
    }
}

#[cfg(test)]
mod tests;
