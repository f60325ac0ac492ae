//! A provider tree on disk at scale (issue 13, spec §4.4): import and publish `ROWS` random
//! rows through the provider's SQLite store, reopen it, read 10,000 witnesses (half present
//! keys, half absent), then publish 10,000 changed rows.
//!
//! `/usr/bin/time -v cargo run --release -p zkcredit-benches --example disk_tree -- ROWS DIR`
//! (DIR must not hold a tree yet; peak memory is the process's maximum resident set).
//!
//! `… --example disk_tree -- changes DIR ROWS N SEED` reopens the tree such a run left in
//! DIR (`ROWS` rows) and publishes `N` changed rows, chosen at random with `SEED`: the last
//! step again, on the same store, so that two builds can be compared on one tree.

use rand::{Rng, SeedableRng};
use std::time::Instant;
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::Fr;
use zkcredit_services::tree::{TreeConfig, TreeService};

const ADMIN: &str = "disk-tree-bench-admin-token";
const STAGE: u64 = 100_000;

fn cfg() -> TreeConfig {
    TreeConfig {
        role: Role::FraudList,
        provider_id: Fr::from(1001u64),
        depth: 32,
        issuer_key: zkcredit_api::auth::parse_public_key(
            "issuer_key",
            "5866666666666666666666666666666666666666666666666666666666666666",
        )
        .expect("the Ed25519 base point"),
        registry: None,
        rebuild_nodes: false,
    }
}

/// Row `i`'s key: spread over 64 bits, distinct for distinct `i` (an odd multiplier).
fn key(i: u64) -> Fr {
    Fr::from(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1 << 63)
}

fn rec(i: u64, round: u64) -> [Fr; 3] {
    [
        Fr::from(1 + i % 5),
        Fr::from(1_700_000_000 + i + round),
        Fr::from(round),
    ]
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("changes") {
        let arg =
            |i: usize, what: &str| -> u64 { args.get(i).and_then(|a| a.parse().ok()).expect(what) };
        let dir = std::path::PathBuf::from(args.get(2).expect("DIR"));
        let (rows, n, seed) = (arg(3, "ROWS"), arg(4, "N"), arg(5, "SEED"));
        let t = Instant::now();
        let svc = TreeService::open(&dir, "provider.sqlite", cfg(), ADMIN).unwrap();
        println!("open: {:.3} s", t.elapsed().as_secs_f64());
        assert_eq!(svc.rows(), rows, "DIR holds another tree");
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        publish_changes(&svc, &mut rng, rows, n, 1 + seed).await;
        return;
    }
    let rows: u64 = args.get(1).and_then(|a| a.parse().ok()).expect("ROWS");
    let dir = std::path::PathBuf::from(args.get(2).expect("DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let svc = TreeService::open(&dir, "provider.sqlite", cfg(), ADMIN).unwrap();
    assert_eq!(svc.rows(), 0, "DIR already holds a tree");

    let t = Instant::now();
    let mut i = 0;
    while i < rows {
        let n = STAGE.min(rows - i);
        svc.stage((i..i + n).map(|j| (key(j), Some(rec(j, 0)))).collect())
            .await
            .unwrap();
        i += n;
    }
    let staged = t.elapsed().as_secs_f64();
    let rep = svc.publish().await.unwrap();
    let total = t.elapsed().as_secs_f64();
    println!(
        "import {rows} rows: staged {staged:.1} s, published {:.1} s (rebuilt: {}; tree {:.1} s, the rest {:.1} s: journal count, clean-ups, commit, removal of what it replaced), total {total:.1} s ({:.0} rows/s)",
        total - staged,
        rep.rebuilt,
        rep.tree_seconds,
        rep.persist_seconds,
        rows as f64 / total
    );
    let root = rep.root.clone();
    drop(svc);

    let t = Instant::now();
    let svc = TreeService::open(&dir, "provider.sqlite", cfg(), ADMIN).unwrap();
    println!("restart: {:.3} s", t.elapsed().as_secs_f64());
    assert_eq!(svc.status().root, root);

    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let mut lat = Vec::with_capacity(10_000);
    for n in 0..10_000u64 {
        let k = if n % 2 == 0 {
            key(rng.gen_range(0..rows))
        } else {
            key(rows + rng.gen_range(0..rows))
        };
        let t = Instant::now();
        let w = svc.published_witness(&k).await.unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(w.present, n % 2 == 0);
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    println!(
        "witness (10,000 keys, half absent): p50 {:.2} ms, p99 {:.2} ms",
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );

    publish_changes(&svc, &mut rng, rows, 10_000, 1).await;
}

/// Stages `n` changes of random existing rows (record round `round`) and publishes them.
async fn publish_changes(
    svc: &TreeService,
    rng: &mut rand_chacha::ChaCha20Rng,
    rows: u64,
    n: u64,
    round: u64,
) {
    let changed: Vec<u64> = (0..n).map(|_| rng.gen_range(0..rows)).collect();
    svc.stage(
        changed
            .iter()
            .map(|j| (key(*j), Some(rec(*j, round))))
            .collect(),
    )
    .await
    .unwrap();
    let t = Instant::now();
    let rep = svc.publish().await.unwrap();
    println!(
        "publish {n} changed rows: {:.2} s (rebuilt: {}, {} distinct; tree {:.2} s, the rest {:.2} s)",
        t.elapsed().as_secs_f64(),
        rep.rebuilt,
        rep.changes_applied,
        rep.tree_seconds,
        rep.persist_seconds
    );
}
