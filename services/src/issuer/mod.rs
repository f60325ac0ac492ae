//! The KYC issuer (spec §2, §3.4, §7.3). **KYC stand-in:** identity checking is a human
//! operator approving applications through the admin API (or, with
//! `auto_approve_kyc_stand_in`, no check at all — for demos only); a production issuer puts
//! its real KYC process behind the same approve call.
//!
//! - `POST /v1/kyc/applications` ([`zkcredit_api::auth::KycApplication`]: identifier, holder commitment, holder
//!   key, proof of possession) → `202 {application_id, status: "pending"}`;
//! - `GET /v1/kyc/applications/{id}` → status, and the [`zkcredit_api::auth::Attestation`] once approved
//!   (the 128-bit random id is the wallet's capability);
//! - `GET /v1/admin/applications`, `POST /v1/admin/applications/{id}/approve|reject`
//!   (operator token): approval derives the subject key with the secret pepper
//!   (`H(TAG_SUBJECT, pepper, id chunks)`, spec §3.4), stages
//!   `(subject key → holder_commitment, issued_at, expires_at)` in the issuer's indexed tree
//!   and signs the attestation; one identifier maps to one holder key unless the operator
//!   replaces it (`{"replace": true}`, e.g. a lost wallet);
//! - `POST /v1/admin/clients` (operator): `{name, token}` credentials for providers;
//! - `POST /v1/subjects/lookup` (a provider's client token): `{id}` → `{subject_key}`;
//!   rate-limited per client token, every lookup logged in the store ([`lookup`]);
//! - `GET /v1/revocations` (public, signed) and `POST /v1/admin/revocations` (operator):
//!   the bindings providers must refuse — a replaced (lost) wallet's, or one the operator
//!   revokes ([`revocation`]).
//!
//! Every table is bounded ([`IssuerLimits`]): identifier length, applications per holder
//! key, pending applications in total, clients, lookups per token and minute, rebinds per
//! identifier and period. Approval is one transaction holding the issuer's write lock
//! ([`applications`], [`IssuerDb`]): two concurrent approvals cannot bind one identifier twice.
//! - `GET /v1/issuer`: the attestation key, provider id, published root;
//! - the provider-tree routes of [`crate::tree`] for the KYC tree (witness, publish, rows).
//!
//! The pepper and the signing key are generated at first start with OS randomness and kept
//! in the issuer's store; they never leave it.

pub mod applications;
mod db;
pub mod lookup;
pub mod revocation;

pub use db::{IssuerDb, DEFAULT_PG_SCHEMA, MIGRATIONS};

use crate::http::Json;
use crate::server::with_common;
use crate::store::{cells, DatabaseUrl, Sql, P};
use crate::tree::{RegistryLink, TreeConfig, TreeService};
use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use ed25519_dalek::SigningKey;
use rand::RngCore;
use std::sync::Arc;
use zeroize::Zeroizing;
use zkcredit_api::issuer::MAX_RAW_ID_BYTES;
pub use zkcredit_api::issuer::{ApplicationView, IssuerInfo, PendingApplication};
use zkcredit_api::{ApiError, ErrorCode};
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::subject::derive_subject_key;
use zkcredit_circuits::Fr;

/// Issuer configuration.
#[derive(Clone, Debug)]
pub struct IssuerConfig {
    /// Provider id in the registry (slot 0).
    pub provider_id: Fr,
    /// KYC tree depth.
    pub depth: usize,
    /// Where the KYC root is published.
    pub registry: Option<RegistryLink>,
    /// Validity of a KYC record and attestation, seconds.
    pub validity: u64,
    /// KYC STAND-IN for demos: approve every application without a check.
    pub auto_approve_kyc_stand_in: bool,
    /// Recompute the KYC tree's inner nodes from its leaf table at start (spec §4.4).
    pub rebuild_tree: bool,
}

/// The issuer's bounds (issue 10, findings 5, 9 and 10). `Default` is what `zkcredit issuer
/// serve` uses unless told otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IssuerLimits {
    /// Applications (any status) one holder key may file.
    pub applications_per_holder_key: u64,
    /// Pending applications in total; beyond it `apply` answers 507 `store_full`.
    pub max_pending_applications: u64,
    /// Registered clients.
    pub max_clients: u64,
    /// Subject-key lookups per client token and minute.
    pub lookups_per_minute: u32,
    /// Rebinds (approvals with `replace` that change the holder) per identifier and period.
    pub rebinds_per_period: u64,
    /// The rebind period, seconds.
    pub rebind_period: u64,
}

impl Default for IssuerLimits {
    fn default() -> Self {
        Self {
            applications_per_holder_key: 4,
            max_pending_applications: 10_000,
            max_clients: 1_000,
            lookups_per_minute: 600,
            rebinds_per_period: 1,
            rebind_period: 30 * 86_400,
        }
    }
}

/// The issuer service.
#[derive(Clone)]
pub struct IssuerService {
    tree: TreeService,
    db: IssuerDb,
    signing: Arc<SigningKey>,
    pepper: Arc<Zeroizing<[u8; 32]>>,
    cfg: Arc<IssuerConfig>,
    limits: IssuerLimits,
    lookups: Arc<lookup::RateLimiter>,
}

impl std::fmt::Debug for IssuerService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerService")
            .field("cfg", &self.cfg)
            .field("limits", &self.limits)
            .field("signing", &"<redacted>")
            .field("pepper", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The secret `k` (32 random bytes, hex), created from OS randomness when absent; two
/// replicas starting at once agree on one value (insert-if-absent, then read).
fn secret(s: &mut dyn Sql, k: &str) -> Result<Zeroizing<[u8; 32]>, ApiError> {
    let mut b = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut b[..]);
    let fresh = Zeroizing::new(hex::encode(&b[..]));
    s.exec(
        "INSERT INTO secrets (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING",
        &[P::T(k), P::T(fresh.as_str())],
    )?;
    let hexs = Zeroizing::new(
        s.row("SELECT v FROM secrets WHERE k = $1", &[P::T(k)])?
            .and_then(|r| r.into_iter().next())
            .ok_or_else(|| ApiError::internal("the secret was not stored"))?
            .text("secret")?,
    );
    let mut out = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(hexs.as_str(), &mut out[..]).map_err(ApiError::internal)?;
    Ok(out)
}

/// The attestation seed and the pepper.
type Secrets = (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>);

fn secrets(s: &mut dyn Sql) -> Result<Secrets, ApiError> {
    Ok((secret(s, "signing_seed")?, secret(s, "pepper")?))
}

fn tree_config(cfg: &IssuerConfig, signing: &SigningKey) -> TreeConfig {
    TreeConfig {
        role: Role::Kyc,
        provider_id: cfg.provider_id,
        depth: cfg.depth,
        issuer_key: signing.verifying_key(),
        registry: cfg.registry.clone(),
        rebuild_nodes: cfg.rebuild_tree,
    }
}

impl IssuerService {
    /// Opens the issuer's stores under `data_dir` (`issuer.sqlite`, `issuer_tree.sqlite`),
    /// generating the pepper and signing key on first start.
    pub fn open(
        data_dir: &std::path::Path,
        cfg: IssuerConfig,
        operator_token: &str,
    ) -> Result<Self, ApiError> {
        let db = IssuerDb::open_sqlite(&data_dir.join("issuer.sqlite"))?;
        let IssuerDb::Sqlite(store) = &db else {
            return Err(ApiError::internal("a SQLite issuer store"));
        };
        let (seed, pepper) = IssuerDb::write_sqlite_now(store, secrets)?;
        let signing = SigningKey::from_bytes(&seed);
        let tree = TreeService::open(
            data_dir,
            "issuer_tree.sqlite",
            tree_config(&cfg, &signing),
            operator_token,
        )?;
        Ok(Self::assemble(db, tree, signing, pepper, cfg))
    }

    /// [`Self::open`] on the store `url` names: for SQLite the files beside `PATH`; for
    /// PostgreSQL the schema `schema` and the KYC tree in `<schema>_tree` of the same
    /// database (spec §4.4: one process writes the tree; a later one takes it over).
    pub async fn open_db(
        url: &DatabaseUrl,
        schema: &str,
        cfg: IssuerConfig,
        operator_token: &str,
    ) -> Result<Self, ApiError> {
        if let DatabaseUrl::Sqlite(path) = url {
            // The issuer keeps two files side by side (its own and its KYC tree's); a URL
            // naming another file would silently use `issuer.sqlite` beside it.
            if path.file_name() != Some(std::ffi::OsStr::new("issuer.sqlite")) {
                return Err(ApiError::bad_request(format!(
                    "the issuer's SQLite store is DIR/issuer.sqlite (its KYC tree is DIR/issuer_tree.sqlite), not {}",
                    path.display()
                )));
            }
            let dir = path.parent().unwrap_or(std::path::Path::new("."));
            return Self::open(dir, cfg, operator_token);
        }
        // Both schema names are checked before anything is created.
        crate::store::check_schema_name(schema)?;
        crate::store::check_schema_name(&format!("{schema}_tree"))?;
        let db = IssuerDb::open(url, schema).await?;
        let (seed, pepper) = db.write(secrets).await?;
        let signing = SigningKey::from_bytes(&seed);
        let tree = TreeService::open_db(
            url,
            &format!("{schema}_tree"),
            tree_config(&cfg, &signing),
            operator_token,
        )
        .await?;
        Ok(Self::assemble(db, tree, signing, pepper, cfg))
    }

    fn assemble(
        db: IssuerDb,
        tree: TreeService,
        signing: SigningKey,
        pepper: Zeroizing<[u8; 32]>,
        cfg: IssuerConfig,
    ) -> Self {
        Self {
            tree: tree.with_local_revocations(db.clone()),
            db,
            signing: Arc::new(signing),
            pepper: Arc::new(pepper),
            cfg: Arc::new(cfg),
            limits: IssuerLimits::default(),
            lookups: Arc::default(),
        }
    }

    /// The same service with `limits` instead of [`IssuerLimits::default`].
    pub fn with_limits(mut self, limits: IssuerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Caps a bulk import into the KYC tree at `bytes`.
    pub fn with_max_import_bytes(mut self, bytes: usize) -> Self {
        self.tree = self.tree.with_max_import_bytes(bytes);
        self
    }

    /// The attestation public key.
    pub fn issuer_key(&self) -> ed25519_dalek::VerifyingKey {
        self.signing.verifying_key()
    }

    /// The attestation public key (hex).
    pub fn issuer_key_hex(&self) -> String {
        hex::encode(self.issuer_key().as_bytes())
    }

    /// The KYC tree.
    pub fn tree(&self) -> &TreeService {
        &self.tree
    }

    pub(crate) fn pepper_fr(&self) -> Fr {
        // 32 random bytes reduced into the field: uniform up to a 2^-2 bias on 254 bits,
        // irrelevant for a secret salt.
        use ark_ff::PrimeField;
        Fr::from_be_bytes_mod_order(&self.pepper[..])
    }

    /// The subject key of a real-world identifier (spec §3.4); an identifier longer than
    /// [`MAX_RAW_ID_BYTES`] is refused before anything else.
    pub fn subject_key(&self, id: &str) -> Result<Fr, ApiError> {
        subject_key(&self.pepper_fr(), id)
    }

    /// The router. Every `/v1/admin/*` route is behind the operator-token layer, checked
    /// before any body is read.
    pub fn router(self) -> Router {
        let metrics = self.tree.metrics.clone();
        let guard =
            axum::middleware::from_fn_with_state(self.tree.clone(), crate::tree::require_admin);
        let (tree_small, tree_big) = self.tree.clone().routes();
        let admin = Router::new()
            .route("/v1/admin/applications", get(applications::pending))
            .route(
                "/v1/admin/applications/{id}/approve",
                post(applications::approve),
            )
            .route(
                "/v1/admin/applications/{id}/reject",
                post(applications::reject),
            )
            .route("/v1/admin/clients", post(lookup::add_client))
            .route("/v1/admin/revocations", post(revocation::revoke))
            .route_layer(guard);
        let r = Router::new()
            .route("/v1/issuer", get(info))
            .route("/v1/kyc/applications", post(applications::apply))
            .route("/v1/kyc/applications/{id}", get(applications::application))
            .route("/v1/subjects/lookup", post(lookup::lookup))
            .route("/v1/revocations", get(revocation::list))
            .route("/openapi.json", get(openapi))
            .merge(admin)
            .with_state(self)
            .merge(tree_small);
        with_common(r, metrics).merge(tree_big)
    }

    pub(crate) async fn view(&self, app_id: String) -> Result<ApplicationView, ApiError> {
        let id = app_id.clone();
        let row = self
            .db
            .read(move |s| {
                s.row(
                    "SELECT status, attestation FROM applications WHERE id = $1",
                    &[P::T(&id)],
                )?
                .map(|r| {
                    let [status, att] = cells(r)?;
                    Ok::<_, ApiError>((status.text("status")?, att.opt_text("attestation")?))
                })
                .transpose()
            })
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::UnknownApplication, "no such application"))?;
        Ok(ApplicationView {
            application_id: app_id,
            status: row.0,
            attestation: row
                .1
                .map(|a| serde_json::from_str(&a))
                .transpose()
                .map_err(ApiError::internal)?,
        })
    }
}

async fn info(State(svc): State<IssuerService>) -> Json<IssuerInfo> {
    let st = svc.tree.status();
    Json(IssuerInfo {
        issuer_key: svc.issuer_key_hex(),
        provider_id: st.provider_id,
        root: st.root,
        published_at: st.published_at,
    })
}

async fn openapi() -> axum::Json<serde_json::Value> {
    axum::Json(zkcredit_api::openapi::document(
        "zkcredit KYC issuer (KYC stand-in: operator approval)",
        &[zkcredit_api::issuer::ROUTES, zkcredit_api::provider::ROUTES],
    ))
}

/// `derive_subject_key` with the raw length bound first (issue 10 finding 10).
pub(crate) fn subject_key(pepper: &Fr, id: &str) -> Result<Fr, ApiError> {
    check_raw_id(id)?;
    derive_subject_key(pepper, id)
        .map_err(|e| ApiError::new(ErrorCode::BadId, e.to_string()).field("id"))
}

/// Refuses an identifier longer than [`MAX_RAW_ID_BYTES`] before it is normalised or stored.
pub(crate) fn check_raw_id(id: &str) -> Result<(), ApiError> {
    if id.len() > MAX_RAW_ID_BYTES {
        return Err(ApiError::new(
            ErrorCode::BadId,
            format!("the identifier is longer than {MAX_RAW_ID_BYTES} bytes"),
        )
        .field("id"));
    }
    Ok(())
}
