//! Indexed Merkle tree lookup gadget (spec §4.3), twin of [`super::LookupWitness::verify`].
//!
//! `lookup(enabled, root, x, w) -> (present, v0, v1, v2)`: one gadget for membership and
//! non-membership; values are zero when absent or disabled. When `enabled` is false
//! (an empty registry slot) nothing is enforced.
//!
//! Preconditions (spec §4.3): `x < 2^248` is enforced by the caller (the subject key is
//! range-checked once per circuit); keys stored in a provider's tree are `< 2^248`
//! (enforced by every tree implementation on insert; the provider is trusted for its tree).

use super::LookupWitness;
use crate::cmp::constraints::{enforce_le_if, enforce_lt_if};
use crate::poseidon::constraints::{hash2_var, hash_var};
use crate::tags::KEY_BITS;
use crate::Fr;
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::prelude::*;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

/// An allocated lookup witness.
#[derive(Clone)]
pub struct LookupWitnessVar {
    /// Path direction bits, little-endian (bit l = 1: the level-l node is a right child).
    pub index_bits: Vec<Boolean<Fr>>,
    /// `key, next_key, v0, v1, v2`.
    pub leaf: [FpVar<Fr>; 5],
    /// Siblings, leaf level first.
    pub siblings: Vec<FpVar<Fr>>,
}

impl LookupWitnessVar {
    /// Allocates a witness of `depth` levels (`w = None` in setup mode).
    pub fn alloc(
        cs: ConstraintSystemRef<Fr>,
        w: Option<&LookupWitness>,
        depth: usize,
    ) -> Result<Self, SynthesisError> {
        let missing = SynthesisError::AssignmentMissing;
        let index_bits = (0..depth)
            .map(|l| {
                Boolean::new_witness(cs.clone(), || {
                    w.map(|w| (w.index >> l) & 1 == 1).ok_or(missing)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let field = |f: &dyn Fn(&LookupWitness) -> Fr| {
            FpVar::new_witness(cs.clone(), || w.map(f).ok_or(missing))
        };
        let leaf = [
            field(&|w| w.leaf.key)?,
            field(&|w| w.leaf.next_key)?,
            field(&|w| w.leaf.values[0])?,
            field(&|w| w.leaf.values[1])?,
            field(&|w| w.leaf.values[2])?,
        ];
        let siblings = (0..depth)
            .map(|l| {
                FpVar::new_witness(cs.clone(), || {
                    w.and_then(|w| w.siblings.get(l).copied()).ok_or(missing)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            index_bits,
            leaf,
            siblings,
        })
    }
}

/// The result of a lookup.
pub struct LookupResult {
    /// `x` is present (false when disabled).
    pub present: Boolean<Fr>,
    /// The record when present, zeros otherwise.
    pub values: [FpVar<Fr>; 3],
}

/// Recomputes a Merkle root from a leaf hash and its path (spec §4.1).
/// Per level: one constraint for the conditional swap plus one `H(left, right)`.
pub fn root_from_path(
    leaf_hash: &FpVar<Fr>,
    index_bits: &[Boolean<Fr>],
    siblings: &[FpVar<Fr>],
) -> Result<FpVar<Fr>, SynthesisError> {
    let mut cur = leaf_hash.clone();
    for (bit, sib) in index_bits.iter().zip(siblings) {
        // d = bit·(sib − cur); left = cur + d; right = sib − d.
        let d = FpVar::from(bit.clone()) * (sib - &cur);
        let left = &cur + &d;
        let right = sib - &d;
        cur = hash2_var(&left, &right)?;
    }
    Ok(cur)
}

/// The lookup gadget (spec §4.3). Enforces, when `enabled`:
/// 1. the leaf and path hash to `root`;
/// 2. `leaf.key <= x` (248-bit bounded comparison);
/// 3. if `leaf.key != x`: `next_key == 0` or `x < next_key`.
///
/// Returns `present = enabled ∧ (leaf.key == x)` and `values = present · leaf.values`.
pub fn lookup(
    enabled: &Boolean<Fr>,
    root: &FpVar<Fr>,
    x: &FpVar<Fr>,
    w: &LookupWitnessVar,
) -> Result<LookupResult, SynthesisError> {
    let [key, next_key, v0, v1, v2] = &w.leaf;
    // §4.3 (1): authenticated leaf.
    let leaf_hash = hash_var(&w.leaf)?;
    let computed = root_from_path(&leaf_hash, &w.index_bits, &w.siblings)?;
    computed.conditional_enforce_equal(root, enabled)?;
    // §4.3 (2): low leaf (or the leaf itself) is not above x.
    enforce_le_if(enabled, key, x, KEY_BITS)?;
    // §4.3 (3): when absent, x lies strictly inside (key, next_key) or next_key is the end.
    let matches = key.is_eq(x)?;
    let present = enabled & &matches;
    let absent = enabled & &!&matches;
    let has_next = next_key.is_neq(&FpVar::zero())?;
    let check_next = &absent & &has_next;
    enforce_lt_if(&check_next, x, next_key, KEY_BITS)?;
    let p = FpVar::from(present.clone());
    let values = [&p * v0, &p * v1, &p * v2];
    Ok(LookupResult { present, values })
}
