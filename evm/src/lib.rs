//! # zkcredit-evm
//!
//! zkcredit on chain (spec §7):
//! - [`codegen`]: the Solidity generators (Groth16 verifier from our verifying key, Poseidon
//!   libraries from the circuits' constants, `ZkCreditConstants.sol` from the protocol
//!   constants) behind `zkcredit gen-contracts`;
//! - [`abi`]: the one function that encodes proofs for the EVM (EIP-197 G2 order), public
//!   inputs (through `PublicInputs::to_vec`) and the on-chain request context, and the
//!   contracts' bindings generated from the compiled artifacts in `contracts/out/`;
//! - [`vm`]: an in-memory EVM (revm, BN254 precompiles on), used by the tests, the demo and
//!   the gas benchmark; [`pool`]: a deployed zkcredit stack on it; [`halo2_pool`]: the
//!   generated halo2 verifier and a pool lending against halo2 proofs (SPEC §11.5);
//!   [`solc`]: compiling generated Solidity with the pinned solc-js, a verifier's gas;
//!   [`vm::Chain::verification_gas`]: the gas of a proof's verification inside a transaction.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod abi;
pub mod codegen;
pub mod halo2_pool;
pub mod pool;
pub mod solc;
mod span;
pub mod vm;

/// Errors of the EVM harness.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvmError {
    /// revm refused the transaction (not a revert: an invalid transaction or database error).
    #[error("EVM: {0}")]
    Evm(String),
    /// A deployment failed.
    #[error("deploying {name} failed: {reason}")]
    Deploy {
        /// Contract name.
        name: String,
        /// Why.
        reason: String,
    },
}
