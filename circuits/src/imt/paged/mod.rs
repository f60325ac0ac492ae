//! The indexed tree over a store (spec §4.4): the same tree as [`IndexedMerkleTree`](crate::imt::IndexedMerkleTree), read
//! from and written to a [`NodeSource`] — a database holding the leaf table and every inner
//! node — instead of memory, so a tree of any size opens without rehashing and a process
//! holds only what one operation touches.
//!
//! **Layout.** Inner nodes are stored in 4-ary *groups*: group `(l, p)` holds the four nodes
//! of level `l` with indices `4p..4p+3` (level 0 = leaf hashes), and `H(group (l, p))` is node
//! `p` of level `l + 1`; the root is `H(group (levels − 1, 0))`. A group that is absent is
//! four empty subtrees (`zeros[l]`). A witness path is one group per level.
//!
//! **Writes.** An [`Overlay`] applies inserts, updates and deletes exactly as
//! [`IndexedMerkleTree`](crate::imt::IndexedMerkleTree) does (the same index allocation: the lowest emptied index first),
//! reading through to the source and keeping its writes in memory; [`Overlay::finish`]
//! rehashes the dirty paths level by level and returns the [`Delta`] a store writes in one
//! transaction. **Bulk build.** [`build_sorted`] streams rows in ascending key order into
//! leaves and groups, hashing one chunk of `4^7` leaves in parallel while the chunk before it
//! is written, in memory bounded by three chunks.
//!
//! [`MemSource`] is the in-memory source: the tests' twin of a database.

mod build;
mod mem;
mod overlay;

pub use build::{build_sorted, hash_leaf_table, Built, CHUNK_LEVELS};
pub use mem::MemSource;
pub use overlay::{Delta, Overlay};

use super::{check_key, levels, node_hash, zero_hashes, LookupWitness};
use super::{Leaf, ARITY};
use crate::{CircuitError, Fr};
use ark_ff::Zero;

/// The four children of one parent.
pub type Group = [Fr; ARITY];

/// A tree's size as its store records it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Keys, the sentinel excluded.
    pub len: u64,
    /// Length of the leaf table: occupied and emptied indices (the next fresh index).
    pub table_len: u64,
}

/// Read access to one committed state of a tree (spec §4.4).
pub trait NodeSource {
    /// Group `(level, parent)`, `None` when absent (four empty subtrees).
    fn group(&mut self, level: usize, parent: u64) -> Result<Option<Group>, CircuitError>;
    /// Several groups of one level (a store may answer them in one query).
    fn groups(
        &mut self,
        level: usize,
        parents: &[u64],
    ) -> Result<Vec<Option<Group>>, CircuitError> {
        parents.iter().map(|p| self.group(level, *p)).collect()
    }
    /// The groups of a path: `(level, parent)` for each level, bottom up.
    fn path_groups(&mut self, at: &[(usize, u64)]) -> Result<Vec<Option<Group>>, CircuitError> {
        at.iter().map(|(l, p)| self.group(*l, *p)).collect()
    }
    /// The leaf at `index`, `None` when empty.
    fn leaf(&mut self, index: u64) -> Result<Option<Leaf>, CircuitError>;
    /// The index of `key` (the sentinel's key 0 at index 0).
    fn index_of(&mut self, key: &Fr) -> Result<Option<u64>, CircuitError>;
    /// The largest key below `key` (`key > 0`) and its index: the sentinel at least.
    fn below(&mut self, key: &Fr) -> Result<(Fr, u64), CircuitError>;
    /// The lowest emptied index `>= from`.
    fn free_from(&mut self, from: u64) -> Result<Option<u64>, CircuitError>;
    /// The recorded counts.
    fn counts(&mut self) -> Result<Counts, CircuitError>;
}

/// The index of the node `up` levels above leaf `index`; 0 past the top (depth 64 would
/// shift by 64).
fn above(index: u64, up: usize) -> u64 {
    index.checked_shr(2 * up as u32).unwrap_or(0)
}

pub(crate) fn storage(msg: impl Into<String>) -> CircuitError {
    CircuitError::Storage(msg.into())
}

/// The root a source holds.
pub fn root_of<S: NodeSource + ?Sized>(src: &mut S, depth: usize) -> Result<Fr, CircuitError> {
    let top = levels(depth);
    Ok(match src.group(top - 1, 0)? {
        Some(g) => node_hash(g),
        None => zero_hashes(depth)[top],
    })
}

/// The lookup witness for `x` read from `src` (as [`IndexedMerkleTree::witness`](crate::imt::IndexedMerkleTree::witness)): the leaf
/// of `x` opened if present, else its low leaf sealed. The whole path is checked on the way
/// (each stored group holds the hash of the one below, the leaf's hash at the bottom), so a
/// corrupt node store answers an error, never a witness for a root nobody published: the
/// witness is valid for [`root_of`] the same state.
pub fn witness<S: NodeSource + ?Sized>(
    src: &mut S,
    depth: usize,
    x: &Fr,
) -> Result<(bool, LookupWitness), CircuitError> {
    check_key(x)?;
    let (present, index) = match src.index_of(x)? {
        Some(i) => (true, i),
        None => (false, src.below(x)?.1),
    };
    let leaf = src
        .leaf(index)?
        .ok_or_else(|| storage(format!("key index points at the empty leaf {index}")))?;
    let zeros = zero_hashes(depth);
    let at: Vec<(usize, u64)> = (0..levels(depth))
        .map(|l| (l, above(index, l + 1)))
        .collect();
    let groups = src.path_groups(&at)?;
    let mut siblings = Vec::with_capacity(3 * at.len());
    let mut node = leaf.hash();
    for (l, g) in groups.into_iter().enumerate() {
        let g = g.unwrap_or([zeros[l]; ARITY]);
        let pos = (above(index, l) & 3) as usize;
        if g[pos] != node {
            return Err(storage(format!(
                "the stored path of leaf {index} breaks at level {l} (the node store is corrupt)"
            )));
        }
        siblings.extend((0..ARITY).filter(|k| *k != pos).map(|k| g[k]));
        node = node_hash(g);
    }
    Ok((
        present,
        LookupWitness {
            index,
            leaf: if present {
                leaf.opened()
            } else {
                leaf.sealed()
            },
            siblings,
        },
    ))
}

/// Checks the stored path of `index` hashes up to `root`: each group's hash is the node its
/// parent group holds, and a present leaf hashes to its level-0 node. What a store runs on
/// a sample of leaves at start to detect a corrupt or truncated node store.
pub fn check_path<S: NodeSource + ?Sized>(
    src: &mut S,
    depth: usize,
    index: u64,
    root: &Fr,
) -> Result<(), CircuitError> {
    let zeros = zero_hashes(depth);
    let top = levels(depth);
    let at: Vec<(usize, u64)> = (0..top).map(|l| (l, above(index, l + 1))).collect();
    let groups = src.path_groups(&at)?;
    let leaf = src.leaf(index)?;
    let mut node = leaf.map(|l| l.hash()).unwrap_or_else(Fr::zero);
    for (l, g) in groups.into_iter().enumerate() {
        let g = g.unwrap_or([zeros[l]; ARITY]);
        let pos = (above(index, l) & 3) as usize;
        if g[pos] != node {
            return Err(storage(format!(
                "the stored path of leaf {index} breaks at level {l}"
            )));
        }
        node = node_hash(g);
    }
    if node != *root {
        return Err(storage(format!(
            "the stored path of leaf {index} does not reach the recorded root"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
