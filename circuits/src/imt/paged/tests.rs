//! The tree over a store against its in-memory twin: random operation sequences applied in
//! random batches through [`Overlay`]s, bulk builds across chunk boundaries, and a store
//! that is corrupt or truncated.

use super::*;
use crate::imt::{IndexedMerkleTree, Leaf, SaltedRow};
use proptest::prelude::*;

fn k(x: u64) -> Fr {
    Fr::from(x)
}

fn vals(x: u64) -> [Fr; 3] {
    [Fr::from(x), Fr::from(x * 3 + 1), Fr::from(x % 7)]
}

fn salt(x: u64) -> Fr {
    Fr::from(1_000_003 * x + 17)
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u64, u64),
    Update(u64, u64),
    Upsert(u64, u64),
    Delete(u64),
    /// Ends the current batch: the overlay is finished and its delta applied.
    Commit,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u64..48, 0u64..1000).prop_map(|(a, b)| Op::Insert(a, b)),
        (1u64..48, 0u64..1000).prop_map(|(a, b)| Op::Update(a, b)),
        (1u64..48, 0u64..1000).prop_map(|(a, b)| Op::Upsert(a, b)),
        (1u64..48).prop_map(Op::Delete),
        Just(Op::Commit),
    ]
}

/// Both twins agree on root, size and the witness of every key in `0..52`.
fn same(depth: usize, mem: &mut MemSource, t: &IndexedMerkleTree) {
    assert_eq!(root_of(mem, depth).unwrap(), t.root());
    assert_eq!(mem.counts().unwrap().len, t.len() as u64);
    assert_eq!(mem.counts().unwrap().table_len, t.leaf_table_len());
    for x in 1..52u64 {
        assert_eq!(
            witness(mem, depth, &k(x)).unwrap(),
            t.witness(&k(x)).unwrap(),
            "key {x}"
        );
    }
    for i in 0..t.leaf_table_len() + 2 {
        check_path(mem, depth, i, &t.root()).unwrap();
    }
}

fn run(depth: usize, initial: &[u64], ops: &[Op]) {
    let rows: Vec<SaltedRow> = initial
        .iter()
        .map(|x| (k(*x), vals(*x), salt(*x)))
        .collect();
    let mut t = IndexedMerkleTree::from_salted_rows(depth, &rows).unwrap();
    let mut mem = MemSource::build(depth, rows).unwrap();
    same(depth, &mut mem, &t);
    let mut pending: Vec<&Op> = Vec::new();
    for (n, o) in ops.iter().chain(std::iter::once(&Op::Commit)).enumerate() {
        if !matches!(o, Op::Commit) {
            pending.push(o);
            continue;
        }
        let mut ov = Overlay::new(&mut mem, depth).unwrap();
        for (m, o) in pending.drain(..).enumerate() {
            let s = salt((n * 64 + m) as u64);
            let (a, b) = match o {
                Op::Insert(x, v) => (
                    t.insert_salted(k(*x), vals(*v), s),
                    ov.insert_salted(k(*x), vals(*v), s),
                ),
                Op::Update(x, v) => (
                    t.update_salted(k(*x), vals(*v), s),
                    ov.update_salted(k(*x), vals(*v), s),
                ),
                Op::Upsert(x, v) => (
                    t.upsert_salted(k(*x), vals(*v), s),
                    ov.upsert_salted(k(*x), vals(*v), s),
                ),
                Op::Delete(x) => (t.delete(&k(*x)), ov.delete(&k(*x))),
                Op::Commit => unreachable!(),
            };
            assert_eq!(a.is_ok(), b.is_ok(), "{o:?}: {a:?} / {b:?}");
        }
        let delta = ov.finish().unwrap();
        t.take_touched();
        assert_eq!(delta.root, t.root());
        mem.apply(&delta);
        same(depth, &mut mem, &t);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Batches of random operations through overlays give the in-memory tree's root, counts,
    /// free-slot reuse and witnesses, present and absent, after every batch (spec §4.4).
    #[test]
    fn overlays_over_a_store_equal_the_in_memory_tree(
        initial in proptest::collection::btree_set(1u64..48, 0..20),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let initial: Vec<u64> = initial.into_iter().collect();
        run(8, &initial, &ops);
    }
}

#[test]
fn a_bulk_build_equals_the_in_memory_build_across_chunk_boundaries() {
    let chunk = 1u64 << (2 * CHUNK_LEVELS);
    for n in [
        0,
        1,
        2,
        3,
        4,
        5,
        17,
        chunk - 2,
        chunk - 1,
        chunk,
        chunk + 1,
        2 * chunk + 3,
    ] {
        let rows: Vec<SaltedRow> = (1..=n).map(|x| (k(x * 7), vals(x), salt(x))).collect();
        let t = IndexedMerkleTree::from_salted_rows(32, &rows).unwrap();
        let mut mem = MemSource::build(32, rows).unwrap();
        assert_eq!(root_of(&mut mem, 32).unwrap(), t.root(), "{n} rows");
        for x in [1, 7, 8, n * 7, n * 7 + 1] {
            if x > 0 {
                assert_eq!(
                    witness(&mut mem, 32, &k(x)).unwrap(),
                    t.witness(&k(x)).unwrap()
                );
            }
        }
        for i in [0, 1, n / 2, n, n + 1] {
            check_path(&mut mem, 32, i, &t.root()).unwrap();
        }
    }
    // A tree smaller than one chunk (depth 4: 16 leaves, chunks of 4^2).
    for n in 0..=15u64 {
        let rows: Vec<SaltedRow> = (1..=n).map(|x| (k(x), vals(x), salt(x))).collect();
        let t = IndexedMerkleTree::from_salted_rows(4, &rows).unwrap();
        let mut mem = MemSource::build(4, rows).unwrap();
        assert_eq!(root_of(&mut mem, 4).unwrap(), t.root(), "{n} rows");
    }
}

/// The pipelined build emits leaves and groups in order (every leaf of a chunk, then its
/// groups lowest level first, chunk after chunk; a group above the chunks once its fourth
/// chunk is emitted), gives the same items inline (called from a rayon pool), and an error
/// raised while a chunk is being hashed — a bad row after it, or the store refusing a
/// write — is returned, not lost.
#[test]
fn a_pipelined_bulk_build_emits_in_order_and_returns_errors_raised_mid_stream() {
    let chunk = 1u64 << (2 * CHUNK_LEVELS);
    let n = 5 * chunk + 5;
    let rows = |n: u64| (1..=n).map(|x| Ok::<_, CircuitError>((k(x * 3), vals(x), salt(x))));
    type Item = (bool, usize, u64, Vec<Fr>);
    let record = |seen: &mut Vec<Item>, b: Built<'_>| {
        seen.push(match b {
            Built::Leaf(i, l) => (true, 0, i, vec![l.key, l.next_key, l.salt]),
            Built::Group(l, p, g) => (false, l, p, g.to_vec()),
        });
        Ok::<(), CircuitError>(())
    };
    let mut seen = Vec::new();
    let (root, _) = build_sorted(32, rows(n), |b| record(&mut seen, b)).unwrap();
    let t = IndexedMerkleTree::from_salted_rows(
        32,
        &(1..=n)
            .map(|x| (k(x * 3), vals(x), salt(x)))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert_eq!(root, t.root());
    let leaves: Vec<u64> = seen.iter().filter(|s| s.0).map(|s| s.2).collect();
    assert_eq!(leaves, (0..n + 1).collect::<Vec<_>>());
    let pos = |leaf: bool, l: usize, p: u64| {
        seen.iter()
            .position(|s| s.0 == leaf && s.1 == l && s.2 == p)
            .unwrap()
    };
    for c in 0..5 {
        // Chunk c: its leaves, then its groups (level 0 first, its top group last), then
        // chunk c + 1's first leaf.
        let first_group = pos(false, 0, c * chunk / 4);
        let top_group = pos(false, CHUNK_LEVELS - 1, c);
        assert!(pos(true, 0, (c + 1) * chunk - 1) < first_group, "chunk {c}");
        assert!(first_group < top_group, "chunk {c}");
        assert!(top_group < pos(true, 0, (c + 1) * chunk), "chunk {c}");
    }
    // The group above chunks 0–3 closes when chunk 3's top node is pushed.
    let above = pos(false, CHUNK_LEVELS, 0);
    assert!(pos(false, CHUNK_LEVELS - 1, 3) < above && above < pos(true, 0, 4 * chunk));

    // Inline, from a thread of a rayon pool of one thread: the same items in the same order.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let mut inline = Vec::new();
    pool.install(|| build_sorted(32, rows(n), |b| record(&mut inline, b)))
        .unwrap();
    assert!(inline == seen, "the inline build differs");

    // A row out of order in chunk 1, read while chunk 0 is being hashed.
    let bad = (1..=2 * chunk + 5).map(|x| {
        let x = if x == chunk + 9 { 1 } else { x };
        Ok::<_, CircuitError>((k(x * 3), vals(x), salt(x)))
    });
    let r = build_sorted(32, bad, |_| Ok::<(), CircuitError>(()));
    assert!(
        matches!(&r, Err(CircuitError::Storage(m)) if m.contains(&format!("row {}", chunk + 9))),
        "{r:?}"
    );
    // The store refuses the first leaf of chunk 1 (emitted while chunk 2 is hashed).
    let r = build_sorted(32, rows(3 * chunk), |b| match b {
        Built::Leaf(i, _) if i == chunk => Err(CircuitError::Storage("disk full".into())),
        _ => Ok(()),
    });
    assert!(
        matches!(&r, Err(CircuitError::Storage(m)) if m == "disk full"),
        "{r:?}"
    );
}

#[test]
fn a_bulk_build_refuses_unsorted_duplicate_invalid_and_too_many_rows() {
    let b = |depth, keys: &[u64]| {
        let rows: Vec<SaltedRow> = keys.iter().map(|x| (k(*x), vals(*x), salt(*x))).collect();
        MemSource::build(depth, rows).map(|_| ())
    };
    assert!(matches!(b(8, &[3, 2]), Err(CircuitError::Storage(m)) if m.contains("row 2")));
    assert!(matches!(b(8, &[3, 3]), Err(CircuitError::Storage(_))));
    assert!(matches!(b(8, &[0]), Err(CircuitError::KeyOutOfRange)));
    let full: Vec<u64> = (1..=16).collect();
    assert!(matches!(
        b(4, &full),
        Err(CircuitError::TreeFull { depth: 4 })
    ));
    assert!(b(4, &full[..15]).is_ok());
}

#[test]
fn an_overlay_fills_a_tree_to_capacity_and_no_further() {
    let mut mem = MemSource::new(4).unwrap();
    let mut ov = Overlay::new(&mut mem, 4).unwrap();
    for x in 1..=15 {
        ov.insert_salted(k(x), vals(x), salt(x)).unwrap();
    }
    assert!(matches!(
        ov.insert_salted(k(99), vals(1), salt(1)),
        Err(CircuitError::TreeFull { depth: 4 })
    ));
}

#[test]
fn a_corrupt_or_truncated_node_store_is_detected() {
    let rows: Vec<SaltedRow> = (1..=40u64).map(|x| (k(x), vals(x), salt(x))).collect();
    let t = IndexedMerkleTree::from_salted_rows(8, &rows).unwrap();
    let mem = MemSource::build(8, rows).unwrap();
    // A level-0 node changed: the witness of that leaf is refused, its path check fails.
    let mut bad = mem.clone();
    bad.groups.get_mut(&(0, 2)).unwrap()[1] = Fr::from(5u64);
    assert!(
        matches!(witness(&mut bad, 8, &k(9)), Err(CircuitError::Storage(m)) if m.contains("corrupt"))
    );
    assert!(check_path(&mut bad, 8, 9, &t.root()).is_err());
    // An upper group lost (a truncated table): paths through it no longer reach the root.
    let mut cut = mem.clone();
    cut.groups.remove(&(1, 0));
    assert!(
        matches!(check_path(&mut cut, 8, 3, &t.root()), Err(CircuitError::Storage(m)) if m.contains("level 1"))
    );
    assert_ne!(root_of(&mut cut, 8).unwrap(), Fr::zero());
    // The intact store passes every path.
    let mut ok = mem;
    for i in 0..45 {
        check_path(&mut ok, 8, i, &t.root()).unwrap();
    }
}

/// A leaf table with holes — inside a chunk, a whole empty chunk, a ragged last chunk —
/// rehashed from index order gives the in-memory tree's root, paths and counts.
#[test]
fn rehashing_a_leaf_table_with_holes_equals_the_in_memory_tree() {
    let chunk = 1u64 << (2 * CHUNK_LEVELS);
    let idx: Vec<u64> = [
        1,
        2,
        5,
        9,
        3 * chunk + 1,
        3 * chunk + 2,
        3 * chunk + 7,
        4 * chunk,
    ]
    .to_vec();
    let keys: Vec<u64> = (1..=idx.len() as u64).map(|x| x * 11).collect();
    let mut leaves = vec![(
        0u64,
        Leaf {
            next_key: k(keys[0]),
            ..Leaf::default()
        },
    )];
    for (n, (i, key)) in idx.iter().zip(&keys).enumerate() {
        leaves.push((
            *i,
            Leaf {
                key: k(*key),
                next_key: keys.get(n + 1).map_or(Fr::zero(), |x| k(*x)),
                values: vals(*key),
                salt: salt(*key),
            },
        ));
    }
    let t = IndexedMerkleTree::from_leaves(32, leaves.clone()).unwrap();
    let mut mem = MemSource::default();
    let (root, counts) = hash_leaf_table(32, leaves.iter().map(|l| Ok(*l)), |b| {
        if let Built::Group(l, p, g) = b {
            mem.groups.insert((l, p), *g);
        }
        Ok::<(), CircuitError>(())
    })
    .unwrap();
    assert_eq!(root, t.root());
    assert_eq!(
        counts,
        Counts {
            len: 8,
            table_len: 4 * chunk + 1
        }
    );
    for (i, l) in &leaves {
        mem.leaves.insert(*i, *l);
        mem.keys.insert(l.key, *i);
    }
    for x in [11u64, 12, 55, 88, 89] {
        assert_eq!(
            witness(&mut mem, 32, &k(x)).unwrap(),
            t.witness(&k(x)).unwrap()
        );
    }
    for i in idx.iter().chain(&[0, 3, chunk + 5, 2 * chunk]) {
        check_path(&mut mem, 32, *i, &root).unwrap();
    }
    // Out of order is refused.
    let r = hash_leaf_table(32, [Ok((2, leaves[1].1)), Ok((1, leaves[2].1))], |_| {
        Ok::<(), CircuitError>(())
    });
    assert!(matches!(r, Err(CircuitError::Storage(_))));
}

/// Regression (review of the disk store): depth 64 shifted by 64 at the top level.
#[test]
fn depth_64_gives_the_in_memory_tree() {
    let rows: Vec<SaltedRow> = (1..=9u64).map(|x| (k(x * 5), vals(x), salt(x))).collect();
    let t = IndexedMerkleTree::from_salted_rows(64, &rows).unwrap();
    let mut mem = MemSource::build(64, rows).unwrap();
    assert_eq!(root_of(&mut mem, 64).unwrap(), t.root());
    for x in [5u64, 6, 45, 46] {
        assert_eq!(
            witness(&mut mem, 64, &k(x)).unwrap(),
            t.witness(&k(x)).unwrap()
        );
    }
    let mut ov = Overlay::new(&mut mem, 64).unwrap();
    ov.delete(&k(10)).unwrap();
    let d = ov.finish().unwrap();
    let mut t = t;
    t.delete(&k(10)).unwrap();
    assert_eq!(d.root, t.root());
}

/// A source that counts `below` queries.
struct Counting(MemSource, usize);

impl NodeSource for Counting {
    fn group(&mut self, level: usize, parent: u64) -> Result<Option<Group>, CircuitError> {
        self.0.group(level, parent)
    }
    fn leaf(&mut self, index: u64) -> Result<Option<Leaf>, CircuitError> {
        self.0.leaf(index)
    }
    fn index_of(&mut self, key: &Fr) -> Result<Option<u64>, CircuitError> {
        self.0.index_of(key)
    }
    fn below(&mut self, key: &Fr) -> Result<(Fr, u64), CircuitError> {
        self.1 += 1;
        self.0.below(key)
    }
    fn free_from(&mut self, from: u64) -> Result<Option<u64>, CircuitError> {
        self.0.free_from(from)
    }
    fn counts(&mut self) -> Result<Counts, CircuitError> {
        self.0.counts()
    }
}

/// Regression (review of the disk store): a batch of consecutive deletes asked the store
/// for the next key below once per key deleted before it (quadratic); now once each.
#[test]
fn a_batch_of_deletes_asks_the_store_once_per_delete() {
    let rows: Vec<SaltedRow> = (1..=400u64).map(|x| (k(x), vals(x), salt(x))).collect();
    let mut t = IndexedMerkleTree::from_salted_rows(10, &rows).unwrap();
    let mut src = Counting(MemSource::build(10, rows).unwrap(), 0);
    let mut ov = Overlay::new(&mut src, 10).unwrap();
    for x in 100..=300u64 {
        ov.delete(&k(x)).unwrap();
        t.delete(&k(x)).unwrap();
    }
    ov.insert_salted(k(150), vals(1), salt(1)).unwrap();
    t.insert_salted(k(150), vals(1), salt(1)).unwrap();
    assert_eq!(ov.finish().unwrap().root, t.root());
    assert!(
        src.1 <= 201 + 2,
        "{} store lookups for 201 deletes and an insert",
        src.1
    );
}

/// A free list naming an occupied leaf is refused, not written over.
#[test]
fn a_free_list_naming_an_occupied_leaf_is_refused() {
    let rows: Vec<SaltedRow> = (1..=5u64).map(|x| (k(x), vals(x), salt(x))).collect();
    let mut mem = MemSource::build(8, rows).unwrap();
    mem.free.insert(3);
    let mut ov = Overlay::new(&mut mem, 8).unwrap();
    assert!(matches!(
        ov.insert_salted(k(9), vals(9), salt(9)),
        Err(CircuitError::Storage(m)) if m.contains("occupied")
    ));
}
