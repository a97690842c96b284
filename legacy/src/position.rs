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

/// `floor(span × fraction)` for `fraction` in `[0, 1]`, exactly: the fraction is read as its
/// shortest decimal representation (`0.7` is seven tenths), as `sdf-core`'s split arithmetic
/// reads it, and the product is taken in 128-bit integers. `span` may be up to `2^64`.
pub(crate) fn floor_mul(span: u128, fraction: f64) -> u128 {
    if fraction >= 1.0 {
        return span;
    }
    if fraction <= 0.0 || fraction.is_nan() {
        return 0;
    }
    // `Display` for f64 prints the shortest digits that round-trip, never in exponent form.
    let text = fraction.to_string();
    let digits = text.split_once('.').map_or("", |(_, d)| d);
    let numerator = digits
        .bytes()
        .fold(0u128, |n, b| n * 10 + u128::from(b - b'0'));
    // The numerator has at most 17 significant digits (< 2^57) and span <= 2^64: no overflow.
    match u32::try_from(digits.len())
        .ok()
        .and_then(|e| 10u128.checked_pow(e))
    {
        Some(denominator) => span * numerator / denominator,
        // 10^exponent exceeds 2^128, and so the product: the quotient is zero.
        None => 0,
    }
}

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
