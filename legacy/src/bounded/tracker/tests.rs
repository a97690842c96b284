use super::*;
use crate::examples::CountingSource;

fn whole(count: i64) -> SourceBundle<CountingSource> {
    SourceBundle::whole(CountingSource::new(count)).unwrap()
}

/// Claims and pulls `n` records, as `process` does; returns them.
fn read(
    tracker: &mut BoundedSourceTracker<CountingSource>,
    reader: &mut crate::SourceReader<'_, i64>,
    n: usize,
) -> Vec<i64> {
    let mut records = Vec::new();
    for _ in 0..n {
        assert!(tracker.try_claim(ReadStep::Next).unwrap());
        records.push(reader.next().unwrap().unwrap());
    }
    records
}

fn bounds(bundle: &SourceBundle<CountingSource>) -> (Option<i64>, Option<i64>, f64) {
    (bundle.start, bundle.stop, bundle.weight)
}

#[test]
fn a_checkpoint_resumes_at_the_next_unread_record() {
    let source = CountingSource::new(100);
    let mut tracker = BoundedSourceTracker::new(whole(100));
    assert!(tracker.try_claim(ReadStep::Next).unwrap());
    let mut reader = source
        .read(tracker.shared_range_tracker().unwrap())
        .unwrap();
    assert_eq!(reader.next().unwrap().unwrap(), 0);
    assert_eq!(
        read(&mut tracker, &mut reader, 41),
        (1..=41).collect::<Vec<_>>()
    );

    let split = tracker.try_split(0.0).unwrap().unwrap();
    assert_eq!(bounds(&split.primary), (None, Some(42), 42.0));
    assert_eq!(bounds(&split.residual), (Some(42), None, 58.0));
    assert_eq!(
        bounds(&tracker.current_restriction()),
        (None, Some(42), 42.0)
    );
    // The reader finds the range shrunk at its next claim, and the call ends.
    assert!(tracker.try_claim(ReadStep::Next).unwrap());
    assert!(reader.next().is_none());
    assert!(!tracker.try_claim(ReadStep::End).unwrap());
    tracker.check_done().unwrap();
    assert!(tracker.try_split(0.0).unwrap().is_none());
}

#[test]
fn a_checkpoint_before_the_first_claim_keeps_nothing() {
    let mut tracker = BoundedSourceTracker::new(whole(10));
    let split = tracker.try_split(0.0).unwrap().unwrap();
    assert_eq!(bounds(&split.residual), (None, None, 10.0));
    assert_eq!(bounds(&split.primary), (Some(1), Some(1), 0.0));
    let primary = Arc::new(split.primary.range_tracker().unwrap());
    assert_eq!(
        CountingSource::new(10).read(primary).unwrap().count(),
        0,
        "the primary reads nothing"
    );
    assert!(!tracker.try_claim(ReadStep::Next).unwrap());
    tracker.check_done().unwrap();
    assert!(tracker.try_split(0.0).unwrap().is_none());
}

#[test]
fn a_split_keeps_a_fraction_of_the_remaining_range() {
    struct Case {
        name: &'static str,
        read: usize,
        fraction: f64,
        split_at: Option<i64>,
    }
    let cases = [
        // consumed 19/100; 0.19 + 0.81 × 0.5 = 0.595 of [0, 100) is 59.5, rounded down.
        Case {
            name: "half of the rest",
            read: 20,
            fraction: 0.5,
            split_at: Some(59),
        },
        Case {
            name: "a tiny fraction is the next record",
            read: 20,
            fraction: 1e-9,
            split_at: Some(20),
        },
        Case {
            name: "before the first claim",
            read: 0,
            fraction: 0.25,
            split_at: Some(25),
        },
        Case {
            name: "a tiny fraction before the first claim",
            read: 0,
            fraction: 1e-9,
            split_at: None,
        },
        Case {
            name: "near the end of the rest",
            read: 98,
            fraction: 0.999,
            split_at: Some(99),
        },
        Case {
            name: "after the last record",
            read: 100,
            fraction: 0.5,
            split_at: None,
        },
        Case {
            name: "fraction one",
            read: 20,
            fraction: 1.0,
            split_at: None,
        },
    ];
    let source = CountingSource::new(100);
    for case in cases {
        let mut tracker = BoundedSourceTracker::new(whole(100));
        if case.read > 0 {
            assert!(tracker.try_claim(ReadStep::Next).unwrap());
            let mut reader = source
                .read(tracker.shared_range_tracker().unwrap())
                .unwrap();
            reader.next().unwrap().unwrap();
            read(&mut tracker, &mut reader, case.read - 1);
        }
        let split = tracker.try_split(case.fraction).unwrap();
        let got = split.as_ref().map(|s| s.residual.start.unwrap());
        assert_eq!(got, case.split_at, "{}", case.name);
        if let (Some(split), Some(at)) = (split, case.split_at) {
            let weights = (split.primary.weight, split.residual.weight);
            let want = (at as f64, 100.0 - at as f64);
            assert!(
                (weights.0 - want.0).abs() < 1e-9 && (weights.1 - want.1).abs() < 1e-9,
                "{}: weights {weights:?}",
                case.name
            );
        }
    }
}

#[test]
fn misuse_is_an_error() {
    let mut tracker = BoundedSourceTracker::new(whole(3));
    for fraction in [-0.1, 1.1, f64::NAN] {
        assert!(matches!(
            tracker.try_split(fraction),
            Err(TrackerError::InvalidFraction { .. })
        ));
    }
    assert!(
        tracker
            .check_done()
            .unwrap_err()
            .to_string()
            .contains("from its start"),
        "nothing was read yet"
    );
    assert!(!tracker.try_claim(ReadStep::End).unwrap());
    assert!(matches!(
        tracker.try_claim(ReadStep::Next),
        Err(TrackerError::ClaimAfterStop { .. })
    ));

    let inverted = SourceBundle::new(1.0, CountingSource::new(10), Some(5), Some(2));
    let err = BoundedSourceTracker::new(inverted)
        .try_claim(ReadStep::Next)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid restriction CountingSource(10)[5, 2) weight 1: the source cannot make a range \
         tracker for it: invalid range [5, 2): the start is after the stop; pass start <= stop"
    );
}

#[test]
fn progress_is_the_consumed_fraction_of_the_weight() {
    let source = CountingSource::new(100);
    let mut tracker = BoundedSourceTracker::new(whole(100));
    assert_eq!(tracker.progress(), Progress::new(0.0, 100.0));
    assert!(tracker.try_claim(ReadStep::Next).unwrap());
    let mut reader = source
        .read(tracker.shared_range_tracker().unwrap())
        .unwrap();
    reader.next().unwrap().unwrap();
    read(&mut tracker, &mut reader, 19);
    assert_eq!(tracker.progress(), Progress::new(19.0, 81.0));
    let unknown = SourceBundle::new(0.0, CountingSource::new(4), None, None);
    assert_eq!(
        BoundedSourceTracker::new(unknown).progress(),
        Progress::new(0.0, 1.0),
        "an unknown weight is reported in fractions of 1"
    );
}
