//! # zkcredit-evm
//!
//! zkcredit on chain (spec §7):
//! - [`codegen`]: the Solidity generators (Groth16 verifier from our verifying key, Poseidon
//!   libraries from the circuits' constants) behind `zkcredit gen-contracts`;
//! - [`abi`]: the one function that encodes proofs for the EVM (EIP-197 G2 order), public
//!   inputs (through `PublicInputs::to_vec`) and the on-chain request context;
//! - [`vm`]: an in-memory EVM (revm, BN254 precompiles on) loaded with the compiled
//!   artifacts in `contracts/out/`, used by the tests, the demo and the gas benchmark.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod abi;
pub mod codegen;
pub mod pool;
pub mod vm;

/// Errors of the EVM harness.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvmError {
    /// revm refused the transaction (not a revert: an invalid transaction or database error).
    #[error("EVM: {0}")]
    Evm(String),
    /// A compiled artifact is malformed.
    #[error("artifact {name}: {reason}")]
    Artifact {
        /// Contract name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A deployment failed.
    #[error("deploying {name} failed: {reason}")]
    Deploy {
        /// Contract name.
        name: String,
        /// Why.
        reason: String,
    },
}
