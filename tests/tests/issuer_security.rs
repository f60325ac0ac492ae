//! Issue 10, findings 8 and 10 at the issuer and the providers, each replaying the attack
//! over HTTP through the typed clients: a replaced (lost) holder key keeps asking providers
//! for witnesses; concurrent approvals race to bind one identifier twice; unbounded fields
//! and tables (identifier length, applications per key, pending queue, clients, lookups per
//! token, rebinds per identifier). Every test runs with the issuer's store on SQLite and on
//! PostgreSQL (there the KYC tree shares the approval's transaction).

#[macro_use]
mod verifier_env;

on_both_backends!(
    finding_08_replaced_holder_key_is_refused_by_providers,
    regression_a_new_holder_key_under_the_same_commitment_is_refused,
    finding_08_concurrent_approvals_create_one_attestation,
    finding_10_oversized_identifier_is_refused_before_storing,
    finding_10_applications_per_holder_key_and_pending_total_are_bounded,
    finding_10_client_names_tokens_and_count_are_bounded,
    finding_10_subject_key_lookups_are_rate_limited_per_token_and_audited,
    finding_10_rebinds_are_rate_limited_per_identifier,
);

use std::time::Duration;
use verifier_env::Backend;
use zkcredit_api::auth::{application_message, holder_signing_key, KycApplication, WitnessRequest};
use zkcredit_api::client::{ClientError, IssuerClient, ProviderClient};
use zkcredit_api::issuer::{Approve, NewClient};
use zkcredit_api::{unix_now, ErrorCode};
use zkcredit_circuits::field::fr_from_dec;
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::Fr;
use zkcredit_services::issuer::{IssuerConfig, IssuerLimits, IssuerService};
use zkcredit_services::provider::ProviderService;
use zkcredit_services::server::{spawn, Running};
use zkcredit_services::store::DatabaseUrl;
use zkcredit_services::tree::TreeConfig;

const ADMIN: &str = "issuer-security-admin-token-0123";
const ID: &str = "AB 123 456";

struct Issuer {
    svc: IssuerService,
    server: Running,
    client: IssuerClient,
    backend: Backend,
    _dir: tempfile::TempDir,
}

async fn issuer(backend: &Backend, limits: IssuerLimits) -> Issuer {
    let dir = tempfile::tempdir().unwrap();
    let url = match backend {
        Backend::Sqlite => DatabaseUrl::Sqlite(dir.path().join("issuer.sqlite")),
        Backend::Postgres(c) => DatabaseUrl::parse(&c.url("zk")).unwrap(),
    };
    let svc = IssuerService::open_db(
        &url,
        "issuer",
        IssuerConfig {
            provider_id: Fr::from(1000u64),
            depth: 8,
            registry: None,
            validity: 365 * 86_400,
            auto_approve_kyc_stand_in: false,
            rebuild_tree: false,
        },
        ADMIN,
    )
    .await
    .unwrap()
    .with_limits(limits);
    let server = spawn(svc.clone().router(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = IssuerClient::new(reqwest::Client::new(), server.url());
    Issuer {
        svc,
        server,
        client,
        backend: backend.clone(),
        _dir: dir,
    }
}

/// Answered lookups of `client` in the issuer's audit table, read from the store itself.
fn logged_lookups(i: &Issuer, client: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM lookups WHERE client = '{client}'");
    match &i.backend {
        Backend::Sqlite => rusqlite::Connection::open(i._dir.path().join("issuer.sqlite"))
            .unwrap()
            .query_row(&sql, [], |r| r.get(0))
            .unwrap(),
        Backend::Postgres(c) => c
            .psql("zk", &sql.replace("FROM lookups", "FROM issuer.lookups"))
            .unwrap()
            .parse()
            .unwrap(),
    }
}

fn code(e: &ClientError) -> Option<ErrorCode> {
    e.code()
}

fn secret(n: u64) -> Fr {
    Fr::from(0x5ec0_0000u64 + n)
}

/// Files an application for `id` by holder `n`; returns its id.
async fn apply(i: &Issuer, n: u64, id: &str) -> Result<String, ClientError> {
    i.client
        .apply(&KycApplication::sign(&secret(n), id))
        .await
        .map(|v| v.application_id)
}

const PUBLISH: Approve = Approve {
    replace: false,
    publish: true,
};

/// A witness request by holder `n` with attestation `att` to `provider` (id `pid`).
async fn witness(
    provider: &ProviderClient,
    n: u64,
    att: &zkcredit_api::auth::Attestation,
    pid: u64,
) -> Result<(), ClientError> {
    let subject = fr_from_dec(&att.subject_key).unwrap();
    let req = WitnessRequest::sign(
        &holder_signing_key(&secret(n)),
        att,
        &subject,
        &Fr::from(pid),
        unix_now(),
    );
    provider.witness(&req).await.map(|_| ())
}

async fn provider(
    i: &Issuer,
    issuer_url: Option<&str>,
) -> (Running, ProviderClient, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let svc = ProviderService::open(
        dir.path(),
        TreeConfig {
            role: Role::Bureau,
            provider_id: Fr::from(1003u64),
            depth: 8,
            issuer_key: i.svc.issuer_key(),
            registry: None,
            rebuild_nodes: false,
        },
        ADMIN,
    )
    .unwrap();
    let svc = match issuer_url {
        // Asked on every request, so the test need not wait for the 30 s refresh.
        Some(u) => svc.with_issuer_revocations_every(u, Duration::ZERO),
        None => svc,
    };
    let server = spawn(svc.router(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = ProviderClient::new(reqwest::Client::new(), server.url());
    (server, client, dir)
}

async fn finding_08_replaced_holder_key_is_refused_by_providers(backend: Backend) {
    let i = issuer(&backend, IssuerLimits::default()).await;
    let (bureau_srv, bureau, _d) = provider(&i, Some(&i.server.url())).await;
    let kyc = ProviderClient::new(reqwest::Client::new(), i.server.url());
    // The first wallet is bound and reads its witnesses.
    let app1 = apply(&i, 1, ID).await.unwrap();
    let att1 = i.client.approve(ADMIN, &app1, PUBLISH).await.unwrap();
    let att1 = att1.attestation.unwrap();
    witness(&bureau, 1, &att1, 1003).await.unwrap();
    witness(&kyc, 1, &att1, 1000).await.unwrap();
    // The wallet is lost; the person binds a new one (the operator replaces the binding).
    let app2 = apply(&i, 2, ID).await.unwrap();
    let e = i.client.approve(ADMIN, &app2, PUBLISH).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::AlreadyRegistered));
    let replace = Approve {
        replace: true,
        publish: true,
    };
    let att2 = i.client.approve(ADMIN, &app2, replace).await.unwrap();
    let att2 = att2.attestation.unwrap();
    // The list names the old key, signed by the issuer.
    let list = i.client.revocations().await.unwrap();
    let revoked = list.verify(&i.svc.issuer_key()).unwrap();
    assert_eq!(revoked.len(), 1);
    // The attack: whoever holds the old key keeps asking — refused by the provider and by
    // the issuer's own tree, although the old attestation has not expired.
    for (p, pid) in [(&bureau, 1003), (&kyc, 1000)] {
        let e = witness(p, 1, &att1, pid).await.unwrap_err();
        assert_eq!(code(&e), Some(ErrorCode::AttestationRevoked), "{e}");
        assert_eq!(e.status(), Some(403));
        witness(p, 2, &att2, pid).await.unwrap();
    }
    // The operator revokes the new binding outright: it is refused too.
    i.client.revoke(ADMIN, &app2).await.unwrap();
    let e = witness(&bureau, 2, &att2, 1003).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::AttestationRevoked));
    // Fail closed: a provider with no issuer, or an unreachable one, answers no witness.
    let (s1, no_issuer, _d1) = provider(&i, None).await;
    let (s2, dead_issuer, _d2) = provider(&i, Some("http://127.0.0.1:9")).await;
    for p in [&no_issuer, &dead_issuer] {
        let e = witness(p, 1, &att1, 1003).await.unwrap_err();
        assert_eq!(code(&e), Some(ErrorCode::RevocationsUnavailable), "{e}");
        assert_eq!(e.status(), Some(503));
    }
    for s in [s1, s2, bureau_srv, i.server] {
        s.stop().await.unwrap();
    }
}

/// Issue 10, lower finding: an application may pair a bound person's holder commitment
/// with the applicant's *own* key (the signature proves possession of the key only). It was
/// approved without `replace`, counted no rebind and left the old key valid — and the new
/// key then read the person's records at every provider. A wallet derives commitment and
/// key from one secret, so such an application is refused outright, even with `replace`;
/// the same key in upper-case hex is the same key (no self-revocation).
async fn regression_a_new_holder_key_under_the_same_commitment_is_refused(backend: Backend) {
    use ed25519_dalek::Signer;
    let i = issuer(&backend, IssuerLimits::default()).await;
    let (bureau_srv, bureau, _d) = provider(&i, Some(&i.server.url())).await;
    let app1 = apply(&i, 1, ID).await.unwrap();
    let att1 = i.client.approve(ADMIN, &app1, PUBLISH).await.unwrap();
    let att1 = att1.attestation.unwrap();
    // Holder 2 files with holder 1's commitment and its own key.
    let sk2 = holder_signing_key(&secret(2));
    let c1 = zkcredit_circuits::eligibility::holder_commitment(&secret(1));
    let vk2 = sk2.verifying_key();
    let forged = KycApplication {
        id: ID.into(),
        holder_commitment: zkcredit_circuits::field::fr_to_dec(&c1),
        holder_key: hex::encode(vk2.as_bytes()),
        signature: hex::encode(
            sk2.sign(&application_message(&c1, vk2.as_bytes()))
                .to_bytes(),
        ),
    };
    let app2 = i.client.apply(&forged).await.unwrap().application_id;
    for replace in [false, true] {
        let body = Approve {
            replace,
            publish: true,
        };
        let e = i.client.approve(ADMIN, &app2, body).await.unwrap_err();
        assert_eq!(code(&e), Some(ErrorCode::AlreadyRegistered), "{e}");
    }
    witness(&bureau, 1, &att1, 1003).await.unwrap();
    // Holder 1 re-applies with its key in upper-case hex: a renewal, not a rebind.
    let mut again = KycApplication::sign(&secret(1), ID);
    again.holder_key = again.holder_key.to_uppercase();
    let app3 = i.client.apply(&again).await.unwrap().application_id;
    let att3 = i.client.approve(ADMIN, &app3, PUBLISH).await.unwrap();
    witness(&bureau, 1, &att3.attestation.unwrap(), 1003)
        .await
        .unwrap();
    for s in [bureau_srv, i.server] {
        s.stop().await.unwrap();
    }
}

async fn finding_08_concurrent_approvals_create_one_attestation(backend: Backend) {
    let i = issuer(&backend, IssuerLimits::default()).await;
    // Eight wallets apply for one identifier; the operator's eight approvals race.
    let mut apps = Vec::new();
    for n in 0..8 {
        apps.push(apply(&i, 10 + n, ID).await.unwrap());
    }
    let mut tasks = Vec::new();
    for a in &apps {
        let (c, a) = (i.client.clone(), a.clone());
        tasks.push(tokio::spawn(async move {
            c.approve(ADMIN, &a, Approve::default()).await
        }));
    }
    let mut ok = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(v) => ok.push(v),
            Err(e) => assert_eq!(code(&e), Some(ErrorCode::AlreadyRegistered), "{e}"),
        }
    }
    assert_eq!(ok.len(), 1, "exactly one binding");
    let mut approved = 0;
    for a in &apps {
        let v = i.client.application(a).await.unwrap();
        approved += usize::from(v.attestation.is_some());
    }
    assert_eq!(approved, 1, "exactly one attestation");
    // The KYC row staged is the winner's.
    let att = ok[0].attestation.clone().unwrap();
    let kyc = ProviderClient::new(reqwest::Client::new(), i.server.url());
    let row = kyc.row(ADMIN, &att.subject_key).await.unwrap();
    let winner = KycApplication::sign(
        &secret(10 + approved_index(&apps, &ok[0].application_id)),
        ID,
    );
    assert_eq!(row.values[0], winner.holder_commitment);

    // One application approved eight times at once: one attestation, seven refusals.
    let app = apply(&i, 99, "CD 999").await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (c, a) = (i.client.clone(), app.clone());
        tasks.push(tokio::spawn(async move {
            c.approve(ADMIN, &a, Approve::default()).await
        }));
    }
    let mut oks = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => oks += 1,
            Err(e) => assert_eq!(code(&e), Some(ErrorCode::NotPending), "{e}"),
        }
    }
    assert_eq!(oks, 1);
    i.server.stop().await.unwrap();
}

fn approved_index(apps: &[String], id: &str) -> u64 {
    apps.iter().position(|a| a == id).unwrap() as u64
}

async fn finding_10_oversized_identifier_is_refused_before_storing(backend: Backend) {
    let i = issuer(&backend, IssuerLimits::default()).await;
    // ~1 KiB of separators that normalise to one character: stored raw before the fix.
    let long = format!("A{}", "-".repeat(1024));
    let e = apply(&i, 1, &long).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::BadId));
    assert_eq!(e.field(), Some("id"));
    let just = format!(
        "A{}",
        "-".repeat(zkcredit_api::issuer::MAX_RAW_ID_BYTES - 1)
    );
    apply(&i, 2, &just).await.unwrap();
    assert_eq!(i.client.pending(ADMIN).await.unwrap().len(), 1);
    // The lookup applies the same bound.
    let c = NewClient {
        name: "bureau".into(),
        token: "bureau-client-token-0123".into(),
    };
    i.client.add_client(ADMIN, &c).await.unwrap();
    let e = i.client.lookup(&c.token, &long).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::BadId));
    i.server.stop().await.unwrap();
}

async fn finding_10_applications_per_holder_key_and_pending_total_are_bounded(backend: Backend) {
    let limits = IssuerLimits {
        applications_per_holder_key: 2,
        max_pending_applications: 4,
        ..Default::default()
    };
    let i = issuer(&backend, limits).await;
    apply(&i, 1, "AA 1").await.unwrap();
    apply(&i, 1, "AA 2").await.unwrap();
    let e = apply(&i, 1, "AA 3").await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::TooManyApplications));
    assert_eq!(e.status(), Some(429));
    // Fresh keys fill the pending queue up to its bound, then are refused.
    apply(&i, 2, "BB 1").await.unwrap();
    let last = apply(&i, 3, "CC 1").await.unwrap();
    let e = apply(&i, 4, "DD 1").await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::StoreFull));
    assert_eq!(i.client.pending(ADMIN).await.unwrap().len(), 4);
    // A decision frees a place.
    i.client.reject(ADMIN, &last).await.unwrap();
    apply(&i, 4, "DD 1").await.unwrap();
    i.server.stop().await.unwrap();
}

async fn finding_10_client_names_tokens_and_count_are_bounded(backend: Backend) {
    let i = issuer(
        &backend,
        IssuerLimits {
            max_clients: 2,
            ..Default::default()
        },
    )
    .await;
    let client = |name: &str, token: &str| NewClient {
        name: name.into(),
        token: token.into(),
    };
    let token = "client-token-0123456789";
    let e = i
        .client
        .add_client(ADMIN, &client(&"n".repeat(65), token))
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::BadName));
    let e = i
        .client
        .add_client(ADMIN, &client("a", &"t".repeat(10_000)))
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::BadRequest));
    assert_eq!(e.field(), Some("token"));
    i.client
        .add_client(ADMIN, &client("a", token))
        .await
        .unwrap();
    // One token names one client (the lookup log must say who asked).
    let e = i
        .client
        .add_client(ADMIN, &client("b", token))
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::BadRequest));
    assert_eq!(e.field(), Some("token"));
    // A control character (NUL included) is not part of a name.
    for bad in ["b\0", "b\nc", "\u{7f}"] {
        let e = i
            .client
            .add_client(ADMIN, &client(bad, "client-token-b-0123456"))
            .await
            .unwrap_err();
        assert_eq!(code(&e), Some(ErrorCode::BadName), "{bad:?}");
    }
    i.client
        .add_client(ADMIN, &client("b", "client-token-b-0123456"))
        .await
        .unwrap();
    let e = i
        .client
        .add_client(ADMIN, &client("c", "client-token-c-0123456"))
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::StoreFull));
    // Re-keying a known client is not a new row.
    i.client
        .add_client(ADMIN, &client("b", "another-client-token-01"))
        .await
        .unwrap();
    i.server.stop().await.unwrap();
}

async fn finding_10_subject_key_lookups_are_rate_limited_per_token_and_audited(backend: Backend) {
    let i = issuer(
        &backend,
        IssuerLimits {
            lookups_per_minute: 3,
            ..Default::default()
        },
    )
    .await;
    let a = NewClient {
        name: "a".into(),
        token: "client-a-token-0123456".into(),
    };
    let b = NewClient {
        name: "b".into(),
        token: "client-b-token-0123456".into(),
    };
    i.client.add_client(ADMIN, &a).await.unwrap();
    i.client.add_client(ADMIN, &b).await.unwrap();
    // The attack: one client token enumerates identifiers. Retried if a minute boundary
    // falls inside the burst (the budget is per calendar minute).
    let mut answered = 0;
    for attempt in 0..3 {
        let minute = unix_now() / 60;
        answered = 0;
        let mut refused = None;
        for n in 0..4 {
            match i
                .client
                .lookup(&a.token, &format!("ID {attempt} {n}"))
                .await
            {
                Ok(_) => answered += 1,
                Err(e) => refused = Some(e),
            }
        }
        if unix_now() / 60 != minute {
            continue;
        }
        let e = refused.expect("the fourth lookup in a minute is refused");
        assert_eq!(code(&e), Some(ErrorCode::RateLimited));
        assert_eq!(e.status(), Some(429));
        assert_eq!(answered, 3);
        break;
    }
    // Another client's budget is its own.
    i.client.lookup(&b.token, "ID B").await.unwrap();
    // Every answered lookup is in the audit table.
    let logged = logged_lookups(&i, "a");
    assert!(logged >= answered as i64 && logged > 0);
    let logged_b = logged_lookups(&i, "b");
    assert_eq!(logged_b, 1);
    i.server.stop().await.unwrap();
}

async fn finding_10_rebinds_are_rate_limited_per_identifier(backend: Backend) {
    let i = issuer(
        &backend,
        IssuerLimits {
            rebinds_per_period: 1,
            ..Default::default()
        },
    )
    .await;
    let replace = Approve {
        replace: true,
        publish: false,
    };
    let first = apply(&i, 1, ID).await.unwrap();
    i.client
        .approve(ADMIN, &first, Approve::default())
        .await
        .unwrap();
    let second = apply(&i, 2, ID).await.unwrap();
    i.client.approve(ADMIN, &second, replace).await.unwrap();
    // The attack: rebinding again and again for fresh holder secrets (fresh nullifiers).
    let third = apply(&i, 3, ID).await.unwrap();
    let e = i.client.approve(ADMIN, &third, replace).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::RebindLimited));
    assert_eq!(e.status(), Some(429));
    // Nothing changed: the application is still pending, the binding the second one.
    assert_eq!(
        i.client.application(&third).await.unwrap().status,
        "pending"
    );
    // Another identifier has its own budget.
    let other = apply(&i, 4, "ZZ 1").await.unwrap();
    i.client
        .approve(ADMIN, &other, Approve::default())
        .await
        .unwrap();
    i.server.stop().await.unwrap();
}
