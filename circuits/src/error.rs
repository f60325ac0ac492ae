//! The crate's error type.

use crate::eligibility::Rule;
use thiserror::Error;

/// Errors of the native primitives and of witness construction.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CircuitError {
    /// A decimal field element did not parse or was not canonical (`>= r`).
    #[error("invalid field element `{value}`: {reason}")]
    InvalidField {
        /// The offending text (truncated).
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A subject key outside `[1, 2^248)`.
    #[error("subject key must be in [1, 2^248)")]
    KeyOutOfRange,
    /// Insert of a key already present.
    #[error("key already present in the tree")]
    DuplicateKey,
    /// Update or delete of a key not present.
    #[error("key not present in the tree")]
    KeyNotFound,
    /// The tree has no free leaf slot left.
    #[error("tree is full (depth {depth})")]
    TreeFull {
        /// Tree depth.
        depth: usize,
    },
    /// Unsupported tree depth.
    #[error("tree depth {0} unsupported (1..=64)")]
    BadDepth(usize),
    /// A slot index or count problem in the registry.
    #[error("registry: {0}")]
    Registry(String),
    /// A witness does not have the shape the circuit was built for.
    #[error("witness shape: {0}")]
    Shape(String),
    /// A default-probability model file or model terms outside the circuit's bounds
    /// (spec §6.9).
    #[error("model: {0}")]
    Model(String),
    /// The native statement check failed (the proof would not verify): `rule` is the
    /// constraint block that failed, `detail` the human text, starting with its `§`
    /// reference (e.g. `§6.3 subject is on the fraud list in slot 2`); the message names the
    /// rule by its namespace.
    #[error("statement does not hold (rule {}): {detail}", rule.namespace())]
    Statement {
        /// The failing constraint block (spec §6).
        rule: Rule,
        /// What failed, for people.
        detail: String,
    },
    /// Poseidon arity not supported.
    #[error("poseidon arity {0} unsupported (1..=12)")]
    Arity(usize),
    /// A tree's store failed or holds something no tree could have written (spec §4.4).
    #[error("tree store: {0}")]
    Storage(String),
}
