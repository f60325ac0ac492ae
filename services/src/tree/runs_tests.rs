//! The SQLite journal as sorted runs (spec §4.4 "The journal on SQLite"): the merge equals a
//! sort of the journal, a lookup finds each key's last staged record, a rebuild over many
//! runs equals the in-memory tree, damage is named, and migration 4 cuts an older journal
//! into runs.

use super::disk_tests::{cfg, rec, same_as_in_memory, ADMIN, FILE};
use super::runs::{Entry, RunMerge, MAX_SMALL_RUNS, SMALL_RUN};
use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use zkcredit_circuits::field::fr_to_be_bytes;

/// Every entry a merge yields, on a connection of its own.
fn merged(dir: &std::path::Path, budget: usize) -> Result<Vec<Entry>, ApiError> {
    let mut c = rusqlite::Connection::open(dir.join(FILE)).unwrap();
    let mut tx = crate::store::PartedTx::begin(&mut c).unwrap();
    let mut m = RunMerge::with_budget(budget);
    let mut out = Vec::new();
    while let Some(e) = m.next(&mut tx)? {
        out.push(e);
    }
    Ok(out)
}

/// The journal sorted by SQLite, for comparison.
fn sorted_journal(dir: &std::path::Path) -> Vec<Entry> {
    let c = rusqlite::Connection::open(dir.join(FILE)).unwrap();
    let mut st = c
        .prepare("SELECT seq, key, rec FROM changes ORDER BY key, seq")
        .unwrap();
    let rows = st
        .query_map([], |r| {
            let k: Vec<u8> = r.get(1)?;
            Ok((r.get(0)?, k.try_into().unwrap(), r.get(2)?))
        })
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// The `runs` table, oldest first.
fn spans(dir: &std::path::Path) -> Vec<(i64, i64)> {
    let c = rusqlite::Connection::open(dir.join(FILE)).unwrap();
    let mut st = c
        .prepare("SELECT first_seq, last_seq FROM runs ORDER BY first_seq")
        .unwrap();
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

fn upsert(k: u64, v: u64) -> Change {
    (Fr::from(k), Some(rec(v)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    /// Random stages (keys repeated within and across them, deletes among them): the
    /// merge, with pages small enough to be refilled, yields the journal in `(key, seq)`
    /// order; every key's row is its last staged record, else its published one; the
    /// pending count is the entries staged since the publication.
    #[test]
    fn the_merge_and_the_lookup_follow_the_runs(
        before in proptest::collection::vec((1u64..60, 0u64..9), 0..30),
        stages in proptest::collection::vec(
            proptest::collection::vec((1u64..60, proptest::option::of(0u64..9)), 0..50),
            1..8,
        ),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let svc = TreeService::open(dir.path(), FILE, cfg(8, false), ADMIN).unwrap();
            let mut model: BTreeMap<u64, Option<u64>> = BTreeMap::new();
            svc.stage(before.iter().map(|(k, v)| upsert(*k, *v)).collect()).await.unwrap();
            svc.publish().await.unwrap();
            for (k, v) in &before {
                model.insert(*k, Some(*v));
            }
            let mut staged = 0;
            for batch in &stages {
                svc.stage(
                    batch
                        .iter()
                        .map(|(k, v)| (Fr::from(*k), v.map(rec)))
                        .collect(),
                )
                .await
                .unwrap();
                for (k, v) in batch {
                    model.insert(*k, *v);
                }
                staged += batch.len() as u64;
            }
            assert_eq!(merged(dir.path(), 20).unwrap(), sorted_journal(dir.path()));
            assert_eq!(svc.pending().await.unwrap().0, staged);
            for k in 1..62u64 {
                let want = model.get(&k).copied().flatten().map(rec);
                assert_eq!(svc.row(Fr::from(k)).await.unwrap(), want, "key {k}");
            }
        });
    }
}

/// A rebuild that merges 13 overlapping runs (keys rewritten and deleted across them) and,
/// the second time, the old leaves with 12 more: each equals the in-memory build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_over_many_runs_equals_the_in_memory_tree() {
    let dir = tempfile::tempdir().unwrap();
    let svc = TreeService::open(dir.path(), FILE, cfg(16, false), ADMIN).unwrap();
    let mut model = BTreeMap::new();
    let probes: Vec<u64> = (0..40).map(|i| i * 911 + 3).collect();
    for round in 0..2u64 {
        for run in 0..13 - round {
            let lo = run * 1_500 + round * 700;
            let changes: Vec<Change> = (lo..lo + 2_500)
                .map(|k| {
                    if k % 11 == run % 11 {
                        model.remove(&k);
                        (Fr::from(k), None)
                    } else {
                        model.insert(k, k + run + round);
                        upsert(k, k + run + round)
                    }
                })
                .collect();
            svc.stage(changes).await.unwrap();
        }
        let report = svc.publish().await.unwrap();
        assert!(report.rebuilt, "round {round}");
        same_as_in_memory(&svc, dir.path(), &model, &probes).await;
    }
}

/// Damage to a run is named, not merged: keys that go down within a run, and an entry
/// missing from one (also met by a lookup's binary search).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_run_is_reported_not_merged() {
    let dir = tempfile::tempdir().unwrap();
    let svc = TreeService::open(dir.path(), FILE, cfg(8, false), ADMIN).unwrap();
    svc.stage((1..=50).map(|k| upsert(k, k)).collect())
        .await
        .unwrap();
    let c = rusqlite::Connection::open(dir.path().join(FILE)).unwrap();
    let (first, last): (i64, i64) = c
        .query_row("SELECT first_seq, last_seq FROM runs", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(last - first, 49);
    assert_eq!(merged(dir.path(), 20).unwrap().len(), 50);

    // Entry 10 of the run takes a key above entry 11's.
    c.execute(
        "UPDATE changes SET key = ?1 WHERE seq = ?2",
        rusqlite::params![fr_to_be_bytes(&Fr::from(45u64)).to_vec(), first + 9],
    )
    .unwrap();
    let e = merged(dir.path(), 20).unwrap_err();
    assert!(
        e.to_string().contains("is not in key order at entry"),
        "{e}"
    );

    // A second run over the same entries.
    c.execute(
        "INSERT INTO runs (first_seq, last_seq) VALUES (?1, ?2)",
        [first + 40, last + 1],
    )
    .unwrap();
    let e = merged(dir.path(), 20).unwrap_err();
    assert!(
        e.to_string().contains("overlaps the run or mark before it"),
        "{e}"
    );
    c.execute("DELETE FROM runs WHERE first_seq = ?1", [first + 40])
        .unwrap();

    // The middle entry, the binary search's first probe, is gone.
    c.execute(
        "UPDATE changes SET key = ?1 WHERE seq = ?2",
        rusqlite::params![fr_to_be_bytes(&Fr::from(10u64)).to_vec(), first + 9],
    )
    .unwrap();
    c.execute("DELETE FROM changes WHERE seq = ?1", [first + 24])
        .unwrap();
    let e = merged(dir.path(), 20).unwrap_err();
    assert!(e.to_string().contains("is missing"), "{e}");
    let e = svc.row(Fr::from(3u64)).await.unwrap_err();
    assert!(e.to_string().contains("is missing"), "{e}");
}

/// Migration 4 on a store an older release left (version 3, a `(key, seq)` index, entries
/// in any order, a mark): runs are cut where keys go down and at the mark, so the entries
/// above the mark are all read, whatever their keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_4_cuts_an_older_journal_into_runs() {
    let dir = tempfile::tempdir().unwrap();
    drop(TreeService::open(dir.path(), FILE, cfg(8, false), ADMIN).unwrap());
    let c = rusqlite::Connection::open(dir.path().join(FILE)).unwrap();
    c.execute_batch(
        "DROP TABLE runs; CREATE INDEX changes_key ON changes (key, seq); PRAGMA user_version = 3;",
    )
    .unwrap();
    // seq 1..=3 applied (the mark); 4, 5 continue their key order; then 5, 25; then 1,
    // 40, 50 with 40 (seq 9) removed: a gap.
    for k in [10u64, 20, 30, 35, 36, 5, 25, 1, 40, 50] {
        c.execute(
            "INSERT INTO changes (key, rec) VALUES (?1, ?2)",
            rusqlite::params![
                fr_to_be_bytes(&Fr::from(k)).to_vec(),
                super::store::rec_bytes(&rec(k))
            ],
        )
        .unwrap();
    }
    c.execute(
        "INSERT INTO meta (k, v) VALUES ('journal_applied', '3')",
        [],
    )
    .unwrap();
    c.execute("DELETE FROM changes WHERE seq = 9", []).unwrap();
    drop(c);
    let svc = TreeService::open(dir.path(), FILE, cfg(8, false), ADMIN).unwrap();
    let c = rusqlite::Connection::open(dir.path().join(FILE)).unwrap();
    // The applied run was removed with its entries by the clean-up at start.
    assert_eq!(spans(dir.path()), [(4, 5), (6, 7), (8, 8), (10, 10)]);
    let index: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'changes_key'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(index, 0);
    assert_eq!(svc.pending().await.unwrap().0, 6);
    for k in [35u64, 36, 5, 25, 1, 50] {
        assert_eq!(svc.row(Fr::from(k)).await.unwrap(), Some(rec(k)), "key {k}");
    }
    assert_eq!(svc.row(Fr::from(10u64)).await.unwrap(), None);
    assert_eq!(svc.row(Fr::from(40u64)).await.unwrap(), None);
    let model: BTreeMap<u64, u64> = [35u64, 36, 5, 25, 1, 50].map(|k| (k, k)).into();
    svc.publish().await.unwrap();
    same_as_in_memory(&svc, dir.path(), &model, &[1, 2, 10, 35, 40]).await;
}

/// Single-row stages leave at most `MAX_SMALL_RUNS` small runs (each small stage past them
/// merges the newest small runs into its own), lose and reorder nothing, and never rewrite
/// a stage of `SMALL_RUN` rows or more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_stages_are_merged_into_few_runs_and_big_ones_are_left() {
    let dir = tempfile::tempdir().unwrap();
    let svc = TreeService::open(dir.path(), FILE, cfg(16, false), ADMIN).unwrap();
    let mut model: BTreeMap<u64, Option<u64>> = BTreeMap::new();
    let big: Vec<Change> = (0..SMALL_RUN as u64)
        .map(|k| upsert(k * 3 + 1, k))
        .collect();
    svc.stage(big.clone()).await.unwrap();
    for k in 0..SMALL_RUN as u64 {
        model.insert(k * 3 + 1, Some(k));
    }
    let big_run = spans(dir.path());
    assert_eq!(big_run, [(1, SMALL_RUN as i64)]);
    for i in 0..100u64 {
        // Keys among the big stage's and new ones, some deleted, each rewritten by stages
        // 40 apart (so across the merges at stages 32, 64 and 96).
        let k = (i * 7) % 40 + 1;
        let v = (i % 9 != 4).then_some(1_000 + i);
        svc.stage(vec![(Fr::from(k), v.map(rec))]).await.unwrap();
        model.insert(k, v);
        let now = spans(dir.path());
        assert_eq!(now[0], big_run[0], "stage {i}: the big run was rewritten");
        assert!(
            now.len() <= 1 + MAX_SMALL_RUNS,
            "stage {i}: {} runs",
            now.len()
        );
    }
    // 100 single rows: 32 runs after the 32nd stage; the 33rd merges them with its row (one
    // run of 33), the 65th likewise (65), the 97th (97); 3 single rows after it.
    assert_eq!(spans(dir.path()).len(), 1 + 1 + 3);
    assert_eq!(merged(dir.path(), 20).unwrap(), sorted_journal(dir.path()));
    assert_eq!(svc.pending().await.unwrap().0, SMALL_RUN as u64 + 100);
    for k in 1..100u64 {
        let want = model.get(&k).copied().flatten().map(rec);
        assert_eq!(svc.row(Fr::from(k)).await.unwrap(), want, "key {k}");
    }
    // A big stage after them is a run of its own; the small ones before it stay. Of 33
    // single-row stages after it, the 33rd merges the 32 runs after the big one with its
    // row, and nothing before.
    svc.stage(big).await.unwrap();
    for k in 0..SMALL_RUN as u64 {
        model.insert(k * 3 + 1, Some(k));
    }
    let before_big = spans(dir.path());
    assert_eq!(before_big.len(), 1 + 1 + 3 + 1);
    for i in 0..33u64 {
        svc.stage(vec![upsert(i + 1, 2_000 + i)]).await.unwrap();
        model.insert(i + 1, Some(2_000 + i));
    }
    let now = spans(dir.path());
    assert_eq!(now[..before_big.len()], before_big[..]);
    assert_eq!(now.len(), before_big.len() + 1);
    // And the publication (the journal read whole, checked against its runs) gives the
    // in-memory tree.
    svc.publish().await.unwrap();
    let model: BTreeMap<u64, u64> = model
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    same_as_in_memory(&svc, dir.path(), &model, &[1, 2, 40, 41, 85, 4_000, 12_289]).await;
}

/// The readers skip runs at or below the `journal_applied` mark that the clean-up has not
/// removed yet (a crash after the publication's commit leaves them): the merge, the lookup
/// and the pending count all read only the runs above it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_at_or_below_the_mark_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let svc = TreeService::open(dir.path(), FILE, cfg(8, false), ADMIN).unwrap();
    svc.stage((1..=10).map(|k| upsert(k, k)).collect())
        .await
        .unwrap();
    svc.stage((11..=15).map(|k| upsert(k, k)).collect())
        .await
        .unwrap();
    let c = rusqlite::Connection::open(dir.path().join(FILE)).unwrap();
    c.execute(
        "INSERT INTO meta (k, v) VALUES ('journal_applied', '10')",
        [],
    )
    .unwrap();
    let keys: Vec<[u8; 32]> = merged(dir.path(), 20)
        .unwrap()
        .into_iter()
        .map(|e| e.1)
        .collect();
    let k = |x: u64| fr_to_be_bytes(&Fr::from(x));
    assert_eq!(keys, (11..=15u64).map(k).collect::<Vec<_>>());
    assert_eq!(super::runs::pending(&c).unwrap(), 5);
    assert_eq!(super::runs::staged(&c, &k(3)).unwrap(), None);
    assert!(super::runs::staged(&c, &k(12)).unwrap().is_some());
    drop(svc);
}

/// An operator's row lookup and the pending count answer while a publication holds the
/// writer connection: they read the runs on a read connection, in one snapshot (the
/// writer is held here by hand; the timeout only turns a wait for it into a failure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reads_do_not_wait_for_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let svc = TreeService::open(dir.path(), FILE, cfg(16, false), ADMIN).unwrap();
    svc.stage(vec![upsert(5, 1), upsert(7, 1)]).await.unwrap();
    svc.publish().await.unwrap();
    svc.stage(vec![upsert(5, 2), upsert(6, 3), (Fr::from(7u64), None)])
        .await
        .unwrap();
    let TreeDb::Sqlite { store, .. } = &svc.db else {
        unreachable!("a SQLite tree")
    };
    let held = crate::store::HeldBusy::hold(store);
    let reads = async {
        (
            svc.row(Fr::from(5u64)).await,
            svc.row(Fr::from(6u64)).await,
            svc.row(Fr::from(7u64)).await,
            svc.row(Fr::from(8u64)).await,
            svc.pending().await,
        )
    };
    let got = tokio::time::timeout(std::time::Duration::from_secs(120), reads).await;
    drop(held);
    let (five, six, seven, eight, pending) = got.expect("the reads waited for the writer");
    assert_eq!(five.unwrap(), Some(rec(2)), "staged over the published row");
    assert_eq!(six.unwrap(), Some(rec(3)), "staged, new");
    assert_eq!(seven.unwrap(), None, "a staged delete");
    assert_eq!(eight.unwrap(), None, "never written");
    assert_eq!(pending.unwrap().0, 3);
}
