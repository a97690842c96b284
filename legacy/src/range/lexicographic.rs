//! [`LexicographicKeyRangeTracker`]: a legacy range tracker over byte-string keys.

use std::fmt;
use std::sync::{Mutex, MutexGuard};

use sdf_core::{ByteKey, ByteKeyRange, ByteKeyRangeTracker, RestrictionTracker};

use super::{RangeTracker, ReadState, SplitPoints, check_fraction};
use crate::error::RangeError;

/// A [`RangeTracker`] over keys of a sorted key-value store, ordered lexicographically (Beam
/// Python's `LexicographicKeyRangeTracker`).
///
/// The range is `[start, stop)`; an empty `start` means "from the first key", an empty `stop`
/// "to the last key". Every key read is a split point unless the reader says otherwise, with
/// the rules of every legacy tracker (see [`RangeTracker`]).
///
/// # Interpolation
///
/// Keys are read as base-256 fractions `0.b₁b₂b₃…` (an unbounded stop is `1`), so that
/// `position_at_fraction(f)` is `start + floor((stop − start) × f)`, exact, with the trailing
/// zero bytes trimmed; it is the arithmetic of sdf-core's
/// [`ByteKeyRangeTracker`](sdf_core::ByteKeyRangeTracker), and rounds down like the
/// [offset tracker](super::OffsetRangeTracker). `fraction_consumed` is the inverse: the
/// fraction of the range before the last key read.
///
/// ```
/// use sdf_core::ByteKey;
/// use sdf_legacy::range::LexicographicKeyRangeTracker;
/// use sdf_legacy::RangeTracker;
/// let t = LexicographicKeyRangeTracker::new(b"\x00", b"\x10")?;
/// assert_eq!(t.position_at_fraction(0.5)?, ByteKey::from(b"\x08"));
/// assert!(t.try_claim(b"\x04".into())?);
/// assert_eq!(t.fraction_consumed(), 0.25);
/// // Every key from "a" on: halfway is 0x61 + (0x100 − 0x61) / 2 = 0xb0, rounded down.
/// let all = LexicographicKeyRangeTracker::new("a", "")?;
/// assert_eq!(all.position_at_fraction(0.5)?, ByteKey::from(b"\xb0\x80"));
/// # Ok::<(), sdf_legacy::RangeError>(())
/// ```
pub struct LexicographicKeyRangeTracker {
    state: Mutex<State>,
}

struct State {
    start: ByteKey,
    stop: ByteKey,
    read: ReadState<ByteKey>,
}

impl State {
    fn range(&self) -> String {
        if self.stop.is_empty() {
            format!("[{:?}, +inf)", self.start)
        } else {
            format!("[{:?}, {:?})", self.start, self.stop)
        }
    }

    /// Whether `key` is before the stop (an empty stop is unbounded).
    fn before_stop(&self, key: &ByteKey) -> bool {
        self.stop.is_empty() || *key < self.stop
    }

    /// The range as sdf-core's key range, for its interpolation arithmetic.
    fn key_range(&self) -> Option<ByteKeyRange> {
        ByteKeyRange::try_new(self.start.clone(), self.stop.clone()).ok()
    }

    /// The fraction of the range before `key`.
    fn fraction_of(&self, key: &ByteKey) -> f64 {
        if key.is_empty() || *key <= self.start {
            return 0.0;
        }
        if !self.before_stop(key) {
            return 1.0;
        }
        let Some(range) = self.key_range() else {
            return 0.0;
        };
        let mut probe = ByteKeyRangeTracker::new(range);
        match probe.try_claim(key.clone()) {
            Ok(true) => probe.progress().completed,
            _ => 0.0,
        }
    }
}

impl LexicographicKeyRangeTracker {
    /// A tracker for `[start, stop)`; an empty `stop` is unbounded.
    pub fn new(start: impl Into<ByteKey>, stop: impl Into<ByteKey>) -> Result<Self, RangeError> {
        let (start, stop) = (start.into(), stop.into());
        if !stop.is_empty() && start > stop {
            return Err(RangeError::InvalidRange {
                start: format!("{start:?}"),
                stop: format!("{stop:?}"),
            });
        }
        Ok(LexicographicKeyRangeTracker {
            state: Mutex::new(State {
                start,
                stop,
                read: ReadState::new(),
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update is a single assignment: a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl RangeTracker for LexicographicKeyRangeTracker {
    type Position = ByteKey;

    fn start_position(&self) -> ByteKey {
        self.state().start.clone()
    }

    /// The stop; the empty key if the range is unbounded.
    fn stop_position(&self) -> ByteKey {
        self.state().stop.clone()
    }

    fn try_claim(&self, key: ByteKey) -> Result<bool, RangeError> {
        let mut s = self.state();
        s.read.check(&key, true, &s.start, || s.range())?;
        if !s.before_stop(&key) {
            s.read.done = true;
            return Ok(false);
        }
        s.read.claimed(key);
        Ok(true)
    }

    fn set_current_position(&self, key: ByteKey) -> Result<(), RangeError> {
        let mut s = self.state();
        s.read.check(&key, false, &s.start, || s.range())?;
        s.read.last = Some(key);
        Ok(())
    }

    /// The key at `fraction` of the range: the start for `0`, the stop for `1` (the empty key
    /// if unbounded), the start again where no key lies strictly between the bounds.
    fn position_at_fraction(&self, fraction: f64) -> Result<ByteKey, RangeError> {
        check_fraction(fraction)?;
        let s = self.state();
        if fraction == 1.0 {
            return Ok(s.stop.clone());
        }
        let Some(range) = s.key_range() else {
            return Ok(s.start.clone());
        };
        // A fresh tracker splits at exactly `start + floor((stop − start) × fraction)`.
        let split = ByteKeyRangeTracker::new(range)
            .try_split(fraction)
            .ok()
            .flatten();
        Ok(split.map_or_else(|| s.start.clone(), |split| split.residual.start().clone()))
    }

    fn try_split(&self, key: ByteKey) -> Option<(ByteKey, f64)> {
        let mut s = self.state();
        if s.read.is_consumed(&key) || key <= s.start || !s.before_stop(&key) {
            return None;
        }
        let fraction = s.fraction_of(&key);
        s.stop = key.clone();
        Some((key, fraction))
    }

    fn fraction_consumed(&self) -> f64 {
        let s = self.state();
        if s.read.done {
            return 1.0;
        }
        s.read.last.as_ref().map_or(0.0, |last| s.fraction_of(last))
    }

    fn last_consumed_position(&self) -> Option<ByteKey> {
        self.state().read.last.clone()
    }

    /// `consumed` counts the keys claimed before the current one; `remaining` is unknown.
    fn split_points(&self) -> SplitPoints {
        SplitPoints {
            consumed: Some(self.state().read.split_points_seen.saturating_sub(1)),
            remaining: None,
        }
    }
}

impl fmt::Debug for LexicographicKeyRangeTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state();
        write!(f, "LexicographicKeyRangeTracker({}", s.range())?;
        if let Some(last) = &s.read.last {
            write!(f, ", last record at {last:?}")?;
        }
        if s.read.done {
            f.write_str(", done")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(bytes: &[u8]) -> ByteKey {
        ByteKey::from(bytes)
    }

    #[test]
    fn position_at_fraction() {
        /// (name, start, stop, fraction, the key at the fraction)
        type Case = (
            &'static str,
            &'static [u8],
            &'static [u8],
            f64,
            &'static [u8],
        );
        let cases: &[Case] = &[
            ("zero is the start", b"a", b"z", 0.0, b"a"),
            ("one is the stop", b"a", b"z", 1.0, b"z"),
            (
                "halfway between single bytes",
                b"\x00",
                b"\x10",
                0.5,
                b"\x08",
            ),
            ("a common prefix carries through", b"k1", b"k3", 0.5, b"k2"),
            (
                "between adjacent keys, one byte deeper",
                b"k1",
                b"k2",
                0.5,
                b"k1\x80",
            ),
            ("from the first key", b"", b"\x80", 0.5, b"\x40"),
            ("to the last key", b"\x80", b"", 0.5, b"\xc0"),
            (
                "no key between a and a\\0: the start",
                b"a",
                b"a\x00",
                0.5,
                b"a",
            ),
        ];
        for &(name, start, stop, fraction, want) in cases {
            let t = LexicographicKeyRangeTracker::new(start, stop).unwrap();
            assert_eq!(t.position_at_fraction(fraction), Ok(key(want)), "{name}");
        }
        let t = LexicographicKeyRangeTracker::new("a", "b").unwrap();
        assert!(matches!(
            t.position_at_fraction(-1.0),
            Err(RangeError::InvalidFraction { .. })
        ));
    }

    #[test]
    fn claims_and_splits_follow_the_rules() {
        let t = LexicographicKeyRangeTracker::new("b", "").unwrap();
        assert!(matches!(
            t.try_claim(key(b"a")),
            Err(RangeError::BeforeStart { .. })
        ));
        assert!(t.try_claim(key(b"b")).unwrap());
        assert!(
            t.set_current_position(key(b"b")).is_ok(),
            "a non-split record at b"
        );
        assert!(matches!(
            t.try_claim(key(b"b")),
            Err(RangeError::DuplicateSplitPoint { .. })
        ));
        assert!(t.try_claim(key(b"c")).unwrap());
        assert_eq!(t.try_split(key(b"c")), None, "consumed");
        assert_eq!(
            t.try_split(key(b"")),
            None,
            "the empty key is before everything"
        );
        let (at, fraction) = t.try_split(key(b"c\x00")).unwrap();
        assert_eq!(at, key(b"c\x00"));
        assert!(fraction > 0.0 && fraction < 0.05, "{fraction}");
        assert!(
            !t.try_claim(key(b"c\x00")).unwrap(),
            "the residual's first key"
        );
        assert_eq!(t.fraction_consumed(), 1.0);
        assert_eq!(
            format!("{t:?}"),
            "LexicographicKeyRangeTracker([62, 6300), last record at 63, done)"
        );
    }

    #[test]
    fn fraction_consumed_interpolates_the_last_key() {
        let t = LexicographicKeyRangeTracker::new(b"\x00", b"\x10").unwrap();
        assert_eq!(t.fraction_consumed(), 0.0);
        t.try_claim(key(b"\x02")).unwrap();
        assert_eq!(t.fraction_consumed(), 0.125);
        t.set_current_position(key(b"\x0c")).unwrap();
        assert_eq!(t.fraction_consumed(), 0.75);
        assert_eq!(t.split_points().consumed, Some(0));
    }

    #[test]
    fn an_inverted_range_is_refused() {
        assert!(LexicographicKeyRangeTracker::new("b", "a").is_err());
        assert!(LexicographicKeyRangeTracker::new("b", "").is_ok());
    }
}
