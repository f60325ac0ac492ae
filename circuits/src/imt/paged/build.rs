//! Streaming builds (spec §4.4): a tree from rows in key order (one chunk of
//! `4^CHUNK_LEVELS` leaves hashed in parallel while the one before is written), and every
//! node from a leaf table in index order (a chunk at a time).

use super::{storage, Counts, Group};
use crate::imt::{
    check_key, leaf_hashes, levels, node_hash, node_hashes, zero_hashes, IndexedMerkleTree, Leaf,
    SaltedRow, ARITY,
};
use crate::{CircuitError, Fr};
use ark_ff::Zero;

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
/// counts. Memory is three chunks of leaves (the one read, the one hashed, the one
/// written), whatever the number of rows.
///
/// Pipelined: a full chunk is hashed on the thread pool while this thread emits the chunk
/// before it and reads the rows of the next one, so reading and writing the store (one
/// thread) overlap the hashing (every core) instead of alternating with it.
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
    let mut upper = Upper::new(top, &zeros);
    let mut pending: Vec<Leaf> = Vec::with_capacity(chunk);
    pending.push(Leaf::default());
    let mut first_index = 0u64;
    let mut last_key = Fr::zero();
    let mut n = 0u64;
    // Called from a thread of a rayon pool, the hashing runs inline: a worker blocked in
    // `join` would not steal the hashing's own jobs.
    let inline = rayon::current_thread_index().is_some();
    std::thread::scope(|scope| -> Result<(), E> {
        let zeros = &zeros;
        let hash_now = move |leaves: Vec<Leaf>| {
            let hashes = leaf_hashes(leaves.iter().map(Some));
            (hash_levels(hashes, chunk_levels, zeros), leaves)
        };
        let hash = |leaves: Vec<Leaf>, first: u64| -> Result<InFlight<'_>, E> {
            if inline {
                return Ok(InFlight::Done(hash_now(leaves), first));
            }
            std::thread::Builder::new()
                .name("bulk-build-hash".into())
                .spawn_scoped(scope, move || hash_now(leaves))
                .map(|h| InFlight::Thread(h, first))
                .map_err(|e| E::from(storage(format!("bulk build: no hashing thread: {e}"))))
        };
        // The chunk being hashed, emitted once the next one is full (or the rows end).
        let mut hashing: Option<InFlight<'_>> = None;
        let mut finish = |h: Option<InFlight<'_>>, upper: &mut Upper<'_>| -> Result<(), E> {
            let ((hashes, leaves), first) = match h {
                None => return Ok(()),
                Some(InFlight::Done(d, first)) => (d, first),
                // A panic while hashing is a bug: it goes on as the same panic.
                Some(InFlight::Thread(t, first)) => (
                    t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
                    first,
                ),
            };
            for (i, l) in leaves.iter().enumerate() {
                emit(Built::Leaf(first + i as u64, l))?;
            }
            let h = emit_groups(&hashes, first, &mut emit)?;
            upper.push(chunk_levels, h, &mut emit)
        };
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
                // Every leaf of a full chunk has its next key now: hash it, and emit the
                // one before it meanwhile.
                let full = std::mem::replace(&mut pending, Vec::with_capacity(chunk));
                let prev = hashing.replace(hash(full, first_index)?);
                finish(prev, &mut upper)?;
                first_index += chunk as u64;
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
        let prev = hashing.replace(hash(pending, first_index)?);
        finish(prev, &mut upper)?;
        finish(hashing, &mut upper)
    })?;
    let root = upper.flush(chunk_levels, &mut emit)?;
    Ok((
        root,
        Counts {
            len: n,
            table_len: n + 1,
        },
    ))
}

/// A chunk's hashes, computed on a thread of its own or already inline, with the chunk's
/// leaves and first index.
enum InFlight<'s> {
    Thread(
        std::thread::ScopedJoinHandle<'s, (ChunkHashes, Vec<Leaf>)>,
        u64,
    ),
    Done((ChunkHashes, Vec<Leaf>), u64),
}

/// The hashes of one chunk: its groups level by level (its lowest level first) and its one
/// node at the chunk's top level.
struct ChunkHashes {
    groups: Vec<Vec<Group>>,
    top: Fr,
}

/// Hashes a chunk's leaf hashes up to its one node at level `chunk_levels` (each level on
/// the thread pool, in eight lanes where the processor allows).
fn hash_levels(mut nodes: Vec<Fr>, chunk_levels: usize, zeros: &[Fr]) -> ChunkHashes {
    let mut levels = Vec::with_capacity(chunk_levels);
    for zero in zeros.iter().take(chunk_levels) {
        let groups: Vec<Group> = nodes
            .chunks(ARITY)
            .map(|c| std::array::from_fn(|k| c.get(k).copied().unwrap_or(*zero)))
            .collect();
        nodes = node_hashes(&groups);
        levels.push(groups);
    }
    ChunkHashes {
        groups: levels,
        top: nodes[0],
    }
}

/// Emits a hashed chunk's groups (the chunk starting at index `first`, aligned to the
/// chunk), lowest level first, and returns its top node.
fn emit_groups<E>(
    h: &ChunkHashes,
    first: u64,
    emit: &mut impl FnMut(Built<'_>) -> Result<(), E>,
) -> Result<Fr, E> {
    let mut base = first;
    for (l, groups) in h.groups.iter().enumerate() {
        for (j, g) in groups.iter().enumerate() {
            emit(Built::Group(l, (base >> 2) + j as u64, g))?;
        }
        base >>= 2;
    }
    Ok(h.top)
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
    let mut upper = Upper::new(top, &zeros);
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
            let hashes = leaf_hashes(pending.iter().map(Option::as_ref));
            emit_groups(
                &hash_levels(hashes, chunk_levels, &zeros),
                c * chunk,
                &mut emit,
            )?
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

impl<'z> Upper<'z> {
    fn new(top: usize, zeros: &'z [Fr]) -> Self {
        Self {
            top,
            zeros,
            bufs: vec![Vec::new(); top + 1],
            pushed: vec![0; top + 1],
            root: None,
        }
    }

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
