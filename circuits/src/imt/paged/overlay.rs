//! Writes over a store: an [`Overlay`] applies inserts, updates and deletes exactly as the
//! in-memory tree does and rehashes the dirty paths into a [`Delta`] (spec §4.4).

use super::{root_of, storage, Counts, Group, NodeSource};
use crate::imt::{
    check_key, leaf_hashes, levels, node_hashes, zero_hashes, IndexedMerkleTree, Leaf, ARITY,
};
use crate::{CircuitError, Fr};
use ark_ff::Zero;
use std::collections::{BTreeMap, BTreeSet};

/// What an [`Overlay`] changed: what a store writes, in one transaction, to move from the
/// state it was read from to the next.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    /// Leaves written (`None`: emptied).
    pub leaves: Vec<(u64, Option<Leaf>)>,
    /// Groups written.
    pub groups: Vec<(usize, u64, Group)>,
    /// Indices that became empty (added to the free list).
    pub freed: Vec<u64>,
    /// Emptied indices reused (removed from the free list).
    pub reused: Vec<u64>,
    /// The new root.
    pub root: Fr,
    /// The new counts.
    pub counts: Counts,
}

/// Changes applied over a [`NodeSource`], held in memory until [`Overlay::finish`].
pub struct Overlay<'a, S: NodeSource + ?Sized> {
    src: &'a mut S,
    depth: usize,
    leaves: BTreeMap<u64, Option<Leaf>>,
    /// Keys inserted (`Some(index)`) or deleted (`None`) here.
    keys: BTreeMap<Fr, Option<u64>>,
    /// Keys inserted here and present.
    present: BTreeMap<Fr, u64>,
    /// Keys deleted here → their low leaf (key, index) when they were deleted.
    skip: BTreeMap<Fr, (Fr, u64)>,
    /// Free here, not in the source's free list.
    freed: BTreeSet<u64>,
    /// In the source's free list, used here.
    reused: BTreeSet<u64>,
    /// In the source's free list, used here and emptied again.
    back: BTreeSet<u64>,
    /// The source's free list below this is in `reused` or `back`.
    cursor: u64,
    counts: Counts,
}

impl<S: NodeSource + ?Sized> std::fmt::Debug for Overlay<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlay")
            .field("depth", &self.depth)
            .field("leaves_written", &self.leaves.len())
            .finish_non_exhaustive()
    }
}

impl<'a, S: NodeSource + ?Sized> Overlay<'a, S> {
    /// An overlay on `src`, a tree of `depth`.
    pub fn new(src: &'a mut S, depth: usize) -> Result<Self, CircuitError> {
        IndexedMerkleTree::new(depth)?;
        let counts = src.counts()?;
        Ok(Self {
            src,
            depth,
            leaves: BTreeMap::new(),
            keys: BTreeMap::new(),
            present: BTreeMap::new(),
            skip: BTreeMap::new(),
            freed: BTreeSet::new(),
            reused: BTreeSet::new(),
            back: BTreeSet::new(),
            cursor: 0,
            counts,
        })
    }

    fn index_of(&mut self, key: &Fr) -> Result<Option<u64>, CircuitError> {
        match self.keys.get(key) {
            Some(i) => Ok(*i),
            None => self.src.index_of(key),
        }
    }

    fn leaf(&mut self, index: u64) -> Result<Option<Leaf>, CircuitError> {
        match self.leaves.get(&index) {
            Some(l) => Ok(*l),
            None => self.src.leaf(index),
        }
    }

    fn occupied(&mut self, index: u64) -> Result<Leaf, CircuitError> {
        self.leaf(index)?
            .ok_or_else(|| storage(format!("key index points at the empty leaf {index}")))
    }

    /// The largest present key below `key` and its index. A key deleted here is stepped
    /// over through the low leaf it had when it was deleted (`skip`), so a batch of deletes
    /// costs one lookup each, not one per key deleted before it.
    fn low(&mut self, key: &Fr) -> Result<(Fr, u64), CircuitError> {
        let (mut k, mut i) = self.src.below(key)?;
        loop {
            match self.keys.get(&k) {
                Some(None) => match self.skip.get(&k) {
                    Some(&(lk, li)) => (k, i) = (lk, li),
                    None => (k, i) = self.src.below(&k)?,
                },
                Some(Some(j)) => {
                    i = *j;
                    break;
                }
                None => break,
            }
        }
        match self.present.range(..*key).next_back() {
            Some((hk, hi)) if *hk > k => Ok((*hk, *hi)),
            _ => Ok((k, i)),
        }
    }

    fn allocate(&mut self) -> Result<u64, CircuitError> {
        let from_src = loop {
            match self.src.free_from(self.cursor)? {
                Some(i) if self.reused.contains(&i) || self.back.contains(&i) => {
                    self.cursor = i + 1
                }
                other => break other,
            }
        };
        let best = [self.freed.first(), self.back.first(), from_src.as_ref()]
            .into_iter()
            .flatten()
            .min()
            .copied();
        match best {
            Some(i) if self.freed.remove(&i) => Ok(i),
            Some(i) => {
                if !self.back.remove(&i) {
                    self.cursor = i + 1;
                    if self.src.leaf(i)?.is_some() {
                        return Err(storage(format!(
                            "the free list names leaf {i}, which is occupied"
                        )));
                    }
                }
                self.reused.insert(i);
                Ok(i)
            }
            None => {
                let i = self.counts.table_len;
                if self.depth < 64 && i >= (1u64 << self.depth) {
                    return Err(CircuitError::TreeFull { depth: self.depth });
                }
                self.counts.table_len += 1;
                Ok(i)
            }
        }
    }

    fn release(&mut self, index: u64) {
        if self.reused.remove(&index) {
            self.back.insert(index);
        } else {
            self.freed.insert(index);
        }
    }

    /// Inserts a new key under the given salt ([`IndexedMerkleTree::insert_salted`]).
    pub fn insert_salted(
        &mut self,
        key: Fr,
        values: [Fr; 3],
        salt: Fr,
    ) -> Result<(), CircuitError> {
        check_key(&key)?;
        if self.index_of(&key)?.is_some() {
            return Err(CircuitError::DuplicateKey);
        }
        self.insert_absent(key, values, salt)
    }

    /// [`Self::insert_salted`] for a key already checked and looked up, and absent.
    fn insert_absent(&mut self, key: Fr, values: [Fr; 3], salt: Fr) -> Result<(), CircuitError> {
        let index = self.allocate()?;
        let (_, low) = self.low(&key)?;
        let mut low_leaf = self.occupied(low)?;
        let next = low_leaf.next_key;
        low_leaf.next_key = key;
        self.leaves.insert(low, Some(low_leaf));
        self.leaves.insert(
            index,
            Some(Leaf {
                key,
                next_key: next,
                values,
                salt,
            }),
        );
        self.keys.insert(key, Some(index));
        self.present.insert(key, index);
        self.counts.len += 1;
        Ok(())
    }

    /// Replaces the record of an existing key ([`IndexedMerkleTree::update_salted`]).
    pub fn update_salted(
        &mut self,
        key: Fr,
        values: [Fr; 3],
        salt: Fr,
    ) -> Result<(), CircuitError> {
        if key.is_zero() {
            return Err(CircuitError::KeyNotFound);
        }
        let index = self.index_of(&key)?.ok_or(CircuitError::KeyNotFound)?;
        self.rewrite(index, values, salt)
    }

    /// Replaces the record of the leaf at `index`, occupied.
    fn rewrite(&mut self, index: u64, values: [Fr; 3], salt: Fr) -> Result<(), CircuitError> {
        let mut leaf = self.occupied(index)?;
        leaf.values = values;
        leaf.salt = salt;
        self.leaves.insert(index, Some(leaf));
        Ok(())
    }

    /// Inserts or updates ([`IndexedMerkleTree::upsert_salted`]).
    pub fn upsert_salted(
        &mut self,
        key: Fr,
        values: [Fr; 3],
        salt: Fr,
    ) -> Result<(), CircuitError> {
        // One lookup of the key (on a store, one query), not one here and one again in
        // the update or insert.
        if !key.is_zero() {
            if let Some(index) = self.index_of(&key)? {
                return self.rewrite(index, values, salt);
            }
        }
        check_key(&key)?;
        self.insert_absent(key, values, salt)
    }

    /// Deletes a key ([`IndexedMerkleTree::delete`]).
    pub fn delete(&mut self, key: &Fr) -> Result<(), CircuitError> {
        if key.is_zero() {
            return Err(CircuitError::KeyNotFound);
        }
        let index = self.index_of(key)?.ok_or(CircuitError::KeyNotFound)?;
        let removed = self.occupied(index)?;
        self.keys.insert(*key, None);
        self.present.remove(key);
        self.leaves.insert(index, None);
        let (low_key, low) = self.low(key)?;
        self.skip.insert(*key, (low_key, low));
        let mut low_leaf = self.occupied(low)?;
        low_leaf.next_key = removed.next_key;
        self.leaves.insert(low, Some(low_leaf));
        self.release(index);
        self.counts.len = self
            .counts
            .len
            .checked_sub(1)
            .ok_or_else(|| storage("the recorded key count is below the keys present"))?;
        Ok(())
    }

    /// Rehashes the paths of every leaf written, level by level (one batch of group reads
    /// per level), and returns what to write.
    pub fn finish(self) -> Result<Delta, CircuitError> {
        let zeros = zero_hashes(self.depth);
        let top = levels(self.depth);
        // The leaves' hashes on every core, as each level's groups below.
        let hashed = leaf_hashes(self.leaves.values().map(Option::as_ref));
        let mut changed: BTreeMap<u64, Fr> = self.leaves.keys().copied().zip(hashed).collect();
        let mut groups = Vec::new();
        let mut root = None;
        for (l, zero) in zeros.iter().enumerate().take(top) {
            let parents: Vec<u64> = changed
                .keys()
                .map(|i| i >> 2)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let stored = self.src.groups(l, &parents)?;
            if stored.len() != parents.len() {
                return Err(storage("a group read answered the wrong number of groups"));
            }
            let level: Vec<(u64, Group)> = parents
                .into_iter()
                .zip(stored)
                .map(|(p, g)| {
                    let mut g = g.unwrap_or([*zero; ARITY]);
                    for (k, slot) in g.iter_mut().enumerate() {
                        if let Some(v) = changed.get(&((p << 2) | k as u64)) {
                            *slot = *v;
                        }
                    }
                    (p, g)
                })
                .collect();
            let hashed = node_hashes(&level.iter().map(|(_, g)| *g).collect::<Vec<_>>());
            let above: BTreeMap<u64, Fr> = level.iter().map(|(p, _)| *p).zip(hashed).collect();
            groups.extend(level.into_iter().map(|(p, g)| (l, p, g)));
            changed = above;
        }
        if let Some(r) = changed.get(&0) {
            root = Some(*r);
        }
        let root = match root {
            Some(r) => r,
            None => root_of(self.src, self.depth)?,
        };
        Ok(Delta {
            leaves: self.leaves.into_iter().collect(),
            groups,
            freed: self.freed.into_iter().collect(),
            reused: self.reused.into_iter().collect(),
            root,
            counts: self.counts,
        })
    }
}
