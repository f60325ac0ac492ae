//! The crate's one error type.

use zkcredit_circuits::eligibility::Rule;

/// Everything that can go wrong in the halo2 system.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Halo2Error {
    /// A powers-of-tau file could not be read or is malformed.
    #[error("powers of tau {what}: {detail}")]
    Srs {
        /// Which part (header, section, point …).
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The powers of tau are not powers of one secret (the pairing check failed).
    #[error("powers of tau are inconsistent: {0}")]
    SrsInconsistent(String),
    /// The circuit needs more rows than the powers of tau provide.
    #[error("the circuit needs 2^{needed} rows but the powers of tau have 2^{available}")]
    SrsTooSmall {
        /// log2 of the rows the circuit needs.
        needed: u32,
        /// log2 of the powers in the file.
        available: u32,
    },
    /// The witness does not satisfy the statement; the first rule it breaks.
    #[error("the witness breaks rule {0:?}")]
    Statement(Rule),
    /// The witness has the wrong shape for the circuit (e.g. a path of another depth).
    #[error("witness shape: {0}")]
    Shape(String),
    /// The native statement check refused the witness.
    #[error(transparent)]
    Circuit(#[from] zkcredit_circuits::CircuitError),
    /// halo2 refused to build keys or a proof.
    #[error("halo2: {0}")]
    Plonk(String),
    /// A proof did not verify.
    #[error("the proof does not verify")]
    InvalidProof,
    /// A key or proof file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being read or written.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
