//! [`ByteKey`], [`ByteKeyRange`] and their tracker, [`ByteKeyRangeTracker`]: Beam Java's
//! semantics, with exact split arithmetic.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::TrackerError;
use crate::tracker::{Progress, RestrictionTracker, SplitResult, check_fraction};

/// A key of a sorted key-value store: a byte string, ordered lexicographically (a key is
/// smaller than every longer key it is a prefix of, so `a < a\0 < a\0\0 < b`).
///
/// The empty key is special: it is not a position. As the start of a [`ByteKeyRange`] it means
/// "from the first key", as its end "to the last key", and claimed in a
/// [`ByteKeyRangeTracker`] it means "the end of the range". `Debug` prints the bytes in hex, and
/// the empty key as `EMPTY`.
///
/// ```
/// use sdf_core::ByteKey;
/// let a = ByteKey::from("a");
/// assert!(ByteKey::empty() < a && a < a.next() && a.next() < ByteKey::from("b"));
/// assert_eq!(a.next().as_bytes(), b"a\0");
/// assert_eq!(format!("{:?} {:?}", a.next(), ByteKey::empty()), "6100 EMPTY");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ByteKey(Vec<u8>);

impl ByteKey {
    /// The empty key (Beam's `ByteKey.EMPTY`).
    pub const fn empty() -> Self {
        ByteKey(Vec::new())
    }

    /// The bytes of the key.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes of the key, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether this is the empty key.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The smallest key greater than this one: this key followed by a `0x00` byte.
    pub fn next(&self) -> ByteKey {
        let mut bytes = Vec::with_capacity(self.0.len() + 1);
        bytes.extend_from_slice(&self.0);
        bytes.push(0);
        ByteKey(bytes)
    }
}

impl From<Vec<u8>> for ByteKey {
    fn from(bytes: Vec<u8>) -> Self {
        ByteKey(bytes)
    }
}

impl From<&[u8]> for ByteKey {
    fn from(bytes: &[u8]) -> Self {
        ByteKey(bytes.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for ByteKey {
    fn from(bytes: &[u8; N]) -> Self {
        ByteKey(bytes.to_vec())
    }
}

impl From<&str> for ByteKey {
    fn from(text: &str) -> Self {
        ByteKey(text.as_bytes().to_vec())
    }
}

impl fmt::Debug for ByteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("EMPTY");
        }
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A half-open range of keys, `[start, end)`, in lexicographic order. An empty `end` means
/// the range is unbounded: it runs to the last key.
///
/// The empty key is in no range (it is not a position), so `[EMPTY, 00)`, Beam's `NO_KEYS`,
/// holds no key at all, while [`all`](Self::all), `[EMPTY, EMPTY)`, holds every key.
///
/// ```
/// use sdf_core::{ByteKey, ByteKeyRange};
/// let r = ByteKeyRange::new("a", "b");
/// assert_eq!(format!("{r:?}"), "[61, 62)");
/// assert!(r.contains(&ByteKey::from("a\u{7f}")) && !r.contains(&ByteKey::from("b")));
/// assert_eq!(format!("{:?}", ByteKeyRange::all()), "[EMPTY, +inf)");
/// assert!(ByteKeyRange::new("", b"\0").is_empty() && ByteKeyRange::new("a", "a").is_empty());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawByteKeyRange", into = "RawByteKeyRange")]
pub struct ByteKeyRange {
    start: ByteKey,
    end: ByteKey,
}

#[derive(Serialize, Deserialize)]
struct RawByteKeyRange {
    start: ByteKey,
    end: ByteKey,
}

impl TryFrom<RawByteKeyRange> for ByteKeyRange {
    type Error = TrackerError;
    fn try_from(raw: RawByteKeyRange) -> Result<Self, TrackerError> {
        ByteKeyRange::try_new(raw.start, raw.end)
    }
}

impl From<ByteKeyRange> for RawByteKeyRange {
    fn from(r: ByteKeyRange) -> Self {
        RawByteKeyRange {
            start: r.start,
            end: r.end,
        }
    }
}

impl ByteKeyRange {
    /// The range `[start, end)`; an empty `end` means unbounded.
    ///
    /// # Panics
    /// If `end` is not empty and `start > end`. Use [`try_new`](Self::try_new) for ranges
    /// computed from input.
    pub fn new(start: impl Into<ByteKey>, end: impl Into<ByteKey>) -> Self {
        match Self::try_new(start, end) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// The range `[start, end)`, or an error if `end` is not empty and `start > end`.
    pub fn try_new(
        start: impl Into<ByteKey>,
        end: impl Into<ByteKey>,
    ) -> Result<Self, TrackerError> {
        let r = ByteKeyRange {
            start: start.into(),
            end: end.into(),
        };
        if r.end.is_empty() || r.start <= r.end {
            Ok(r)
        } else {
            Err(TrackerError::InvalidRestriction {
                restriction: format!("{r:?}"),
                reason: "start is after end".into(),
            })
        }
    }

    /// Every key: `[EMPTY, EMPTY)` (Beam's `ByteKeyRange.ALL_KEYS`).
    pub const fn all() -> Self {
        ByteKeyRange {
            start: ByteKey::empty(),
            end: ByteKey::empty(),
        }
    }

    /// The first key; empty for "from the first key".
    pub fn start(&self) -> &ByteKey {
        &self.start
    }

    /// The key one past the last; empty for "to the last key".
    pub fn end(&self) -> &ByteKey {
        &self.end
    }

    /// Whether the range holds no key: `[k, k)` and `[EMPTY, 00)` are empty, `[EMPTY, EMPTY)`
    /// is everything.
    pub fn is_empty(&self) -> bool {
        !self.end.is_empty() && (self.start >= self.end || self.end.as_bytes() == [0])
    }

    /// Whether `key` is in the range. The empty key is in no range.
    pub fn contains(&self, key: &ByteKey) -> bool {
        !key.is_empty() && self.start <= *key && self.is_before_end(key)
    }

    /// Whether `key` is below the end (always true for an unbounded range).
    fn is_before_end(&self, key: &ByteKey) -> bool {
        self.end.is_empty() || *key < self.end
    }
}

impl fmt::Debug for ByteKeyRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.end.is_empty() {
            write!(f, "[{:?}, +inf)", self.start)
        } else {
            write!(f, "[{:?}, {:?})", self.start, self.end)
        }
    }
}

/// Extra bytes of precision the split arithmetic uses beyond the longer bound: splits resolve
/// fractions to `2^-64` of the remaining range, finer than an `f64` fraction.
const EXTRA_PRECISION: usize = 8;

/// Tracks claims of [`ByteKey`]s in a [`ByteKeyRange`], with the semantics of Beam Java's
/// `ByteKeyRangeTracker`.
///
/// A DoFn claims each key it reads, in increasing order, and stops at the first claim that
/// returns `false`: a key at or past the end, or the empty key, which a DoFn claims when its
/// scan ran out of keys ("end of range"). Splits keep everything up to the last *attempted*
/// key in the primary.
///
/// # Split arithmetic
///
/// The remaining range is `[lo, end)`, where `lo` is `next(last attempted)`, or the start if
/// nothing was attempted. A fraction `f` splits at the key `k` with
///
/// 1. each key read as a base-256 fraction `0.b₁b₂b₃…` (an unbounded end is `1`),
/// 2. `k = lo + floor((end − lo) × f)`, exact, at `EXTRA_PRECISION = 8` bytes beyond the longer
///    of `lo` and `end`, with `f` read as its shortest decimal (`0.7` is seven tenths, as for
///    [offsets](crate::OffsetRangeTracker)), with trailing zero bytes trimmed;
/// 3. `k` raised to `lo` if it falls below it (a tiny fraction, or bounds like `a` and `a\0\0`
///    that are equal as numbers): the split then keeps only what was attempted, like a
///    checkpoint. `f = 1` never splits, and for `f < 1`, `k < end` always holds.
///
/// The primary is `[start, k)`, the residual `[k, end)`. A common prefix of `lo` and `end`
/// carries through unchanged, so keys like `user/000000123` and `user/000000124` split
/// between each other, at `user/000000123\x80` for `f = 0.5`.
///
/// `[00, 10)` after claiming `02`, split at 0.5: `lo = 0200`, `k = 0.02 + (0.10 − 0.02) / 2
/// = 0.09`:
/// ```
/// use sdf_core::{ByteKeyRange, ByteKeyRangeTracker, RestrictionTracker};
/// let mut t = ByteKeyRangeTracker::new(ByteKeyRange::new(b"\x00", b"\x10"));
/// assert!(t.try_claim(b"\x02".into())?);
/// let split = t.try_split(0.5)?.unwrap();
/// assert_eq!(split.primary, ByteKeyRange::new(b"\x00", b"\x09"));
/// assert_eq!(split.residual, ByteKeyRange::new(b"\x09", b"\x10"));
/// # Ok::<(), sdf_core::TrackerError>(())
/// ```
///
/// Every key, after claiming `80`, split at 0.5: `k = 0.80 + (1 − 0.80) / 2 = 0.c0`; an
/// unbounded range keeps its unbounded end in the residual:
/// ```
/// # use sdf_core::{ByteKeyRange, ByteKeyRangeTracker, RestrictionTracker};
/// let mut t = ByteKeyRangeTracker::new(ByteKeyRange::all());
/// assert!(t.try_claim(b"\x80".into())?);
/// let split = t.try_split(0.5)?.unwrap();
/// assert_eq!(format!("{:?} {:?}", split.primary, split.residual), "[EMPTY, c0) [c0, +inf)");
/// # Ok::<(), sdf_core::TrackerError>(())
/// ```
///
/// A checkpoint (fraction 0) keeps exactly what was attempted: the residual starts at
/// `next(last)`:
/// ```
/// # use sdf_core::{ByteKeyRange, ByteKeyRangeTracker, RestrictionTracker};
/// let mut t = ByteKeyRangeTracker::new(ByteKeyRange::new("a", "z"));
/// assert!(t.try_claim("b".into())? && t.try_claim("c".into())?);
/// let split = t.try_split(0.0)?.unwrap();
/// assert_eq!(split.primary, ByteKeyRange::new("a", "c\0"));
/// assert_eq!(split.residual, ByteKeyRange::new("c\0", "z"));
/// assert!(!t.try_claim("c\0".into())?); // the residual is no longer ours
/// t.check_done()?;
/// # Ok::<(), sdf_core::TrackerError>(())
/// ```
///
/// # Progress
///
/// Unitless, like Beam: the fraction of the range, as base-256 numbers, up to the last
/// attempted key. `(0, 1)` before any claim, `(1, 0)` when done, `(0, 0)` for an empty range.
#[derive(Debug, Clone)]
pub struct ByteKeyRangeTracker {
    range: ByteKeyRange,
    last_attempted: Option<ByteKey>,
    stopped: bool,
}

impl ByteKeyRangeTracker {
    /// A tracker for `range`, with nothing claimed.
    pub fn new(range: ByteKeyRange) -> Self {
        ByteKeyRangeTracker {
            range,
            last_attempted: None,
            stopped: false,
        }
    }

    /// The last key passed to `try_claim`, successful or not (the empty key after an
    /// end-of-range claim).
    pub fn last_attempted(&self) -> Option<&ByteKey> {
        self.last_attempted.as_ref()
    }

    /// The first key not yet attempted: `next(last attempted)`, or the start.
    fn resume_key(&self) -> ByteKey {
        match &self.last_attempted {
            Some(last) => last.next(),
            None => self.range.start.clone(),
        }
    }

    /// Whether no key of the range is left to claim.
    fn is_done(&self) -> bool {
        self.stopped || self.range.is_empty() || !self.range.is_before_end(&self.resume_key())
    }
}

impl RestrictionTracker for ByteKeyRangeTracker {
    type Restriction = ByteKeyRange;
    type Position = ByteKey;

    /// Claims `key`. The empty key means "end of range": it returns `false` and ends the call.
    #[inline]
    fn try_claim(&mut self, key: ByteKey) -> Result<bool, TrackerError> {
        if self.stopped {
            return Err(TrackerError::ClaimAfterStop {
                position: format!("{key:?}"),
            });
        }
        if key.is_empty() {
            self.stopped = true;
            self.last_attempted = Some(key);
            return Ok(false);
        }
        if let Some(last) = &self.last_attempted
            && key <= *last
        {
            return Err(TrackerError::ClaimNotIncreasing {
                position: format!("{key:?}"),
                last_attempted: format!("{last:?}"),
            });
        }
        if key < self.range.start {
            return Err(TrackerError::ClaimBeforeStart {
                position: format!("{key:?}"),
                restriction: format!("{:?}", self.range),
            });
        }
        let claimed = self.range.is_before_end(&key);
        self.last_attempted = Some(key);
        if !claimed {
            self.stopped = true;
        }
        Ok(claimed)
    }

    fn try_split(
        &mut self,
        fraction: f64,
    ) -> Result<Option<SplitResult<ByteKeyRange>>, TrackerError> {
        check_fraction(fraction)?;
        if fraction >= 1.0 || self.is_done() {
            return Ok(None);
        }
        let lo = self.resume_key();
        let split = if fraction == 0.0 {
            lo
        } else {
            interpolate(&lo, &self.range.end, fraction).max(lo)
        };
        if !self.range.is_before_end(&split) {
            // Unreachable for fractions below 1 (see the split arithmetic); kept as a guard.
            return Ok(None);
        }
        let (primary, residual) = if split <= self.range.start {
            // Nothing attempted, and the split is at the first key: the primary is empty. It is
            // `[start, start)`, or `[EMPTY, 00)` when the start is empty (`[EMPTY, EMPTY)`
            // would be every key).
            let empty_end = if self.range.start.is_empty() {
                ByteKey(vec![0])
            } else {
                self.range.start.clone()
            };
            let primary = ByteKeyRange {
                start: self.range.start.clone(),
                end: empty_end,
            };
            (primary, self.range.clone())
        } else {
            let primary = ByteKeyRange {
                start: self.range.start.clone(),
                end: split.clone(),
            };
            let residual = ByteKeyRange {
                start: split,
                end: self.range.end.clone(),
            };
            (primary, residual)
        };
        self.range = primary.clone();
        Ok(Some(SplitResult { primary, residual }))
    }

    fn current_restriction(&self) -> ByteKeyRange {
        self.range.clone()
    }

    fn check_done(&self) -> Result<(), TrackerError> {
        if self.is_done() {
            return Ok(());
        }
        let unclaimed = ByteKeyRange {
            start: self.resume_key(),
            end: self.range.end.clone(),
        };
        Err(TrackerError::NotDone {
            restriction: format!("{:?}", self.range),
            unclaimed: format!("{unclaimed:?}"),
        })
    }

    /// Fractions of the range: `completed` is the fraction up to the last attempted key (the key
    /// being worked on is no longer remaining), `remaining = 1 − completed`.
    fn progress(&self) -> Progress {
        if self.range.is_empty() {
            return Progress::new(0.0, 0.0);
        }
        if self.is_done() {
            return Progress::new(1.0, 0.0);
        }
        match &self.last_attempted {
            None => Progress::new(0.0, 1.0),
            Some(last) => {
                let done = fraction_of(last, &self.range);
                Progress::new(done, 1.0 - done)
            }
        }
    }

    fn is_bounded(&self) -> bool {
        true
    }
}

// The split arithmetic. A key is read as the base-256 fraction 0.b₁b₂b₃…, stored big-endian
// in a fixed-point byte vector `n` of `width + 1` bytes: `n[0]` is the integer part (1 only for
// an unbounded end), `n[i]` the digit of 256^-i. All vectors of one computation share a width
// that holds every key involved, so the arithmetic is exact.

/// `key` as a fixed-point number of `width` fraction digits.
fn fixed_point(key: &ByteKey, width: usize) -> Vec<u8> {
    let mut n = vec![0u8; width + 1];
    n[1..=key.len()].copy_from_slice(key.as_bytes());
    n
}

/// `end` as a fixed-point number; an unbounded end is `1`.
fn end_point(end: &ByteKey, width: usize) -> Vec<u8> {
    if end.is_empty() {
        let mut n = vec![0u8; width + 1];
        n[0] = 1;
        n
    } else {
        fixed_point(end, width)
    }
}

/// `a - b` for `a >= b` of the same width.
fn sub(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i16;
    for i in (0..a.len()).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    debug_assert_eq!(borrow, 0, "sub: a < b");
    out
}

/// `a + b` of the same width; the sum must fit.
fn add(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut carry = 0u16;
    for i in (0..a.len()).rev() {
        let s = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    debug_assert_eq!(carry, 0, "add: overflow");
    out
}

/// `floor(x × fraction)` for `fraction` in `(0, 1)`, read as its shortest decimal
/// `numerator / 10^exponent` and computed exactly.
fn mul_fraction(x: &[u8], fraction: f64) -> Vec<u8> {
    let (numerator, mut exponent) = crate::fraction::decimal(fraction);
    // numerator < 10^17 < 2^57: the product needs at most 8 more bytes.
    const HEAD: usize = 8;
    let mut p = vec![0u8; x.len() + HEAD];
    let mut carry = 0u128;
    for i in (0..x.len()).rev() {
        let v = u128::from(x[i]) * u128::from(numerator) + carry;
        p[i + HEAD] = v as u8;
        carry = v >> 8;
    }
    for b in p[..HEAD].iter_mut().rev() {
        *b = carry as u8;
        carry >>= 8;
    }
    debug_assert_eq!(carry, 0);
    // floor(floor(p / a) / b) = floor(p / (a·b)): divide by 10^exponent in u64-sized steps.
    while exponent > 0 && p.iter().any(|&b| b != 0) {
        let step = exponent.min(19); // 10^19 < 2^64
        div_small(&mut p, 10u64.pow(step));
        exponent -= step;
    }
    debug_assert!(p[..HEAD].iter().all(|&b| b == 0), "x × fraction > x");
    p.split_off(HEAD)
}

/// `x = floor(x / d)` in place.
fn div_small(x: &mut [u8], d: u64) {
    let d = u128::from(d);
    let mut rem = 0u128;
    for b in x.iter_mut() {
        let cur = (rem << 8) | u128::from(*b);
        *b = (cur / d) as u8;
        rem = cur % d;
    }
}

/// The split key `lo + floor((end − lo) × fraction)`, trailing zero bytes trimmed (the
/// smallest key with that value). `lo < end`, `fraction` in `(0, 1)`.
///
/// The result is `< end` (as the value is below `end`'s, and trimming only lowers a key), and
/// `> lo` whenever its value is above `lo`'s; otherwise the caller raises it to `lo`.
fn interpolate(lo: &ByteKey, end: &ByteKey, fraction: f64) -> ByteKey {
    let width = lo.len().max(end.len()) + EXTRA_PRECISION;
    let lo_n = fixed_point(lo, width);
    let span = sub(&end_point(end, width), &lo_n);
    let k = add(&lo_n, &mul_fraction(&span, fraction));
    debug_assert_eq!(k[0], 0, "split value >= 1");
    let mut bytes = k[1..].to_vec();
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    ByteKey(bytes)
}

/// The position of `key` in `range` as a fraction in `[0, 1]`, monotone in `key`.
///
/// `(key − start) / (end − start)` from the 16 bytes of both that start at the first non-zero
/// byte of `end − start`: a cut at a fixed place, so the result never decreases as `key` grows.
fn fraction_of(key: &ByteKey, range: &ByteKeyRange) -> f64 {
    if *key <= range.start {
        return 0.0;
    }
    if !range.is_before_end(key) {
        return 1.0;
    }
    let width = key.len().max(range.start.len()).max(range.end.len());
    let start = fixed_point(&range.start, width);
    let done = sub(&fixed_point(key, width), &start);
    let total = sub(&end_point(&range.end, width), &start);
    // A range like [a, a\0\0) has no width as a number: report no progress until done.
    let Some(first) = total.iter().position(|&b| b != 0) else {
        return 0.0;
    };
    let top = |n: &[u8]| {
        (0..16).fold(0u128, |acc, i| {
            (acc << 8) | u128::from(n.get(first + i).copied().unwrap_or(0))
        })
    };
    (top(&done) as f64 / top(&total) as f64).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests;
