//! A provider tree's store on both backends (spec §4.4): the SQLite file and a PostgreSQL
//! schema must keep the same tree through a parallel rebuild, row-by-row publications and
//! reopening, and no staged row may be lost when stages and publications run at once (on
//! PostgreSQL concurrent stages commit their journal entries out of sequence order).

#[macro_use]
mod verifier_env;

use std::sync::Arc;
use verifier_env::*;
use zkcredit_api::ApiError;
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::Fr;
use zkcredit_services::provider::ProviderService;
use zkcredit_services::store::DatabaseUrl;
use zkcredit_services::tree::{TreeConfig, TreeService, REBUILD_THRESHOLD};

on_both_backends!(
    a_rebuild_and_row_by_row_publications_survive_reopening,
    stages_racing_publications_lose_no_row,
);

const DEPTH: usize = 16;

async fn open(backend: &Backend, dir: &std::path::Path) -> Result<TreeService, ApiError> {
    let url = match backend {
        Backend::Sqlite => DatabaseUrl::Sqlite(dir.join("provider.sqlite")),
        Backend::Postgres(c) => DatabaseUrl::parse(&c.url("zk")).unwrap(),
    };
    let cfg = TreeConfig {
        role: Role::Lender,
        provider_id: Fr::from(1002u64),
        depth: DEPTH,
        issuer_key: ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key(),
        registry: None,
        rebuild_nodes: false,
    };
    Ok(ProviderService::open_db(&url, "lender_a", cfg, ADMIN)
        .await?
        .tree()
        .clone())
}

fn rec(k: u64, round: u64) -> [Fr; 3] {
    [Fr::from(k % 5), Fr::from(1000 * round + k), Fr::from(round)]
}

async fn a_rebuild_and_row_by_row_publications_survive_reopening(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let tree = open(&backend, dir.path()).await.unwrap();
    let n = REBUILD_THRESHOLD as u64 + 1;
    tree.stage((1..=n).map(|k| (Fr::from(k), Some(rec(k, 1)))).collect())
        .await
        .unwrap();
    let rep = tree.publish().await.unwrap();
    assert!(
        rep.rebuilt,
        "more than {REBUILD_THRESHOLD} changes: a parallel rebuild"
    );
    assert_eq!((rep.rows, rep.changes_applied), (n as usize, n as usize));

    // Reopened (on PostgreSQL: a second process taking the tree over): the same tree. A
    // SQLite file is refused to a second writer while the first holds it (spec §4.4).
    let first = tree.status();
    refused_while_held(&backend, dir.path()).await;
    drop(tree);
    let again = open(&backend, dir.path()).await.unwrap();
    assert_eq!(again.status().root, first.root);
    assert_eq!(again.status().public_key, first.public_key);

    // Row by row: three upserts (one new key), two deletes, one delete of a missing key.
    let changes = vec![
        (Fr::from(5u64), Some(rec(5, 2))),
        (Fr::from(n + 7), Some(rec(n + 7, 2))),
        (Fr::from(9u64), None),
        (Fr::from(10u64), None),
        (Fr::from(n + 99), None),
        (Fr::from(11u64), Some(rec(11, 2))),
    ];
    again.stage(changes).await.unwrap();
    assert_eq!(again.row(Fr::from(5u64)).await.unwrap(), Some(rec(5, 2)));
    assert_eq!(
        again.row(Fr::from(9u64)).await.unwrap(),
        None,
        "staged delete"
    );
    let rep = again.publish().await.unwrap();
    assert!(!rep.rebuilt);
    assert_eq!(rep.rows, n as usize - 1);

    let second = again.status();
    drop(again);
    let third = open(&backend, dir.path()).await.unwrap();
    assert_eq!(third.status().root, second.root);
    assert_ne!(third.status().root, first.root);
    for (k, want) in [
        (5, Some(rec(5, 2))),
        (6, Some(rec(6, 1))),
        (9, None),
        (10, None),
        (11, Some(rec(11, 2))),
        (n + 7, Some(rec(n + 7, 2))),
    ] {
        assert_eq!(third.row(Fr::from(k)).await.unwrap(), want, "key {k}");
    }

    // A second rebuild merges the old leaves with the journal (on PostgreSQL through a
    // temporary copy, the tables refilled in place): every other key rewritten, new keys
    // above, some deletes, and a witness from the result.
    let mut changes: Vec<_> = (1..=n)
        .step_by(2)
        .map(|k| (Fr::from(k), Some(rec(k, 3))))
        .collect();
    changes.extend((n + 100..n + 100 + n / 2).map(|k| (Fr::from(k), Some(rec(k, 3)))));
    changes.extend([(Fr::from(6u64), None), (Fr::from(8u64), None)]);
    third.stage(changes).await.unwrap();
    let rep = third.publish().await.unwrap();
    assert!(rep.rebuilt);
    // Key 9 (odd, deleted before) comes back.
    assert_eq!(rep.rows, n as usize - 1 + 1 + (n / 2) as usize - 2);
    let before = third.status();
    drop(third);
    let fourth = open(&backend, dir.path()).await.unwrap();
    assert_eq!(fourth.status().root, before.root);
    for (k, want) in [
        (5, Some(rec(5, 3))),
        (6, None),
        (7, Some(rec(7, 3))),
        (8, None),
        (9, Some(rec(9, 3))),
        (10, None),
        (12, Some(rec(12, 1))),
        (n + 7, Some(rec(n + 7, 2))),
        (n + 100, Some(rec(n + 100, 3))),
    ] {
        assert_eq!(fourth.row(Fr::from(k)).await.unwrap(), want, "key {k}");
    }
    let w = fourth.published_witness(&Fr::from(12u64)).await.unwrap();
    assert!(w.present);
    assert_eq!(w.root, fourth.status().root);
}

async fn stages_racing_publications_lose_no_row(backend: Backend) {
    const WRITERS: u64 = 8;
    const ROWS: u64 = 40;
    let dir = tempfile::tempdir().unwrap();
    let tree = Arc::new(open(&backend, dir.path()).await.unwrap());
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publisher = {
        let (tree, done) = (tree.clone(), done.clone());
        tokio::spawn(async move {
            let mut published = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                tree.publish().await.unwrap();
                published += 1;
            }
            published
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let tree = tree.clone();
            tokio::spawn(async move {
                for i in 0..ROWS {
                    let k = 1 + w * ROWS + i;
                    // Each row first staged with a value then overwritten: the last write
                    // must win whatever publication picks up the first.
                    tree.stage(vec![(Fr::from(k), Some(rec(k, 1)))])
                        .await
                        .unwrap();
                    tree.stage(vec![(Fr::from(k), Some(rec(k, 2)))])
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let publications = publisher.await.unwrap();
    assert!(publications > 1, "publications ran while rows were staged");
    let rep = tree.publish().await.unwrap();
    assert_eq!(rep.rows, (WRITERS * ROWS) as usize);
    let last = tree.status();
    drop(tree);
    let reopened = open(&backend, dir.path()).await.unwrap();
    assert_eq!(reopened.status().root, last.root);
    for k in 1..=WRITERS * ROWS {
        assert_eq!(
            reopened.row(Fr::from(k)).await.unwrap(),
            Some(rec(k, 2)),
            "key {k}"
        );
    }
}

/// On SQLite, opening the tree while another service holds it is refused (`tree_in_use`);
/// on PostgreSQL the newcomer takes it over (tested where the older writer is refused).
async fn refused_while_held(backend: &Backend, dir: &std::path::Path) {
    if let Backend::Sqlite = backend {
        match open(backend, dir).await {
            Ok(_) => panic!("a second writer of a held SQLite tree was let in"),
            Err(e) => assert_eq!(e.code, zkcredit_api::ErrorCode::TreeInUse, "{e:?}"),
        }
    }
}

fn pg_of(backend: &Backend) -> &zkcredit_testkit::pg::PgCluster {
    match backend {
        Backend::Postgres(c) => c,
        Backend::Sqlite => unreachable!("a PostgreSQL test"),
    }
}

/// Regression (review of the PostgreSQL tree store): a journal entry that commits while a
/// publication is between reading the journal and committing — its `seq` below the last one
/// read, as concurrent stages commit out of sequence order — must stay staged, not be
/// removed with the entries the publication applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_stage_committed_during_a_publication_is_kept() {
    use zkcredit_circuits::field::fr_to_be_bytes;
    let backend = Backend::postgres();
    let dir = tempfile::tempdir().unwrap();
    let tree = open(&backend, dir.path()).await.unwrap();
    let (client, conn) = tokio_postgres::connect(&pg_of(&backend).url("zk"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    // A stage that takes its sequence number first and commits last.
    client.batch_execute("BEGIN").await.unwrap();
    let late: Vec<u8> = rec(1, 1).iter().flat_map(fr_to_be_bytes).collect();
    client
        .execute(
            "INSERT INTO lender_a.changes (key, rec) VALUES ($1, $2)",
            &[&fr_to_be_bytes(&Fr::from(1u64)).to_vec(), &late],
        )
        .await
        .unwrap();
    tree.stage(vec![(Fr::from(2u64), Some(rec(2, 1)))])
        .await
        .unwrap();
    // Hold the publication's commit back: it waits for this lock on the writer row.
    client
        .query(
            "SELECT v FROM lender_a.meta WHERE k = 'writer' FOR UPDATE",
            &[],
        )
        .await
        .unwrap();
    let publishing = {
        let tree = tree.clone();
        tokio::spawn(async move { tree.publish().await })
    };
    // Once the publication waits on the row, it has read the journal.
    loop {
        let waiting: i64 = client
            .query_one("SELECT COUNT(*) FROM pg_locks WHERE NOT granted", &[])
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    client.batch_execute("COMMIT").await.unwrap();
    let first = publishing.await.unwrap().unwrap();
    assert_eq!(first.changes_applied, 1, "the publication read only key 2");
    let second = tree.publish().await.unwrap();
    assert_eq!(second.changes_applied, 1, "key 1 stayed staged");
    assert_eq!(tree.row(Fr::from(1u64)).await.unwrap(), Some(rec(1, 1)));
    assert_eq!(tree.row(Fr::from(2u64)).await.unwrap(), Some(rec(2, 1)));
}

/// Regression (review of the PostgreSQL tree store): a row-by-row publication holds the
/// tree's lock while it commits; readers of the tree (status, witnesses) block their
/// runtime's workers on that lock, so the commit's I/O must not need those workers. With
/// every worker busy reading, the publication still completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_readers_during_a_publication_do_not_stall_it() {
    let backend = Backend::postgres();
    let dir = tempfile::tempdir().unwrap();
    let tree = Arc::new(open(&backend, dir.path()).await.unwrap());
    let n = 15_000u64;
    tree.stage((1..=n).map(|k| (Fr::from(k), Some(rec(k, 1)))).collect())
        .await
        .unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let (tree, done) = (tree.clone(), done.clone());
            tokio::spawn(async move {
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let _ = tree.status();
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    // A liveness bound, not a speed one: the publication takes seconds; a deadlock never
    // ends, and freezes this runtime's timers too, so the guard is a thread of its own that
    // fails the whole test binary.
    let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let guard = finished.clone();
    std::thread::spawn(move || {
        for _ in 0..2400 {
            if guard.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        eprintln!("postgres_readers_during_a_publication_do_not_stall_it: the publication did not complete in 240 s (deadlock)");
        std::process::exit(1);
    });
    let rep = tree.publish().await.unwrap();
    finished.store(true, std::sync::atomic::Ordering::SeqCst);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    for r in readers {
        r.await.unwrap();
    }
    assert!(!rep.rebuilt);
    assert_eq!(rep.rows, n as usize);
}
