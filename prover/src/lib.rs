//! # zkcredit-prover
//!
//! Groth16 over BN254 for zkcredit's circuits (spec §10):
//! - [`setup::setup_os_rng`]: keys from OS randomness, for real use;
//! - [`setup::insecure_dev_setup`]: keys derived from the published seed
//!   [`setup::INSECURE_DEV_SEED`] — **insecure by construction** (anyone can derive the
//!   toxic waste and forge proofs), so that every machine and CI get the same verifying key;
//! - [`prove_eligibility`], [`prove_circuit`]: parallel proving with OS randomness, after a native check of the statement;
//! - [`files`]: verifying keys and proving keys on disk, checked on load;
//! - [`circom`]: `.r1cs`/`.wtns` export and `.zkey` import for ceremonies with snarkjs;
//! - [`cache`]: the proving-key cache (development keys derived once, then read);
//! - [`batch`]: bulk proving on a dedicated pool;
//! - [`witness_file`]: the witness file format;
//! - [`resources`]: peak memory, as bulk proving and the benchmarks report it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod batch;
mod bucket;
pub mod cache;
pub mod circom;
pub mod circuits;
pub mod error;
pub mod fast;
pub mod files;
pub mod fixed;
pub mod glv;
mod proving;
pub mod resources;
pub mod setup;
pub mod witness_file;

pub use error::ProverError;

use ark_bn254::Bn254;
use ark_groth16::{Groth16, Proof, ProvingKey};
use ark_relations::gr1cs::ConstraintSynthesizer;
use ark_std::rand::{CryptoRng, RngCore};
use zkcredit_circuits::eligibility::{
    EligibilityCircuit, EligibilityParams, EligibilityWitness, PublicInputs,
};
use zkcredit_circuits::Fr;

/// Proves any circuit with the given key and randomness.
pub fn prove_circuit<C: ConstraintSynthesizer<Fr>, R: RngCore + CryptoRng>(
    pk: &ProvingKey<Bn254>,
    circuit: C,
    rng: &mut R,
) -> Result<Proof<Bn254>, ProverError> {
    Groth16::<Bn254>::create_random_proof_with_reduction(circuit, pk, rng)
        .map_err(|e| ProverError::Synthesis(e.to_string()))
}

/// Proves an eligibility witness: checks the statement natively first (so a wallet learns
/// *which* rule fails instead of getting an invalid proof), then proves with OS randomness
/// using the cached-matrices [`fast::Prover`].
pub fn prove_eligibility(
    prover: &fast::Prover,
    params: EligibilityParams,
    witness: EligibilityWitness,
) -> Result<(Proof<Bn254>, PublicInputs), ProverError> {
    let public = witness.check(&params)?;
    let circuit = EligibilityCircuit::with_public(params, witness, public);
    let proof = prover.prove(circuit, &mut rand::rngs::OsRng)?;
    Ok((proof, public))
}
