//! The provider registry (spec §5), R1CS side: slot leaves and the registry root.

use crate::poseidon::constraints::{hash2_var, hash_var};
use crate::Fr;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::gr1cs::SynthesisError;

/// In-circuit `H(role, provider_id, provider_root, published_at)`.
pub fn slot_leaf_var(
    role: &FpVar<Fr>,
    provider_id: &FpVar<Fr>,
    provider_root: &FpVar<Fr>,
    published_at: &FpVar<Fr>,
) -> Result<FpVar<Fr>, SynthesisError> {
    hash_var(&[
        role.clone(),
        provider_id.clone(),
        provider_root.clone(),
        published_at.clone(),
    ])
}

/// In-circuit Merkle root of a power-of-two list of slot leaves; twin of
/// [`super::merkle_root`]. The circuit recomputes the root from *all* leaves, so no
/// registry paths are needed and every slot is walked (spec §5, completeness).
pub fn registry_root_var(leaves: &[FpVar<Fr>]) -> Result<FpVar<Fr>, SynthesisError> {
    if leaves.is_empty() || !leaves.len().is_power_of_two() {
        return Err(SynthesisError::Unsatisfiable);
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|c| hash2_var(&c[0], &c[1]))
            .collect::<Result<_, _>>()?;
    }
    Ok(level.swap_remove(0))
}
