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

/// The toxic waste of the development setup of a circuit: the first draws of
/// `generate_random_parameters_with_reduction` from the published seed (α, β, γ, δ, then the
/// G1 and G2 generators). Public by construction — which is exactly why development keys are
/// forgeable. Used to recognise a development verifying key ([`is_insecure_dev_vk`]) and by
/// the test that forges a proof against one.
pub struct DevTrapdoor {
    /// α.
    pub alpha: Fr,
    /// β.
    pub beta: Fr,
    /// γ.
    pub gamma: Fr,
    /// δ.
    pub delta: Fr,
    /// The G1 generator of the setup.
    pub g1: ark_bn254::G1Projective,
    /// The G2 generator of the setup.
    pub g2: ark_bn254::G2Projective,
}

impl std::fmt::Debug for DevTrapdoor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DevTrapdoor(<redacted>)")
    }
}

/// Replays the random draws the development setup of `circuit_id` makes before it looks at
/// the circuit (no synthesis: microseconds).
pub fn insecure_dev_trapdoor(circuit_id: &str) -> DevTrapdoor {
    use ark_std::UniformRand;
    let mut rng = ChaCha20Rng::from_seed(insecure_dev_seed(circuit_id));
    let alpha = Fr::rand(&mut rng);
    let beta = Fr::rand(&mut rng);
    let gamma = Fr::rand(&mut rng);
    let delta = Fr::rand(&mut rng);
    let g1 = ark_bn254::G1Projective::rand(&mut rng);
    let g2 = ark_bn254::G2Projective::rand(&mut rng);
    DevTrapdoor {
        alpha,
        beta,
        gamma,
        delta,
        g1,
        g2,
    }
}

/// True when `vk` shares **any** trapdoor element (α, β, γ or δ) with the development key of
/// `circuit_id` (any circuit shape: the trapdoor depends only on the id). The full
/// development key lets anyone forge; so does a key that reuses only part of it (β and γ
/// alone give `A = α + (γ/β)·vk_x, B = β, C = 0`), so one shared element is enough to refuse.
/// A key from `setup --os-rng` or a ceremony is never recognised.
pub fn is_insecure_dev_vk(circuit_id: &str, vk: &ark_groth16::VerifyingKey<Bn254>) -> bool {
    use ark_ec::CurveGroup;
    let t = insecure_dev_trapdoor(circuit_id);
    (t.g1 * t.alpha).into_affine() == vk.alpha_g1
        || (t.g2 * t.beta).into_affine() == vk.beta_g2
        || (t.g2 * t.gamma).into_affine() == vk.gamma_g2
        || (t.g2 * t.delta).into_affine() == vk.delta_g2
}

/// True when `vk` is the development key of any circuit id in `ids`.
pub fn is_insecure_dev_vk_of_any<'a>(
    ids: impl IntoIterator<Item = &'a str>,
    vk: &ark_groth16::VerifyingKey<Bn254>,
) -> bool {
    ids.into_iter().any(|id| is_insecure_dev_vk(id, vk))
}
