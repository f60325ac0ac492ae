//! The registry as replicas on one store (spec §5, §4.4): two registry services on the same
//! SQLite file or PostgreSQL schema, providers publishing through both at once. Every
//! publication must be applied on the result of the one before it — one linear history,
//! nothing lost — and both replicas must give the same answers, signed with the same key.

#[macro_use]
mod verifier_env;

use std::collections::BTreeMap;
use verifier_env::*;
use zkcredit_api::client::{Endpoint, RegistryClient};
use zkcredit_api::registry::{
    sign_provider_root, verify_provider_root, RegisterProvider, RootView,
};
use zkcredit_api::{unix_now, ErrorCode};
use zkcredit_circuits::field::{fr_from_dec, fr_to_dec};
use zkcredit_circuits::registry::{Registry, Role, Slot};
use zkcredit_circuits::Fr;
use zkcredit_services::registry::{RegistryDb, RegistryService, Write};
use zkcredit_services::server::spawn;

fn sha256(s: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes()).into()
}
use zkcredit_testkit::provider_signing_key;

on_both_backends!(concurrent_publications_through_two_replicas_form_one_linear_history);

const ROUNDS: u64 = 10;

fn role_of(slot: usize) -> Role {
    if slot == 0 {
        Role::Kyc
    } else {
        Role::Lender
    }
}

fn value(slot: usize, round: u64, base: u64) -> Slot {
    Slot {
        role: role_of(slot),
        provider_id: Fr::from(1000 + slot as u64),
        provider_root: Fr::from(round),
        published_at: base + round,
    }
}

async fn concurrent_publications_through_two_replicas_form_one_linear_history(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    // Both replicas start at once: one migration, one signing key.
    let (a, b) = tokio::join!(
        registry_on(&backend, dir.path(), "registry"),
        registry_on(&backend, dir.path(), "registry")
    );
    assert_eq!(
        a.public_key_hex(),
        b.public_key_hex(),
        "one registry, one key"
    );
    // A replica (or a restart) with another slot count is refused at start.
    let (url, schema) = registry_store(&backend, dir.path(), "registry");
    let e = RegistryService::open_db(&url, &schema, P.slots * 2, ADMIN)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::BadRequest);
    assert!(e.message.contains("--slots"), "{}", e.message);
    let servers = [
        spawn(a.router(), local()).await.unwrap(),
        spawn(b.router(), local()).await.unwrap(),
    ];
    let http = reqwest::Client::new();
    let clients: Vec<RegistryClient> = servers
        .iter()
        .map(|s| RegistryClient::new(http.clone(), s.url()))
        .collect();
    for slot in 0..P.slots {
        let body = RegisterProvider {
            slot,
            role: role_of(slot),
            provider_id: (1000 + slot).to_string(),
            token: token(slot),
            endpoint: None,
        };
        clients[slot % 2].register(ADMIN, &body).await.unwrap();
    }
    // Every provider publishes rounds 1..=ROUNDS in order; the providers run at once, each
    // alternating between the replicas.
    let base = unix_now() - 1000;
    let mut tasks = Vec::new();
    for slot in 0..P.slots {
        let clients = clients.clone();
        tasks.push(tokio::spawn(async move {
            for round in 1..=ROUNDS {
                let c = &clients[(slot + round as usize) % 2];
                c.publish(
                    &token(slot),
                    slot,
                    &value(slot, round, base),
                    &provider_signing_key(slot),
                )
                .await
                .unwrap_or_else(|e| panic!("slot {slot} round {round}: {e}"));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // A late publication from the past is refused whichever replica receives it.
    for c in &clients {
        let e = c
            .publish(&token(1), 1, &value(1, 3, base), &provider_signing_key(1))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::PublishedBeforePrevious), "{e}");
    }

    // Both replicas serve the same registry: every provider's last round.
    let view = clients[0].view().await.unwrap();
    let other = clients[1].view().await.unwrap();
    assert_eq!(view.root, other.root);
    assert_eq!(view.history, other.history);
    let mut expected = Registry::new(P.slots).unwrap();
    for slot in 0..P.slots {
        expected.set(slot, value(slot, ROUNDS, base)).unwrap();
    }
    assert_eq!(
        view.root,
        fr_to_dec(&expected.root()),
        "no publication lost"
    );

    // Exactly one current root, and the history is ordered.
    let current: Vec<&RootView> = view
        .history
        .iter()
        .filter(|r| r.retired_at.is_none())
        .collect();
    assert_eq!(current.len(), 1, "{:?}", view.history);
    assert_eq!(current[0].root, view.root);
    for w in view.history.windows(2) {
        assert!(w[0].current_since >= w[1].current_since, "{w:?}");
    }
    for r in &view.history {
        if let Some(t) = r.retired_at {
            assert!(t >= r.current_since, "{r:?}");
        }
    }

    // Linear: the states with every slot registered are the rounds of the providers, each
    // one step from the one before (one slot, one round further): 0, 1, …, 4 × ROUNDS
    // publications in, no state skipped, none that lost another's publication; and the
    // history (newest first) lists them in that order.
    let mut states: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut order = Vec::new();
    for r in &view.history {
        let status = clients[1]
            .root_status(&fr_from_dec(&r.root).unwrap())
            .await
            .unwrap();
        assert!(status.known);
        let mut reg = Registry::new(P.slots).unwrap();
        for (i, s) in status.slots.iter().enumerate() {
            reg.set(i, *s).unwrap();
        }
        assert_eq!(fr_to_dec(&reg.root()), r.root, "the leaves make the root");
        if status.slots.iter().any(|s| s.role == Role::Empty) {
            continue;
        }
        let rounds: Vec<u64> = status
            .slots
            .iter()
            .map(|s| fr_to_dec(&s.provider_root).parse().unwrap())
            .collect();
        for (slot, s) in status.slots.iter().enumerate() {
            let round = rounds[slot];
            if round > 0 {
                let sig = &status.signatures[slot];
                let key = provider_signing_key(slot).verifying_key();
                assert!(verify_provider_root(&key, s, sig).is_ok(), "slot {slot}");
            }
        }
        let steps = rounds.iter().sum::<u64>();
        order.push(steps);
        assert!(
            states.insert(steps, rounds.clone()).is_none(),
            "two roots after {steps} publications: {rounds:?}"
        );
    }
    let total = ROUNDS * P.slots as u64;
    assert_eq!(
        states.keys().copied().collect::<Vec<_>>(),
        (0..=total).collect::<Vec<_>>()
    );
    for (prev, next) in states.values().zip(states.values().skip(1)) {
        let moved: Vec<usize> = (0..P.slots).filter(|&i| prev[i] != next[i]).collect();
        assert_eq!(moved.len(), 1, "{prev:?} -> {next:?}");
        assert_eq!(next[moved[0]], prev[moved[0]] + 1, "{prev:?} -> {next:?}");
    }
    assert_eq!(
        order,
        (0..=total).rev().collect::<Vec<_>>(),
        "history in write order"
    );

    if let Backend::Postgres(_) = &backend {
        // Roots are timed by the database's clock, not by a replica whose clock is off.
        let db = RegistryDb::open(&url, &schema).await.unwrap();
        let w = Write::Publish {
            slot: 1,
            token: sha256(&token(1)),
            root: Fr::from(ROUNDS + 1),
            published_at: base + ROUNDS + 1,
            signature: sign_provider_root(&provider_signing_key(1), &value(1, ROUNDS + 1, base)),
        };
        db.write(w, P.slots, unix_now() + 30 * 86_400)
            .await
            .unwrap();
        let newest = &clients[0].view().await.unwrap().history[0];
        assert!(
            newest.current_since.abs_diff(unix_now()) <= 60,
            "{newest:?} is not the database's time"
        );
        // Another service given the registry's schema is refused, not half-migrated.
        let e = zkcredit_services::verifier::VerifierDb::open(&url, &schema)
            .await
            .unwrap_err();
        assert!(e.message.contains("another service"), "{}", e.message);
    }

    // PostgreSQL: a lost database is a 503 on every replica, which recovers by itself.
    if let Backend::Postgres(cluster) = &backend {
        let view = clients[0].view().await.unwrap();
        cluster.stop_server().unwrap();
        for s in &servers {
            let ep = Endpoint::new(http.clone(), s.url());
            let e = ep.get::<serde_json::Value>("/readyz").await.unwrap_err();
            assert_eq!(e.status(), Some(503), "{e}");
            assert_eq!(e.code(), Some(ErrorCode::DatabaseUnavailable), "{e}");
            let e = RegistryClient::new(http.clone(), s.url())
                .view()
                .await
                .unwrap_err();
            assert_eq!(e.code(), Some(ErrorCode::DatabaseUnavailable), "{e}");
        }
        // A publication during the outage is refused 503, never half-applied.
        let late = value(2, ROUNDS + 1, base);
        let e = clients[0]
            .publish(&token(2), 2, &late, &provider_signing_key(2))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::DatabaseUnavailable), "{e}");
        cluster.start_server().unwrap();
        for c in &clients {
            let mut tries = 0;
            let v = loop {
                match c.view().await {
                    Ok(v) => break v,
                    Err(e) if tries < 50 => {
                        assert_eq!(e.code(), Some(ErrorCode::DatabaseUnavailable), "{e}");
                        tries += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                    Err(e) => panic!("no recovery: {e}"),
                }
            };
            assert_eq!(v.root, view.root, "nothing lost across the outage");
        }
        // Retried after the outage, the publication lands.
        let after = clients[1]
            .publish(&token(2), 2, &late, &provider_signing_key(2))
            .await
            .unwrap();
        assert_ne!(after.root, view.root);
    }
    for s in servers {
        s.stop().await.unwrap();
    }
}
