//! Issue 10, the verifier's findings: each test replays the attack of its finding over real
//! HTTP (real proofs of the small circuit) and shows it refused.

#[macro_use]
mod verifier_env;

use verifier_env::*;
use zkcredit_api::client::{Endpoint, RegistryClient, VerifierClient};
use zkcredit_api::registry::{sign_provider_root, PublishRoot, RegisterProvider, RegistryView};
use zkcredit_api::unix_now;
use zkcredit_api::verifier::{request_scope, BatchSubmission, NewRequest, ProofRequest};
use zkcredit_api::ErrorCode;
use zkcredit_circuits::eligibility::{PI_CONTEXT, PI_REGISTRY_ROOT};
use zkcredit_circuits::field::fr_to_dec;
use zkcredit_circuits::imt::IndexedMerkleTree;
use zkcredit_circuits::registry::{Role, Slot};
use zkcredit_services::server::spawn_with_metrics;
use zkcredit_services::verifier::VerifierService;
use zkcredit_testkit::scenario::example_policy;

// The findings about the verifier's store run on SQLite and on PostgreSQL.
on_both_backends!(
    finding_10_a_batch_asks_the_registry_once_per_root_and_open_requests_are_bounded,
    finding_10_expired_requests_are_pruned,
);

fn new_request() -> NewRequest {
    NewRequest {
        policy: example_policy(),
        ttl_seconds: 600,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_1_only_the_lender_opens_requests_in_the_configured_scope() {
    let e = env().await;
    let v = &e.verifier_client;
    // A borrower opens their own request: no token, a guessed token.
    refused(
        v.0.post::<_, ProofRequest>("/v1/requests", &new_request())
            .await,
        401,
        ErrorCode::Unauthorized,
    );
    refused(
        v.create_request("a-borrower-guessing-the-token", &new_request())
            .await,
        401,
        ErrorCode::Unauthorized,
    );
    // The lender naming a scope (the old API): refused, the scope is not the caller's.
    let body =
        serde_json::json!({"policy": example_policy(), "scope": "12345", "ttl_seconds": 600});
    let r =
        v.0.with_token(LENDER)
            .post_raw::<ProofRequest>("/v1/requests", "application/json", body.to_string())
            .await;
    refused(r, 400, ErrorCode::ScopeFixed);
    // Two requests: one scope, the configured one.
    let r1 = e.request(example_policy(), 600).await;
    let r2 = e.request(example_policy(), 600).await;
    assert_eq!(r1.scope, r2.scope);
    let period = unix_now() / zkcredit_services::verifier::DEFAULT_PERIOD_SECONDS;
    assert_eq!(
        r1.scope,
        fr_to_dec(&request_scope(&VERIFIER_ID, "test-credit", period))
    );
    // The same person through two different requests: the second is refused.
    e.verify(&e.submission(&r1, example_policy(), unix_now()))
        .await
        .unwrap();
    refused(
        e.verify(&e.submission(&r2, example_policy(), unix_now()))
            .await,
        409,
        ErrorCode::NullifierReused,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_2_a_verifier_without_policies_does_not_start() {
    let e = env().await;
    let mut cfg = config(e.registry.url(), &e.registry_key, &e.world);
    cfg.policies.clear();
    let err = VerifierService::open(&e.dir.join("no-policy"), &prover().pk().vk, cfg)
        .expect_err("an empty policy list must not mean any policy");
    assert!(err.message.contains("policy"), "{err}");
    // Nor without an expected slot set naming the KYC issuer.
    let mut cfg = config(e.registry.url(), &e.registry_key, &e.world);
    cfg.expected_slots.clear();
    assert!(VerifierService::open(&e.dir.join("no-slots"), &prover().pk().vk, cfg).is_err());
    // A running verifier refuses a policy it does not offer.
    let mut lax = example_policy();
    lax.min_score = 0;
    lax.max_active_loans = u64::MAX;
    let r = e
        .verifier_client
        .create_request(
            LENDER,
            &NewRequest {
                policy: lax,
                ttl_seconds: 600,
            },
        )
        .await;
    refused(r, 400, ErrorCode::PolicyNotOffered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_3_healthz_and_the_identity_report_development_keys() {
    let e = env().await;
    let h: serde_json::Value = Endpoint::new(e.http.clone(), e.verifier.url())
        .get("/healthz")
        .await
        .unwrap();
    assert_eq!(
        h,
        serde_json::json!({"status": "ok", "insecure_dev_keys": true})
    );
    let info = e.verifier_client.info().await.unwrap();
    assert!(info.insecure_dev_keys);
    assert_eq!(
        info.vk_digest,
        zkcredit_verifier::keys::vk_digest(&prover().pk().vk)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_6_a_registry_answer_not_signed_by_the_pinned_key_is_refused() {
    let e = env().await;
    // An on-path attacker (or another registry) answers with its own key: the verifier pins
    // the real registry's key, so the answer is refused.
    let other = RegistryClient::new(e.http.clone(), e.registry.url());
    let real = other.key().await.unwrap().public_key;
    assert_eq!(real, e.registry_key);
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let mut cfg = config(
        e.registry.url(),
        &hex::encode(attacker.verifying_key().as_bytes()),
        &e.world,
    );
    cfg.verifier_id = [8u8; 32];
    let v = start_verifier(&e.dir.join("pinned-other"), cfg).await;
    let client = VerifierClient::new(e.http.clone(), v.url());
    let req = client.create_request(LENDER, &new_request()).await.unwrap();
    let sub = e.submission(&req, example_policy(), unix_now());
    refused(client.verify(&sub).await, 502, ErrorCode::RegistryUntrusted);
    // An unsigned or tampered answer fails the same check.
    let mut s = other.root_status(&e.world.registry.root()).await.unwrap();
    let key = zkcredit_api::auth::parse_public_key("k", &real).unwrap();
    zkcredit_api::registry::verify_root_status(&s, &s.root.clone(), &key, unix_now(), 60).unwrap();
    s.slots.pop();
    assert!(
        zkcredit_api::registry::verify_root_status(&s, &s.root.clone(), &key, unix_now(), 60)
            .is_err()
    );
    s.signature.clear();
    assert!(
        zkcredit_api::registry::verify_root_status(&s, &s.root.clone(), &key, unix_now(), 60)
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_6_a_root_whose_slot_set_lacks_a_lender_is_refused() {
    let e = env().await;
    let req = e.request(example_policy(), 600).await;
    let honest = e.submission(&req, example_policy(), unix_now());
    // The registry admin silently drops the lender ("all lenders" narrowed).
    let lender = e
        .world
        .registry
        .slots()
        .iter()
        .position(|s| s.role == Role::Lender)
        .unwrap();
    let body = RegisterProvider {
        slot: lender,
        role: Role::Empty,
        provider_id: "0".into(),
        token: String::new(),
        endpoint: None,
    };
    let narrowed = e.registry_client.register(ADMIN, &body).await.unwrap().root;
    let mut sub = honest.clone();
    sub.public_signals[PI_REGISTRY_ROOT] = narrowed;
    let err = refused(e.verify(&sub).await, 422, ErrorCode::RegistrySlotsMismatch);
    assert_eq!(err.field(), Some("public_signals[0]"));
    // The root the lender expects (still recent) is accepted.
    e.verify(&honest).await.unwrap();
}

/// Finding 6, the compromised registry admin: re-registering the lender's slot under the
/// *same* provider id (so the slot set still matches) with a token of its own, the admin
/// publishes a root of its making (an empty lender tree: "no loans anywhere"). The lender
/// pins each provider's root-signing key, so the root is refused; so is the lender's own
/// earlier signature replayed over another root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_6_a_root_published_by_a_compromised_registry_admin_is_refused() {
    let e = env().await;
    let req = e.request(example_policy(), 600).await;
    let honest = e.submission(&req, example_policy(), unix_now());
    let slot = e
        .world
        .registry
        .slots()
        .iter()
        .position(|s| s.role == Role::Lender)
        .unwrap();
    let genuine = e.world.registry.slots()[slot];
    let genuine_sig = sign_provider_root(&zkcredit_testkit::provider_signing_key(slot), &genuine);
    let body = RegisterProvider {
        slot,
        role: Role::Lender,
        provider_id: fr_to_dec(&genuine.provider_id),
        token: "the-admins-own-token-0123456789".into(),
        endpoint: None,
    };
    e.registry_client.register(ADMIN, &body).await.unwrap();
    let forged = Slot {
        provider_root: IndexedMerkleTree::new(P.depth).unwrap().root(),
        published_at: unix_now(),
        ..genuine
    };
    let admin_key = ed25519_dalek::SigningKey::from_bytes(&[0xad; 32]);
    let root = e
        .registry_client
        .publish(&body.token, slot, &forged, &admin_key)
        .await
        .unwrap()
        .root;
    let mut sub = honest.clone();
    sub.public_signals[PI_REGISTRY_ROOT] = root;
    let err = refused(e.verify(&sub).await, 422, ErrorCode::ProviderRootUnsigned);
    assert_eq!(err.field(), Some("public_signals[0]"));
    // The lender's genuine signature (of its real root) replayed over the forged root.
    let replay = PublishRoot {
        provider_root: fr_to_dec(&forged.provider_root),
        published_at: forged.published_at + 1,
        signature: genuine_sig,
    };
    let root = e
        .registry_client
        .0
        .with_token(&body.token)
        .post::<_, RegistryView>(&format!("/v1/slots/{slot}/root"), &replay)
        .await
        .unwrap()
        .root;
    sub.public_signals[PI_REGISTRY_ROOT] = root;
    refused(e.verify(&sub).await, 422, ErrorCode::ProviderRootUnsigned);
    // The root the lender signed (still recent) is accepted.
    e.verify(&honest).await.unwrap();
}

async fn finding_10_a_batch_asks_the_registry_once_per_root_and_open_requests_are_bounded(
    backend: Backend,
) {
    let e = env_on(backend).await;
    let metrics = Endpoint::new(e.http.clone(), e.registry.metrics_url().unwrap());
    let lookups = |text: String| -> u64 {
        text.lines()
            .find(|l| l.starts_with("registry_root_status_total"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let mut items = Vec::new();
    for who in &e.others {
        let req = e.request(example_policy(), 600).await;
        items.push(e.submission_of(who, &req, example_policy(), unix_now()));
    }
    let before = lookups(metrics.get_text("/metrics").await.unwrap());
    let results = e
        .verifier_client
        .verify_batch(&BatchSubmission { items })
        .await
        .unwrap();
    assert!(results.iter().all(|r| r.accepted), "{results:?}");
    let after = lookups(metrics.get_text("/metrics").await.unwrap());
    assert_eq!(
        after - before,
        1,
        "one registry lookup for one distinct root"
    );
    // Open requests are bounded: a verifier keeping at most 2.
    let mut cfg = config(e.registry.url(), &e.registry_key, &e.world);
    cfg.max_open_requests = 2;
    let v = e.start_verifier("bounded", cfg).await;
    let client = VerifierClient::new(e.http.clone(), v.url());
    for _ in 0..2 {
        client.create_request(LENDER, &new_request()).await.unwrap();
    }
    refused(
        client.create_request(LENDER, &new_request()).await,
        507,
        ErrorCode::StoreFull,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_11_errors_do_not_leak_urls_or_nonces_and_metrics_are_not_public() {
    let e = env().await;
    // request_expired does not echo the nonce.
    let short = e.request(example_policy(), 1).await;
    let sub = e.submission(&short, example_policy(), unix_now());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let err = refused(e.verify(&sub).await, 422, ErrorCode::RequestExpired);
    assert!(!err.to_string().contains(&short.nonce), "{err}");
    // registry_unavailable does not name the registry's address.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let mut cfg = config(dead_url.clone(), &e.registry_key, &e.world);
    cfg.verifier_id = [5u8; 32];
    let v = start_verifier(&e.dir.join("no-registry"), cfg).await;
    let client = VerifierClient::new(e.http.clone(), v.url());
    let req = client.create_request(LENDER, &new_request()).await.unwrap();
    let sub = e.submission(&req, example_policy(), unix_now());
    let err = refused(
        client.verify(&sub).await,
        503,
        ErrorCode::RegistryUnavailable,
    );
    // (The client's own error text names the verifier it called; the body is the server's.)
    let body = format!("{:?} {:?}", err.message(), err.field());
    assert!(
        !body.contains("127.0.0.1") && !body.contains(&dead_url),
        "{body}"
    );
    // /metrics: 404 on the service address, served on the metrics address.
    for url in [e.verifier.url(), e.registry.url()] {
        let r = Endpoint::new(e.http.clone(), url)
            .get_text("/metrics")
            .await;
        refused(r, 404, ErrorCode::NotFound);
    }
    let svc = VerifierService::open(
        &e.dir.join("metrics"),
        &prover().pk().vk,
        config(e.registry.url(), &e.registry_key, &e.world),
    )
    .unwrap();
    let running = spawn_with_metrics(svc.router(), local(), Some(local()))
        .await
        .unwrap();
    let m = Endpoint::new(e.http.clone(), running.metrics_url().unwrap());
    m.get_text("/metrics").await.unwrap();
    // The metrics address serves nothing else.
    let r = m.get::<serde_json::Value>("/v1/verifier").await;
    refused(r, 404, ErrorCode::NotFound);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_12_the_wallet_refuses_a_request_relayed_from_another_verifier() {
    let e = env().await;
    let pinned = e.verifier_client.info().await.unwrap().verifier_id;
    assert_eq!(pinned, hex::encode(VERIFIER_ID));
    // The honest lender's request passes the wallet's check.
    let own = e.request(example_policy(), 600).await;
    zkcredit_wallet::wallet::check_request_verifier(&own, &pinned).unwrap();
    // Another verifier (a different lender) opens a request; a malicious lender relays it.
    let mut cfg = config(e.registry.url(), &e.registry_key, &e.world);
    cfg.verifier_id = [0x42; 32];
    let other = start_verifier(&e.dir.join("other-lender"), cfg).await;
    let other_client = VerifierClient::new(e.http.clone(), other.url());
    let relayed = other_client
        .create_request(LENDER, &new_request())
        .await
        .unwrap();
    let err = zkcredit_wallet::wallet::check_request_verifier(&relayed, &pinned).unwrap_err();
    assert!(
        matches!(err, zkcredit_wallet::WalletError::UntrustedVerifier(_)),
        "{err}"
    );
    // Relabelled with the pinned id: the context (and scope) still name the other verifier.
    let mut relabelled = relayed.clone();
    relabelled.verifier_id = pinned.clone();
    assert!(zkcredit_wallet::wallet::check_request_verifier(&relabelled, &pinned).is_err());
    // Our own request with another lender's scope: refused too.
    let mut rescoped = own.clone();
    rescoped.scope = relayed.scope.clone();
    rescoped.product = relayed.product.clone();
    assert!(zkcredit_wallet::wallet::check_request_verifier(&rescoped, &pinned).is_err());
    // (For the record: the relayed request's context is one only the other verifier accepts.)
    let sub = e.submission(&relayed, example_policy(), unix_now());
    assert_ne!(sub.public_signals[PI_CONTEXT], own.context);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_10_a_slowloris_client_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use zkcredit_services::server::{spawn_limited, Limits};
    let e = env().await;
    let svc = VerifierService::open(
        &e.dir.join("slowloris"),
        &prover().pk().vk,
        config(e.registry.url(), &e.registry_key, &e.world),
    )
    .unwrap();
    let limits = Limits {
        header_timeout: std::time::Duration::from_millis(500),
        ..Limits::default()
    };
    let running = spawn_limited(svc.router(), local(), limits).await.unwrap();
    let sock = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    let (mut rd, mut wr) = sock.into_split();
    // Headers one byte at a time, far slower than the header timeout allows.
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: {}",
        "a".repeat(100)
    );
    let writer = async move {
        for b in head.bytes() {
            if wr.write_all(&[b]).await.is_err() {
                return "write refused";
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        "all headers sent"
    };
    let reader = async move {
        let mut buf = Vec::new();
        let _ = rd.read_to_end(&mut buf).await;
        "disconnected"
    };
    let first = tokio::select! {
        w = writer => w,
        r = reader => r,
    };
    assert_ne!(
        first, "all headers sent",
        "the slow client was never disconnected"
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_10_requests_beyond_the_concurrency_limit_get_503() {
    use tokio::io::AsyncWriteExt;
    use zkcredit_services::server::{spawn_limited, Limits};
    let e = env().await;
    let svc = VerifierService::open(
        &e.dir.join("limited"),
        &prover().pk().vk,
        config(e.registry.url(), &e.registry_key, &e.world),
    )
    .unwrap();
    let limits = Limits {
        max_in_flight: 1,
        ..Limits::default()
    };
    let running = spawn_limited(svc.router(), local(), limits).await.unwrap();
    // One request holds the only slot: its body never finishes arriving.
    let mut slow = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    slow.write_all(b"POST /v1/verify HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        .await
        .unwrap();
    let ep = Endpoint::new(e.http.clone(), running.url());
    let mut overloaded = false;
    for _ in 0..200 {
        let r = e.http.get(ep.url("/healthz")).send().await.unwrap();
        if r.status().as_u16() == 503 {
            // Answered before any route runs, with the strictest headers of its own.
            let h = r.headers().clone();
            for (name, value) in [
                (
                    "content-security-policy",
                    "default-src 'none'; frame-ancestors 'none'",
                ),
                ("x-content-type-options", "nosniff"),
                ("x-frame-options", "DENY"),
                ("cache-control", "no-store"),
            ] {
                assert_eq!(
                    h.get(name).and_then(|v| v.to_str().ok()),
                    Some(value),
                    "{name}"
                );
            }
            let err = zkcredit_api::client::decode_response::<serde_json::Value>("u", r)
                .await
                .unwrap_err();
            assert_eq!(err.code(), Some(ErrorCode::Overloaded));
            overloaded = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(overloaded, "a request beyond the limit was served");
    // The slot frees when the slow request goes away.
    drop(slow);
    let mut served = false;
    for _ in 0..200 {
        if ep.get::<serde_json::Value>("/healthz").await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(served);
    running.stop().await.unwrap();
}

async fn finding_10_expired_requests_are_pruned(backend: Backend) {
    use zkcredit_services::verifier::PRUNE_AFTER;
    let e = env_on(backend).await;
    let svc = e
        .service("prune", config(e.registry.url(), &e.registry_key, &e.world))
        .await;
    let running = zkcredit_services::server::spawn(svc.clone().router(), local())
        .await
        .unwrap();
    let client = VerifierClient::new(e.http.clone(), running.url());
    let short = client
        .create_request(
            LENDER,
            &NewRequest {
                policy: example_policy(),
                ttl_seconds: 1,
            },
        )
        .await
        .unwrap();
    let open = client.create_request(LENDER, &new_request()).await.unwrap();
    // Nothing is pruned before it expired PRUNE_AFTER ago …
    assert_eq!(svc.prune_expired(unix_now()).await.unwrap(), 0);
    client.request(&short.nonce).await.unwrap();
    // … then the expired request goes, the open one stays.
    let later = unix_now() + PRUNE_AFTER + 10;
    assert_eq!(svc.prune_expired(later).await.unwrap(), 1);
    refused(client.request(&short.nonce).await, 404, ErrorCode::NotFound);
    client.request(&open.nonce).await.unwrap();
    running.stop().await.unwrap();
}
