//! Exact split arithmetic shared by the offset trackers.
//!
//! A split position is `cur + max(1, floor((end - cur) × fraction))`. The product is computed
//! exactly: the `f64` fraction is read as its shortest decimal representation (`0.7` is exactly
//! seven tenths, as Beam Java's `BigDecimal.valueOf(double)` reads it), and the multiplication
//! and floor are done in 128-bit integers. There is no overflow anywhere in `i64`, and no
//! floating-point rounding can move a split by one.

/// `max(1, floor(span × fraction))` for `span >= 0` and `fraction` in `[0, 1]`, exactly.
///
/// `span` may be as large as `2^64` (a whole `i64` range plus one).
pub(crate) fn step(span: u128, fraction: f64) -> u128 {
    debug_assert!((0.0..=1.0).contains(&fraction));
    floor_mul(span, fraction).max(1)
}

/// `floor(span × fraction)`, exactly, for a span of up to `2^64` and a fraction in `[0, 1]`
/// (below 0 or NaN counts as 0, above 1 as 1): the split arithmetic of every tracker here, for
/// connectors that map fractions to positions of their own.
///
/// The fraction is read as its shortest decimal representation, as Beam Java's
/// `BigDecimal.valueOf(double)` reads it, and the product is taken in 128-bit integers: no
/// floating-point error moves the result.
///
/// ```
/// use sdf_core::floor_fraction;
/// assert_eq!(floor_fraction(70, 0.7), 49); // 0.7 is seven tenths, not 0.69999…
/// assert_eq!(floor_fraction(1 << 64, 0.5), 1 << 63);
/// ```
pub fn floor_fraction(span: u128, fraction: f64) -> u128 {
    floor_mul(span, fraction)
}

pub(crate) fn floor_mul(span: u128, fraction: f64) -> u128 {
    if fraction >= 1.0 {
        return span;
    }
    if fraction <= 0.0 {
        return 0;
    }
    let (numerator, exponent) = decimal(fraction);
    // numerator < 10^17 < 2^57 and span <= 2^64, so the product fits in u128 (< 2^121).
    let product = span * u128::from(numerator);
    match 10u128.checked_pow(exponent) {
        Some(denominator) => product / denominator,
        // 10^exponent > 2^128 > product: the quotient is zero.
        None => 0,
    }
}

/// The shortest decimal representation of `fraction` in `(0, 1)` as `numerator / 10^exponent`;
/// `numerator < 10^17`. Shared by every tracker that splits by a fraction.
pub(crate) fn decimal(fraction: f64) -> (u64, u32) {
    // `Display` for f64 prints the shortest digits that round-trip, never in exponent form.
    let text = fraction.to_string();
    let digits = text.split_once('.').map_or("", |(_, d)| d);
    let exponent = digits.len() as u32;
    let numerator = digits
        .bytes()
        .fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
    (numerator, exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_reading_is_exact() {
        // 0.7 in binary is 0.69999999999999995559...; read as a decimal it is exactly 7/10.
        assert_eq!(floor_mul(70, 0.7), 49);
        assert_eq!(floor_mul(10, 0.1), 1);
        assert_eq!(floor_mul(100, 0.509), 50);
        assert_eq!(floor_mul(3, 1.0 / 3.0), 0);
        assert_eq!(floor_mul(u64::MAX as u128, 0.5), (u64::MAX / 2) as u128);
    }

    #[test]
    fn tiny_fractions_round_down_and_step_is_at_least_one() {
        assert_eq!(floor_mul(1 << 64, 5e-324), 0);
        assert_eq!(floor_mul(1 << 64, 1e-30), 0);
        assert_eq!(step(1 << 64, 1e-30), 1);
        assert_eq!(step(0, 0.0), 1);
        assert_eq!(step(10, 1.0), 10);
    }

    #[test]
    fn full_range_products_do_not_overflow() {
        let span = 1u128 << 64;
        assert_eq!(
            floor_mul(span, 0.9999999999999999),
            span * 9999999999999999 / 10u128.pow(16)
        );
    }
}
