//! The indexed tree over a store (spec §4.4): the same tree as [`IndexedMerkleTree`], read
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
//! [`IndexedMerkleTree`] does (the same index allocation: the lowest emptied index first),
//! reading through to the source and keeping its writes in memory; [`Overlay::finish`]
//! rehashes the dirty paths level by level and returns the [`Delta`] a store writes in one
//! transaction. **Bulk build.** [`build_sorted`] streams rows in ascending key order into
//! leaves and groups, hashing one chunk of `4^7` leaves at a time in parallel, in memory
//! bounded by the chunk.
//!
//! [`MemSource`] is the in-memory source: the tests' twin of a database.

use super::{check_key, levels, node_hash, zero_hashes, IndexedMerkleTree, Leaf, LookupWitness};
use super::{SaltedRow, ARITY};
use crate::{CircuitError, Fr};
use ark_ff::Zero;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

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

fn storage(msg: impl Into<String>) -> CircuitError {
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

/// The lookup witness for `x` read from `src` (as [`IndexedMerkleTree::witness`]): the leaf
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
        .map(|l| (l, index >> (2 * (l + 1))))
        .collect();
    let groups = src.path_groups(&at)?;
    let mut siblings = Vec::with_capacity(3 * at.len());
    let mut node = leaf.hash();
    for (l, g) in groups.into_iter().enumerate() {
        let g = g.unwrap_or([zeros[l]; ARITY]);
        let pos = ((index >> (2 * l)) & 3) as usize;
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
    let at: Vec<(usize, u64)> = (0..top).map(|l| (l, index >> (2 * (l + 1)))).collect();
    let groups = src.path_groups(&at)?;
    let leaf = src.leaf(index)?;
    let mut node = leaf.map(|l| l.hash()).unwrap_or_else(Fr::zero);
    for (l, g) in groups.into_iter().enumerate() {
        let g = g.unwrap_or([zeros[l]; ARITY]);
        let pos = ((index >> (2 * l)) & 3) as usize;
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

    /// The index of the largest present key below `key`.
    fn low_index(&mut self, key: &Fr) -> Result<u64, CircuitError> {
        let mut below = *key;
        let stored = loop {
            let (k, i) = self.src.below(&below)?;
            match self.keys.get(&k) {
                Some(None) => below = k,
                Some(Some(j)) => break (k, *j),
                None => break (k, i),
            }
        };
        let here = self
            .keys
            .range(..*key)
            .rev()
            .find_map(|(k, i)| i.map(|i| (*k, i)));
        Ok(match here {
            Some((k, i)) if k > stored.0 => i,
            _ => stored.1,
        })
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
        let index = self.allocate()?;
        let low = self.low_index(&key)?;
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
        if !key.is_zero() && self.index_of(&key)?.is_some() {
            self.update_salted(key, values, salt)
        } else {
            self.insert_salted(key, values, salt)
        }
    }

    /// Deletes a key ([`IndexedMerkleTree::delete`]).
    pub fn delete(&mut self, key: &Fr) -> Result<(), CircuitError> {
        if key.is_zero() {
            return Err(CircuitError::KeyNotFound);
        }
        let index = self.index_of(key)?.ok_or(CircuitError::KeyNotFound)?;
        let removed = self.occupied(index)?;
        self.keys.insert(*key, None);
        self.leaves.insert(index, None);
        let low = self.low_index(key)?;
        let mut low_leaf = self.occupied(low)?;
        low_leaf.next_key = removed.next_key;
        self.leaves.insert(low, Some(low_leaf));
        self.release(index);
        self.counts.len -= 1;
        Ok(())
    }

    /// Rehashes the paths of every leaf written, level by level (one batch of group reads
    /// per level), and returns what to write.
    pub fn finish(self) -> Result<Delta, CircuitError> {
        let zeros = zero_hashes(self.depth);
        let top = levels(self.depth);
        let mut changed: BTreeMap<u64, Fr> = self
            .leaves
            .iter()
            .map(|(i, l)| (*i, l.map(|l| l.hash()).unwrap_or_else(Fr::zero)))
            .collect();
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
            let above: BTreeMap<u64, Fr> = level
                .par_iter()
                .map(|(p, g)| (*p, node_hash(*g)))
                .collect::<Vec<_>>()
                .into_iter()
                .collect();
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

/// One item a bulk build writes.
#[derive(Clone, Copy, Debug)]
pub enum Built<'a> {
    /// A leaf.
    Leaf(u64, &'a Leaf),
    /// A group `(level, parent)`.
    Group(usize, u64, &'a Group),
}

/// Leaves hashed per parallel chunk: `4^CHUNK_LEVELS` (fewer for small trees).
pub const CHUNK_LEVELS: usize = 7;

/// Builds a tree from rows in strictly ascending key order (spec §4.4 bulk build) — the
/// sentinel at index 0, row `n` at index `n + 1`, as [`IndexedMerkleTree::from_salted_rows`]
/// lays them out — handing every leaf and group to `emit` in order, and returns the root and
/// counts. Memory is one chunk of leaves, whatever the number of rows.
pub fn build_sorted<E>(
    depth: usize,
    rows: impl IntoIterator<Item = Result<SaltedRow, E>>,
    mut emit: impl FnMut(Built<'_>) -> Result<(), E>,
) -> Result<(Fr, Counts), E>
where
    E: From<CircuitError>,
{
    IndexedMerkleTree::new(depth)?;
    let top = levels(depth);
    let chunk_levels = CHUNK_LEVELS.min(top);
    let chunk = 1usize << (2 * chunk_levels);
    let zeros = zero_hashes(depth);
    let mut upper = Upper {
        top,
        zeros: &zeros,
        bufs: vec![Vec::new(); top + 1],
        pushed: vec![0; top + 1],
        root: None,
    };
    let mut pending: Vec<Leaf> = Vec::with_capacity(chunk);
    pending.push(Leaf::default());
    let mut first_index = 0u64;
    let mut last_key = Fr::zero();
    let mut n = 0u64;
    for row in rows {
        let (key, values, salt) = row?;
        check_key(&key)?;
        if key <= last_key {
            return Err(storage(format!(
                "bulk build: row {} is not in strictly ascending key order",
                n + 1
            ))
            .into());
        }
        if depth < 64 && n + 2 > (1u64 << depth) {
            return Err(CircuitError::TreeFull { depth }.into());
        }
        if let Some(prev) = pending.last_mut() {
            prev.next_key = key;
        }
        if pending.len() == chunk {
            // Every leaf of a full chunk has its next key now: hash and write it.
            let h = leaf_chunk(&pending, first_index, chunk_levels, &zeros, &mut emit)?;
            upper.push(chunk_levels, h, &mut emit)?;
            first_index += chunk as u64;
            pending.clear();
        }
        pending.push(Leaf {
            key,
            next_key: Fr::zero(),
            values,
            salt,
        });
        last_key = key;
        n += 1;
    }
    let h = leaf_chunk(&pending, first_index, chunk_levels, &zeros, &mut emit)?;
    upper.push(chunk_levels, h, &mut emit)?;
    let root = upper.flush(chunk_levels, &mut emit)?;
    Ok((
        root,
        Counts {
            len: n,
            table_len: n + 1,
        },
    ))
}

/// Hashes a chunk's leaf hashes (`nodes`, starting at index `first`, aligned to the chunk)
/// up to its one node at level `chunk_levels`, emitting every group with a leaf below it.
fn hash_chunk<E>(
    mut nodes: Vec<Fr>,
    first: u64,
    chunk_levels: usize,
    zeros: &[Fr],
    emit: &mut impl FnMut(Built<'_>) -> Result<(), E>,
) -> Result<Fr, E> {
    let mut base = first;
    for (l, zero) in zeros.iter().enumerate().take(chunk_levels) {
        let groups: Vec<Group> = nodes
            .chunks(ARITY)
            .map(|c| std::array::from_fn(|k| c.get(k).copied().unwrap_or(*zero)))
            .collect();
        nodes = groups.par_iter().map(|g| node_hash(*g)).collect();
        for (j, g) in groups.iter().enumerate() {
            emit(Built::Group(l, (base >> 2) + j as u64, g))?;
        }
        base >>= 2;
    }
    Ok(nodes[0])
}

/// Hashes and emits a chunk of leaves of a bulk build.
fn leaf_chunk<E>(
    leaves: &[Leaf],
    first: u64,
    chunk_levels: usize,
    zeros: &[Fr],
    emit: &mut impl FnMut(Built<'_>) -> Result<(), E>,
) -> Result<Fr, E> {
    let hashes: Vec<Fr> = leaves.par_iter().map(Leaf::hash).collect();
    for (i, l) in leaves.iter().enumerate() {
        emit(Built::Leaf(first + i as u64, l))?;
    }
    hash_chunk(hashes, first, chunk_levels, zeros, emit)
}

/// Recomputes every group of a tree from its leaf table, given in ascending index order
/// (holes are empty slots): what a store runs when its node store is missing or was found
/// corrupt (spec §4.4). Emits groups only; returns the root and the counts (`table_len` =
/// the largest index + 1). Memory is one chunk of leaves.
pub fn hash_leaf_table<E>(
    depth: usize,
    leaves: impl IntoIterator<Item = Result<(u64, Leaf), E>>,
    mut emit: impl FnMut(Built<'_>) -> Result<(), E>,
) -> Result<(Fr, Counts), E>
where
    E: From<CircuitError>,
{
    IndexedMerkleTree::new(depth)?;
    let top = levels(depth);
    let chunk_levels = CHUNK_LEVELS.min(top);
    let chunk = 1u64 << (2 * chunk_levels);
    let zeros = zero_hashes(depth);
    let mut upper = Upper {
        top,
        zeros: &zeros,
        bufs: vec![Vec::new(); top + 1],
        pushed: vec![0; top + 1],
        root: None,
    };
    let mut c = 0u64;
    let mut pending: Vec<Option<Leaf>> = Vec::new();
    let mut last: Option<u64> = None;
    let mut len = 0u64;
    let flush = |c: u64,
                 pending: &mut Vec<Option<Leaf>>,
                 upper: &mut Upper<'_>,
                 emit: &mut dyn FnMut(Built<'_>) -> Result<(), E>|
     -> Result<(), E> {
        let mut emit = |b: Built<'_>| emit(b);
        let h = if pending.iter().all(Option::is_none) {
            zeros[chunk_levels]
        } else {
            let hashes: Vec<Fr> = pending
                .par_iter()
                .map(|l| l.as_ref().map(Leaf::hash).unwrap_or_else(Fr::zero))
                .collect();
            hash_chunk(hashes, c * chunk, chunk_levels, &zeros, &mut emit)?
        };
        pending.clear();
        upper.push(chunk_levels, h, &mut emit)
    };
    for item in leaves {
        let (i, leaf) = item?;
        if last.is_some_and(|l| i <= l) || (depth < 64 && i >> depth != 0) {
            return Err(storage(format!(
                "leaf table: index {i} out of order or beyond depth {depth}"
            ))
            .into());
        }
        while i >= (c + 1) * chunk {
            pending.resize(chunk as usize, None);
            flush(c, &mut pending, &mut upper, &mut emit)?;
            c += 1;
        }
        pending.resize((i - c * chunk) as usize, None);
        pending.push(Some(leaf));
        last = Some(i);
        if i > 0 {
            len += 1;
        }
    }
    if !pending.is_empty() {
        flush(c, &mut pending, &mut upper, &mut emit)?;
    }
    let mut emit = |b: Built<'_>| emit(b);
    let root = upper.flush(chunk_levels, &mut emit)?;
    Ok((
        root,
        Counts {
            len,
            table_len: last.map_or(0, |l| l + 1),
        },
    ))
}

/// The levels above the chunks: one partial group per level, filled left to right.
struct Upper<'z> {
    top: usize,
    zeros: &'z [Fr],
    bufs: Vec<Vec<Fr>>,
    pushed: Vec<u64>,
    root: Option<Fr>,
}

impl Upper<'_> {
    fn push<E>(
        &mut self,
        level: usize,
        node: Fr,
        emit: &mut impl FnMut(Built<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if level == self.top {
            self.root = Some(node);
            return Ok(());
        }
        self.bufs[level].push(node);
        self.pushed[level] += 1;
        if self.bufs[level].len() == ARITY {
            self.close(level, emit)?;
        }
        Ok(())
    }

    fn close<E>(
        &mut self,
        level: usize,
        emit: &mut impl FnMut(Built<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let buf = std::mem::take(&mut self.bufs[level]);
        let g: Group = std::array::from_fn(|k| buf.get(k).copied().unwrap_or(self.zeros[level]));
        let parent = (self.pushed[level] - 1) >> 2;
        emit(Built::Group(level, parent, &g))?;
        self.push(level + 1, node_hash(g), emit)
    }

    fn flush<E>(
        mut self,
        from: usize,
        emit: &mut impl FnMut(Built<'_>) -> Result<(), E>,
    ) -> Result<Fr, E> {
        for l in from..self.top {
            if !self.bufs[l].is_empty() {
                self.close(l, emit)?;
            }
        }
        Ok(self.root.unwrap_or(self.zeros[self.top]))
    }
}

/// An in-memory [`NodeSource`] that applies [`Delta`]s and bulk builds: the twin a store is
/// tested against.
#[derive(Clone, Debug, Default)]
pub struct MemSource {
    /// Groups by `(level, parent)`.
    pub groups: BTreeMap<(usize, u64), Group>,
    /// Occupied leaves.
    pub leaves: BTreeMap<u64, Leaf>,
    /// Key → index.
    pub keys: BTreeMap<Fr, u64>,
    /// Emptied indices.
    pub free: BTreeSet<u64>,
    /// Counts.
    pub counts: Counts,
}

impl MemSource {
    /// An empty tree of `depth` (the sentinel alone).
    pub fn new(depth: usize) -> Result<Self, CircuitError> {
        Self::build(depth, Vec::new())
    }

    /// A bulk build of `rows` (ascending keys).
    pub fn build(depth: usize, rows: Vec<SaltedRow>) -> Result<Self, CircuitError> {
        let mut m = Self::default();
        let (_, counts) = build_sorted(depth, rows.into_iter().map(Ok), |b| {
            m.put(b);
            Ok::<(), CircuitError>(())
        })?;
        m.counts = counts;
        Ok(m)
    }

    fn put(&mut self, b: Built<'_>) {
        match b {
            Built::Leaf(i, l) => {
                self.keys.insert(l.key, i);
                self.leaves.insert(i, *l);
            }
            Built::Group(l, p, g) => {
                self.groups.insert((l, p), *g);
            }
        }
    }

    /// Writes a delta: every written index first loses its old leaf (and that leaf's key),
    /// then takes its new one.
    pub fn apply(&mut self, d: &Delta) {
        for (i, _) in &d.leaves {
            if let Some(old) = self.leaves.remove(i) {
                if self.keys.get(&old.key) == Some(i) {
                    self.keys.remove(&old.key);
                }
            }
        }
        for (i, l) in &d.leaves {
            if let Some(l) = l {
                self.leaves.insert(*i, *l);
                self.keys.insert(l.key, *i);
            }
        }
        for (l, p, g) in &d.groups {
            self.groups.insert((*l, *p), *g);
        }
        for i in &d.reused {
            self.free.remove(i);
        }
        self.free.extend(d.freed.iter().copied());
        self.counts = d.counts;
    }
}

impl NodeSource for MemSource {
    fn group(&mut self, level: usize, parent: u64) -> Result<Option<Group>, CircuitError> {
        Ok(self.groups.get(&(level, parent)).copied())
    }
    fn leaf(&mut self, index: u64) -> Result<Option<Leaf>, CircuitError> {
        Ok(self.leaves.get(&index).copied())
    }
    fn index_of(&mut self, key: &Fr) -> Result<Option<u64>, CircuitError> {
        Ok(self.keys.get(key).copied())
    }
    fn below(&mut self, key: &Fr) -> Result<(Fr, u64), CircuitError> {
        self.keys
            .range(..*key)
            .next_back()
            .map(|(k, i)| (*k, *i))
            .ok_or_else(|| storage("no sentinel"))
    }
    fn free_from(&mut self, from: u64) -> Result<Option<u64>, CircuitError> {
        Ok(self.free.range(from..).next().copied())
    }
    fn counts(&mut self) -> Result<Counts, CircuitError> {
        Ok(self.counts)
    }
}

#[cfg(test)]
#[path = "paged_tests.rs"]
mod tests;
