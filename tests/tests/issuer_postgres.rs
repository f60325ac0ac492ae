//! The issuer on PostgreSQL, where more than one issuer process can reach one store: a
//! restarted issuer keeps its attestation key, pepper and bindings; an issuer whose KYC
//! tree a newer process took over writes nothing (approve and revoke refused 409
//! `tree_taken_over`, the application unchanged); the lookup budget is counted in the
//! store, so two processes share it; expired revocations leave the list and the table.

use std::sync::Arc;
use zkcredit_api::auth::KycApplication;
use zkcredit_api::client::{ClientError, IssuerClient, ProviderClient};
use zkcredit_api::issuer::{Approve, NewClient};
use zkcredit_api::{unix_now, ErrorCode};
use zkcredit_circuits::Fr;
use zkcredit_services::issuer::{IssuerConfig, IssuerLimits, IssuerService};
use zkcredit_services::server::{spawn, Running};
use zkcredit_services::store::DatabaseUrl;
use zkcredit_testkit::pg::PgCluster;

const ADMIN: &str = "issuer-postgres-admin-token-0123";
const SCHEMA: &str = "kyc";

fn cluster() -> Arc<PgCluster> {
    let c = PgCluster::start().unwrap_or_else(|e| panic!("{e}"));
    c.create_database("zk").unwrap_or_else(|e| panic!("{e}"));
    Arc::new(c)
}

struct Issuer {
    svc: IssuerService,
    server: Running,
    client: IssuerClient,
}

/// An issuer process on schema [`SCHEMA`] of `c` (attestations valid `validity` seconds).
async fn issuer(c: &PgCluster, validity: u64, limits: IssuerLimits) -> Issuer {
    let svc = IssuerService::open_db(
        &DatabaseUrl::parse(&c.url("zk")).unwrap(),
        SCHEMA,
        IssuerConfig {
            provider_id: Fr::from(1000u64),
            depth: 8,
            registry: None,
            validity,
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
    }
}

fn secret(n: u64) -> Fr {
    Fr::from(0x1550_0000u64 + n)
}

async fn apply(i: &Issuer, n: u64, id: &str) -> String {
    i.client
        .apply(&KycApplication::sign(&secret(n), id))
        .await
        .unwrap()
        .application_id
}

const PUBLISH: Approve = Approve {
    replace: false,
    publish: true,
};

fn code(r: Result<impl std::fmt::Debug, ClientError>) -> (Option<u16>, Option<ErrorCode>) {
    let e = r.expect_err("refused");
    (e.status(), e.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_issuer_restart_keeps_its_key_pepper_and_bindings() {
    let c = cluster();
    let a = issuer(&c, 86_400, IssuerLimits::default()).await;
    let app = apply(&a, 1, "AB 1").await;
    let att = a.client.approve(ADMIN, &app, PUBLISH).await.unwrap();
    let att = att.attestation.unwrap();
    let key = a.svc.issuer_key();
    let subject = a.svc.subject_key("AB 1").unwrap();
    let Issuer { svc, server, .. } = a;
    server.stop().await.unwrap();
    drop(svc);

    let b = issuer(&c, 86_400, IssuerLimits::default()).await;
    assert_eq!(b.svc.issuer_key(), key, "the attestation key is kept");
    assert_eq!(
        b.svc.subject_key("AB 1").unwrap(),
        subject,
        "the pepper is kept"
    );
    let view = b.client.application(&app).await.unwrap();
    assert_eq!(view.status, "approved");
    assert_eq!(view.attestation.unwrap(), att);
    // The KYC row is in the tree the new process loaded.
    let kyc = ProviderClient::new(reqwest::Client::new(), b.server.url());
    let row = kyc.row(ADMIN, &att.subject_key).await.unwrap();
    let applied = KycApplication::sign(&secret(1), "AB 1");
    assert_eq!(row.values[0], applied.holder_commitment);
    // And the binding too: another wallet for the same person needs a replace.
    let app2 = apply(&b, 2, "AB 1").await;
    let r = b.client.approve(ADMIN, &app2, PUBLISH).await;
    assert_eq!(code(r), (Some(409), Some(ErrorCode::AlreadyRegistered)));
    b.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_taken_over_issuer_writes_nothing() {
    let c = cluster();
    let old = issuer(&c, 86_400, IssuerLimits::default()).await;
    let app1 = apply(&old, 1, "CD 1").await;
    // A newer issuer process starts on the same schema and takes the KYC tree over.
    let new = issuer(&c, 86_400, IssuerLimits::default()).await;
    let r = old.client.approve(ADMIN, &app1, PUBLISH).await;
    assert_eq!(code(r), (Some(409), Some(ErrorCode::TreeTakenOver)));
    let view = new.client.application(&app1).await.unwrap();
    assert_eq!(view.status, "pending", "the refused approval wrote nothing");
    assert!(view.attestation.is_none());
    // The newer one approves it; the older one cannot revoke it.
    let att = new.client.approve(ADMIN, &app1, PUBLISH).await.unwrap();
    let att = att.attestation.unwrap();
    let r = old.client.revoke(ADMIN, &app1).await;
    assert_eq!(code(r), (Some(409), Some(ErrorCode::TreeTakenOver)));
    assert_eq!(
        new.client.application(&app1).await.unwrap().status,
        "approved"
    );
    let list = new.client.revocations().await.unwrap();
    assert!(list.verify(&new.svc.issuer_key()).unwrap().is_empty());
    // The newer one's revocation removes the KYC row (staged in the same transaction).
    new.client.revoke(ADMIN, &app1).await.unwrap();
    new.svc.tree().publish().await.unwrap();
    let kyc = ProviderClient::new(reqwest::Client::new(), new.server.url());
    let r = kyc.row(ADMIN, &att.subject_key).await;
    assert_eq!(code(r).1, Some(ErrorCode::NotFound));
    for s in [old.server, new.server] {
        s.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lookup_budget_is_shared_by_issuer_processes() {
    let c = cluster();
    let limits = IssuerLimits {
        lookups_per_minute: 3,
        ..Default::default()
    };
    let a = issuer(&c, 86_400, limits).await;
    let b = issuer(&c, 86_400, limits).await;
    // The attack: spread one token's lookups over two issuer processes. Retried, with a
    // fresh client, when a minute boundary falls inside the burst (the budget is per
    // calendar minute).
    let mut checked = false;
    for attempt in 0..3 {
        let client = NewClient {
            name: format!("bureau-{attempt}"),
            token: format!("bureau-lookup-token-{attempt}-0123"),
        };
        a.client.add_client(ADMIN, &client).await.unwrap();
        let minute = unix_now() / 60;
        let mut answered = 0;
        let mut refused = Vec::new();
        for n in 0..4 {
            let via = if n % 2 == 0 { &a } else { &b };
            match via
                .client
                .lookup(&client.token, &format!("ID {attempt} {n}"))
                .await
            {
                Ok(_) => answered += 1,
                Err(e) => refused.push((e.status(), e.code())),
            }
        }
        if unix_now() / 60 != minute {
            continue;
        }
        assert_eq!(answered, 3, "{refused:?}");
        assert_eq!(refused, vec![(Some(429), Some(ErrorCode::RateLimited))]);
        checked = true;
        break;
    }
    assert!(checked, "three bursts each crossed a minute boundary");
    for s in [a.server, b.server] {
        s.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_expired_revocations_leave_the_list_and_the_table() {
    let c = cluster();
    // Attestations valid for two seconds: a revocation older than that refuses nothing.
    let i = issuer(&c, 2, IssuerLimits::default()).await;
    let app1 = apply(&i, 1, "EF 1").await;
    i.client.approve(ADMIN, &app1, PUBLISH).await.unwrap();
    i.client.revoke(ADMIN, &app1).await.unwrap();
    let listed = |i: &Issuer| {
        let (c, k) = (i.client.clone(), i.svc.issuer_key());
        async move { c.revocations().await.unwrap().verify(&k).unwrap().len() }
    };
    assert_eq!(listed(&i).await, 1);
    let rows = || {
        c.psql("zk", "SELECT COUNT(*) FROM kyc.revocations")
            .unwrap()
    };
    assert_eq!(rows(), "1");
    tokio::time::sleep(std::time::Duration::from_millis(3_100)).await;
    assert_eq!(listed(&i).await, 0, "expired entries are not listed");
    // The next revocation prunes the expired one from the table.
    let app2 = apply(&i, 2, "EF 2").await;
    i.client.approve(ADMIN, &app2, PUBLISH).await.unwrap();
    i.client.revoke(ADMIN, &app2).await.unwrap();
    assert_eq!(rows(), "1");
    assert_eq!(listed(&i).await, 1);
    i.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_store_urls_naming_another_file_or_too_long_a_schema_are_refused() {
    let cfg = || IssuerConfig {
        provider_id: Fr::from(1000u64),
        depth: 8,
        registry: None,
        validity: 86_400,
        auto_approve_kyc_stand_in: false,
        rebuild_tree: false,
    };
    // `sqlite:///d/prod.sqlite` would have used `/d/issuer.sqlite` beside it.
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::Sqlite(dir.path().join("prod.sqlite"));
    let e = IssuerService::open_db(&url, SCHEMA, cfg(), ADMIN)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::BadRequest, "{e:?}");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    // A schema whose `_tree` companion is not a valid name is refused before connecting
    // (nothing listens on port 9).
    let url = DatabaseUrl::parse("postgres://u@127.0.0.1:9/zk").unwrap();
    let e = IssuerService::open_db(&url, &"s".repeat(60), cfg(), ADMIN)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::BadRequest, "{e:?}");
    assert!(e.message.contains("_tree"), "{}", e.message);
}
