//! [`Violation`]: what the kit reports when a law does not hold, with the smallest case.

use std::fmt;

/// A broken law, with the first case that shows it.
///
/// The checkers try cases in increasing order (claims made, then fractions in the order of
/// [`FRACTIONS`](super::FRACTIONS), then nesting depth) and report the first that fails: the
/// one with the fewest claims and the smallest fraction for the restriction given. They do not
/// shrink the restriction itself; start from a small one. Its `Debug` output is the same
/// readable text as `Display`, so `.unwrap()` in a test prints the whole case.
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
