//! [`SourceViolation`]: what the source test utilities report, with the case that shows it.

use std::fmt;

/// A property of sources that does not hold, with the case that shows it.
///
/// `Debug` prints the same readable text as `Display`, so `.unwrap()` in a test prints the
/// whole case, as with sdf-core's [`Violation`](sdf_core::testing::Violation).
#[derive(Clone, PartialEq, Eq)]
pub struct SourceViolation {
    /// The property, e.g. `"the primary and the residual together read the original records"`.
    pub property: String,
    /// The case: source, range, records read before the split, fraction, split position.
    pub case: String,
    /// What was observed.
    pub detail: String,
}

impl SourceViolation {
    pub(crate) fn new(property: &str, case: impl Into<String>, detail: impl Into<String>) -> Self {
        SourceViolation {
            property: property.to_string(),
            case: case.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for SourceViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n  case: {}\n  found: {}",
            self.property, self.case, self.detail
        )
    }
}

impl fmt::Debug for SourceViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for SourceViolation {}

/// How two record lists differ, for a violation's `found`: the counts, and the first
/// difference.
pub(crate) fn describe_difference<T: PartialEq + fmt::Debug>(expected: &[T], got: &[T]) -> String {
    let first = expected
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(got.len()));
    let at = |records: &[T]| {
        records
            .get(first)
            .map_or_else(|| "nothing".to_string(), |r| format!("{r:?}"))
    };
    format!(
        "expected {} records, got {}; first difference at record {first}: expected {}, got {}",
        expected.len(),
        got.len(),
        at(expected),
        at(got)
    )
}
