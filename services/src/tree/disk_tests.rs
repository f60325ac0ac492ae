//! The tree on disk against its in-memory twin (spec §4.4): random batches of upserts and
//! deletes published through the SQLite store, the service reopened between batches, and
//! after every batch the root, the records and the witnesses (present and absent keys)
//! compared with a from-scratch in-memory build of the stored leaf table; a node store that
//! is corrupt or truncated refuses to start until it is rebuilt.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use zkcredit_circuits::field::fr_to_be_bytes;
use zkcredit_circuits::imt::Leaf;

pub(super) const ADMIN: &str = "disk-tests-admin-token";
pub(super) const FILE: &str = "tree.sqlite";

pub(super) fn cfg(depth: usize, rebuild_nodes: bool) -> TreeConfig {
    TreeConfig {
        role: Role::FraudList,
        provider_id: Fr::from(7u64),
        depth,
        issuer_key: ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]).verifying_key(),
        registry: None,
        rebuild_nodes,
    }
}

pub(super) fn rec(v: u64) -> [Fr; 3] {
    [Fr::from(v), Fr::from(v + 1), Fr::from(3u64)]
}

/// The leaf table as the file holds it, read on a connection of its own.
fn stored_leaves(dir: &std::path::Path) -> Vec<(u64, Leaf)> {
    let c = rusqlite::Connection::open(dir.join(FILE)).unwrap();
    let mut st = c
        .prepare("SELECT idx, key, next_key, rec, salt FROM leaves")
        .unwrap();
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, Vec<u8>>(4)?,
            ))
        })
        .unwrap();
    rows.map(|r| {
        let (i, k, n, v, s) = r.unwrap();
        (
            i as u64,
            Leaf {
                key: store::fr_blob(&k).unwrap(),
                next_key: store::fr_blob(&n).unwrap(),
                values: store::rec_blob(&v).unwrap(),
                salt: store::fr_blob(&s).unwrap(),
            },
        )
    })
    .collect()
}

/// Root, records and witnesses of the service equal those of the in-memory build.
pub(super) async fn same_as_in_memory(
    svc: &TreeService,
    dir: &std::path::Path,
    model: &BTreeMap<u64, u64>,
    probes: &[u64],
) {
    let t = IndexedMerkleTree::from_leaves(svc.cfg.depth, stored_leaves(dir)).unwrap();
    assert_eq!(fr_to_dec(&t.root()), svc.status().root);
    assert_eq!(t.len() as u64, svc.rows());
    let stored: BTreeMap<u64, [Fr; 3]> = t
        .keys()
        .map(|k| {
            let small = k.into_bigint().0[0];
            (small, t.get(k).unwrap())
        })
        .collect();
    let expected: BTreeMap<u64, [Fr; 3]> = model.iter().map(|(k, v)| (*k, rec(*v))).collect();
    assert_eq!(stored, expected);
    for x in probes {
        let w = svc.witness_for(&Fr::from(*x)).await.unwrap();
        let (present, tw) = t.witness(&Fr::from(*x)).unwrap();
        assert_eq!((w.present, &w.witness), (present, &tw), "key {x}");
        assert_eq!(w.root, svc.status().root);
    }
}

use ark_ff::PrimeField;

#[derive(Clone, Debug)]
enum Op {
    Upsert(u64, u64),
    Delete(u64),
}

fn batch() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        prop_oneof![
            3 => (1u64..120, 0u64..1000).prop_map(|(k, v)| Op::Upsert(k, v)),
            1 => (1u64..120).prop_map(Op::Delete),
        ],
        0..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    /// Spec §4.4: publications through the disk store, reopened between batches, equal a
    /// from-scratch in-memory build in root, records and witnesses.
    #[test]
    fn publications_on_disk_reopen_to_the_in_memory_tree(
        batches in proptest::collection::vec(batch(), 1..5),
        probes in proptest::collection::vec(1u64..130, 12),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let mut model = BTreeMap::new();
            let mut svc = TreeService::open(dir.path(), FILE, cfg(8, false), ADMIN).unwrap();
            same_as_in_memory(&svc, dir.path(), &model, &probes).await;
            for (n, ops) in batches.iter().enumerate() {
                let changes: Vec<Change> = ops
                    .iter()
                    .map(|o| match o {
                        Op::Upsert(k, v) => {
                            model.insert(*k, *v);
                            (Fr::from(*k), Some(rec(*v)))
                        }
                        Op::Delete(k) => {
                            model.remove(k);
                            (Fr::from(*k), None)
                        }
                    })
                    .collect();
                svc.stage(changes).await.unwrap();
                svc.publish().await.unwrap();
                if n % 2 == 0 {
                    drop(svc);
                    svc = TreeService::open(dir.path(), FILE, cfg(8, false), ADMIN).unwrap();
                }
                same_as_in_memory(&svc, dir.path(), &model, &probes).await;
            }
        });
    }
}

/// A tree of `n` rows published in a fresh directory (depth 16).
async fn published(n: u64) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let svc = TreeService::open(dir.path(), FILE, cfg(16, false), ADMIN).unwrap();
    svc.stage((1..=n).map(|k| (Fr::from(k * 3), Some(rec(k)))).collect())
        .await
        .unwrap();
    let root = svc.publish().await.unwrap().root;
    (dir, root)
}

fn tamper(dir: &std::path::Path, sql: &str) {
    let c = rusqlite::Connection::open(dir.join(FILE)).unwrap();
    assert!(c.execute(sql, []).unwrap() > 0, "{sql} changed nothing");
}

fn refused(dir: &std::path::Path) -> String {
    TreeService::open(dir, FILE, cfg(16, false), ADMIN)
        .expect_err("a damaged node store must refuse to start")
        .message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_or_corrupt_node_store_refuses_to_start_until_rebuilt() {
    for damage in [
        // Truncated: the upper levels lost.
        "DELETE FROM nodes WHERE level >= 2",
        // The group of leaf hashes holding the sentinel (every start checks its path).
        "UPDATE nodes SET c = zeroblob(128) WHERE level = 0 AND parent = 0",
        // The top group overwritten.
        "UPDATE nodes SET c = zeroblob(128) WHERE level = 7",
    ] {
        let (dir, root) = published(300).await;
        tamper(dir.path(), damage);
        let m = refused(dir.path());
        assert!(m.contains("--rebuild-tree"), "{damage}: {m}");
        let svc = TreeService::open(dir.path(), FILE, cfg(16, true), ADMIN).unwrap();
        assert_eq!(svc.status().root, root, "{damage}");
        assert_eq!(svc.rows(), 300);
        drop(svc);
        // Rebuilt once, it opens normally again.
        let svc = TreeService::open(dir.path(), FILE, cfg(16, false), ADMIN).unwrap();
        assert!(svc.witness_for(&Fr::from(33u64)).await.unwrap().present);
    }
}

/// Damage the start-up sample did not reach is caught on the first witness through it: an
/// error, never a witness for another root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_node_outside_the_sample_refuses_the_witnesses_through_it() {
    let (dir, _) = published(300).await;
    let svc = TreeService::open(dir.path(), FILE, cfg(16, false), ADMIN).unwrap();
    // Leaves 20..23 (keys 60, 63, 66, 69) hang below group (0, 5).
    tamper(
        dir.path(),
        "UPDATE nodes SET c = zeroblob(128) WHERE level = 0 AND parent = 5",
    );
    for key in [60u64, 61, 63, 69] {
        let e = svc.witness_for(&Fr::from(key)).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Internal, "key {key}");
    }
    assert!(svc.witness_for(&Fr::from(33u64)).await.unwrap().present);
}

/// A tampered leaf table is not something a rebuild can mend: the rebuilt nodes do not
/// reach the published root, and the service still refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_leaf_table_refuses_even_after_a_rebuild() {
    let (dir, _) = published(50).await;
    tamper(
        dir.path(),
        "UPDATE leaves SET rec = zeroblob(96) WHERE idx = 7",
    );
    let e = TreeService::open(dir.path(), FILE, cfg(16, true), ADMIN)
        .expect_err("the leaf table no longer hashes to the published root");
    assert!(
        e.message.contains("not the published root"),
        "{}",
        e.message
    );
}

/// A store written before the node store existed (migration 1 only: leaves, journal, meta)
/// is adopted: its nodes are computed once from the leaf table, the root is unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_from_before_the_node_store_is_adopted() {
    let (dir, root) = published(200).await;
    {
        let c = rusqlite::Connection::open(dir.path().join(FILE)).unwrap();
        c.execute_batch(
            "DROP TABLE nodes; DROP TABLE free_slots; DROP INDEX leaves_key; DROP TABLE runs;
             DELETE FROM meta WHERE k IN ('tree_format', 'len', 'table_len');
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let svc = TreeService::open(dir.path(), FILE, cfg(16, false), ADMIN).unwrap();
    assert_eq!(svc.status().root, root);
    assert_eq!(svc.rows(), 200);
    svc.stage(vec![(Fr::from(3u64), None)]).await.unwrap();
    assert_eq!(svc.publish().await.unwrap().rows, 199);
}

/// The file's tables that are not the tree, its key indexes, and its journal entries and
/// runs.
fn beside_the_tree(dir: &std::path::Path) -> (Vec<String>, Vec<String>, i64) {
    let c = rusqlite::Connection::open(dir.join(FILE)).unwrap();
    let names = |q: &str| -> Vec<String> {
        let mut st = c.prepare(q).unwrap();
        let v = st.query_map([], |r| r.get(0)).unwrap();
        v.collect::<Result<_, _>>().unwrap()
    };
    (
        names("SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE '%next' OR name LIKE '%old')"),
        names("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leaves' AND sql IS NOT NULL"),
        c.query_row(
            "SELECT (SELECT COUNT(*) FROM changes) + (SELECT COUNT(*) FROM runs)",
            [],
            |r| r.get(0),
        )
        .unwrap(),
    )
}

/// Spec §4.4: streaming rebuilds on SQLite commit their new tables in parts (several here:
/// 25,000 rows and their groups, 20,000 rows a part) and remove what they replaced in
/// parts after the commit. Three in a row — the key index's name alternates, the old
/// tables and the applied journal go — each equal the in-memory build, also reopened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consecutive_rebuilds_in_parts_equal_the_in_memory_tree_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = TreeService::open(dir.path(), FILE, cfg(16, false), ADMIN).unwrap();
    let mut model = BTreeMap::new();
    let probes: Vec<u64> = (0..40).map(|i| i * 1_237 + 1).collect();
    let mut index_names = Vec::new();
    for round in 0..3u64 {
        // Round 0 inserts keys 1..=25,000; later rounds rewrite them, delete every 7th and
        // add 1,000 new ones: more than a quarter of the tree each time, so a rebuild.
        let changes: Vec<Change> = (1..=25_000 + round * 1_000)
            .map(|k| {
                if round > 0 && k % 7 == round {
                    model.remove(&k);
                    (Fr::from(k), None)
                } else {
                    model.insert(k, k + round);
                    (Fr::from(k), Some(rec(k + round)))
                }
            })
            .collect();
        svc.stage(changes).await.unwrap();
        let report = svc.publish().await.unwrap();
        assert!(report.rebuilt, "round {round}");
        let (tables, index, journal) = beside_the_tree(dir.path());
        assert_eq!((tables, journal), (vec![], 0), "round {round}");
        index_names.extend(index);
        same_as_in_memory(&svc, dir.path(), &model, &probes).await;
        drop(svc);
        svc = TreeService::open(dir.path(), FILE, cfg(16, false), ADMIN).unwrap();
        same_as_in_memory(&svc, dir.path(), &model, &probes).await;
    }
    assert_eq!(index_names, ["leaves_key_b", "leaves_key", "leaves_key_b"]);
}

/// Spec §4.4: the clean-up removes exactly the journal entries at or below the
/// `journal_applied` mark and their runs: a run of 22,500 applied entries (two parts), then
/// one of 22,500 staged after the mark, whose keys interleave with the first's, survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clean_up_removes_exactly_the_applied_journal_entries() {
    let dir = tempfile::tempdir().unwrap();
    drop(TreeService::open(dir.path(), FILE, cfg(16, false), ADMIN).unwrap());
    let mut c = rusqlite::Connection::open(dir.path().join(FILE)).unwrap();
    let insert = |c: &mut rusqlite::Connection, parity: u64| {
        let tx = c.transaction().unwrap();
        for i in (parity..45_000).step_by(2) {
            tx.execute(
                "INSERT INTO changes (key, rec) VALUES (?1, NULL)",
                [fr_to_be_bytes(&Fr::from(i)).to_vec()],
            )
            .unwrap();
        }
        let last = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO runs (first_seq, last_seq) VALUES (?1, ?2)",
            [last - 22_499, last],
        )
        .unwrap();
        tx.commit().unwrap();
        last
    };
    let mark = insert(&mut c, 0);
    c.execute(
        "INSERT INTO meta (k, v) VALUES ('journal_applied', ?1)",
        [mark.to_string()],
    )
    .unwrap();
    let later = insert(&mut c, 1);
    let mut tx = crate::store::PartedTx::begin(&mut c).unwrap();
    assert!(super::cleanup::clean_up(&mut tx).unwrap());
    tx.commit().unwrap();
    let left: Vec<(Vec<u8>, i64)> = {
        let mut st = c
            .prepare("SELECT key, seq FROM changes ORDER BY key")
            .unwrap();
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    };
    let odd: Vec<Vec<u8>> = (1..45_000u64)
        .step_by(2)
        .map(|i| fr_to_be_bytes(&Fr::from(i)).to_vec())
        .collect();
    assert_eq!(left.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), odd);
    assert!(left.iter().all(|(_, seq)| *seq > mark));
    let runs: Vec<(i64, i64)> = {
        let mut st = c.prepare("SELECT first_seq, last_seq FROM runs").unwrap();
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    };
    assert_eq!(runs, [(later - 22_499, later)]);
    // And the service, reopened, counts only those as pending.
    drop(c);
    let svc = TreeService::open(dir.path(), FILE, cfg(16, false), ADMIN).unwrap();
    assert_eq!(svc.pending().await.unwrap().0, 22_500);
}

/// Row-by-row publications large enough to be prefetched (`WARM_MIN_ROWS`) — new keys,
/// updates, deletes, with the prefetch reading on its own connections beside them — give
/// the in-memory tree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetched_row_by_row_publications_equal_the_in_memory_tree() {
    use super::db::{TreeDb, WARM_MIN_ROWS, WARM_THREADS};
    let dir = tempfile::tempdir().unwrap();
    let svc = TreeService::open(dir.path(), FILE, cfg(16, false), ADMIN).unwrap();
    let mut model = BTreeMap::new();
    let changes: Vec<Change> = (1..=3_000u64)
        .map(|k| {
            model.insert(7 * k, k);
            (Fr::from(7 * k), Some(rec(k)))
        })
        .collect();
    svc.stage(changes).await.unwrap();
    assert!(!svc.publish().await.unwrap().rebuilt);
    let mut changes = Vec::new();
    for k in 1..=800u64 {
        let key = 7 * (k * 3);
        match k % 4 {
            0 => {
                model.remove(&key);
                changes.push((Fr::from(key), None));
            }
            1 => {
                model.insert(key + 2, k);
                changes.push((Fr::from(key + 2), Some(rec(k))));
            }
            _ => {
                model.insert(key, k + 9);
                changes.push((Fr::from(key), Some(rec(k + 9))));
            }
        }
    }
    assert!(changes.len() >= WARM_MIN_ROWS);
    svc.stage(changes).await.unwrap();
    let rep = svc.publish().await.unwrap();
    assert!(!rep.rebuilt);
    let TreeDb::Sqlite { prefetch, .. } = &svc.db else {
        unreachable!("a SQLite tree")
    };
    assert_eq!(prefetch.opened(), WARM_THREADS, "the prefetch ran");
    assert_eq!(
        prefetch.counts(),
        (3_000 + 800, 0),
        "every key of both publications warmed, no part failed"
    );
    let wal = std::fs::metadata(dir.path().join(format!("{FILE}-wal")))
        .map(|m| m.len())
        .unwrap_or(0);
    // Truncated after the publication; the one frame is the registry flag cleared after it
    // (no registry here). A snapshot held open would have kept the publication's frames.
    assert!(
        wal <= 32 + 4096 + 24,
        "no prefetch snapshot kept the WAL from being truncated: {wal} bytes"
    );
    let probes: Vec<u64> = (0..60).map(|i| i * 347 + 1).collect();
    same_as_in_memory(&svc, dir.path(), &model, &probes).await;
}
