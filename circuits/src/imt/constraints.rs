//! Indexed Merkle tree lookup gadget (spec §4.3), twin of [`super::LookupWitness::verify`].
//!
//! `lookup(enabled, root, x, w) -> (present, v0, v1, v2)`: one gadget for membership and
//! non-membership; values are zero when absent or disabled. When `enabled` is false
//! (an empty registry slot) nothing is enforced.
//!
//! Preconditions (spec §4.3): `x < 2^248` is enforced by the caller (the subject key is
//! range-checked once per circuit); keys stored in a provider's tree are `< 2^248`
//! (enforced by every tree implementation on insert; the provider is trusted for its tree).

use super::{path_len, LookupWitness};
use crate::cmp::constraints::{enforce_le_if, enforce_lt_if};
use crate::poseidon::constraints::hash_var;
use crate::tags::KEY_BITS;
use crate::Fr;
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::prelude::*;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

/// An allocated lookup witness.
#[derive(Clone)]
pub struct LookupWitnessVar {
    /// Leaf index bits, little-endian; bits 2l and 2l+1 give the position (0..4) at level l.
    pub index_bits: Vec<Boolean<Fr>>,
    /// `key, next_key, commitment` (the commitment as the witness gives it).
    pub leaf: [FpVar<Fr>; 3],
    /// `v0, v1, v2, salt`: the opening (zeros for a sealed record).
    pub opening: [FpVar<Fr>; 4],
    /// Siblings, leaf level first, three per level.
    pub siblings: Vec<FpVar<Fr>>,
}

impl LookupWitnessVar {
    /// Allocates a witness for a tree of `depth` (`w = None` in setup mode).
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
            field(&|w| w.leaf.parts().2)?,
        ];
        let opening = [
            field(&|w| w.leaf.parts().0[0])?,
            field(&|w| w.leaf.parts().0[1])?,
            field(&|w| w.leaf.parts().0[2])?,
            field(&|w| w.leaf.parts().1)?,
        ];
        let siblings = (0..path_len(depth))
            .map(|l| {
                FpVar::new_witness(cs.clone(), || {
                    w.and_then(|w| w.siblings.get(l).copied()).ok_or(missing)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            index_bits,
            leaf,
            opening,
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

/// Places `cur` among three siblings at the position given by two bits (spec §4.3):
/// children `[c0, c1, c2, c3]` with `cur` at `pos = b0 + 2·b1` and the siblings in order
/// elsewhere. 9 constraints (the bits are already Booleans).
pub fn place_var(
    cur: &FpVar<Fr>,
    b0: &Boolean<Fr>,
    b1: &Boolean<Fr>,
    s: &[FpVar<Fr>],
) -> Result<[FpVar<Fr>; 4], SynthesisError> {
    let (f0, f1) = (FpVar::from(b0.clone()), FpVar::from(b1.clone()));
    // One-hot position flags: e3 = b0·b1, e1 = b0 − e3, e2 = b1 − e3, e0 = 1 − b0 − b1 + e3.
    let e3 = &f0 * &f1;
    let e1 = &f0 - &e3;
    let e2 = &f1 - &e3;
    let e0 = FpVar::one() - &f0 - &f1 + &e3;
    let c0 = &s[0] + &e0 * (cur - &s[0]);
    let c1 = &e0 * &s[0] + &e1 * cur + &f1 * &s[1];
    let c2 = (FpVar::one() - &f1) * &s[1] + &e2 * cur + &e3 * &s[2];
    let c3 = &s[2] + &e3 * (cur - &s[2]);
    Ok([c0, c1, c2, c3])
}

/// Recomputes a Merkle root from a leaf hash and its path (spec §4.1): per level, one
/// placement (9 constraints) and one `H(c0, c1, c2, c3)` (297 constraints).
pub fn root_from_path(
    leaf_hash: &FpVar<Fr>,
    index_bits: &[Boolean<Fr>],
    siblings: &[FpVar<Fr>],
) -> Result<FpVar<Fr>, SynthesisError> {
    let mut cur = leaf_hash.clone();
    for (bits, sibs) in index_bits.chunks(2).zip(siblings.chunks(3)) {
        let children = place_var(&cur, &bits[0], &bits[1], sibs)?;
        cur = hash_var(&children)?;
    }
    Ok(cur)
}

/// The lookup gadget (spec §4.3). Enforces, when `enabled`:
/// 1. the leaf `H(key, next_key, commitment)` and path hash to `root` (the commitment as
///    the witness gives it); and (1b) if `leaf.key == x` (membership),
///    `commitment = H(v0, v1, v2, salt)`, so the values are the leaf's — otherwise the
///    opening is unused (a sealed low leaf);
/// 2. `leaf.key <= x` (248-bit bounded comparison);
/// 3. if `leaf.key != x`: `next_key == 0` or `x < next_key`.
///
/// Returns `present = enabled ∧ (leaf.key == x)` and `values = present · (v0, v1, v2)`.
pub fn lookup(
    enabled: &Boolean<Fr>,
    root: &FpVar<Fr>,
    x: &FpVar<Fr>,
    w: &LookupWitnessVar,
) -> Result<LookupResult, SynthesisError> {
    let [key, next_key, commitment] = &w.leaf;
    let [v0, v1, v2, _salt] = &w.opening;
    // §4.3 (1): authenticated leaf H(key, next_key, commitment).
    let leaf_hash = hash_var(&w.leaf)?;
    let computed = root_from_path(&leaf_hash, &w.index_bits, &w.siblings)?;
    computed.conditional_enforce_equal(root, enabled)?;
    // §4.3 (1b): the subject's own leaf opens its commitment: H(v0, v1, v2, salt).
    let matches = key.is_eq(x)?;
    let present = enabled & &matches;
    hash_var(&w.opening)?.conditional_enforce_equal(commitment, &present)?;
    // §4.3 (2): low leaf (or the leaf itself) is not above x.
    enforce_le_if(enabled, key, x, KEY_BITS)?;
    // §4.3 (3): when absent, x lies strictly inside (key, next_key) or next_key is the end.
    let absent = enabled & &!&matches;
    let has_next = next_key.is_neq(&FpVar::zero())?;
    let check_next = &absent & &has_next;
    enforce_lt_if(&check_next, x, next_key, KEY_BITS)?;
    let p = FpVar::from(present.clone());
    let values = [&p * v0, &p * v1, &p * v2];
    Ok(LookupResult { present, values })
}
