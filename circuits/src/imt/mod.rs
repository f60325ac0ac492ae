//! Indexed Merkle tree (spec §4), native side.
//!
//! A **4-ary** Poseidon tree with `2^depth` leaves (`depth` even: `depth / 2` levels of
//! four children) whose leaves `(key, next_key, v0, v1, v2, salt)` form a sorted linked list.
//! Leaf hash `H(key, next_key, H(v0, v1, v2, salt))` with a random salt per leaf and per
//! value change (so a witness can seal a neighbour's record, [`leaf`]); an empty slot is 0;
//! internal node `H(c0, c1, c2, c3)`. Index 0 holds the sentinel `(0, smallest key or 0,
//! 0, 0, 0, 0)`.
//! (4-ary rather than binary: a path costs 16 × (297 + 11) constraints at depth 32 instead
//! of 32 × 241 — the largest single saving of the eligibility circuit, spec §4.1.)
//! Membership of `x`: the leaf with `key == x`. Non-membership: the *low leaf* with
//! `key < x` and (`x < next_key` or `next_key == 0`).
//!
//! Storage is one dense vector per level (leaves are allocated from index 1 upward and
//! freed slots are reused), so insert / update / delete are O(depth) hashes and a
//! bulk build hashes every level in parallel.

pub mod constraints;
pub mod leaf;
pub mod paged;

pub use leaf::{
    fresh_salt, leaf_hash, leaf_hashes, value_commitment, Leaf, LeafRecord, LookupWitness,
    WitnessLeaf,
};

use crate::cmp::fits_in_bits;
use crate::poseidon::hash_n;
use crate::tags::KEY_BITS;
use crate::{CircuitError, Fr};
use ark_ff::Zero;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// A row with its salt: `(key, values, salt)`.
pub type SaltedRow = (Fr, [Fr; 3], Fr);

/// Default tree depth (capacity 2^32 leaves; 16 levels of arity 4).
pub const DEFAULT_DEPTH: usize = 32;
/// Children per internal node.
pub const ARITY: usize = 4;

/// `H(c0, c1, c2, c3)`: the internal-node hash.
pub fn node_hash(c: [Fr; ARITY]) -> Fr {
    hash_n(c)
}

/// [`node_hash`] of many groups at once, in order, on every core and in eight lanes where
/// the processor allows ([`crate::poseidon::hash_many`]).
pub fn node_hashes(groups: &[[Fr; ARITY]]) -> Vec<Fr> {
    crate::poseidon::hash_many(groups)
}

/// Number of 4-ary levels of a tree of (binary-equivalent) `depth`.
pub fn levels(depth: usize) -> usize {
    depth / 2
}

/// Number of sibling hashes in a path: three per level.
pub fn path_len(depth: usize) -> usize {
    3 * levels(depth)
}

/// The four children of a level: `cur` at position `pos` (0..4), the three siblings in order
/// in the remaining positions.
pub fn place(cur: Fr, pos: usize, sibs: &[Fr]) -> [Fr; ARITY] {
    let mut out = [Fr::zero(); ARITY];
    let mut s = sibs.iter();
    for (k, o) in out.iter_mut().enumerate() {
        *o = if k == pos {
            cur
        } else {
            *s.next().unwrap_or(&Fr::zero())
        };
    }
    out
}

/// Checks a subject key is in `[1, 2^248)` (spec §3.4).
pub fn check_key(key: &Fr) -> Result<(), CircuitError> {
    if key.is_zero() || !fits_in_bits(key, KEY_BITS) {
        return Err(CircuitError::KeyOutOfRange);
    }
    Ok(())
}

use self::levels as levels_of;

/// A native indexed Merkle tree.
#[derive(Clone)]
pub struct IndexedMerkleTree {
    depth: usize,
    /// `levels[0]` = leaf hashes, `levels[depth]` = `[root]`; each dense, shorter than
    /// capacity, missing entries are `zeros[level]`.
    levels: Vec<Vec<Fr>>,
    leaves: Vec<Option<Leaf>>,
    index_of: BTreeMap<Fr, u64>,
    /// Emptied indices; an insert reuses the lowest (so a restored tree continues alike).
    free: std::collections::BTreeSet<u64>,
    zeros: Vec<Fr>,
    /// Leaf indices rewritten since the last [`IndexedMerkleTree::take_touched`].
    touched: std::collections::BTreeSet<u64>,
}

impl std::fmt::Debug for IndexedMerkleTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexedMerkleTree")
            .field("depth", &self.depth)
            .field("len", &self.len())
            .field("root", &self.root())
            .finish_non_exhaustive()
    }
}

/// Hashes of empty subtrees per 4-ary level: `zeros[0] = 0`,
/// `zeros[l+1] = H(zeros[l], zeros[l], zeros[l], zeros[l])`.
pub fn zero_hashes(depth: usize) -> Vec<Fr> {
    let mut z = vec![Fr::zero()];
    for l in 0..levels(depth) {
        z.push(node_hash([z[l]; ARITY]));
    }
    z
}

impl IndexedMerkleTree {
    /// An empty tree (only the sentinel) of the given depth (even, 2..=64).
    pub fn new(depth: usize) -> Result<Self, CircuitError> {
        if !(2..=64).contains(&depth) || !depth.is_multiple_of(2) {
            return Err(CircuitError::BadDepth(depth));
        }
        let mut t = Self {
            depth,
            levels: vec![Vec::new(); levels(depth) + 1],
            leaves: Vec::new(),
            index_of: BTreeMap::new(),
            free: Default::default(),
            zeros: zero_hashes(depth),
            touched: Default::default(),
        };
        t.leaves.push(Some(Leaf::default()));
        t.index_of.insert(Fr::zero(), 0);
        t.rehash_path(0);
        Ok(t)
    }

    /// Builds a tree from rows in one pass, hashing in parallel (spec §4.4 bulk rebuild),
    /// each row under a fresh salt ([`fresh_salt`]). Keys must be distinct and in
    /// `[1, 2^248)`.
    pub fn from_rows(depth: usize, rows: &[(Fr, [Fr; 3])]) -> Result<Self, CircuitError> {
        let salted: Vec<SaltedRow> = rows.iter().map(|(k, v)| (*k, *v, fresh_salt())).collect();
        Self::from_salted_rows(depth, &salted)
    }

    /// Like [`Self::from_rows`] with the salts given (a rebuild keeping the salts of
    /// unchanged rows; deterministic tests).
    pub fn from_salted_rows(depth: usize, rows: &[SaltedRow]) -> Result<Self, CircuitError> {
        let mut t = Self::new(depth)?;
        if rows.is_empty() {
            return Ok(t);
        }
        if (rows.len() as u128 + 1) > (1u128 << depth) {
            return Err(CircuitError::TreeFull { depth });
        }
        let mut sorted: Vec<SaltedRow> = rows.to_vec();
        for (k, _, _) in &sorted {
            check_key(k)?;
        }
        sorted.par_sort_unstable_by_key(|r| r.0);
        if sorted.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(CircuitError::DuplicateKey);
        }
        let n = sorted.len();
        let mut leaves = Vec::with_capacity(n + 1);
        leaves.push(Some(Leaf {
            next_key: sorted[0].0,
            ..Leaf::default()
        }));
        for (i, (k, v, salt)) in sorted.iter().enumerate() {
            let next = sorted.get(i + 1).map(|r| r.0).unwrap_or_else(Fr::zero);
            leaves.push(Some(Leaf {
                key: *k,
                next_key: next,
                values: *v,
                salt: *salt,
            }));
        }
        t.index_of = sorted
            .iter()
            .enumerate()
            .map(|(i, r)| (r.0, i as u64 + 1))
            .chain(std::iter::once((Fr::zero(), 0)))
            .collect();
        t.leaves = leaves;
        t.levels = t.build_levels();
        Ok(t)
    }

    /// Restores a tree from its leaf table as persisted by a store: `(index, leaf)` for every
    /// occupied index (any order). Checks the table is a well-formed indexed tree (sentinel at
    /// 0, valid distinct keys, every `next_key` the next larger key) and rebuilds the levels
    /// in parallel; the root equals that of the tree the leaves were taken from.
    pub fn from_leaves(
        depth: usize,
        leaves: impl IntoIterator<Item = (u64, Leaf)>,
    ) -> Result<Self, CircuitError> {
        let mut t = Self::new(depth)?;
        let bad = |m: String| CircuitError::Shape(format!("leaf table: {m}"));
        let mut table: Vec<Option<Leaf>> = Vec::new();
        let mut index_of = BTreeMap::new();
        for (i, leaf) in leaves {
            if depth < 64 && i >> depth != 0 {
                return Err(bad(format!("index {i} beyond depth {depth}")));
            }
            let iu = usize::try_from(i).map_err(|_| bad(format!("index {i} too large")))?;
            if iu >= table.len() {
                table.resize(iu + 1, None);
            }
            if table[iu].is_some() {
                return Err(bad(format!("index {i} twice")));
            }
            if i == 0 {
                if !leaf.key.is_zero() || leaf.values != [Fr::zero(); 3] || !leaf.salt.is_zero() {
                    return Err(bad("index 0 is not the sentinel".into()));
                }
            } else {
                check_key(&leaf.key)?;
            }
            if index_of.insert(leaf.key, i).is_some() {
                return Err(CircuitError::DuplicateKey);
            }
            table[iu] = Some(leaf);
        }
        if table.first().is_none_or(|l| l.is_none()) {
            return Err(bad("no sentinel at index 0".into()));
        }
        // The linked list must visit the keys in ascending order.
        let keys: Vec<(&Fr, &u64)> = index_of.iter().collect();
        for (n, (_, i)) in keys.iter().enumerate() {
            let expected = keys.get(n + 1).map(|(k, _)| **k).unwrap_or_else(Fr::zero);
            let leaf = table[**i as usize]
                .as_ref()
                .ok_or_else(|| bad("hole".into()))?;
            if leaf.next_key != expected {
                return Err(bad(format!("leaf {i} has a wrong next_key")));
            }
        }
        t.free = table
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_none())
            .map(|(i, _)| i as u64)
            .collect();
        t.leaves = table;
        t.index_of = index_of;
        t.levels = t.build_levels();
        Ok(t)
    }

    /// The leaf at `index` (`None`: empty or beyond the table).
    pub fn leaf(&self, index: u64) -> Option<Leaf> {
        self.leaves
            .get(usize::try_from(index).ok()?)
            .copied()
            .flatten()
    }

    /// Length of the leaf table (occupied and emptied indices).
    pub fn leaf_table_len(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// Every occupied `(index, leaf)`, index order.
    pub fn occupied_leaves(&self) -> impl Iterator<Item = (u64, Leaf)> + '_ {
        self.leaves
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.map(|l| (i as u64, l)))
    }

    /// Leaf indices rewritten (inserted, updated, emptied) since the last call; what a store
    /// must persist to follow the tree incrementally.
    pub fn take_touched(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.touched).into_iter().collect()
    }

    /// Hashes every level from the leaf table, in parallel.
    fn build_levels(&self) -> Vec<Vec<Fr>> {
        let mut levels = Vec::with_capacity(levels_of(self.depth) + 1);
        levels.push(leaf_hashes(self.leaves.iter().map(Option::as_ref)));
        for l in 0..levels_of(self.depth) {
            let zero = self.zeros[l];
            let groups: Vec<[Fr; ARITY]> = levels[l]
                .chunks(ARITY)
                .map(|c: &[Fr]| std::array::from_fn(|k| c.get(k).copied().unwrap_or(zero)))
                .collect();
            levels.push(node_hashes(&groups));
        }
        levels
    }

    /// The root recomputed from scratch from the leaf table (an audit of the incremental
    /// updates; also what a store does after loading leaves).
    pub fn recompute_root(&self) -> Fr {
        let top = levels(self.depth);
        self.build_levels()[top]
            .first()
            .copied()
            .unwrap_or(self.zeros[top])
    }

    /// Tree depth.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Number of keys (excluding the sentinel).
    pub fn len(&self) -> usize {
        self.index_of.len() - 1
    }

    /// `true` if only the sentinel is present.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The root.
    pub fn root(&self) -> Fr {
        self.node(levels(self.depth), 0)
    }

    fn node(&self, level: usize, index: u64) -> Fr {
        self.levels[level]
            .get(index as usize)
            .copied()
            .unwrap_or(self.zeros[level])
    }

    fn set_node(&mut self, level: usize, index: u64, v: Fr) {
        let lv = &mut self.levels[level];
        let i = index as usize;
        if i >= lv.len() {
            let z = self.zeros[level];
            lv.resize(i + 1, z);
        }
        lv[i] = v;
    }

    fn rehash_path(&mut self, index: u64) {
        self.touched.insert(index);
        let h = self.leaves[index as usize]
            .as_ref()
            .map(Leaf::hash)
            .unwrap_or_else(Fr::zero);
        self.set_node(0, index, h);
        let mut idx = index;
        for l in 0..levels(self.depth) {
            let parent = idx >> 2;
            let children: [Fr; ARITY] =
                std::array::from_fn(|k| self.node(l, (parent << 2) | k as u64));
            self.set_node(l + 1, parent, node_hash(children));
            idx = parent;
        }
    }

    fn low_index(&self, key: &Fr) -> u64 {
        // The sentinel (key 0) is always present and every key is > 0.
        *self
            .index_of
            .range(..*key)
            .next_back()
            .expect("sentinel present")
            .1
    }

    fn leaf_mut(&mut self, index: u64) -> &mut Leaf {
        self.leaves[index as usize]
            .as_mut()
            .expect("indexed leaves are occupied")
    }

    /// The whole leaf (record and salt) stored under `key`, if any.
    pub fn leaf_of(&self, key: &Fr) -> Option<Leaf> {
        if key.is_zero() {
            return None;
        }
        self.index_of
            .get(key)
            .and_then(|i| self.leaves[*i as usize])
    }

    /// The record stored under `key`, if any.
    pub fn get(&self, key: &Fr) -> Option<[Fr; 3]> {
        if key.is_zero() {
            return None;
        }
        self.index_of
            .get(key)
            .and_then(|i| self.leaves[*i as usize].as_ref())
            .map(|l| l.values)
    }

    /// Keys in ascending order (excluding the sentinel).
    pub fn keys(&self) -> impl Iterator<Item = &Fr> {
        self.index_of.keys().skip(1)
    }

    /// Inserts a new key under a fresh salt. O(depth) hashes (two leaf paths).
    pub fn insert(&mut self, key: Fr, values: [Fr; 3]) -> Result<(), CircuitError> {
        self.insert_salted(key, values, fresh_salt())
    }

    /// Inserts a new key under the given salt.
    pub fn insert_salted(
        &mut self,
        key: Fr,
        values: [Fr; 3],
        salt: Fr,
    ) -> Result<(), CircuitError> {
        check_key(&key)?;
        if self.index_of.contains_key(&key) {
            return Err(CircuitError::DuplicateKey);
        }
        let index = match self.free.pop_first() {
            Some(i) => i,
            None => {
                let i = self.leaves.len() as u64;
                if self.depth < 64 && i >= (1u64 << self.depth) {
                    return Err(CircuitError::TreeFull { depth: self.depth });
                }
                self.leaves.push(None);
                i
            }
        };
        let low = self.low_index(&key);
        let low_leaf = self.leaf_mut(low);
        let next = low_leaf.next_key;
        low_leaf.next_key = key;
        self.leaves[index as usize] = Some(Leaf {
            key,
            next_key: next,
            values,
            salt,
        });
        self.index_of.insert(key, index);
        self.rehash_path(low);
        self.rehash_path(index);
        Ok(())
    }

    /// Replaces the record of an existing key under a fresh salt (a new salt on every
    /// value change, so an old and a new commitment cannot be compared). O(depth) hashes.
    pub fn update(&mut self, key: Fr, values: [Fr; 3]) -> Result<(), CircuitError> {
        self.update_salted(key, values, fresh_salt())
    }

    /// Replaces the record of an existing key under the given salt.
    pub fn update_salted(
        &mut self,
        key: Fr,
        values: [Fr; 3],
        salt: Fr,
    ) -> Result<(), CircuitError> {
        if key.is_zero() {
            return Err(CircuitError::KeyNotFound);
        }
        let index = *self.index_of.get(&key).ok_or(CircuitError::KeyNotFound)?;
        let leaf = self.leaf_mut(index);
        leaf.values = values;
        leaf.salt = salt;
        self.rehash_path(index);
        Ok(())
    }

    /// Inserts or updates, under a fresh salt.
    pub fn upsert(&mut self, key: Fr, values: [Fr; 3]) -> Result<(), CircuitError> {
        self.upsert_salted(key, values, fresh_salt())
    }

    /// Inserts or updates, under the given salt.
    pub fn upsert_salted(
        &mut self,
        key: Fr,
        values: [Fr; 3],
        salt: Fr,
    ) -> Result<(), CircuitError> {
        if self.index_of.contains_key(&key) && !key.is_zero() {
            self.update_salted(key, values, salt)
        } else {
            self.insert_salted(key, values, salt)
        }
    }

    /// Deletes a key: the low leaf takes over its `next_key`, its slot becomes empty (0)
    /// and is reused by a later insert. O(depth) hashes.
    pub fn delete(&mut self, key: &Fr) -> Result<(), CircuitError> {
        if key.is_zero() {
            return Err(CircuitError::KeyNotFound);
        }
        let index = self.index_of.remove(key).ok_or(CircuitError::KeyNotFound)?;
        let removed = self.leaves[index as usize]
            .take()
            .expect("indexed leaves are occupied");
        let low = self.low_index(key);
        self.leaf_mut(low).next_key = removed.next_key;
        self.rehash_path(index);
        self.rehash_path(low);
        self.free.insert(index);
        Ok(())
    }

    fn path(&self, index: u64) -> Vec<Fr> {
        let mut out = Vec::with_capacity(path_len(self.depth));
        for l in 0..levels(self.depth) {
            let at = index >> (2 * l);
            let base = at & !3;
            for k in 0..ARITY as u64 {
                if base | k != at {
                    out.push(self.node(l, base | k));
                }
            }
        }
        out
    }

    /// The lookup witness for `x`: the leaf of `x` with its record open if present, else
    /// its low leaf with its record **sealed** (key, next key and commitment only: a
    /// non-membership witness reveals no neighbour's record, spec §4.2).
    /// Returns `(present, witness)`. `x` must be a valid key.
    pub fn witness(&self, x: &Fr) -> Result<(bool, LookupWitness), CircuitError> {
        check_key(x)?;
        let (present, index) = match self.index_of.get(x) {
            Some(i) => (true, *i),
            None => (false, self.low_index(x)),
        };
        let leaf = self.leaves[index as usize].expect("indexed leaves are occupied");
        Ok((
            present,
            LookupWitness {
                index,
                leaf: if present {
                    leaf.opened()
                } else {
                    leaf.sealed()
                },
                siblings: self.path(index),
            },
        ))
    }
}

#[cfg(test)]
mod tests;
