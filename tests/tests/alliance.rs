//! The whole story over real HTTP on loopback (small circuit: 4 slots × depth 8): issuer,
//! registry, fraud list, lender, bureau and verifier as services; a wallet registers, the
//! providers learn its subject key from the issuer, set its records and publish; the wallet
//! gathers its witnesses with signed requests, proves and applies. Plus every refusal of
//! the witness API and the provider's persistence. Every request goes through the typed
//! clients of `zkcredit-api`; only the deliberately malformed import bodies (wrong content
//! type, unknown field) are sent raw, and witness refusals are read raw once to check that
//! no witness leaks into the refusal body.

use serde_json::Value;
use std::fmt::Debug;
use std::sync::OnceLock;
use zkcredit_api::auth::{holder_signing_key, Attestation, WitnessRequest};
use zkcredit_api::client::{decode_text, ClientError, Endpoint, ProviderClient};
use zkcredit_api::issuer::{Approve, SubjectKey, SubjectLookup};
use zkcredit_api::provider::{ImportJson, ImportReport, ImportRow, WitnessResponse};
use zkcredit_api::verifier::{NewRequest, ProofRequest};
use zkcredit_api::{unix_now, ErrorCode};
use zkcredit_circuits::eligibility::{EligibilityParams, Policy};
use zkcredit_circuits::field::fr_to_dec;
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::Fr;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::fast::Prover;
use zkcredit_testkit::alliance::Alliance;
use zkcredit_testkit::pg::PgCluster;
use zkcredit_testkit::scenario::{live_policy, Layout};
use zkcredit_wallet::wallet::{self, Decision, Wallet, WalletError};

const P: EligibilityParams = EligibilityParams { slots: 4, depth: 8 };

fn prover() -> &'static Prover {
    static PR: OnceLock<Prover> = OnceLock::new();
    PR.get_or_init(|| CircuitId::Eligibility(P).insecure_dev_prover().unwrap())
}

fn layout() -> Layout {
    Layout::for_slots(P.slots)
}

/// The refusal `r` must be: a service answer of `status` with `code`.
#[track_caller]
fn refused<T: Debug>(r: Result<T, ClientError>, status: u16, code: ErrorCode) -> ClientError {
    let e = r.expect_err("expected a refusal");
    assert_eq!((e.status(), e.code()), (Some(status), Some(code)), "{e}");
    e
}

/// A record of three numbers.
fn values(v: [u64; 3]) -> [zkcredit_api::provider::Value; 3] {
    v.map(Into::into)
}

async fn registered(a: &Alliance, http: &reqwest::Client, id: &str) -> Wallet {
    let issuer = a.issuer_client(http);
    let mut w = Wallet::generate();
    let app = w.register(&issuer, id).await.unwrap();
    assert_eq!(app.status, "pending");
    assert!(app.attestation.is_none());
    let approved = issuer
        .approve(&a.admin, &app.application_id, Approve::default())
        .await
        .unwrap();
    assert_eq!(approved.status, "approved");
    w.set_attestation(approved.attestation.unwrap()).unwrap();
    w
}

fn new_request(policy: Policy) -> NewRequest {
    NewRequest {
        policy,
        ttl_seconds: 600,
    }
}

async fn request(a: &Alliance, http: &reqwest::Client) -> ProofRequest {
    a.verifier_client(http)
        .create_request(&a.lender_token, &new_request(live_policy()))
        .await
        .unwrap()
}

/// A witness request that must be refused: sent as typed JSON, but the answer is read raw
/// so the refusal body itself is checked to carry no witness; then decoded as the client
/// would. Returns the status and the code.
async fn witness_refusal(provider: &ProviderClient, req: &WitnessRequest) -> (u16, String) {
    let url = provider.0.url("/v1/witness");
    let r = provider.0.http().post(&url).json(req).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v.get("witness").is_none(), "{text}");
    let e = decode_text::<WitnessResponse>(&url, status, &text).unwrap_err();
    (status, e.code_str().unwrap_or("").to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_story_and_every_witness_refusal() {
    whole_story(None).await
}

/// The same story with the registry, every provider tree and the verifier on one
/// PostgreSQL database (the issuer keeps SQLite), plus what only PostgreSQL has: the
/// database stopped under a provider, and a second process taking a tree over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_story_on_postgres() {
    let pg = PgCluster::start().unwrap_or_else(|e| panic!("{e}"));
    pg.create_database("zk").unwrap_or_else(|e| panic!("{e}"));
    whole_story(Some(&pg)).await
}

async fn whole_story(pg: Option<&PgCluster>) {
    let dir = tempfile::tempdir().unwrap();
    let url = pg.map(|c| c.url("zk"));
    let a = Alliance::start_on(dir.path(), url.as_deref(), P, layout(), &prover().pk().vk)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let issuer = a.issuer_client(&http);
    let registry = a.registry_client(&http);
    let verifier = a.verifier_client(&http);
    let fraud = a.provider(Role::FraudList, 0).unwrap();
    let lender = a.provider(Role::Lender, 0).unwrap();
    let bureau = a.provider(Role::Bureau, 0).unwrap();
    let (fraud_c, lender_c, bureau_c) = (
        fraud.client(&http),
        lender.client(&http),
        bureau.client(&http),
    );

    // KYC: two applicants. The issuer gives subject keys only to authenticated providers.
    let alice = registered(&a, &http, "AB-100 200").await;
    let mallory = registered(&a, &http, "ZZ999").await;
    let lookup = SubjectLookup {
        id: "AB100200".into(),
    };
    let r = issuer
        .0
        .post::<_, SubjectKey>("/v1/subjects/lookup", &lookup)
        .await;
    refused(r, 401, ErrorCode::Unauthorized);
    let r = issuer.lookup("not-a-client-token-at-all", "AB100200").await;
    refused(r, 401, ErrorCode::Unauthorized);
    let alice_key = issuer
        .lookup(&lender.issuer_token, "ab100200")
        .await
        .unwrap()
        .subject_key;
    assert_eq!(
        alice_key,
        fr_to_dec(&alice.subject_key().unwrap()),
        "normalised id, same key"
    );
    let mallory_key = issuer
        .lookup(&fraud.issuer_token, "ZZ 999")
        .await
        .unwrap()
        .subject_key;

    // One identifier, one holder key: a second wallet for Alice needs the operator's replace.
    let impostor = Wallet::generate();
    let app = impostor.register(&issuer, "AB100200").await.unwrap();
    let r = issuer
        .approve(&a.admin, &app.application_id, Approve::default())
        .await;
    refused(r, 409, ErrorCode::AlreadyRegistered);

    // Providers set records and everyone publishes.
    let now = unix_now();
    lender_c
        .upsert(&a.admin, &alice_key, values([1, 120_000, 5]))
        .await
        .unwrap();
    bureau_c
        .upsert(&a.admin, &alice_key, values([700, now - 86_400, 7]))
        .await
        .unwrap();
    bureau_c
        .upsert(&a.admin, &mallory_key, values([800, now - 86_400, 7]))
        .await
        .unwrap();
    fraud_c
        .upsert(&a.admin, &mallory_key, values([3, now - 1000, 0]))
        .await
        .unwrap();
    let csv = "subject_key,v0,v1,v2\n11,1,2,0\n12,1,3,0\n";
    let rep = fraud_c.import_csv(&a.admin, csv, true).await.unwrap();
    assert_eq!(rep.upserts, 2);
    assert_eq!(rep.published.as_ref().unwrap().rows, 3);
    a.publish_all().await.unwrap();

    // Alice: gather, prove, apply → accepted; the same proof again → refused.
    let req = request(&a, &http).await;
    let w = alice
        .gather(&registry, &req, unix_now(), |_, _| {})
        .await
        .unwrap();
    let sub = wallet::prove(prover(), P, &w).unwrap();
    match wallet::apply(&verifier, &sub).await.unwrap() {
        Decision::Accepted(acc) => assert_eq!(acc.request_nonce, req.nonce),
        d => panic!("expected acceptance, got {d:?}"),
    }
    match wallet::apply(&verifier, &sub).await.unwrap() {
        Decision::Refused { code, .. } => assert!(code == "already_accepted", "{code}"),
        d => panic!("expected refusal, got {d:?}"),
    }

    // A borrower cannot open a request with a laxer policy than the lender offers.
    let mut lax = live_policy();
    lax.min_score = 0;
    let r = verifier
        .create_request(&a.lender_token, &new_request(lax))
        .await;
    refused(r, 400, ErrorCode::PolicyNotOffered);

    // Mallory is on the fraud list: her wallet cannot produce a proof, and says why.
    let req2 = request(&a, &http).await;
    let wm = mallory
        .gather(&registry, &req2, unix_now(), |_, _| {})
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
    let ts = unix_now();
    // No attestation, no signature.
    let bare = WitnessRequest {
        attestation: None,
        provider_id: fr_to_dec(&fraud_id),
        timestamp: ts,
        signature: None,
    };
    assert_eq!(
        witness_refusal(&fraud_c, &bare).await,
        (401, "unauthorized".into())
    );
    // Alice's attestation, signed by someone else's key (a thief, or another provider).
    let stolen = WitnessRequest::sign(&holder, &att, &alice_fr, &fraud_id, ts);
    assert_eq!(
        witness_refusal(&fraud_c, &stolen).await,
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
        witness_refusal(&fraud_c, &req_forged).await,
        (403, "bad_attestation".into())
    );
    // Alice's genuine request for the lender replayed to the fraud list.
    let lender_id = Fr::from(1000 + lender.slot as u64);
    let for_lender = alice.witness_request(&lender_id, ts).unwrap();
    assert_eq!(
        witness_refusal(&fraud_c, &for_lender).await,
        (403, "wrong_provider".into())
    );
    // A stale one.
    let old = alice.witness_request(&fraud_id, ts - 3600).unwrap();
    assert_eq!(
        witness_refusal(&fraud_c, &old).await,
        (401, "stale_request".into())
    );
    // Malformed credentials are 400s naming the field.
    let mut bad = stolen.clone();
    bad.signature = Some("zz".into());
    let (s, _) = witness_refusal(&fraud_c, &bad).await;
    assert_eq!(s, 400);

    // Admin routes refuse other tokens, including another provider's registry token.
    let r = fraud_c
        .upsert(&lender.issuer_token, &alice_key, values([1, 2, 0]))
        .await;
    refused(r, 401, ErrorCode::Unauthorized);

    // A bad import changes nothing and names the line.
    let before = fraud.tree.status();
    let r = fraud_c
        .import_csv(&a.admin, "13,1,2,0\n14,1,x,0\n", true)
        .await;
    let e = refused(r, 400, ErrorCode::BadValue);
    assert!(e.field().unwrap().starts_with("line 2"), "{e}");
    let st = fraud_c.admin_status(&a.admin).await.unwrap();
    assert_eq!(st.pending_changes, 0);
    assert_eq!(fraud.tree.status(), before);
    // Subject key 0 (JSON), a key ≥ 2^248 (CSV): typed bodies with bad values.
    let zero_key = ImportJson {
        upsert: vec![ImportRow {
            subject_key: "0".into(),
            values: values([1, 2, 0]),
        }],
        delete: Vec::new(),
    };
    let r = fraud_c.import_json(&a.admin, &zero_key, false).await;
    refused(r, 400, ErrorCode::BadKey);
    let huge_key =
        "452312848583266388373324160190187140051835877600158453279131187530910662656,1,2,0";
    let r = fraud_c.import_csv(&a.admin, huge_key, false).await;
    refused(r, 400, ErrorCode::BadKey);
    // A wrong content type and an unknown field: bodies no typed client sends, so raw.
    for (ct, body, status, code) in [
        (
            "text/plain",
            "1,2,3,0",
            415,
            ErrorCode::UnsupportedMediaType,
        ),
        (
            "application/json",
            "{\"upsert\": [], \"extra\": 1}",
            422,
            ErrorCode::InvalidBody,
        ),
    ] {
        let r = fraud_c
            .0
            .with_token(&a.admin)
            .post_raw::<ImportReport>("/v1/admin/import", ct, body)
            .await;
        refused(r, status, code);
    }

    // Every service serves its OpenAPI document.
    for url in [
        a.issuer.url(),
        fraud.server.url(),
        a.registry.url(),
        a.verifier.url(),
    ] {
        let doc: Value = Endpoint::new(http.clone(), url)
            .get("/openapi.json")
            .await
            .unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
    }

    // Scheduled publication refreshes the lender's timestamp in the registry.
    let published_at =
        |v: &zkcredit_api::registry::RegistryView| v.slots[lender.slot].value.published_at;
    let before = registry.view().await.unwrap();
    let sched = lender
        .tree
        .spawn_scheduler(zkcredit_services::tree::Schedule {
            refresh_every: Some(std::time::Duration::from_secs(1)),
            pending_every: None,
        });
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    sched.abort();
    let after = registry.view().await.unwrap();
    assert!(
        published_at(&after) > published_at(&before),
        "{before:?} → {after:?}"
    );

    if let Some(pg) = pg {
        postgres_outage_and_takeover(&a, pg, &http).await;
        a.stop().await.unwrap();
        return;
    }
    // Restart: the fraud list reopens its store with the same root. While the running
    // service holds its SQLite file a second opener is refused (spec §4.4, one writer
    // process per file); once stopped, the file opens to the same committed state.
    let root = fraud.tree.status().root;
    let at = dir.path().join(format!("provider-{}", fraud.slot));
    let cfg = fraud.tree.config().clone();
    let admin = a.admin.clone();
    match zkcredit_services::provider::ProviderService::open(&at, cfg.clone(), &admin) {
        Ok(_) => panic!("a second writer of the running provider's file was let in"),
        Err(e) => assert_eq!(e.code, ErrorCode::TreeInUse, "{e:?}"),
    }
    a.stop().await.unwrap();
    let reopened = zkcredit_services::provider::ProviderService::open(&at, cfg, &admin).unwrap();
    assert_eq!(reopened.tree().status().root, root);
}

/// A provider tree on PostgreSQL (spec §4.4): the tree lives in the database (no copy in
/// memory), so with the database stopped writes and witnesses are 503
/// `database_unavailable` — never a witness from a state the database does not hold; once
/// it is back the same process serves, stages and publishes again. A second process opening the same
/// schema loads the committed tree and takes it over: the first one's writes are refused
/// (409 `tree_taken_over`) and change nothing, the newcomer publishes.
async fn postgres_outage_and_takeover(a: &Alliance, pg: &PgCluster, http: &reqwest::Client) {
    let fraud = a.provider(Role::FraudList, 0).unwrap();
    let fraud_c = fraud.client(http);
    let fraud_id = Fr::from(1000 + fraud.slot as u64);
    let alice = registered(a, http, "PG-0001").await;
    let alice_key = fr_to_dec(&alice.subject_key().unwrap());
    let asked = || alice.witness_request(&fraud_id, unix_now()).unwrap();
    let before = fraud_c.witness(&asked()).await.unwrap();
    assert!(!before.present);

    pg.stop_server().unwrap();
    let r = fraud_c
        .upsert(&a.admin, &alice_key, values([4, unix_now() - 10, 0]))
        .await;
    refused(r, 503, ErrorCode::DatabaseUnavailable);
    refused(
        fraud_c.publish(&a.admin).await,
        503,
        ErrorCode::DatabaseUnavailable,
    );
    refused(
        fraud_c.witness(&asked()).await,
        503,
        ErrorCode::DatabaseUnavailable,
    );
    pg.start_server().unwrap();

    // Back: the pool reconnects by itself.
    let mut staged = Err(());
    for _ in 0..100 {
        match fraud_c
            .upsert(&a.admin, &alice_key, values([4, unix_now() - 10, 0]))
            .await
        {
            Ok(_) => {
                staged = Ok(());
                break;
            }
            Err(e) => {
                assert_eq!(e.status(), Some(503), "{e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    staged.expect("the provider recovers once PostgreSQL is back");
    let rep = fraud_c.publish(&a.admin).await.unwrap();
    assert_eq!(rep.changes_applied, 1);
    // The registry (on the same PostgreSQL) may need one more try to reconnect; the
    // provider keeps `registry_pending` and retries on the next publication.
    let mut registry = rep.registry;
    for _ in 0..50 {
        if registry == "published" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        registry = fraud_c.publish(&a.admin).await.unwrap().registry;
    }
    assert_eq!(registry, "published");
    assert!(fraud_c.witness(&asked()).await.unwrap().present);

    // A second process takes the tree over.
    let second = zkcredit_services::provider::ProviderService::open_db(
        &zkcredit_services::store::DatabaseUrl::parse(&pg.url("zk")).unwrap(),
        &format!("provider_{}", fraud.slot),
        fraud.tree.config().clone(),
        &a.admin,
    )
    .await
    .unwrap()
    .with_issuer_revocations(&a.issuer.url());
    assert_eq!(
        second.tree().status(),
        fraud.tree.status(),
        "same committed tree, same key"
    );
    let r = fraud_c.delete(&a.admin, &alice_key).await;
    refused(r, 409, ErrorCode::TreeTakenOver);
    refused(
        fraud_c.publish(&a.admin).await,
        409,
        ErrorCode::TreeTakenOver,
    );
    assert!(
        fraud_c.witness(&asked()).await.unwrap().present,
        "the old process still answers witnesses from the published tree"
    );
    let server = zkcredit_services::server::spawn(second.router(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let new_c = ProviderClient::new(http.clone(), server.url());
    assert_eq!(
        new_c.admin_status(&a.admin).await.unwrap().pending_changes,
        0,
        "nothing staged by the refused delete"
    );
    new_c.delete(&a.admin, &alice_key).await.unwrap();
    let rep = new_c.publish(&a.admin).await.unwrap();
    assert_eq!(rep.registry, "published");
    assert!(!new_c.witness(&asked()).await.unwrap().present);
    server.stop().await.unwrap();
}
