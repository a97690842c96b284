//! [`Violation`]: what the kit reports when a law does not hold, with the smallest case.

use std::fmt;

/// A broken law, with the smallest case that shows it.
///
/// The checkers try cases in increasing order (claims made, then fractions in the order of
/// [`FRACTIONS`](super::FRACTIONS), then nesting depth), so the first violation found is the
/// smallest. Its `Debug` output is the same readable text as `Display`, so `.unwrap()` in a
/// test prints the whole case.
#[derive(Clone, PartialEq)]
pub struct Violation {
    /// Which law broke, e.g. `"law 1: split halves are exact"`.
    pub law: String,
    /// The case: restriction, claims made, fraction, and the splits that led there.
    pub case: String,
    /// What was observed.
    pub detail: String,
}

impl Violation {
    pub(crate) fn new(law: &str, case: impl Into<String>, detail: impl Into<String>) -> Self {
        Violation {
            law: law.to_string(),
            case: case.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n  case: {}\n  found: {}",
            self.law, self.case, self.detail
        )
    }
}

impl fmt::Debug for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Violation {}
