//! Provider-signed roots at the registry (spec §7.0): the signatures a root is served with.

use ed25519_dalek::SigningKey;
use zkcredit_api::client::RegistryClient;
use zkcredit_api::registry::{verify_provider_root, RegisterProvider};
use zkcredit_api::unix_now;
use zkcredit_circuits::field::{fr_from_dec, fr_to_dec};
use zkcredit_circuits::registry::{Role, Slot};
use zkcredit_circuits::Fr;
use zkcredit_services::registry::RegistryService;
use zkcredit_services::server::spawn;

const ADMIN: &str = "registry-signatures-admin-token";

fn token(slot: usize) -> String {
    format!("registry-signatures-slot-{slot:02}")
}

/// Found by review: a root recorded without signatures (a store written before provider
/// signatures) kept only the first re-publication's signatures — later providers'
/// re-sends were ignored, so verifiers refused the current root until some provider
/// published a *new* value. Every re-publication now refreshes the root's signatures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_signatures_missing_from_an_older_store_are_filled_by_every_republication() {
    let dir = tempfile::tempdir().unwrap();
    let svc = RegistryService::open(dir.path(), 4, ADMIN).unwrap();
    let server = spawn(svc.router(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = RegistryClient::new(reqwest::Client::new(), server.url());
    let now = unix_now();
    let providers = [(0usize, Role::Kyc, 1000u64), (1, Role::Lender, 1001)];
    let key = |slot: usize| SigningKey::from_bytes(&[slot as u8 + 1; 32]);
    let value = |role: Role, id: u64| Slot {
        role,
        provider_id: Fr::from(id),
        provider_root: Fr::from(77 + id),
        published_at: now,
    };
    let mut root = String::new();
    for (slot, role, id) in providers {
        let body = RegisterProvider {
            slot,
            role,
            provider_id: id.to_string(),
            token: token(slot),
            endpoint: None,
        };
        client.register(ADMIN, &body).await.unwrap();
    }
    for (slot, role, id) in providers {
        root = client
            .publish(&token(slot), slot, &value(role, id), &key(slot))
            .await
            .unwrap()
            .root;
    }
    let root = fr_from_dec(&root).unwrap();
    let signed = |s: &zkcredit_api::registry::RootStatus| {
        providers.iter().all(|&(slot, role, id)| {
            let sig = s.signatures.get(slot).map(String::as_str).unwrap_or("");
            verify_provider_root(&key(slot).verifying_key(), &value(role, id), sig).is_ok()
        })
    };
    assert!(signed(&client.root_status(&root).await.unwrap()));
    // The store as an earlier version left it: no signature anywhere.
    let conn = rusqlite::Connection::open(dir.path().join("registry.sqlite")).unwrap();
    conn.execute_batch(
        "UPDATE slots SET signature = NULL; UPDATE root_slots SET signatures_json = NULL;",
    )
    .unwrap();
    drop(conn);
    assert!(!signed(&client.root_status(&root).await.unwrap()));
    // Both providers re-send their unchanged root (as they do at start).
    for (slot, role, id) in providers {
        let r = client
            .publish(&token(slot), slot, &value(role, id), &key(slot))
            .await
            .unwrap()
            .root;
        assert_eq!(fr_from_dec(&r).unwrap(), root, "same leaves, same root");
    }
    assert!(signed(&client.root_status(&root).await.unwrap()));
    // A publication whose signature is not 64 bytes of hex is refused before anything is kept.
    let bad = zkcredit_api::registry::PublishRoot {
        provider_root: "5".into(),
        published_at: now,
        signature: "zz".repeat(64),
    };
    let e = client
        .0
        .with_token(token(1))
        .post::<_, zkcredit_api::registry::RegistryView>("/v1/slots/1/root", &bad)
        .await
        .unwrap_err();
    assert_eq!(
        (e.status(), e.code(), e.field()),
        (
            Some(400),
            Some(zkcredit_api::ErrorCode::BadField),
            Some("signature")
        )
    );
    assert_eq!(client.view().await.unwrap().root, fr_to_dec(&root));
    server.stop().await.unwrap();
}
