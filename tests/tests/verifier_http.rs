//! The registry and verifier services over real HTTP on loopback, with real proofs of a
//! small eligibility circuit (4 slots × depth 8) and a SQLite store in a temporary directory.
//! Every request goes through the typed clients of `zkcredit-api`; only the deliberately
//! malformed bodies (wrong content type, bad JSON, unknown field, oversized) are sent raw.

#[macro_use]
mod verifier_env;

use verifier_env::*;
use zkcredit_api::client::Endpoint;
use zkcredit_api::registry::{sign_provider_root, PublishRoot, RegisterProvider, RegistryView};
use zkcredit_api::unix_now;
use zkcredit_api::verifier::{Accepted, BatchSubmission};
use zkcredit_api::ErrorCode;
use zkcredit_circuits::registry::{Role, Slot};
use zkcredit_circuits::Fr;
use zkcredit_testkit::provider_signing_key;
use zkcredit_testkit::scenario::example_policy;

// Every verifier test of this file runs on SQLite and on PostgreSQL.
on_both_backends!(
    accept_then_replay_is_refused,
    a_wallet_learns_before_proving_that_it_already_applied_in_the_scope,
    every_check_has_its_own_error_code,
    malformed_input_is_a_4xx_naming_the_problem_and_changes_nothing,
    nullifiers_survive_a_restart_and_concurrent_duplicates_never_both_pass,
    batch_identifies_the_invalid_item,
    two_people_racing_for_one_request_on_two_replicas_one_wins,
    registry_updates_are_authenticated_and_monotonic,
);

async fn accept_then_replay_is_refused(backend: Backend) {
    let e = env_on(backend).await;
    let req = e.request(example_policy(), 600).await;
    let sub = e.submission(&req, example_policy(), unix_now());
    let acc = e.verify(&sub).await.unwrap();
    assert!(acc.accepted, "{acc:?}");
    // The same submission again (a retry whose answer was lost): refused, and said to stand
    // accepted — never turned into a refusal of the application.
    refused(e.verify(&sub).await, 409, ErrorCode::AlreadyAccepted);
    // The same person under another request of the same scope: refused by the nullifier.
    let req2 = e.request(example_policy(), 600).await;
    let r = e
        .verify(&e.submission(&req2, example_policy(), unix_now()))
        .await;
    refused(r, 409, ErrorCode::NullifierReused);
    // Another person in the same scope: accepted.
    let req3 = e.request(example_policy(), 600).await;
    e.verify(&e.submission_of(&e.others[0], &req3, example_policy(), unix_now()))
        .await
        .unwrap();
}

/// Issue 18: a wallet asks, before proving, whether its nullifier is already recorded in the
/// request's scope — only for an open request, and learning nothing about anyone else.
async fn a_wallet_learns_before_proving_that_it_already_applied_in_the_scope(backend: Backend) {
    let e = env_on(backend).await;
    let req = e.request(example_policy(), 600).await;
    let scope = zkcredit_circuits::field::fr_from_dec(&req.scope).unwrap();
    let nullifier = |who: &zkcredit_testkit::scenario::Borrower| {
        zkcredit_circuits::eligibility::nullifier(&who.holder_secret, &scope)
    };
    let v = &e.verifier_client;
    let status = v
        .nullifier_status(&req.nonce, &nullifier(&e.borrower))
        .await;
    assert!(!status.unwrap().recorded);
    e.verify(&e.submission(&req, example_policy(), unix_now()))
        .await
        .unwrap();
    let req2 = e.request(example_policy(), 600).await;
    let me = v
        .nullifier_status(&req2.nonce, &nullifier(&e.borrower))
        .await;
    assert!(me.unwrap().recorded, "the same person, the same scope");
    let other = v
        .nullifier_status(&req2.nonce, &nullifier(&e.others[0]))
        .await;
    assert!(!other.unwrap().recorded);
    // A nullifier that is not a field element is bad input, not a lookup.
    refused(
        v.0.get::<zkcredit_api::verifier::NullifierStatus>(&format!(
            "/v1/requests/{}/nullifiers/{}",
            req2.nonce,
            "9".repeat(90)
        ))
        .await,
        400,
        ErrorCode::BadField,
    );
    // Only an open request's scope can be asked about.
    refused(
        v.nullifier_status(&"00".repeat(32), &nullifier(&e.borrower))
            .await,
        404,
        ErrorCode::NotFound,
    );
}

async fn every_check_has_its_own_error_code(backend: Backend) {
    let mut e = env_on(backend).await;
    let now = unix_now();
    // unknown_request: a context this verifier never issued.
    let mut fake = e.request(example_policy(), 600).await;
    fake.context = "12345".into();
    let r = e.verify(&e.submission(&fake, example_policy(), now)).await;
    refused(r, 422, ErrorCode::UnknownRequest);
    // policy_mismatch: proof for a laxer policy than requested.
    let req = e.request(example_policy(), 600).await;
    let mut lax = example_policy();
    lax.min_score = 100;
    let err = refused(
        e.verify(&e.submission(&req, lax, now)).await,
        422,
        ErrorCode::PolicyMismatch,
    );
    assert_eq!(err.field(), Some("public_signals[1]"), "{err}");
    // now_out_of_skew.
    let r = e
        .verify(&e.submission(&req, example_policy(), now - 1000))
        .await;
    refused(r, 422, ErrorCode::NowOutOfSkew);
    // invalid_proof: a valid proof's A and C swapped.
    let mut sub = e.submission(&req, example_policy(), now);
    let p = sub.proof.groth16_mut().unwrap();
    std::mem::swap(&mut p.pi_a, &mut p.pi_c);
    refused(e.verify(&sub).await, 422, ErrorCode::InvalidProof);
    // request_expired.
    let short = e.request(example_policy(), 1).await;
    let sub_short = e.submission(&short, example_policy(), now);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    refused(e.verify(&sub_short).await, 422, ErrorCode::RequestExpired);
    // unknown_registry_root: a provider tree changed locally but never published.
    let b = e.borrower;
    let slot = e
        .world
        .providers
        .iter()
        .find(|p| p.role == Role::Lender)
        .unwrap()
        .slot;
    e.world
        .set_record(Role::Lender, 0, b.subject_key, [0, 0, 0])
        .unwrap();
    e.world.publish_slot(slot, unix_now() - 5).unwrap();
    let req2 = e.request(example_policy(), 600).await;
    let r = e
        .verify(&e.submission(&req2, example_policy(), unix_now()))
        .await;
    refused(r, 422, ErrorCode::UnknownRegistryRoot);
    // After all that, nothing was recorded: a fresh honest answer to `req` passes... once
    // the provider publishes its new root.
    let root = e.world.registry.slots()[slot];
    e.registry_client
        .publish(&token(slot), slot, &root, &provider_signing_key(slot))
        .await
        .unwrap();
    e.verify(&e.submission(&req, example_policy(), unix_now()))
        .await
        .unwrap();
}

async fn malformed_input_is_a_4xx_naming_the_problem_and_changes_nothing(backend: Backend) {
    let e = env_on(backend).await;
    let req = e.request(example_policy(), 600).await;
    let good = e.submission(&req, example_policy(), unix_now());
    // Bodies no typed client sends: through the endpoint's raw POST.
    let send_raw = |body: String, ct: &'static str| {
        let endpoint = e.verifier_client.0.clone();
        async move { endpoint.post_raw::<Accepted>("/v1/verify", ct, body).await }
    };
    let good_json = serde_json::to_value(&good).unwrap();
    refused(
        send_raw(good_json.to_string(), "text/plain").await,
        415,
        ErrorCode::UnsupportedMediaType,
    );
    refused(
        send_raw("{not json".into(), "application/json").await,
        400,
        ErrorCode::MalformedJson,
    );
    let mut unknown = good_json.clone();
    unknown["extra"] = 1.into();
    let err = refused(
        send_raw(unknown.to_string(), "application/json").await,
        422,
        ErrorCode::InvalidBody,
    );
    assert!(err.message().unwrap().contains("extra"), "{err}");
    // Oversized: announced by Content-Length, refused before the body is read (a raw
    // request, so the client never races the server's early answer while writing the body).
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut sock = tokio::net::TcpStream::connect(e.verifier.addr)
            .await
            .unwrap();
        let head = format!(
            "POST /v1/verify HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            2 << 20
        );
        sock.write_all(head.as_bytes()).await.unwrap();
        let mut buf = [0u8; 12];
        sock.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 413", "{}", String::from_utf8_lossy(&buf));
    }
    // A field element ≥ r, a point off the curve, a missing public signal: typed bodies
    // with bad values.
    let mut big = good.clone();
    big.public_signals[2] =
        "21888242871839275222246405745257275088548364400416034343698204186575808495617".into();
    let err = refused(e.verify(&big).await, 400, ErrorCode::BadField);
    assert_eq!(err.field(), Some("public[2]"), "{err}");
    let mut off = good.clone();
    off.proof.groth16_mut().unwrap().pi_a[1] = "5".into();
    let err = refused(e.verify(&off).await, 400, ErrorCode::BadPoint);
    assert_eq!(err.field(), Some("pi_a"), "{err}");
    let mut short = good.clone();
    short.public_signals.pop();
    refused(e.verify(&short).await, 400, ErrorCode::BadPublicSignals);
    // None of that changed state: the honest submission is accepted now.
    e.verify(&good).await.unwrap();
}

async fn nullifiers_survive_a_restart_and_concurrent_duplicates_never_both_pass(backend: Backend) {
    let mut e = env_on(backend).await;
    let req = e.request(example_policy(), 600).await;
    let sub = e.submission(&req, example_policy(), unix_now());
    // Eight concurrent submissions of one proof: exactly one is accepted.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (client, body) = (e.verifier_client.clone(), sub.clone());
        tasks.push(tokio::spawn(async move {
            match client.verify(&body).await {
                Ok(_) => 200,
                Err(err) => err.status().unwrap_or_else(|| panic!("{err}")),
            }
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes.sort();
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 200 || *c == 409), "{codes:?}");
    // Restart the verifier on the same data directory: the nullifier is still there.
    e.restart_verifier().await;
    refused(e.verify(&sub).await, 409, ErrorCode::AlreadyAccepted);
}

async fn batch_identifies_the_invalid_item(backend: Backend) {
    let e = env_on(backend).await;
    let mut items = Vec::new();
    for who in &e.others {
        let req = e.request(example_policy(), 600).await;
        items.push(e.submission_of(who, &req, example_policy(), unix_now()));
    }
    items[2].public_signals[2] = (unix_now() + 1).to_string(); // tampered now
    let results = e
        .verifier_client
        .verify_batch(&BatchSubmission { items })
        .await
        .unwrap();
    let accepted: Vec<bool> = results.iter().map(|x| x.accepted).collect();
    assert_eq!(accepted, vec![true, true, false, true], "{results:?}");
    assert_eq!(results[2].code.as_deref(), Some("invalid_proof"));
    let r = e
        .verifier_client
        .verify_batch(&BatchSubmission { items: Vec::new() })
        .await;
    refused(r, 400, ErrorCode::BadBatchSize);
}

async fn registry_updates_are_authenticated_and_monotonic(backend: Backend) {
    let e = env_on(backend).await;
    let reg = &e.registry_client;
    let five = Fr::from(5u64);
    // No token at all: the endpoint without credentials.
    let lender = e.world.registry.slots()[1];
    let at = |published_at: u64| Slot {
        provider_root: five,
        published_at,
        ..lender
    };
    let key = provider_signing_key(1);
    let body = PublishRoot {
        provider_root: "5".into(),
        published_at: unix_now(),
        signature: sign_provider_root(&key, &at(unix_now())),
    };
    let r = reg
        .0
        .post::<_, RegistryView>("/v1/slots/1/root", &body)
        .await;
    refused(r, 401, ErrorCode::Unauthorized);
    // Another provider's token.
    let r = reg.publish(&token(2), 1, &at(unix_now()), &key).await;
    refused(r, 403, ErrorCode::Forbidden);
    // Backwards in time.
    let r = reg.publish(&token(1), 1, &at(1), &key).await;
    refused(r, 409, ErrorCode::PublishedBeforePrevious);
    // In the future.
    let r = reg
        .publish(&token(1), 1, &at(unix_now() + 3600), &key)
        .await;
    refused(r, 400, ErrorCode::PublishedInFuture);
    let provider = |slot: usize| RegisterProvider {
        slot,
        role: Role::Lender,
        provider_id: "1".into(),
        token: token(3),
        endpoint: None,
    };
    let r = reg
        .register("wrong-admin-token-xxxxxxxx", &provider(3))
        .await;
    refused(r, 401, ErrorCode::Unauthorized);
    // Slot 0 is the KYC issuer's.
    refused(
        reg.register(ADMIN, &provider(0)).await,
        400,
        ErrorCode::BadRole,
    );
    for svc in [&e.registry, &e.verifier] {
        let common = Endpoint::new(e.http.clone(), svc.url());
        for path in ["/healthz", "/readyz", "/openapi.json"] {
            let v: serde_json::Value = common.get(path).await.unwrap_or_else(|e| panic!("{e}"));
            assert!(v.is_object(), "{path}: {v}");
        }
    }
    let metrics = Endpoint::new(e.http.clone(), e.registry.metrics_url().unwrap())
        .get_text("/metrics")
        .await
        .unwrap();
    assert!(
        metrics.contains("registry_publish_total{result=\"rejected\"}"),
        "{metrics}"
    );
}

/// Two replicas on one store; two different people answer the same request at once, one
/// through each: the request's row lock decides — one accepted, the other
/// `request_already_used`, and the loser's nullifier is not recorded (it applies later).
async fn two_people_racing_for_one_request_on_two_replicas_one_wins(backend: Backend) {
    let e = env_on(backend).await;
    let cfg = config(e.registry.url(), &e.registry_key, &e.world);
    let second = e.start_verifier("verifier", cfg).await;
    let replicas = [
        e.verifier_client.clone(),
        zkcredit_api::client::VerifierClient::new(e.http.clone(), second.url()),
    ];
    for pair in [[0usize, 1], [2, 3]] {
        let req = e.request(example_policy(), 600).await;
        let subs =
            pair.map(|who| e.submission_of(&e.others[who], &req, example_policy(), unix_now()));
        let (a, b) = tokio::join!(replicas[0].verify(&subs[0]), replicas[1].verify(&subs[1]));
        let (winner, loser, lost) = match (a, b) {
            (Ok(_), Err(l)) => (pair[0], pair[1], l),
            (Err(l), Ok(_)) => (pair[1], pair[0], l),
            other => panic!("exactly one must win: {other:?}"),
        };
        assert_eq!(
            (lost.status(), lost.code()),
            (Some(409), Some(ErrorCode::RequestAlreadyUsed)),
            "{lost}"
        );
        // The loser was not recorded: it applies on a request of its own.
        let again = e.request(example_policy(), 600).await;
        replicas[1]
            .verify(&e.submission_of(&e.others[loser], &again, example_policy(), unix_now()))
            .await
            .unwrap_or_else(|err| panic!("person {loser} (lost to {winner}): {err}"));
    }
    second.stop().await.unwrap();
}
