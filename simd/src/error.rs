//! The crate's error type.

use thiserror::Error;

/// Errors of the lanes ([`crate::Poseidon8`], [`crate::g1`], [`crate::g1_msm`], [`crate::g2_msm`]).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimdError {
    /// The constants, the states or the batch do not have the expected shape.
    #[error("simd lanes: {0}")]
    Shape(String),
    /// A chord addition whose two points share `x` (no slope: a doubling or `P + (−P)`).
    #[error("simd lanes: a chord addition with x = bx")]
    VerticalChord,
    /// A lane's output above what the bounds allow (a bug in a bound, never an input's fault).
    #[error("simd lanes: an output out of its bound ({0})")]
    Bound(&'static str),
}
