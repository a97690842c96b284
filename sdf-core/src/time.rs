//! [`Timestamp`]: event time, in microseconds since the Unix epoch.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// An event-time instant: microseconds since the Unix epoch, as in Beam.
///
/// [`Timestamp::MIN`] and [`Timestamp::MAX`] stand for −∞ and +∞: a watermark at `MIN` says
/// nothing yet, one at `MAX` says no more output will come.
///
/// ```
/// use sdf_core::Timestamp;
/// let t = Timestamp::from_millis(1_500);
/// assert_eq!(t.as_micros(), 1_500_000);
/// assert!(Timestamp::MIN < t && t < Timestamp::MAX);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// −∞: before every event.
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    /// +∞: after every event; a watermark here means the stream is complete.
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    /// From microseconds since the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    /// From milliseconds since the epoch (saturating).
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis.saturating_mul(1000))
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// From a system time (saturating at the bounds).
    pub fn from_system_time(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Timestamp(i64::try_from(after.as_micros()).unwrap_or(i64::MAX)),
            Err(before) => {
                Timestamp(i64::try_from(before.duration().as_micros()).map_or(i64::MIN, |m| -m))
            }
        }
    }

    /// The current wall-clock time.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// `self + duration`, saturating at [`Timestamp::MAX`].
    pub fn saturating_add(self, duration: Duration) -> Self {
        let micros = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(micros))
    }

    /// `self - duration`, saturating at [`Timestamp::MIN`].
    pub fn saturating_sub(self, duration: Duration) -> Self {
        let micros = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_sub(micros))
    }
}

/// The default is [`Timestamp::MIN`] (−∞): a watermark that says nothing yet.
///
/// ```
/// assert_eq!(sdf_core::Timestamp::default(), sdf_core::Timestamp::MIN);
/// ```
impl Default for Timestamp {
    fn default() -> Self {
        Timestamp::MIN
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Timestamp::MIN => f.write_str("Timestamp(-inf)"),
            Timestamp::MAX => f.write_str("Timestamp(+inf)"),
            Timestamp(micros) => write!(f, "Timestamp({micros}us)"),
        }
    }
}
