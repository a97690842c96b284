use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;

use sdf_core::Timestamp;
use sdf_core::testing::{TrackerFixture, check_tracker_contract};

use super::*;
use crate::file::FileMetadata;
use crate::matching::admission::Admission;
use crate::matching::relpath::RelPath;
use crate::matching::state::{Termination, WatchPolicy};
use crate::matching::storage::ListedFile;

/// A scripted directory: the listing of poll `n` is `script[n]` (the last one once past it).
struct ScriptFixture {
    script: Vec<Vec<(&'static str, i64)>>,
    policy: WatchPolicy,
}

impl ScriptFixture {
    fn new() -> Self {
        ScriptFixture {
            script: vec![
                vec![("a", 100), ("b", 110)],
                vec![("a", 100), ("b", 110), ("c", 150)],
                vec![("a", 100), ("b", 110), ("c", 150), ("d", 120)],
            ],
            policy: WatchPolicy {
                late_allowance: Duration::from_secs(60),
                admission: Admission::unlimited(),
                termination: Termination::AfterPollsWithoutNewFile(2),
                settle: Duration::ZERO,
                ..WatchPolicy::default()
            },
        }
    }

    fn round(&self, state: &WatchState) -> PollRound {
        let n = (state.polls() as usize).min(self.script.len() - 1);
        let listing = self.script[n].iter().map(|&(name, seconds)| {
            Ok::<_, Infallible>(ListedFile {
                rel: RelPath::from(name),
                file: FileMetadata {
                    path: PathBuf::from("/r").join(name),
                    size: 1,
                    modified: Timestamp::from_millis(seconds * 1000),
                },
            })
        });
        let now = Timestamp::from_millis((200 + state.polls() as i64) * 1000);
        state.poll(listing, now, &self.policy).unwrap()
    }

    /// The rounds of polling from `state` until the watch terminates.
    fn chain(&self, state: &WatchState) -> Vec<PollRound> {
        let mut rounds = vec![self.round(state)];
        while let Some(next) = rounds.last().and_then(|r| r.next.clone()) {
            rounds.push(self.round(&next));
        }
        rounds
    }
}

impl TrackerFixture for ScriptFixture {
    type Tracker = WatchTracker;

    fn new_tracker(&self, r: &WatchRestriction) -> WatchTracker {
        WatchTracker::new(r.clone())
    }

    fn positions(&self, r: &WatchRestriction) -> Vec<WatchPosition> {
        let rounds = match r {
            WatchRestriction::Polling(state) => self.chain(state),
            WatchRestriction::Replay { rounds, end } => match rounds.first() {
                None => Vec::new(),
                Some(first) => {
                    let mut all = vec![first.clone()];
                    if let Some(next) = &first.next {
                        all.extend(self.chain(next));
                    }
                    all.retain(|round| round.poll < *end);
                    all
                }
            },
            WatchRestriction::Done => Vec::new(),
        };
        rounds.into_iter().map(WatchPosition::Round).collect()
    }

    fn end_claim(&self, _: &WatchRestriction) -> Option<WatchPosition> {
        Some(WatchPosition::End)
    }

    fn is_dense(&self, _: &WatchRestriction) -> bool {
        true
    }
}

#[test]
fn the_fixture_polls_five_times() {
    let rounds = ScriptFixture::new().chain(&WatchState::new());
    let emitted: Vec<usize> = rounds.iter().map(|r| r.files.len()).collect();
    assert_eq!(emitted, [2, 1, 1, 0, 0]);
}

#[test]
fn the_watch_tracker_keeps_the_contract() {
    let fixture = ScriptFixture::new();
    let report =
        check_tracker_contract(&fixture, &WatchRestriction::Polling(WatchState::new())).unwrap();
    assert!(report.checkpoints > 10, "{report:?}");
    // A replay, as a retried call sees its primary.
    let rounds = fixture.chain(&WatchState::new());
    let replay = WatchRestriction::Replay {
        rounds: rounds[..3].to_vec(),
        end: 3,
    };
    check_tracker_contract(&fixture, &replay).unwrap();
}

#[test]
fn a_replay_refuses_a_different_round() {
    let fixture = ScriptFixture::new();
    let rounds = fixture.chain(&WatchState::new());
    let mut t = WatchTracker::new(WatchRestriction::Replay {
        rounds: rounds[..1].to_vec(),
        end: 1,
    });
    let mut other = rounds[0].clone();
    other.files.pop();
    let e = t.try_claim(WatchPosition::Round(other)).unwrap_err();
    assert!(
        e.to_string().contains("differs from the recorded one"),
        "{e}"
    );
}

#[test]
fn splits_are_checkpoints_and_restrictions_survive_json() {
    let fixture = ScriptFixture::new();
    let rounds = fixture.chain(&WatchState::new());
    let mut t = WatchTracker::new(WatchRestriction::Polling(WatchState::new()));
    assert!(
        t.try_claim(WatchPosition::Round(rounds[0].clone()))
            .unwrap()
    );
    let split = t.try_split(0.5).unwrap().unwrap();
    assert_eq!(
        split.residual,
        WatchRestriction::Polling(rounds[0].next.clone().unwrap())
    );
    for r in [split.primary, split.residual] {
        let back: WatchRestriction =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
    assert_eq!(t.check_done(), Ok(()));
}
