//! Watermark estimators: how a `process` call reports the lower bound on the event times of its
//! future output.
//!
//! # Policy: a watermark never goes backwards
//!
//! All three estimators keep their watermark monotonic, restored from serialized state on
//! resume. What happens on an attempt to move it back depends on who made it:
//! - [`ManualWatermarkEstimator::set_watermark`] is a statement by the DoFn; a regression is a
//!   bug in the DoFn, so it returns [`WatermarkError::Regression`] and keeps the current value.
//! - [`MonotonicWatermarkEstimator`] observes output timestamps; out-of-order output is normal,
//!   so an earlier timestamp is ignored (the watermark is the maximum seen).
//! - [`WallTimeWatermarkEstimator`] follows a clock; a clock that steps back is ignored.

use std::fmt::Debug;
use std::sync::Arc;

use serde::{Serialize, de::DeserializeOwned};

use crate::error::WatermarkError;
use crate::time::Timestamp;

/// Tracks the output watermark of one restriction while it is processed.
///
/// # Contract
/// - `current_watermark()` never decreases, including across a save ([`state`](Self::state))
///   and a restore ([`from_state`](Self::from_state)).
/// - `state()` does not change the estimator.
pub trait WatermarkEstimator: Send + 'static {
    /// What is saved with a residual and restores the estimator on resume.
    type State: Clone + Debug + Default + Send + Sync + Serialize + DeserializeOwned + 'static;

    /// Rebuilds an estimator from saved state.
    fn from_state(state: Self::State) -> Self;

    /// The current watermark.
    fn current_watermark(&self) -> Timestamp;

    /// The state to save with a residual.
    fn state(&self) -> Self::State;

    /// Called by the runner when a `process` call returns, with the largest event timestamp the
    /// call emitted (before any checkpoint of the call is taken). During the call the estimator
    /// has not seen that call's output yet. The default ignores it.
    fn observe_timestamp(&mut self, _timestamp: Timestamp) {}
}

/// A watermark the DoFn sets itself, e.g. from a source's own notion of event-time progress.
///
/// ```
/// use sdf_core::{ManualWatermarkEstimator, Timestamp, WatermarkEstimator};
/// let mut w = ManualWatermarkEstimator::from_state(Timestamp::MIN);
/// w.set_watermark(Timestamp::from_millis(10))?;
/// assert!(w.set_watermark(Timestamp::from_millis(5)).is_err()); // regression: refused
/// assert_eq!(w.current_watermark(), Timestamp::from_millis(10));
/// # Ok::<(), sdf_core::WatermarkError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ManualWatermarkEstimator {
    watermark: Timestamp,
}

impl ManualWatermarkEstimator {
    /// Moves the watermark to `watermark`. A value below the current one is refused with
    /// [`WatermarkError::Regression`] and the current value is kept.
    pub fn set_watermark(&mut self, watermark: Timestamp) -> Result<(), WatermarkError> {
        if watermark < self.watermark {
            return Err(WatermarkError::Regression {
                current: self.watermark,
                proposed: watermark,
            });
        }
        self.watermark = watermark;
        Ok(())
    }
}

impl WatermarkEstimator for ManualWatermarkEstimator {
    type State = Timestamp;

    fn from_state(state: Timestamp) -> Self {
        ManualWatermarkEstimator { watermark: state }
    }

    fn current_watermark(&self) -> Timestamp {
        self.watermark
    }

    fn state(&self) -> Timestamp {
        self.watermark
    }
}

/// The watermark is the largest event timestamp of the output so far: right for DoFns that emit
/// in roughly increasing event time (tailing a log). Out-of-order timestamps are ignored.
///
/// ```
/// use sdf_core::{MonotonicWatermarkEstimator, Timestamp, WatermarkEstimator};
/// let mut w = MonotonicWatermarkEstimator::from_state(Timestamp::MIN);
/// w.observe_timestamp(Timestamp::from_millis(7));
/// w.observe_timestamp(Timestamp::from_millis(3)); // late record: ignored
/// assert_eq!(w.current_watermark(), Timestamp::from_millis(7));
/// ```
#[derive(Debug, Clone)]
pub struct MonotonicWatermarkEstimator {
    watermark: Timestamp,
}

impl WatermarkEstimator for MonotonicWatermarkEstimator {
    type State = Timestamp;

    fn from_state(state: Timestamp) -> Self {
        MonotonicWatermarkEstimator { watermark: state }
    }

    fn current_watermark(&self) -> Timestamp {
        self.watermark
    }

    fn state(&self) -> Timestamp {
        self.watermark
    }

    fn observe_timestamp(&mut self, timestamp: Timestamp) {
        self.watermark = self.watermark.max(timestamp);
    }
}

/// A clock for [`WallTimeWatermarkEstimator`]; tests pass a fake one.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// The watermark is the wall-clock time at which it is read: right for sources whose records
/// are stamped with their arrival time.
///
/// ```
/// use sdf_core::{Timestamp, WallTimeWatermarkEstimator, WatermarkEstimator};
/// let w = WallTimeWatermarkEstimator::from_state(Timestamp::MIN);
/// assert!(w.current_watermark() > Timestamp::from_millis(1_600_000_000_000));
/// ```
pub struct WallTimeWatermarkEstimator {
    floor: std::sync::atomic::AtomicI64,
    clock: Arc<dyn Clock>,
}

impl WallTimeWatermarkEstimator {
    /// An estimator on `clock` that starts at `state`.
    pub fn with_clock(state: Timestamp, clock: Arc<dyn Clock>) -> Self {
        WallTimeWatermarkEstimator {
            floor: std::sync::atomic::AtomicI64::new(state.as_micros()),
            clock,
        }
    }
}

impl Debug for WallTimeWatermarkEstimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WallTimeWatermarkEstimator")
            .field("watermark", &self.current_watermark())
            .finish()
    }
}

impl WatermarkEstimator for WallTimeWatermarkEstimator {
    type State = Timestamp;

    fn from_state(state: Timestamp) -> Self {
        Self::with_clock(state, Arc::new(SystemClock))
    }

    /// `max(the highest value reported so far, now)`: a clock stepping back is ignored.
    fn current_watermark(&self) -> Timestamp {
        use std::sync::atomic::Ordering::Relaxed;
        let now = self.clock.now().as_micros();
        let previous = self.floor.fetch_max(now, Relaxed);
        Timestamp::from_micros(previous.max(now))
    }

    fn state(&self) -> Timestamp {
        self.current_watermark()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    struct FakeClock(AtomicI64);
    impl Clock for FakeClock {
        fn now(&self) -> Timestamp {
            Timestamp::from_micros(self.0.load(Ordering::Relaxed))
        }
    }

    #[test]
    fn manual_refuses_regression_and_survives_restore() {
        let mut w = ManualWatermarkEstimator::from_state(Timestamp::from_micros(100));
        let err = w.set_watermark(Timestamp::from_micros(99)).unwrap_err();
        assert!(err.to_string().contains("regression"), "{err}");
        w.set_watermark(Timestamp::from_micros(150)).unwrap();
        let restored = ManualWatermarkEstimator::from_state(w.state());
        assert_eq!(restored.current_watermark(), Timestamp::from_micros(150));
        w.set_watermark(Timestamp::from_micros(150)).unwrap();
    }

    #[test]
    fn monotonic_takes_the_maximum_and_restores() {
        let mut w = MonotonicWatermarkEstimator::from_state(Timestamp::from_micros(10));
        w.observe_timestamp(Timestamp::from_micros(5));
        assert_eq!(w.current_watermark(), Timestamp::from_micros(10));
        w.observe_timestamp(Timestamp::from_micros(20));
        let restored = MonotonicWatermarkEstimator::from_state(w.state());
        assert_eq!(restored.current_watermark(), Timestamp::from_micros(20));
    }

    #[test]
    fn wall_time_ignores_a_clock_stepping_back() {
        let clock = Arc::new(FakeClock(AtomicI64::new(1_000)));
        let w = WallTimeWatermarkEstimator::with_clock(Timestamp::from_micros(500), clock.clone());
        assert_eq!(w.current_watermark(), Timestamp::from_micros(1_000));
        clock.0.store(800, Ordering::Relaxed);
        assert_eq!(w.current_watermark(), Timestamp::from_micros(1_000));
        let restored = WallTimeWatermarkEstimator::with_clock(w.state(), clock.clone());
        assert_eq!(restored.current_watermark(), Timestamp::from_micros(1_000));
        clock.0.store(2_000, Ordering::Relaxed);
        assert_eq!(restored.current_watermark(), Timestamp::from_micros(2_000));
    }

    #[test]
    fn state_restores_from_json() {
        let json = serde_json::to_string(&Timestamp::from_micros(42)).unwrap();
        let state: Timestamp = serde_json::from_str(&json).unwrap();
        assert_eq!(
            ManualWatermarkEstimator::from_state(state).current_watermark(),
            Timestamp::from_micros(42)
        );
    }
}
