//! The whole story over real HTTP on loopback (small circuit: 4 slots × depth 8): issuer,
//! registry, fraud list, lender, bureau and verifier as services; a wallet registers, the
//! providers learn its subject key from the issuer, set its records and publish; the wallet
//! gathers its witnesses with signed requests, proves and applies. Plus every refusal of
//! the witness API and the provider's persistence.

use serde_json::{json, Value};
use std::sync::OnceLock;
use zkcredit_circuits::eligibility::EligibilityParams;
use zkcredit_circuits::field::fr_to_dec;
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::scenario::{example_policy, Layout};
use zkcredit_circuits::Fr;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::fast::Prover;
use zkcredit_services::alliance::{admin, Alliance};
use zkcredit_services::api::unix_now;
use zkcredit_services::auth::{holder_signing_key, Attestation, WitnessRequest};
use zkcredit_services::verifier::ProofRequest;
use zkcredit_services::wallet::{self, Decision, Wallet, WalletError};

const P: EligibilityParams = EligibilityParams { slots: 4, depth: 8 };

fn prover() -> &'static Prover {
    static PR: OnceLock<Prover> = OnceLock::new();
    PR.get_or_init(|| CircuitId::Eligibility(P).insecure_dev_prover().unwrap())
}

fn layout() -> Layout {
    Layout {
        fraud_lists: 1,
        lenders: 1,
        bureaus: 1,
    }
}

async fn registered(a: &Alliance, http: &reqwest::Client, id: &str) -> Wallet {
    let mut w = Wallet::generate();
    let app = w.register(http, &a.issuer.url(), id).await.unwrap();
    assert_eq!(app.status, "pending");
    assert!(app.attestation.is_none());
    let approved = admin::approve(http, &a.issuer.url(), &a.admin, &app.application_id)
        .await
        .unwrap();
    assert_eq!(approved.status, "approved");
    w.set_attestation(approved.attestation.unwrap()).unwrap();
    w
}

async fn request(a: &Alliance, http: &reqwest::Client) -> ProofRequest {
    wallet::post_json(
        http,
        &format!("{}/v1/requests", a.verifier.url()),
        &json!({"policy": example_policy(), "scope": "777", "ttl_seconds": 600}),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_story_and_every_witness_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let a = Alliance::start(dir.path(), P, layout(), &prover().pk().vk)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let fraud = a.provider(Role::FraudList, 0).unwrap();
    let lender = a.provider(Role::Lender, 0).unwrap();
    let bureau = a.provider(Role::Bureau, 0).unwrap();

    // KYC: two applicants. The issuer gives subject keys only to authenticated providers.
    let alice = registered(&a, &http, "AB-100 200").await;
    let mallory = registered(&a, &http, "ZZ999").await;
    let r = http
        .post(format!("{}/v1/subjects/lookup", a.issuer.url()))
        .json(&json!({"id": "AB100200"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(format!("{}/v1/subjects/lookup", a.issuer.url()))
        .bearer_auth("not-a-client-token-at-all")
        .json(&json!({"id": "AB100200"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let alice_key = admin::lookup(&http, &a.issuer.url(), &lender.issuer_token, "ab100200")
        .await
        .unwrap();
    assert_eq!(
        alice_key,
        fr_to_dec(&alice.subject_key().unwrap()),
        "normalised id, same key"
    );
    let mallory_key = admin::lookup(&http, &a.issuer.url(), &fraud.issuer_token, "ZZ 999")
        .await
        .unwrap();

    // One identifier, one holder key: a second wallet for Alice needs the operator's replace.
    let impostor = Wallet::generate();
    let app = impostor
        .register(&http, &a.issuer.url(), "AB100200")
        .await
        .unwrap();
    match admin::approve(&http, &a.issuer.url(), &a.admin, &app.application_id).await {
        Err(WalletError::Service {
            status: 409, code, ..
        }) => assert_eq!(code, "already_registered"),
        other => panic!("expected 409 already_registered, got {other:?}"),
    }

    // Providers set records and everyone publishes.
    let now = unix_now();
    admin::upsert(
        &http,
        &lender.server.url(),
        &a.admin,
        &alice_key,
        [1, 120_000, 5],
    )
    .await
    .unwrap();
    admin::upsert(
        &http,
        &bureau.server.url(),
        &a.admin,
        &alice_key,
        [700, now - 86_400, 7],
    )
    .await
    .unwrap();
    admin::upsert(
        &http,
        &bureau.server.url(),
        &a.admin,
        &mallory_key,
        [800, now - 86_400, 7],
    )
    .await
    .unwrap();
    admin::upsert(
        &http,
        &fraud.server.url(),
        &a.admin,
        &mallory_key,
        [3, now - 1000, 0],
    )
    .await
    .unwrap();
    let csv = "subject_key,v0,v1,v2\n11,1,2,0\n12,1,3,0\n";
    let rep = admin::import_csv(&http, &fraud.server.url(), &a.admin, csv.into())
        .await
        .unwrap();
    assert_eq!(rep.upserts, 2);
    assert_eq!(rep.published.as_ref().unwrap().rows, 3);
    a.publish_all().await.unwrap();

    // Alice: gather, prove, apply → accepted; the same proof again → refused.
    let req = request(&a, &http).await;
    let w = alice
        .gather(&http, &a.registry.url(), &req, unix_now(), |_, _| {})
        .await
        .unwrap();
    let sub = wallet::prove(prover(), P, &w).unwrap();
    match wallet::apply(&http, &a.verifier.url(), &sub).await.unwrap() {
        Decision::Accepted(acc) => assert_eq!(acc.request_nonce, req.nonce),
        d => panic!("expected acceptance, got {d:?}"),
    }
    match wallet::apply(&http, &a.verifier.url(), &sub).await.unwrap() {
        Decision::Refused { code, .. } => assert!(
            code == "request_already_used" || code == "nullifier_reused",
            "{code}"
        ),
        d => panic!("expected refusal, got {d:?}"),
    }

    // A borrower cannot open a request with a laxer policy than the lender offers.
    let mut lax = example_policy();
    lax.min_score = 0;
    let r = http
        .post(format!("{}/v1/requests", a.verifier.url()))
        .json(&json!({"policy": lax, "scope": "777", "ttl_seconds": 600}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "policy_not_offered");

    // Mallory is on the fraud list: her wallet cannot produce a proof, and says why.
    let req2 = request(&a, &http).await;
    let wm = mallory
        .gather(&http, &a.registry.url(), &req2, unix_now(), |_, _| {})
        .await
        .unwrap();
    match wallet::prove(prover(), P, &wm) {
        Err(WalletError::CannotProve(m)) => assert!(m.contains("§6.3"), "{m}"),
        other => panic!("expected CannotProve, got {other:?}"),
    }

    // The witness API: every credential problem is a 401/403 without any witness.
    let holder = holder_signing_key(&Fr::from(4242u64));
    let att = alice.attestation().unwrap().clone();
    let alice_fr = alice.subject_key().unwrap();
    let fraud_id = Fr::from(1000 + fraud.slot as u64);
    let post = |body: Value| {
        let http = http.clone();
        let url = format!("{}/v1/witness", fraud.server.url());
        async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap();
            assert!(v.get("witness").is_none());
            (
                status,
                v["error"]["code"].as_str().unwrap_or("").to_string(),
            )
        }
    };
    let ts = unix_now();
    // No attestation, no signature.
    assert_eq!(
        post(json!({"provider_id": fr_to_dec(&fraud_id), "timestamp": ts})).await,
        (401, "unauthorized".into())
    );
    // Alice's attestation, signed by someone else's key (a thief, or another provider).
    let stolen = WitnessRequest::sign(&holder, &att, &alice_fr, &fraud_id, ts);
    assert_eq!(
        post(serde_json::to_value(&stolen).unwrap()).await,
        (403, "bad_signature".into())
    );
    // A self-made attestation (not the issuer's key).
    let forged = Attestation::sign(
        &ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
        &alice_fr,
        &holder.verifying_key(),
        ts,
        ts + 999,
    );
    let req_forged = WitnessRequest::sign(&holder, &forged, &alice_fr, &fraud_id, ts);
    assert_eq!(
        post(serde_json::to_value(&req_forged).unwrap()).await,
        (403, "bad_attestation".into())
    );
    // Alice's genuine request for the lender replayed to the fraud list.
    let lender_id = Fr::from(1000 + lender.slot as u64);
    let for_lender = alice.witness_request(&lender_id, ts).unwrap();
    assert_eq!(
        post(serde_json::to_value(&for_lender).unwrap()).await,
        (403, "wrong_provider".into())
    );
    // A stale one.
    let old = alice.witness_request(&fraud_id, ts - 3600).unwrap();
    assert_eq!(
        post(serde_json::to_value(&old).unwrap()).await,
        (401, "stale_request".into())
    );
    // Malformed credentials are 400s naming the field.
    let mut bad = serde_json::to_value(&stolen).unwrap();
    bad["signature"] = json!("zz");
    let (s, _) = post(bad).await;
    assert_eq!(s, 400);

    // Admin routes refuse other tokens, including another provider's registry token.
    let r = http
        .put(format!(
            "{}/v1/admin/rows/{}",
            fraud.server.url(),
            alice_key
        ))
        .bearer_auth(&lender.issuer_token)
        .json(&json!({"values": [1, 2, 0]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A bad import changes nothing and names the line.
    let before = fraud.tree.status();
    let r = http
        .post(format!(
            "{}/v1/admin/import?publish=true",
            fraud.server.url()
        ))
        .bearer_auth(&a.admin)
        .header("content-type", "text/csv")
        .body("13,1,2,0\n14,1,x,0\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["field"].as_str().unwrap().starts_with("line 2"),
        "{v}"
    );
    let st: Value = http
        .get(format!("{}/v1/admin/status", fraud.server.url()))
        .bearer_auth(&a.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["pending_changes"], 0);
    assert_eq!(fraud.tree.status(), before);
    for (ct, body, code) in [
        ("text/plain", "1,2,3,0", 415),
        (
            "application/json",
            "{\"upsert\": [{\"subject_key\": \"0\", \"values\": [1,2,0]}]}",
            400,
        ),
        ("application/json", "{\"upsert\": [], \"extra\": 1}", 422),
        (
            "text/csv",
            "452312848583266388373324160190187140051835877600158453279131187530910662656,1,2,0",
            400,
        ),
    ] {
        let r = http
            .post(format!("{}/v1/admin/import", fraud.server.url()))
            .bearer_auth(&a.admin)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), code, "{ct} {body}");
    }

    // Every service serves its OpenAPI document.
    for url in [
        a.issuer.url(),
        fraud.server.url(),
        a.registry.url(),
        a.verifier.url(),
    ] {
        let doc: Value = http
            .get(format!("{url}/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
    }

    // Scheduled publication refreshes the lender's timestamp in the registry.
    let slot_at = |v: &Value| v["slots"][lender.slot]["published_at"].as_u64().unwrap();
    let before: Value = wallet::get_json(&http, &format!("{}/v1/registry", a.registry.url()))
        .await
        .unwrap();
    let sched = lender
        .tree
        .spawn_scheduler(std::time::Duration::from_secs(1));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    sched.abort();
    let after: Value = wallet::get_json(&http, &format!("{}/v1/registry", a.registry.url()))
        .await
        .unwrap();
    assert!(slot_at(&after) > slot_at(&before), "{before} → {after}");

    // Restart: the fraud list reopens its store with the same root.
    let root = fraud.tree.status().root;
    let reopened = zkcredit_services::provider::ProviderService::open(
        &dir.path().join(format!("provider-{}", fraud.slot)),
        fraud.tree.config().clone(),
        &a.admin,
    );
    // The running service holds the store; a second opener sees the same committed state.
    assert_eq!(reopened.unwrap().tree().status().root, root);
    a.stop().await.unwrap();
}
