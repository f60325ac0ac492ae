//! Issue 12: three `zkcredit verifier serve` processes on one PostgreSQL (a throw-away
//! cluster) accept each person's proof exactly once — under concurrent submission of every
//! proof to every replica, across a SIGKILL of one replica, and across a stop and restart
//! of PostgreSQL itself — and lose nothing they accepted.

use std::collections::{BTreeMap, BTreeSet};
use zkcredit_api::client::{Endpoint, VerifierClient};
use zkcredit_circuits::eligibility::EligibilityParams;
use zkcredit_testkit::fleet::{submit, Fleet, Outcome, Replica};
use zkcredit_testkit::pg::PgCluster;

/// Depth 10: room for the 621 people in the KYC tree.
const P: EligibilityParams = EligibilityParams {
    slots: 4,
    depth: 10,
};
/// Proofs of the concurrency phase, of the replica-crash phase, of the database-restart
/// phase.
const LOAD: usize = 500;
const CRASH: usize = 60;
const OUTAGE: usize = 60;
/// Submissions in flight at once.
const CONCURRENCY: usize = 24;

fn exe() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_zkcredit").into()
}

fn urls(replicas: &[Replica]) -> Vec<String> {
    replicas.iter().map(|r| r.url.clone()).collect()
}

/// Every proof of `range` to every replica at once.
fn to_all(range: std::ops::Range<usize>, replicas: usize) -> Vec<(usize, usize)> {
    range
        .flat_map(|p| (0..replicas).map(move |r| (p, r)))
        .collect()
}

fn tally(outcomes: &[Outcome]) -> BTreeMap<String, usize> {
    let mut t = BTreeMap::new();
    for o in outcomes {
        let k = match (o.status, &o.code) {
            (Some(s), Some(c)) => format!("{s} {c}"),
            (Some(s), None) => s.to_string(),
            (None, _) => "no answer".into(),
        };
        *t.entry(k).or_insert(0) += 1;
    }
    t
}

/// The nullifiers recorded in the database.
fn recorded(pg: &PgCluster) -> BTreeSet<String> {
    pg.psql(
        "fleet",
        "SELECT nullifier FROM zkcredit_verifier.nullifiers",
    )
    .unwrap()
    .lines()
    .map(str::to_string)
    .collect()
}

/// Waits until more than `n` nullifiers are recorded (the load is under way); how many.
async fn wait_rows(pg: &PgCluster, n: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let rows = recorded(pg).len();
        if rows > n {
            return rows;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the load stalled at {rows} rows"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn ready(http: &reqwest::Client, url: &str) -> Result<(), Option<u16>> {
    Endpoint::new(http.clone(), url.to_string())
        .get::<serde_json::Value>("/readyz")
        .await
        .map(|_| ())
        .map_err(|e| e.status())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_on_one_postgres_accept_each_proof_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = std::time::Instant::now();
    let total = LOAD + CRASH + OUTAGE;
    let fleet = Fleet::new(dir.path(), P, total, 12).await.unwrap();
    eprintln!("fleet: world and keys after {:.1?}", t0.elapsed());
    let pg = PgCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let url = pg.create_database("fleet").unwrap();
    let args = fleet.verifier_args(&url);
    // Three replicas starting at once: the migrations run exactly once.
    let spawned: Vec<_> = (0..3)
        .map(|_| {
            let (exe, cwd, args) = (exe(), fleet.dir.clone(), args.clone());
            std::thread::spawn(move || Replica::spawn(&exe, &cwd, &args))
        })
        .collect();
    let mut replicas: Vec<Replica> = spawned
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap()
                .unwrap_or_else(|e| panic!("{e}\n{}", pg.log()))
        })
        .collect();
    assert_eq!(
        pg.psql(
            "fleet",
            "SELECT string_agg(version::text, ',') FROM zkcredit_verifier.schema_migrations"
        )
        .unwrap(),
        "1,2"
    );
    // One verifier: every replica has the id kept in the database.
    let mut ids = BTreeSet::new();
    for r in &replicas {
        let info = VerifierClient::new(fleet.http.clone(), r.url.clone())
            .info()
            .await
            .unwrap();
        ids.insert(info.verifier_id);
    }
    assert_eq!(ids.len(), 1, "{ids:?}");

    // One request per proof, opened through the replicas in turn (any replica serves any
    // request), and one proof per person.
    let mut reqs = Vec::new();
    for (i, r) in replicas.iter().enumerate() {
        let n = total / 3 + usize::from(i < total % 3);
        reqs.extend(fleet.requests(&r.url, n).await.unwrap());
    }
    let subs = fleet.prove_all(&reqs).unwrap();
    eprintln!("fleet: {total} proofs ready after {:.1?}", t0.elapsed());
    let nullifier = |p: usize| subs[p].public_signals[4].clone();
    let mut accepted: BTreeMap<usize, usize> = BTreeMap::new();
    let mut all: Vec<Outcome> = Vec::new();
    let count =
        |outs: &[Outcome], accepted: &mut BTreeMap<usize, usize>, all: &mut Vec<Outcome>| {
            for o in outs.iter().filter(|o| o.status == Some(200)) {
                *accepted.entry(o.proof).or_insert(0) += 1;
            }
            all.extend_from_slice(outs);
        };

    // 1. Every proof to all three replicas at once: exactly one acceptance each, the two
    //    others refused with 409, no 5xx.
    let outs = submit(
        &fleet.http,
        &urls(&replicas),
        &subs,
        to_all(0..LOAD, 3),
        CONCURRENCY,
    )
    .await;
    let t = tally(&outs);
    let ok = t.get("200").copied().unwrap_or(0);
    let conflicts: usize = t
        .iter()
        .filter(|(k, _)| k.starts_with("409 "))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        (ok, conflicts, outs.len()),
        (LOAD, 2 * LOAD, 3 * LOAD),
        "{t:?}"
    );
    // One person, one request: the refusals say the application stands accepted.
    assert_eq!(t.get("409 already_accepted"), Some(&(2 * LOAD)), "{t:?}");
    count(&outs, &mut accepted, &mut all);
    assert!(accepted.values().all(|n| *n == 1), "a proof accepted twice");

    // 2. One replica SIGKILLed while the next proofs go to all three, then restarted.
    let load = {
        let (http, u, s) = (fleet.http.clone(), urls(&replicas), subs.clone());
        tokio::spawn(async move { submit(&http, &u, &s, to_all(LOAD..LOAD + CRASH, 3), 1).await })
    };
    let at_kill = wait_rows(&pg, LOAD + 5).await;
    replicas[1].kill();
    assert!(
        at_kill < LOAD + CRASH,
        "the kill landed mid-load ({at_kill} rows)"
    );
    let mut outs = load.await.unwrap();
    replicas[1].restart().unwrap();
    // Settle: each proof of the phase once more to every replica (the restarted one too).
    outs.extend(
        submit(
            &fleet.http,
            &urls(&replicas),
            &subs,
            to_all(LOAD..LOAD + CRASH, 3),
            CONCURRENCY,
        )
        .await,
    );
    let t = tally(&outs);
    assert!(
        t.keys()
            .all(|k| k == "200" || k.starts_with("409 ") || k == "no answer"),
        "only acceptances, conflicts and a dead replica's silence: {t:?}"
    );
    assert!(
        t.contains_key("no answer"),
        "the kill landed mid-load: {t:?}"
    );
    count(&outs, &mut accepted, &mut all);

    // 3. PostgreSQL stopped while proofs go in: the replicas answer 503 meanwhile and
    //    recover by themselves when it is back.
    let phase = LOAD + CRASH..total;
    let load = {
        let (http, u, s, range) = (
            fleet.http.clone(),
            urls(&replicas),
            subs.clone(),
            phase.clone(),
        );
        tokio::spawn(async move { submit(&http, &u, &s, to_all(range, 3), 1).await })
    };
    let at_stop = wait_rows(&pg, LOAD + CRASH + 5).await;
    pg.stop_server().unwrap();
    assert!(
        at_stop < total - 2,
        "the outage began mid-load ({at_stop} rows)"
    );
    for r in &replicas {
        assert_eq!(
            ready(&fleet.http, &r.url).await,
            Err(Some(503)),
            "readiness follows the database"
        );
    }
    // Submissions while the database is down are answered 503 by every replica.
    let down = submit(
        &fleet.http,
        &urls(&replicas),
        &subs,
        to_all(total - 2..total, 3),
        3,
    )
    .await;
    assert!(
        down.iter()
            .all(|o| o.code.as_deref() == Some("database_unavailable")),
        "{:?}",
        tally(&down)
    );
    let mut outs = load.await.unwrap();
    outs.extend(down);
    pg.start_server().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for r in &replicas {
        while ready(&fleet.http, &r.url).await.is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "{} did not recover",
                r.url
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    outs.extend(
        submit(
            &fleet.http,
            &urls(&replicas),
            &subs,
            to_all(phase, 3),
            CONCURRENCY,
        )
        .await,
    );
    let t = tally(&outs);
    assert!(
        t.keys()
            .all(|k| k == "200" || k.starts_with("409 ") || k == "503 database_unavailable"),
        "no 500, no other 5xx: {t:?}"
    );
    assert!(
        t.contains_key("503 database_unavailable"),
        "the outage was seen: {t:?}"
    );
    count(&outs, &mut accepted, &mut all);

    // Nothing accepted twice; nothing accepted lost; every person recorded exactly once;
    // every later duplicate refused. A proof with no 200 (its answer lost to the kill or
    // the outage) was told `already_accepted` on a retry: never a refusal.
    assert!(
        accepted.values().all(|n| *n == 1),
        "a proof accepted twice: {accepted:?}"
    );
    let mut told: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for o in &all {
        told.entry(o.proof)
            .or_default()
            .insert(o.code.clone().unwrap_or_else(|| format!("{:?}", o.status)));
    }
    for p in 0..total {
        assert!(
            accepted.contains_key(&p) || told[&p].contains("already_accepted"),
            "proof {p}: no acceptance and no already_accepted: {:?}",
            told[&p]
        );
        assert!(
            !told[&p].contains("nullifier_reused") && !told[&p].contains("request_already_used"),
            "proof {p}: refused as another application: {:?}",
            told[&p]
        );
    }
    let rows = recorded(&pg);
    assert_eq!(rows.len(), total, "one nullifier per person");
    for p in accepted.keys() {
        assert!(
            rows.contains(&nullifier(*p)),
            "proof {p} was accepted and is not recorded"
        );
    }
    let again = submit(
        &fleet.http,
        &urls(&replicas),
        &subs,
        (0..total).map(|p| (p, p % 3)).collect(),
        CONCURRENCY,
    )
    .await;
    let t = tally(&again);
    assert_eq!(t.get("409 already_accepted"), Some(&total), "{t:?}");
}
