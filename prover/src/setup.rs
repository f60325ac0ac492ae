//! Groth16 key generation (spec §10).

use crate::ProverError;
use ark_bn254::Bn254;
use ark_groth16::{Groth16, ProvingKey};
use ark_relations::gr1cs::ConstraintSynthesizer;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};
use zkcredit_circuits::Fr;

/// The published seed of the development setup. **Insecure by construction**: anyone can
/// re-derive the setup randomness from it and forge proofs. Development and CI only.
pub const INSECURE_DEV_SEED: &str =
    "zkcredit/insecure-development-setup/v1 (DO NOT USE IN PRODUCTION)";

/// The ChaCha20 seed of the development setup of `circuit_id`:
/// `sha256(INSECURE_DEV_SEED || "/" || circuit_id)`.
pub fn insecure_dev_seed(circuit_id: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(INSECURE_DEV_SEED.as_bytes());
    h.update(b"/");
    h.update(circuit_id.as_bytes());
    h.finalize().into()
}

/// Development keys derived deterministically from [`INSECURE_DEV_SEED`]: every machine
/// gets the same keys, and anyone can forge proofs for them.
pub fn insecure_dev_setup<C: ConstraintSynthesizer<Fr>>(
    circuit_id: &str,
    circuit: C,
) -> Result<ProvingKey<Bn254>, ProverError> {
    let mut rng = ChaCha20Rng::from_seed(insecure_dev_seed(circuit_id));
    Groth16::<Bn254>::generate_random_parameters_with_reduction(circuit, &mut rng)
        .map_err(|e| ProverError::Synthesis(e.to_string()))
}

/// Keys from OS randomness (single-party setup; the operator must discard nothing since
/// the randomness never leaves this process). For production use a ceremony instead.
pub fn setup_os_rng<C: ConstraintSynthesizer<Fr>>(
    circuit: C,
) -> Result<ProvingKey<Bn254>, ProverError> {
    // Seed a CSPRNG from the OS so key generation does not issue millions of syscalls.
    let mut rng = ChaCha20Rng::from_rng(rand::rngs::OsRng)
        .map_err(|e| ProverError::Synthesis(e.to_string()))?;
    Groth16::<Bn254>::generate_random_parameters_with_reduction(circuit, &mut rng)
        .map_err(|e| ProverError::Synthesis(e.to_string()))
}
