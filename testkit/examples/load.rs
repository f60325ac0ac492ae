//! Load on the lender's verifier as deployed (not part of the test suite): real
//! `zkcredit verifier serve` processes, measured in one run on three stores — one replica
//! on SQLite, one replica on PostgreSQL, three replicas on one PostgreSQL (a throw-away
//! cluster). For each, N distinct valid proofs (one per applicant, each answering its own
//! request) are submitted by C concurrent clients, spread over the replicas in turn; prints
//! verifications/s, p50/p99 latency and the refusals, as a Markdown table.
//!
//! ```sh
//! cargo build --release -p zkcredit
//! cargo run --release -p zkcredit-testkit --example load -- [N=200] [C=16]
//! ```
//! The binary is `target/release/zkcredit` (or `ZKCREDIT_BIN`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;
use zkcredit_circuits::eligibility::EligibilityParams;
use zkcredit_testkit::fleet::{quantile_ms, submit, Fleet, Replica};
use zkcredit_testkit::pg::PgCluster;

const P: EligibilityParams = EligibilityParams { slots: 4, depth: 8 };

fn binary() -> PathBuf {
    let p = std::env::var_os("ZKCREDIT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/zkcredit")
        });
    if !p.is_file() {
        eprintln!(
            "{}: no zkcredit binary; run `cargo build --release -p zkcredit` first (or set ZKCREDIT_BIN)",
            p.display()
        );
        std::process::exit(2);
    }
    p
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(200)
        .clamp(1, 250);
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let exe = binary();
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = Fleet::new(dir.path(), P, n, 7).await.expect("fleet");
    let pg = PgCluster::start().unwrap_or_else(|e| panic!("{e}"));
    println!(
        "| store | replicas | proofs | clients | verifications/s | p50 ms | p99 ms | refused |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    for (label, replicas) in [("SQLite", 1usize), ("PostgreSQL", 1), ("PostgreSQL", 3)] {
        let url = if label == "SQLite" {
            format!("sqlite://{}/sqlite/verifier.sqlite", dir.path().display())
        } else {
            pg.create_database(&format!("load{replicas}"))
                .expect("database")
        };
        let args = fleet.verifier_args(&url);
        let fleet_procs: Vec<Replica> = (0..replicas)
            .map(|_| Replica::spawn(&exe, &fleet.dir, &args).expect("verifier"))
            .collect();
        let urls: Vec<String> = fleet_procs.iter().map(|r| r.url.clone()).collect();
        let reqs = fleet.requests(&urls[0], n).await.expect("requests");
        let subs = fleet.prove_all(&reqs).expect("proofs");
        let plan = (0..n).map(|p| (p, p % replicas)).collect();
        let t = Instant::now();
        let outs = submit(&fleet.http, &urls, &subs, plan, clients).await;
        let wall = t.elapsed();
        let lat: Vec<_> = outs.iter().map(|o| o.latency).collect();
        let mut refused: BTreeMap<String, usize> = BTreeMap::new();
        for o in outs.iter().filter(|o| o.status != Some(200)) {
            let k = o.code.clone().unwrap_or_else(|| "no answer".into());
            *refused.entry(k).or_insert(0) += 1;
        }
        println!(
            "| {label} | {replicas} | {n} | {clients} | {:.0} | {:.1} | {:.1} | {} |",
            n as f64 / wall.as_secs_f64(),
            quantile_ms(&lat, 0.5),
            quantile_ms(&lat, 0.99),
            if refused.is_empty() {
                "0".to_string()
            } else {
                format!("{refused:?}")
            }
        );
    }
}
