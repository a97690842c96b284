//! What can go wrong coding a value.

/// A value that could not be decoded, or encoded, by a Beam coder.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CoderError {
    /// The input ended inside a value.
    #[error("{coder}: the input ends {needed} bytes before the value does")]
    Truncated {
        /// The coder that needed more.
        coder: &'static str,
        /// How many bytes more it needed (at least).
        needed: usize,
    },
    /// Bytes were left after a value that should have taken them all.
    #[error("{coder}: {left} bytes are left after the value")]
    Trailing {
        /// The coder whose value ended early.
        coder: &'static str,
        /// How many bytes were left.
        left: usize,
    },
    /// The bytes are not an encoding this coder writes.
    #[error("{coder}: {detail}")]
    Malformed {
        /// The coder.
        coder: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The value is not one this coder represents (a dynamic value of another shape).
    #[error("{coder} cannot encode {value}")]
    Unrepresentable {
        /// The coder.
        coder: &'static str,
        /// The value, abbreviated.
        value: String,
    },
    /// A coder spec (from the runner) that this SDK does not implement or that is malformed.
    #[error("coder {urn}: {detail}")]
    Spec {
        /// The coder's URN.
        urn: String,
        /// What is missing or wrong.
        detail: String,
    },
}

impl CoderError {
    pub(crate) fn malformed(coder: &'static str, detail: impl Into<String>) -> CoderError {
        CoderError::Malformed {
            coder,
            detail: detail.into(),
        }
    }
}
