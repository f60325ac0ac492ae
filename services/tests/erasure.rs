//! Issue 18, item 11: erasure is physical. After a provider deletes a row and publishes, the
//! subject key's bytes are in no file of its data directory (spec §4.4: `secure_delete`
//! zeroes freed content, the WAL is truncated after every publication and removed on close).

use std::path::{Path, PathBuf};
use zkcredit_api::client::ProviderClient;
use zkcredit_api::provider::Value;
use zkcredit_circuits::field::{fr_from_be_bytes, fr_to_be_bytes, fr_to_dec};
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::Fr;
use zkcredit_services::provider::ProviderService;
use zkcredit_services::server::spawn;
use zkcredit_services::tree::TreeConfig;

const ADMIN: &str = "erasure-test-admin-token-0123456";

/// A key below 2^248 whose 31 low bytes are a pattern unlikely anywhere else.
fn key(first: u8) -> Fr {
    let mut b = [0u8; 32];
    b[1] = first;
    for (i, x) in b.iter_mut().enumerate().skip(2) {
        *x = (i as u8).wrapping_mul(37) ^ 0xa5 ^ first;
    }
    fr_from_be_bytes(&b).unwrap()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The files under `dir` holding the key's 32-byte big-endian encoding or its decimal text.
fn holding(dir: &Path, k: &Fr) -> Vec<PathBuf> {
    let (be, dec) = (fr_to_be_bytes(k), fr_to_dec(k));
    files(dir)
        .into_iter()
        .filter(|p| {
            let b = std::fs::read(p).unwrap();
            contains(&b, &be) || contains(&b, dec.as_bytes())
        })
        .collect()
}

/// The bureau provider of these tests, opened on `dir` at `depth`.
fn bureau(dir: &Path, depth: usize) -> ProviderService {
    ProviderService::open(
        dir,
        TreeConfig {
            role: Role::Bureau,
            provider_id: Fr::from(1003u64),
            depth,
            issuer_key: ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key(),
            registry: None,
            rebuild_nodes: false,
        },
        ADMIN,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_a_deleted_subject_key_leaves_no_bytes_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let svc = bureau(dir.path(), 8);
    let server = spawn(svc.router(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = ProviderClient::new(reqwest::Client::new(), server.url());

    // The victim sits between two neighbours, so the low leaf's `next_key` held it too.
    let victim = key(0x5c);
    let others: Vec<Fr> = [0x11, 0x33, 0x77, 0x99].into_iter().map(key).collect();
    for (n, k) in others.iter().chain([&victim]).enumerate() {
        let v = 600 + n as u64;
        client
            .upsert(
                ADMIN,
                &fr_to_dec(k),
                [Value::N(v), Value::N(1_700_000_000), Value::N(3)],
            )
            .await
            .unwrap();
    }
    client.publish(ADMIN).await.unwrap();
    // Rewrite the victim's record once more, so older copies of its leaf exist too.
    client
        .upsert(
            ADMIN,
            &fr_to_dec(&victim),
            [Value::N(750), Value::N(1_700_000_001), Value::N(3)],
        )
        .await
        .unwrap();
    client.publish(ADMIN).await.unwrap();
    assert!(
        !holding(dir.path(), &victim).is_empty(),
        "the scan finds a published key"
    );

    client.delete(ADMIN, &fr_to_dec(&victim)).await.unwrap();
    let report = client.publish(ADMIN).await.unwrap();
    assert_eq!(report.rows, others.len());
    // Already while serving: the publication truncated the WAL.
    assert_eq!(
        holding(dir.path(), &victim),
        Vec::<PathBuf>::new(),
        "deleted key still on disk while the provider runs"
    );

    // Stop: the router (every handle on the store) is dropped, so SQLite closes.
    server.stop().await.unwrap();
    drop(client);
    let wal = dir.path().join("provider.sqlite-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "the WAL is gone or empty once the store is closed"
    );
    assert_eq!(
        holding(dir.path(), &victim),
        Vec::<PathBuf>::new(),
        "deleted key still in the data directory"
    );
    // The scan reads the right file: every remaining key is still in the database.
    let db = std::fs::read(dir.path().join("provider.sqlite")).unwrap();
    for k in &others {
        assert!(
            contains(&db, &fr_to_be_bytes(k)),
            "key {} missing",
            fr_to_dec(k)
        );
    }

    // And the store reopens to the published tree without the victim.
    let svc = bureau(dir.path(), 8);
    assert_eq!(svc.tree().row(victim).await.unwrap(), None);
    assert!(svc.tree().row(others[0]).await.unwrap().is_some());
}

/// The same through rebuilds (spec §4.4, SQLite in parts): a deletion published by a
/// rebuild leaves the key in no file once the publication returns. The old leaf table and
/// the applied journal (which held the key in its upsert and in its delete) are removed in
/// parts after the commit, then the WAL is truncated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_a_key_deleted_by_a_rebuild_leaves_no_bytes_either() {
    const ROWS: u64 = 24_000;
    let dir = tempfile::tempdir().unwrap();
    let svc = bureau(dir.path(), 16);
    let tree = svc.tree();
    let rec = |v: u64| Some([Fr::from(v), Fr::from(1_700_000_000u64), Fr::from(3u64)]);
    let rows = |v: u64| (1..=ROWS).map(move |i| (Fr::from(i * 1_000_003), rec(v)));
    let victim = key(0x5c);
    tree.stage(rows(600).chain([(victim, rec(700))]).collect())
        .await
        .unwrap();
    assert!(tree.publish().await.unwrap().rebuilt);
    assert!(
        !holding(dir.path(), &victim).is_empty(),
        "the scan finds a published key"
    );

    // More than a quarter of the tree rewritten: the deletion is published by a rebuild.
    tree.stage(rows(601).chain([(victim, None)]).collect())
        .await
        .unwrap();
    let report = tree.publish().await.unwrap();
    assert!(report.rebuilt);
    assert_eq!(report.rows, ROWS as usize);
    assert_eq!(
        holding(dir.path(), &victim),
        Vec::<PathBuf>::new(),
        "deleted key still on disk after the rebuild that deleted it"
    );
    assert_eq!(tree.row(victim).await.unwrap(), None);
}
