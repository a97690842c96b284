//! Split policy: *when* and *how much* to split. Trackers (the mechanism, in `sdf-core`) only
//! compute splits; every decision of the runtime about splitting is in this module.

use sdf_core::{Progress, TrackerSnapshot};

/// The desired size of the pieces an element's restriction is cut into up front.
///
/// `total_seen` is the size of every restriction seen so far by the stage, this one included:
/// a stage reading one big file cuts it into `workers × pieces_per_worker` pieces, and a stage
/// reading many small files leaves them whole. Dynamic rebalancing evens out what remains.
pub(crate) fn desired_piece_size(total_seen: f64, workers: usize, pieces_per_worker: usize) -> f64 {
    let pieces = (workers * pieces_per_worker).max(1) as f64;
    (total_seen / pieces).max(1.0)
}

/// Which running call an idle worker should split, and at what fraction.
///
/// The victim is the call with the most remaining work that has claimed at least once (a split
/// before the first claim makes no progress: Beam PR #32044) and whose remaining work is finite
/// and more than one unit. The fraction keeps `1 / (idle + 1)` of the remainder in the primary:
/// with one idle worker the remainder is halved; with `k`, the residual is split again by the
/// others, so the work divides evenly.
pub(crate) fn choose_victim<R>(
    running: &[(u64, TrackerSnapshot<R>)],
    idle: usize,
) -> Option<(u64, f64)> {
    running
        .iter()
        .filter(|(_, s)| s.claims > 0 && worth_splitting(s.progress))
        .max_by(|a, b| a.1.progress.remaining.total_cmp(&b.1.progress.remaining))
        .map(|(id, _)| (*id, 1.0 / (idle.max(1) as f64 + 1.0)))
}

fn worth_splitting(progress: Progress) -> bool {
    progress.remaining.is_finite() && progress.remaining > 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(remaining: f64, claims: u64) -> TrackerSnapshot<()> {
        TrackerSnapshot {
            restriction: (),
            progress: Progress::new(1.0, remaining),
            claims,
            bounded: true,
        }
    }

    #[test]
    fn victim_is_the_largest_remainder_that_has_claimed() {
        let running = vec![
            (1, snapshot(50.0, 3)),
            (2, snapshot(900.0, 0)),
            (3, snapshot(400.0, 1)),
        ];
        assert_eq!(choose_victim(&running, 1), Some((3, 0.5)));
    }

    #[test]
    fn nothing_worth_splitting() {
        let running = vec![
            (1, snapshot(1.0, 3)),
            (2, snapshot(f64::INFINITY, 5)),
            (3, snapshot(0.0, 9)),
        ];
        assert_eq!(choose_victim(&running, 1), None);
    }

    #[test]
    fn fraction_divides_among_the_idle() {
        let running = vec![(7, snapshot(300.0, 1))];
        assert_eq!(choose_victim(&running, 2), Some((7, 1.0 / 3.0)));
    }

    #[test]
    fn piece_size_follows_what_was_seen() {
        assert_eq!(desired_piece_size(8_000.0, 2, 4), 1_000.0);
        assert_eq!(desired_piece_size(0.0, 2, 4), 1.0);
    }
}
