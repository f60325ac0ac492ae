//! The indexed Merkle tree lookup (SPEC §4.3), halo2 side: twin of
//! [`zkcredit_circuits::imt::LookupWitness::verify`], and the same constraint blocks as the
//! R1CS gadget `zkcredit_circuits::imt::constraints::lookup`.
//!
//! Preconditions (SPEC §4.3), as on the R1CS side: `x < 2^248` is enforced by the caller;
//! keys stored in a provider's tree are `< 2^248`.

use super::poseidon::hash;
use super::{Cell, Rows};
use crate::field::to_halo2;
use crate::{HFr, Halo2Error};
use halo2_base::QuantumCell::Constant;
use zkcredit_circuits::imt::{path_len, LookupWitness};
use zkcredit_circuits::tags::KEY_BITS;

/// An assigned lookup witness.
pub struct LookupCells {
    /// Leaf index bits, little-endian; bits 2l and 2l+1 give the position at level l.
    pub index_bits: Vec<Cell>,
    /// `key, next_key, commitment`.
    pub leaf: [Cell; 3],
    /// `v0, v1, v2, salt`: the opening (zeros for a sealed record).
    pub opening: [Cell; 4],
    /// Siblings, leaf level first, three per level.
    pub siblings: Vec<Cell>,
}

impl LookupCells {
    /// Assigns `w` for a tree of `depth` (a path of another length is refused).
    pub fn assign(
        rows: &mut Rows<'_>,
        w: &LookupWitness,
        depth: usize,
    ) -> Result<Self, Halo2Error> {
        if w.siblings.len() != path_len(depth) {
            return Err(Halo2Error::Shape(format!(
                "path of {} siblings, circuit depth is {depth}",
                w.siblings.len()
            )));
        }
        let index_bits = (0..depth)
            .map(|l| rows.witness_bit(w.index.checked_shr(l as u32).unwrap_or(0) & 1 == 1))
            .collect();
        let (values, salt, commitment) = w.leaf.parts();
        let leaf = [
            rows.witness(to_halo2(&w.leaf.key)),
            rows.witness(to_halo2(&w.leaf.next_key)),
            rows.witness(to_halo2(&commitment)),
        ];
        let opening = [
            rows.witness(to_halo2(&values[0])),
            rows.witness(to_halo2(&values[1])),
            rows.witness(to_halo2(&values[2])),
            rows.witness(to_halo2(&salt)),
        ];
        let siblings = w
            .siblings
            .iter()
            .map(|s| rows.witness(to_halo2(s)))
            .collect();
        Ok(Self {
            index_bits,
            leaf,
            opening,
            siblings,
        })
    }
}

/// The result of a lookup.
pub struct Lookup {
    /// `x` is present (0 when disabled).
    pub present: Cell,
    /// The record when present, zeros otherwise.
    pub values: [Cell; 3],
}

/// Places `cur` among three siblings at the position `b0 + 2·b1` (SPEC §4.3).
pub fn place(rows: &mut Rows<'_>, cur: Cell, b0: Cell, b1: Cell, s: &[Cell]) -> [Cell; 4] {
    // One-hot position flags: e3 = b0·b1, e1 = b0 − e3, e2 = b1 − e3, e0 = 1 − b0 − b1 + e3.
    let e3 = rows.mul(b0, b1);
    let e1 = rows.sub(b0, e3);
    let e2 = rows.sub(b1, e3);
    let t = rows.add(b0, b1);
    let t = rows.sub(e3, t);
    let e0 = rows.add(t, Constant(HFr::from(1u64)));
    // c0 = s0 + e0·(cur − s0)
    let d = rows.sub(cur, s[0]);
    let c0 = rows.mul_add(e0, d, s[0]);
    // c1 = e0·s0 + e1·cur + b1·s1
    let c1 = rows.mul(e0, s[0]);
    let c1 = rows.mul_add(e1, cur, c1);
    let c1 = rows.mul_add(b1, s[1], c1);
    // c2 = (1 − b1)·s1 + e2·cur + e3·s2
    let nb1 = rows.not(b1);
    let c2 = rows.mul(nb1, s[1]);
    let c2 = rows.mul_add(e2, cur, c2);
    let c2 = rows.mul_add(e3, s[2], c2);
    // c3 = s2 + e3·(cur − s2)
    let d = rows.sub(cur, s[2]);
    let c3 = rows.mul_add(e3, d, s[2]);
    [c0, c1, c2, c3]
}

/// Recomputes a Merkle root from a leaf hash and its path (SPEC §4.1).
pub fn root_from_path(
    rows: &mut Rows<'_>,
    leaf_hash: Cell,
    index_bits: &[Cell],
    siblings: &[Cell],
) -> Result<Cell, Halo2Error> {
    let mut cur = leaf_hash;
    for (bits, sibs) in index_bits.chunks(2).zip(siblings.chunks(3)) {
        let children = place(rows, cur, bits[0], bits[1], sibs);
        cur = hash(rows, &children)?;
    }
    Ok(cur)
}

/// The lookup (SPEC §4.3). Enforces, when `enabled`:
/// 1. the leaf `H(key, next_key, commitment)` and its path hash to `root`; (1b) if
///    `leaf.key == x`, `commitment = H(v0, v1, v2, salt)`;
/// 2. `leaf.key ≤ x` (248-bit);
/// 3. if `leaf.key ≠ x`: `next_key == 0` or `x < next_key`.
///
/// Returns `present = enabled ∧ (leaf.key == x)` and `values = present · (v0, v1, v2)`.
pub fn lookup(
    rows: &mut Rows<'_>,
    enabled: Cell,
    root: Cell,
    x: Cell,
    w: &LookupCells,
) -> Result<Lookup, Halo2Error> {
    let [key, next_key, commitment] = w.leaf;
    let [v0, v1, v2, _salt] = w.opening;
    // §4.3 (1): authenticated leaf.
    let leaf_hash = hash(rows, &w.leaf)?;
    let computed = root_from_path(rows, leaf_hash, &w.index_bits, &w.siblings)?;
    rows.enforce_equal_if(enabled, computed, root);
    // §4.3 (1b): the subject's own leaf opens its commitment.
    let matches = rows.is_equal(key, x);
    let present = rows.and(enabled, matches);
    let opened = hash(rows, &w.opening)?;
    rows.enforce_equal_if(present, opened, commitment);
    // §4.3 (2): the low leaf (or the leaf itself) is not above x.
    rows.enforce_le_if(enabled, key, x, KEY_BITS);
    // §4.3 (3): when absent, x lies strictly inside (key, next_key) or next_key is the end.
    let not_matches = rows.not(matches);
    let absent = rows.and(enabled, not_matches);
    let is_end = rows.is_zero(next_key);
    let has_next = rows.not(is_end);
    let check_next = rows.and(absent, has_next);
    rows.enforce_lt_if(check_next, x, next_key, KEY_BITS);
    let values = [
        rows.mul(present, v0),
        rows.mul(present, v1),
        rows.mul(present, v2),
    ];
    Ok(Lookup { present, values })
}
