//! The in-memory [`NodeSource`]: the twin a store is tested against.

use super::{build_sorted, storage, Built, Counts, Delta, Group, NodeSource};
use crate::imt::{Leaf, SaltedRow};
use crate::{CircuitError, Fr};
use std::collections::{BTreeMap, BTreeSet};

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
