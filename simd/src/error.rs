//! The crate's error type.

use thiserror::Error;

/// Errors of [`crate::Poseidon8`].
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimdError {
    /// The constants or the states do not have the shape of one Poseidon width.
    #[error("poseidon lanes: {0}")]
    Shape(String),
}
