//! The registry and a verifier over real HTTP on loopback, a small eligibility circuit
//! (4 slots × depth 8) with real proofs: shared by `verifier_http.rs` and
//! `verifier_findings.rs`. The verifier's store is SQLite or a throw-away PostgreSQL
//! cluster ([`Backend`]); [`on_both_backends!`] runs a test on each.
#![allow(dead_code, unused_imports)]

/// Runs each `async fn NAME(backend: Backend)` of the calling file as two tests,
/// `sqlite::NAME` and `postgres::NAME`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::verifier_env::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::verifier_env::Backend::postgres()).await
                }
            )*
        }
    };
}

use ark_std::rand::{rngs::StdRng, SeedableRng};
use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::OnceLock;
use zkcredit_api::client::{ClientError, Endpoint, RegistryClient, VerifierClient};
use zkcredit_api::registry::{PublishRoot, RegisterProvider, RegistryView};
use zkcredit_api::unix_now;
use zkcredit_api::verifier::{Accepted, NewRequest, ProofRequest, Submission};
use zkcredit_api::ErrorCode;
use zkcredit_circuits::eligibility::{EligibilityParams, Policy};
use zkcredit_circuits::field::{fr_from_dec, fr_to_dec};
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::Fr;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::fast::Prover;
use zkcredit_services::registry::RegistryService;
use zkcredit_services::server::{spawn, spawn_with_metrics, Running};
use zkcredit_services::store::DatabaseUrl;
use zkcredit_services::verifier::VerifierDb;
use zkcredit_services::verifier::{
    expected_slots_of, lender_token_digest, parse_expected_slots, VerifierConfig, VerifierService,
    DEFAULT_MAX_OPEN_REQUESTS, DEFAULT_PERIOD_SECONDS,
};
use zkcredit_testkit::pg::PgCluster;
use zkcredit_testkit::provider_signing_key;
use zkcredit_testkit::scenario::{
    eligible_applicant, example_policy, Borrower, Layout, World, EXAMPLE_MIN_KYC_AGE,
};
use zkcredit_verifier::snarkjs::{public_to_json, ProofJson};

pub const P: EligibilityParams = EligibilityParams { slots: 4, depth: 8 };
pub const ADMIN: &str = "admin-token-0123456789abcdef";

pub fn prover() -> &'static Prover {
    static PR: OnceLock<Prover> = OnceLock::new();
    PR.get_or_init(|| CircuitId::Eligibility(P).insecure_dev_prover().unwrap())
}

pub fn token(slot: usize) -> String {
    format!("provider-token-for-slot-{slot:02}")
}

pub fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// The refusal `r` must be: a service answer of `status` with `code`.
#[track_caller]
pub fn refused<T: Debug>(r: Result<T, ClientError>, status: u16, code: ErrorCode) -> ClientError {
    let e = r.expect_err("expected a refusal");
    assert_eq!((e.status(), e.code()), (Some(status), Some(code)), "{e}");
    e
}

/// Where the verifiers of a test keep their state.
#[derive(Clone, Debug)]
pub enum Backend {
    /// A SQLite file per verifier, under the test's directory.
    Sqlite,
    /// A throw-away PostgreSQL cluster; each verifier its own schema of database `zk`.
    Postgres(std::sync::Arc<PgCluster>),
}

impl Backend {
    /// A fresh cluster with database `zk` (fails saying how to install the server).
    pub fn postgres() -> Self {
        let c = PgCluster::start().unwrap_or_else(|e| panic!("{e}"));
        c.create_database("zk").unwrap_or_else(|e| panic!("{e}"));
        Self::Postgres(std::sync::Arc::new(c))
    }
}

pub struct Env {
    /// Where the verifiers keep their state.
    pub backend: Backend,
    pub _dir: tempfile::TempDir,
    pub dir: std::path::PathBuf,
    pub http: reqwest::Client,
    pub registry: Running,
    pub verifier: Running,
    pub registry_client: RegistryClient,
    pub verifier_client: VerifierClient,
    pub world: World,
    pub borrower: Borrower,
    /// More eligible applicants (distinct people).
    pub others: Vec<Borrower>,
    /// The registry's answer-signing key (hex).
    pub registry_key: String,
}

/// The lender's token of the test verifiers.
pub const LENDER: &str = "lender-token-0123456789abcdef";
/// The verifier id of the test verifiers.
pub const VERIFIER_ID: [u8; 32] = [7u8; 32];

/// The configuration of the test verifier.
pub fn config(registry_url: String, registry_key: &str, world: &World) -> VerifierConfig {
    let expected = serde_json::to_string(&expected_slots_of(&world.registry, |i| {
        provider_signing_key(i).verifying_key()
    }))
    .unwrap();
    VerifierConfig {
        verifier_id: VERIFIER_ID,
        name: "test lender".into(),
        registry_url,
        registry_key: zkcredit_api::auth::parse_public_key("registry key", registry_key).unwrap(),
        expected_slots: parse_expected_slots(&expected).unwrap(),
        root_window: 3600,
        max_skew: 300,
        max_ttl: 3600,
        policies: vec![example_policy()],
        lender_token_sha256: lender_token_digest(LENDER),
        product: "test-credit".into(),
        period_seconds: DEFAULT_PERIOD_SECONDS,
        insecure_dev_keys: true,
        max_open_requests: DEFAULT_MAX_OPEN_REQUESTS,
    }
}

pub fn layout() -> Layout {
    Layout::for_slots(P.slots)
}

pub async fn start_verifier(dir: &std::path::Path, cfg: VerifierConfig) -> Running {
    let svc = VerifierService::open(dir, &prover().pk().vk, cfg).unwrap();
    spawn(svc.router(), local()).await.unwrap()
}

pub async fn env() -> Env {
    env_on(Backend::Sqlite).await
}

/// The verifier service named `name` (its SQLite directory under `dir`, or its PostgreSQL
/// schema) on `backend`.
pub async fn service_on(
    backend: &Backend,
    dir: &std::path::Path,
    name: &str,
    cfg: VerifierConfig,
) -> Result<VerifierService, zkcredit_api::ApiError> {
    match backend {
        Backend::Sqlite => VerifierService::open(&dir.join(name), &prover().pk().vk, cfg),
        Backend::Postgres(c) => {
            let url = DatabaseUrl::parse(&c.url("zk")).unwrap();
            let schema = format!("v_{}", name.replace('-', "_"));
            let db = VerifierDb::open(&url, &schema).await?;
            VerifierService::with_db(db, &prover().pk().vk, cfg)
        }
    }
}

/// Where the registry named `name` keeps its state on `backend`: its SQLite file, or the
/// test database with schema `r_NAME`.
pub fn registry_store(
    backend: &Backend,
    dir: &std::path::Path,
    name: &str,
) -> (DatabaseUrl, String) {
    let url = match backend {
        Backend::Sqlite => DatabaseUrl::Sqlite(dir.join(name).join("registry.sqlite")),
        Backend::Postgres(c) => DatabaseUrl::parse(&c.url("zk")).unwrap(),
    };
    (url, format!("r_{}", name.replace('-', "_")))
}

/// The registry service named `name` on `backend` ([`registry_store`]).
pub async fn registry_on(backend: &Backend, dir: &std::path::Path, name: &str) -> RegistryService {
    let (url, schema) = registry_store(backend, dir, name);
    RegistryService::open_db(&url, &schema, P.slots, ADMIN)
        .await
        .unwrap()
}

pub async fn env_on(backend: Backend) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let now = unix_now();
    let mut rng = StdRng::seed_from_u64(now);
    let (mut world, borrower, _) = eligible_applicant(P, layout(), &mut rng, 10, now).unwrap();
    let mut others = Vec::new();
    for _ in 0..4 {
        let b = Borrower::random(&mut rng);
        world
            .register(&b, now - 2 * EXAMPLE_MIN_KYC_AGE, now + 365 * 86_400)
            .unwrap();
        world
            .set_record(Role::Bureau, 0, b.subject_key, [700, now - 86_400, 7])
            .unwrap();
        others.push(b);
    }
    world.publish(now - 10).unwrap();
    let registry_svc = registry_on(&backend, &path, "registry").await;
    let registry_key = registry_svc.public_key_hex();
    let registry = spawn_with_metrics(registry_svc.router(), local(), Some(local()))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let registry_client = RegistryClient::new(http.clone(), registry.url());
    registry_client
        .mirror(ADMIN, &world.registry, token, provider_signing_key)
        .await
        .unwrap();
    let view = registry_client.view().await.unwrap();
    assert_eq!(
        view.root,
        fr_to_dec(&world.registry.root()),
        "service root equals the native registry root"
    );
    let svc = service_on(
        &backend,
        &path,
        "verifier",
        config(registry.url(), &registry_key, &world),
    )
    .await
    .unwrap();
    let verifier = spawn(svc.router(), local()).await.unwrap();
    let verifier_client = VerifierClient::new(http.clone(), verifier.url());
    Env {
        backend,
        _dir: dir,
        dir: path,
        http,
        registry,
        verifier,
        registry_client,
        verifier_client,
        world,
        borrower,
        others,
        registry_key,
    }
}

impl Env {
    /// A request opened by the lender (the scope is the verifier's).
    pub async fn request(&self, policy: Policy, ttl: u64) -> ProofRequest {
        let body = NewRequest {
            policy,
            ttl_seconds: ttl,
        };
        self.verifier_client
            .create_request(LENDER, &body)
            .await
            .unwrap()
    }

    /// A submission answering `req`, proving `policy` at time `now`.
    pub fn submission(&self, req: &ProofRequest, policy: Policy, now: u64) -> Submission {
        self.submission_of(&self.borrower, req, policy, now)
    }

    /// `who`'s witness answering `req` with `policy` at `now`.
    pub fn witness_for(
        &self,
        who: &Borrower,
        req: &ProofRequest,
        policy: Policy,
        now: u64,
    ) -> zkcredit_circuits::eligibility::EligibilityWitness {
        let scope = fr_from_dec(&req.scope).unwrap();
        let context = fr_from_dec(&req.context).unwrap();
        self.world
            .witness(who, policy, now, scope, context)
            .unwrap()
    }

    /// A submission by `who`.
    pub fn submission_of(
        &self,
        who: &Borrower,
        req: &ProofRequest,
        policy: Policy,
        now: u64,
    ) -> Submission {
        let w = self.witness_for(who, req, policy, now);
        let (proof, public) = zkcredit_prover::prove_eligibility(prover(), P, w).unwrap();
        Submission::groth16(
            ProofJson::from_proof(&proof),
            public_to_json(&public.to_vec()),
        )
    }

    pub async fn verify(&self, sub: &Submission) -> Result<Accepted, ClientError> {
        self.verifier_client.verify(sub).await
    }

    /// A verifier service named `name` on this test's backend.
    pub async fn service(&self, name: &str, cfg: VerifierConfig) -> VerifierService {
        service_on(&self.backend, &self.dir, name, cfg)
            .await
            .unwrap()
    }

    /// [`Env::service`], served on loopback.
    pub async fn start_verifier(&self, name: &str, cfg: VerifierConfig) -> Running {
        spawn(self.service(name, cfg).await.router(), local())
            .await
            .unwrap()
    }

    /// Restarts the verifier on its store (via a server on a scratch store, so the
    /// address changes and nothing is cached).
    pub async fn restart_verifier(&mut self) {
        let cfg = config(self.registry.url(), &self.registry_key, &self.world);
        let scratch = self.start_verifier("verifier-tmp", cfg.clone()).await;
        std::mem::replace(&mut self.verifier, scratch)
            .stop()
            .await
            .unwrap();
        let fresh = self.start_verifier("verifier", cfg).await;
        std::mem::replace(&mut self.verifier, fresh)
            .stop()
            .await
            .unwrap();
        self.verifier_client = VerifierClient::new(self.http.clone(), self.verifier.url());
    }
}
