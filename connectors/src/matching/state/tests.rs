use std::convert::Infallible;
use std::path::PathBuf;

use super::*;
use crate::matching::admission::AdmissionOrder;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_millis(seconds * 1000)
}

fn file(rel: &str, seconds: i64, size: u64) -> Result<ListedFile, Infallible> {
    Ok(ListedFile {
        rel: RelPath::from(rel),
        file: FileMetadata {
            path: PathBuf::from("/r").join(rel),
            size,
            modified: at(seconds),
        },
    })
}

fn names(round: &PollRound) -> Vec<String> {
    round
        .files
        .iter()
        .map(|f| f.path.strip_prefix("/r").unwrap().display().to_string())
        .collect()
}

/// Every listed file complete (the settle rule has tests of its own below).
fn policy(allowance_s: u64) -> WatchPolicy {
    WatchPolicy {
        late_allowance: Duration::from_secs(allowance_s),
        admission: Admission::unlimited(),
        settle: Duration::ZERO,
        ..WatchPolicy::default()
    }
}

/// Polls `listing` from `state` at `now` and returns the names emitted and the next state.
fn poll(
    state: &WatchState,
    listing: Vec<Result<ListedFile, Infallible>>,
    now: i64,
    policy: &WatchPolicy,
) -> (Vec<String>, WatchState) {
    let round = state.poll(listing, at(now), policy).unwrap();
    (names(&round), round.next.expect("the watch goes on"))
}

#[test]
fn each_new_file_is_emitted_once() {
    let p = policy(60);
    let (first, s) = poll(
        &WatchState::new(),
        vec![file("a", 100, 1), file("b", 90, 1)],
        200,
        &p,
    );
    assert_eq!(first, ["b", "a"]);
    let (second, s) = poll(
        &s,
        vec![file("a", 100, 1), file("b", 90, 1), file("c", 150, 1)],
        201,
        &p,
    );
    assert_eq!(second, ["c"]);
    assert_eq!(s.cursor(), at(150));
    assert_eq!(s.horizon(p.late_allowance), at(90));
}

#[test]
fn the_late_file_rule_on_both_sides_of_the_horizon() {
    let p = policy(60);
    let (_, s) = poll(&WatchState::new(), vec![file("new", 1_000, 1)], 1_001, &p);
    assert_eq!(s.horizon(p.late_allowance), at(940));
    // At the horizon: caught. One second below it: never emitted.
    let listing = vec![
        file("new", 1_000, 1),
        file("at", 940, 1),
        file("below", 939, 1),
    ];
    let round = s.poll(listing, at(1_002), &p).unwrap();
    assert_eq!(names(&round), ["at"]);
    assert_eq!(round.below_horizon, 1);
}

#[test]
fn forgotten_files_and_files_that_keep_changing() {
    let p = policy(60);
    let (_, s) = poll(
        &WatchState::new(),
        vec![file("old", 100, 1), file("live", 100, 1)],
        100,
        &p,
    );
    // `live` keeps changing: its remembered time follows it, it is not emitted again.
    let (out, s) = poll(
        &s,
        vec![file("old", 100, 1), file("live", 150, 2), file("x", 170, 1)],
        170,
        &p,
    );
    assert_eq!(out, ["x"]);
    assert_eq!(s.remembered(), 2, "old is forgotten below the horizon 110");
    // `old` is modified again after being forgotten: bounded state sees a new file.
    let (out, _) = poll(&s, vec![file("old", 175, 3), file("live", 175, 2)], 176, &p);
    assert_eq!(out, ["old"]);
}

#[test]
fn updated_files_are_emitted_again_with_match_updated_files() {
    let p = WatchPolicy {
        match_updated_files: true,
        ..policy(60)
    };
    let (_, s) = poll(&WatchState::new(), vec![file("a", 100, 1)], 100, &p);
    let (out, s) = poll(&s, vec![file("a", 100, 1)], 101, &p);
    assert!(out.is_empty());
    let (out, _) = poll(&s, vec![file("a", 105, 2)], 106, &p);
    assert_eq!(out, ["a"]);
}

#[test]
fn admission_defers_without_forgetting() {
    let cases = [
        (
            "oldest first",
            AdmissionOrder::OldestFirst,
            vec!["f1", "f2"],
            vec!["f3", "f4"],
            300,
        ),
        (
            "newest first",
            AdmissionOrder::NewestFirst,
            vec!["f4", "f3"],
            vec!["f2", "f1"],
            100,
        ),
    ];
    for (case, order, first, second, oldest_deferred) in cases {
        let p = WatchPolicy {
            admission: Admission::unlimited().max_files(2).order(order),
            ..policy(10)
        };
        // Far apart in time: without the floor, newest-first would forget f1 and f2.
        let listing = || {
            vec![
                file("f1", 100, 1),
                file("f2", 200, 1),
                file("f3", 300, 1),
                file("f4", 400, 1),
            ]
        };
        let (out, s) = poll(&WatchState::new(), listing(), 500, &p);
        assert_eq!(out, first, "{case}");
        assert!(s.has_deferred(), "{case}");
        assert!(s.horizon(p.late_allowance) <= at(oldest_deferred), "{case}");
        let (out, s) = poll(&s, listing(), 501, &p);
        assert_eq!(out, second, "{case}");
        assert!(!s.has_deferred(), "{case}");
        let (out, _) = poll(&s, listing(), 502, &p);
        assert!(out.is_empty(), "{case}");
    }
}

#[test]
fn admission_by_bytes_always_admits_one() {
    let p = WatchPolicy {
        admission: Admission::unlimited().max_bytes(10),
        ..policy(60)
    };
    let listing = || vec![file("big", 100, 50), file("a", 101, 4), file("b", 102, 4)];
    let (out, s) = poll(&WatchState::new(), listing(), 200, &p);
    assert_eq!(out, ["big"]);
    let (out, _) = poll(&s, listing(), 201, &p);
    assert_eq!(out, ["a", "b"]);
}

#[test]
fn termination_conditions() {
    let idle = WatchPolicy {
        termination: Termination::AfterPollsWithoutNewFile(2),
        ..policy(60)
    };
    let (_, s) = poll(&WatchState::new(), vec![file("a", 1, 1)], 10, &idle);
    let (_, s) = poll(&s, vec![file("a", 1, 1)], 11, &idle);
    assert!(
        s.poll(vec![file("a", 1, 1)], at(12), &idle)
            .unwrap()
            .next
            .is_none()
    );
    let timed = WatchPolicy {
        termination: Termination::After(Duration::from_secs(30)),
        ..policy(60)
    };
    let (_, s) = poll(&WatchState::new(), vec![], 10, &timed);
    let (_, s) = poll(&s, vec![], 39, &timed);
    let last = s.poll(vec![file("late", 38, 1)], at(40), &timed).unwrap();
    assert_eq!(names(&last), ["late"], "the last poll still emits");
    assert!(last.next.is_none());
    assert_eq!(last.watermark(timed.late_allowance), Timestamp::MAX);
}

#[test]
fn termination_waits_for_deferred_files() {
    let p = WatchPolicy {
        termination: Termination::After(Duration::ZERO),
        admission: Admission::unlimited().max_files(1),
        ..policy(60)
    };
    let round = WatchState::new()
        .poll(vec![file("a", 1, 1), file("b", 2, 1)], at(10), &p)
        .unwrap();
    let next = round.next.expect("b is still deferred");
    assert!(
        next.poll(vec![file("a", 1, 1), file("b", 2, 1)], at(11), &p)
            .unwrap()
            .next
            .is_none()
    );
}

#[test]
fn the_cursor_never_passes_the_clock() {
    let p = policy(60);
    let (out, s) = poll(&WatchState::new(), vec![file("future", 10_000, 1)], 100, &p);
    assert_eq!(out, ["future"]);
    assert_eq!(s.cursor(), at(100));
    let (out, _) = poll(
        &s,
        vec![file("future", 10_000, 1), file("now", 99, 1)],
        101,
        &p,
    );
    assert_eq!(out, ["now"]);
}

#[test]
fn the_state_survives_json() {
    let p = policy(60);
    let (_, s) = poll(
        &WatchState::new(),
        vec![file("a", 100, 1), file("b/c", 101, 1)],
        102,
        &p,
    );
    let back: WatchState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back, s);
}

fn settling(settle_s: u64) -> WatchPolicy {
    WatchPolicy {
        settle: Duration::from_secs(settle_s),
        ..policy(60)
    }
}

#[test]
fn a_file_still_being_written_waits_until_it_holds_still() {
    let p = settling(2);
    // First seen at 100, growing: not emitted, remembered as settling.
    let (out, s) = poll(&WatchState::new(), vec![file("a", 100, 10)], 100, &p);
    assert!(out.is_empty());
    assert_eq!(s.settling(), 1);
    assert_eq!(s.settle_due(p.settle), Some(at(102)));
    let (out, s) = poll(&s, vec![file("a", 101, 20)], 101, &p);
    assert!(out.is_empty(), "it grew");
    let (out, s) = poll(&s, vec![file("a", 101, 20)], 102, &p);
    assert!(out.is_empty(), "unchanged for 1 s only");
    let (out, s) = poll(&s, vec![file("a", 101, 20)], 103, &p);
    assert_eq!(out, ["a"], "unchanged for 2 s");
    assert_eq!(s.settling(), 0);
    let (out, _) = poll(&s, vec![file("a", 101, 20)], 104, &p);
    assert!(out.is_empty(), "once");
}

#[test]
fn a_settling_file_is_never_forgotten_and_a_vanished_one_is_dropped() {
    let p = settling(1);
    let (_, s) = poll(&WatchState::new(), vec![file("slow", 100, 1)], 100, &p);
    // Newer files move the cursor far past the late allowance while `slow` keeps growing.
    let (out, s) = poll(&s, vec![file("slow", 150, 2), file("new", 300, 1)], 300, &p);
    assert!(out.is_empty());
    assert!(
        s.horizon(p.late_allowance) <= at(150),
        "held down by the settling file"
    );
    let (out, s) = poll(&s, vec![file("slow", 150, 2), file("new", 300, 1)], 301, &p);
    assert_eq!(out, ["slow", "new"]);
    let (_, s) = poll(&s, vec![file("gone", 400, 1)], 400, &p);
    let (_, s) = poll(&s, vec![], 401, &p);
    assert_eq!(
        s.settling(),
        0,
        "a file deleted while settling is not waited for"
    );
}

#[test]
fn a_file_known_complete_and_objects_need_no_settle_time() {
    let p = settling(5);
    let round = WatchState::new()
        .poll_notified(
            vec![file("closed", 100, 1), file("open", 100, 1)],
            at(100),
            &p,
            |f| f.path.ends_with("closed"),
        )
        .unwrap();
    assert_eq!(names(&round), ["closed"]);
    let object = Ok::<_, Infallible>(ListedFile {
        rel: RelPath::from("a.csv"),
        file: FileMetadata {
            path: PathBuf::from("s3://bucket/a.csv"),
            size: 1,
            modified: at(100),
        },
    });
    let round = WatchState::new().poll(vec![object], at(100), &p).unwrap();
    assert_eq!(round.files.len(), 1, "an upload appears whole");
}

#[test]
fn termination_waits_for_settling_files() {
    let p = WatchPolicy {
        termination: Termination::AfterPollsWithoutNewFile(1),
        ..settling(1)
    };
    let round = WatchState::new()
        .poll(vec![file("a", 100, 1)], at(100), &p)
        .unwrap();
    let s = round.next.expect("a settling file keeps the watch going");
    let round = s.poll(vec![file("a", 100, 1)], at(101), &p).unwrap();
    assert_eq!(names(&round), ["a"]);
}

#[test]
fn files_modified_after_they_were_emitted_are_counted_not_emitted() {
    let p = policy(60);
    let (_, s) = poll(&WatchState::new(), vec![file("a", 100, 1)], 100, &p);
    let round = s.poll(vec![file("a", 100, 1)], at(101), &p).unwrap();
    assert_eq!(round.changed_after_emit, 0);
    let round = s.poll(vec![file("a", 102, 5)], at(103), &p).unwrap();
    assert!(round.files.is_empty(), "read once");
    assert_eq!(round.changed_after_emit, 1);
    assert_eq!(round.first_changed, Some(Box::new(PathBuf::from("/r/a"))));
}
