//! [`Position`]: what a [`RangeTracker`](crate::RangeTracker) ranges over, and the exact
//! fraction arithmetic the offset tracker shares.

use std::fmt::Debug;

use sdf_core::ByteKey;

/// A position in a position-based source: a byte offset, a record number, a key.
///
/// Positions are totally ordered. A split may happen only at an *unconsumed* position; the
/// smallest one is the [`successor`](Self::successor) of the last consumed position, which is
/// where a checkpoint splits ("after returning a record at 42, the earliest split is 43").
pub trait Position: Clone + Ord + Debug + Send + Sync + 'static {
    /// The smallest position greater than `self`, or `None` if `self` is the largest.
    ///
    /// ```
    /// use sdf_core::ByteKey;
    /// use sdf_legacy::Position;
    /// assert_eq!(41_i64.successor(), Some(42));
    /// assert_eq!(i64::MAX.successor(), None);
    /// assert_eq!(ByteKey::from("a").successor(), Some(ByteKey::from(b"a\0")));
    /// ```
    fn successor(&self) -> Option<Self>;
}

impl Position for i64 {
    fn successor(&self) -> Option<Self> {
        self.checked_add(1)
    }
}

impl Position for u64 {
    fn successor(&self) -> Option<Self> {
        self.checked_add(1)
    }
}

impl Position for ByteKey {
    fn successor(&self) -> Option<Self> {
        Some(self.next())
    }
}

/// The exact split arithmetic, shared with sdf-core's trackers.
pub(crate) use sdf_core::floor_fraction as floor_mul;

#[cfg(test)]
mod tests {
    use super::floor_mul;

    #[test]
    fn decimal_fractions_multiply_exactly() {
        // In binary 0.7 is 0.6999…; read as a decimal it is seven tenths.
        assert_eq!(floor_mul(70, 0.7), 49);
        assert_eq!(floor_mul(10, 0.1), 1);
        assert_eq!(floor_mul(3, 1.0 / 3.0), 0);
        assert_eq!(floor_mul(1 << 64, 0.5), 1 << 63);
    }

    #[test]
    fn bounds_and_tiny_fractions() {
        assert_eq!(floor_mul(10, 0.0), 0);
        assert_eq!(floor_mul(10, 1.0), 10);
        assert_eq!(floor_mul(1 << 64, 5e-324), 0);
        assert_eq!(floor_mul(1 << 64, f64::NAN), 0);
    }
}
