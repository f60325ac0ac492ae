//! The crate's error type.

use thiserror::Error;

/// Why a proof, key or public input was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The Groth16 pairing check failed.
    #[error("invalid proof: the Groth16 check failed")]
    InvalidProof,
    /// Wrong number of public inputs.
    #[error("expected {expected} public inputs, got {got}")]
    PublicInputCount {
        /// What the key expects.
        expected: usize,
        /// What was supplied.
        got: usize,
    },
    /// A field element was not canonical or did not parse.
    #[error("field `{field}`: {reason}")]
    BadField {
        /// JSON path of the offending field.
        field: String,
        /// Why.
        reason: String,
    },
    /// A point was not on the curve or not in the prime-order subgroup.
    #[error("point `{field}`: {reason}")]
    BadPoint {
        /// JSON path of the offending point.
        field: String,
        /// Why.
        reason: String,
    },
    /// Structurally malformed input (JSON shape, protocol, curve, lengths).
    #[error("malformed input: {0}")]
    Malformed(String),
    /// Binary key or proof did not deserialise (checked: on curve and in subgroup).
    #[error("binary decoding failed: {0}")]
    Decode(String),
    /// A file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// File path.
        path: String,
        /// OS error text.
        reason: String,
    },
    /// A pinned digest did not match.
    #[error("verifying key digest mismatch: expected {expected}, got {got}")]
    DigestMismatch {
        /// Pinned.
        expected: String,
        /// Computed.
        got: String,
    },
}
