//! The crate's error type.

use thiserror::Error;

/// Setup, proving and key-file errors.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProverError {
    /// The statement does not hold for this witness (or the witness is malformed).
    #[error(transparent)]
    Statement(#[from] zkcredit_circuits::CircuitError),
    /// Constraint synthesis or the Groth16 prover failed.
    #[error("proving failed: {0}")]
    Synthesis(String),
    /// A key or file problem.
    #[error(transparent)]
    Verify(#[from] zkcredit_verifier::VerifyError),
    /// A file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// File path.
        path: String,
        /// OS error text.
        reason: String,
    },
    /// A proving key does not belong to the expected verifying key.
    #[error(
        "proving key {path} does not match the verifying key ({reason}); rerun `zkcredit setup`"
    )]
    KeyMismatch {
        /// File path.
        path: String,
        /// Why.
        reason: String,
    },
    /// A circom-ecosystem file (`.zkey`, `.r1cs`, `.wtns`) that does not decode.
    #[error("{path}: not a valid {kind} file: {reason}")]
    Format {
        /// File path.
        path: String,
        /// `zkey`, `r1cs`, `wtns`.
        kind: &'static str,
        /// What is wrong, with the byte offset where it helps.
        reason: String,
    },
    /// A well-formed `.zkey` made for another constraint system.
    #[error("{path} is not a key for circuit {circuit}: {reason}")]
    WrongCircuit {
        /// File path.
        path: String,
        /// The circuit it was checked against.
        circuit: String,
        /// The first difference found.
        reason: String,
    },
    /// Unknown circuit name.
    #[error("unknown circuit `{0}` (known: eligibility_s<slots>_d<depth>, fraud_only_d<depth>)")]
    UnknownCircuit(String),
}
