//! The KYC issuer (spec §2, §3.4, §7.3). **KYC stand-in:** identity checking is a human
//! operator approving applications through the admin API (or, with
//! `auto_approve_kyc_stand_in`, no check at all — for demos only); a production issuer puts
//! its real KYC process behind the same approve call.
//!
//! - `POST /v1/kyc/applications` ([`KycApplication`]: identifier, holder commitment, holder
//!   key, proof of possession) → `202 {application_id, status: "pending"}`;
//! - `GET /v1/kyc/applications/{id}` → status, and the [`Attestation`] once approved
//!   (the 128-bit random id is the wallet's capability);
//! - `GET /v1/admin/applications`, `POST /v1/admin/applications/{id}/approve|reject`
//!   (operator token): approval derives the subject key with the secret pepper
//!   (`H(TAG_SUBJECT, pepper, id chunks)`, spec §3.4), stages
//!   `(subject key → holder_commitment, issued_at, expires_at)` in the issuer's indexed tree
//!   and signs the attestation; one identifier maps to one holder key unless the operator
//!   replaces it (`{"replace": true}`, e.g. a lost wallet);
//! - `POST /v1/admin/clients` (operator): `{name, token}` credentials for providers;
//! - `POST /v1/subjects/lookup` (a provider's client token): `{id}` → `{subject_key}`;
//!   every lookup is logged in the store;
//! - `GET /v1/issuer`: the attestation key, provider id, published root;
//! - the provider-tree routes of [`crate::tree`] for the KYC tree (witness, publish, rows).
//!
//! The pepper and the signing key are generated at first start with OS randomness and kept
//! in the issuer's store; they never leave it.

use crate::http::{bearer, sha, Json};
use crate::server::with_common;
use crate::store::{db, Store};
use crate::tree::{RegistryLink, TreeConfig, TreeService};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use ed25519_dalek::SigningKey;
use rand::RngCore;
use rusqlite::OptionalExtension;
use std::sync::Arc;
use zeroize::Zeroizing;
use zkcredit_api::auth::{Attestation, KycApplication};
pub use zkcredit_api::issuer::{ApplicationView, IssuerInfo, PendingApplication};
use zkcredit_api::issuer::{Approve, ClientAdded, NewClient, SubjectKey, SubjectLookup};
use zkcredit_api::{unix_now, ApiError, ErrorCode};
use zkcredit_circuits::field::{fr_from_dec, fr_to_dec};
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::subject::{derive_subject_key, normalise_id};
use zkcredit_circuits::Fr;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS secrets (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS applications (
    id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    holder_commitment TEXT NOT NULL,
    holder_key TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    decided_at INTEGER,
    attestation TEXT
);
CREATE TABLE IF NOT EXISTS holders (
    subject_key TEXT PRIMARY KEY,
    holder_commitment TEXT NOT NULL,
    holder_key TEXT NOT NULL,
    application TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS clients (name TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lookups (client TEXT NOT NULL, at INTEGER NOT NULL, subject_key TEXT NOT NULL);
";

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
}

/// The issuer service.
#[derive(Clone)]
pub struct IssuerService {
    tree: TreeService,
    store: Store,
    signing: Arc<SigningKey>,
    pepper: Arc<Zeroizing<[u8; 32]>>,
    cfg: Arc<IssuerConfig>,
}

impl std::fmt::Debug for IssuerService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerService")
            .field("cfg", &self.cfg)
            .field("signing", &"<redacted>")
            .field("pepper", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn secret(conn: &rusqlite::Connection, k: &str) -> Result<Zeroizing<[u8; 32]>, ApiError> {
    let v: Option<String> = conn
        .query_row("SELECT v FROM secrets WHERE k = ?1", [k], |r| r.get(0))
        .optional()
        .map_err(db)?;
    let hexs = match v {
        Some(v) => Zeroizing::new(v),
        None => {
            let mut b = Zeroizing::new([0u8; 32]);
            rand::rngs::OsRng.fill_bytes(&mut b[..]);
            let h = Zeroizing::new(hex::encode(&b[..]));
            conn.execute(
                "INSERT INTO secrets (k, v) VALUES (?1, ?2)",
                [k, h.as_str()],
            )
            .map_err(db)?;
            h
        }
    };
    let mut out = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(hexs.as_str(), &mut out[..]).map_err(ApiError::internal)?;
    Ok(out)
}

impl IssuerService {
    /// Opens the issuer's stores under `data_dir` (`issuer.sqlite`, `issuer_tree.sqlite`),
    /// generating the pepper and signing key on first start.
    pub fn open(
        data_dir: &std::path::Path,
        cfg: IssuerConfig,
        operator_token: &str,
    ) -> Result<Self, ApiError> {
        let store = Store::open(&data_dir.join("issuer.sqlite"), SCHEMA).map_err(db)?;
        let (seed, pepper) =
            store.with_sync(|conn| Ok((secret(conn, "signing_seed")?, secret(conn, "pepper")?)))?;
        let signing = SigningKey::from_bytes(&seed);
        let tree = TreeService::open(
            data_dir,
            "issuer_tree.sqlite",
            TreeConfig {
                role: Role::Kyc,
                provider_id: cfg.provider_id,
                depth: cfg.depth,
                issuer_key: signing.verifying_key(),
                registry: cfg.registry.clone(),
            },
            operator_token,
        )?;
        Ok(Self {
            tree,
            store,
            signing: Arc::new(signing),
            pepper: Arc::new(pepper),
            cfg: Arc::new(cfg),
        })
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

    fn pepper_fr(&self) -> Fr {
        // 32 random bytes reduced into the field: uniform up to a 2^-2 bias on 254 bits,
        // irrelevant for a secret salt.
        use ark_ff::PrimeField;
        Fr::from_be_bytes_mod_order(&self.pepper[..])
    }

    /// The subject key of a real-world identifier (spec §3.4).
    pub fn subject_key(&self, id: &str) -> Result<Fr, ApiError> {
        derive_subject_key(&self.pepper_fr(), id)
            .map_err(|e| ApiError::new(ErrorCode::BadId, e.to_string()).field("id"))
    }

    /// The router.
    pub fn router(self) -> Router {
        let metrics = self.tree.metrics.clone();
        let (tree_small, tree_big) = self.tree.clone().routes();
        let r = Router::new()
            .route("/v1/issuer", get(info))
            .route("/v1/kyc/applications", post(apply))
            .route("/v1/kyc/applications/{id}", get(application))
            .route("/v1/admin/applications", get(pending))
            .route("/v1/admin/applications/{id}/approve", post(approve))
            .route("/v1/admin/applications/{id}/reject", post(reject))
            .route("/v1/admin/clients", post(add_client))
            .route("/v1/subjects/lookup", post(lookup))
            .route("/openapi.json", get(openapi))
            .with_state(self)
            .merge(tree_small);
        with_common(r, metrics).merge(tree_big)
    }

    /// Approves an application: stages the KYC row and returns the attestation.
    pub async fn approve(&self, app_id: &str, replace: bool) -> Result<Attestation, ApiError> {
        let app_id_s = app_id.to_string();
        let row = self
            .store
            .with(move |conn| {
                conn.query_row(
                    "SELECT person_id, holder_commitment, holder_key, status FROM applications WHERE id = ?1",
                    [app_id_s],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?)),
                )
                .optional()
                .map_err(db)
            })
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::UnknownApplication, "no such application"))?;
        let (person, commitment_s, holder_key_s, status) = row;
        if status == "rejected" {
            return Err(ApiError::new(
                ErrorCode::ApplicationRejected,
                "this application was rejected",
            ));
        }
        let key = self.subject_key(&person)?;
        let commitment = fr_from_dec(&commitment_s).map_err(ApiError::internal)?;
        let holder = zkcredit_api::auth::parse_public_key("holder_key", &holder_key_s)
            .map_err(ApiError::from)?;
        let key_s = fr_to_dec(&key);
        let existing = {
            let k = key_s.clone();
            self.store
                .with(move |conn| {
                    conn.query_row(
                        "SELECT holder_commitment FROM holders WHERE subject_key = ?1",
                        [k],
                        |r| r.get::<_, String>(0),
                    )
                    .optional()
                    .map_err(db)
                })
                .await?
        };
        if let Some(c) = existing {
            if c != commitment_s && !replace {
                return Err(ApiError::new(ErrorCode::AlreadyRegistered,
                    "this person is already bound to another holder key; approve with replace to rebind",
                ));
            }
        }
        let now = unix_now();
        let expires = now + self.cfg.validity;
        let att = Attestation::sign(&self.signing, &key, &holder, now, expires);
        self.tree
            .stage(vec![(
                key,
                Some([commitment, Fr::from(now), Fr::from(expires)]),
            )])
            .await?;
        let att_json = serde_json::to_string(&att).map_err(ApiError::internal)?;
        let app_id_s = app_id.to_string();
        self.store
            .with(move |conn| {
                let tx = conn.transaction().map_err(db)?;
                tx.execute(
                    "INSERT INTO holders (subject_key, holder_commitment, holder_key, application) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(subject_key) DO UPDATE SET holder_commitment = ?2, holder_key = ?3, application = ?4",
                    [&key_s, &commitment_s, &holder_key_s, &app_id_s],
                )
                .map_err(db)?;
                tx.execute(
                    "UPDATE applications SET status = 'approved', decided_at = ?1, attestation = ?2 WHERE id = ?3",
                    rusqlite::params![now as i64, att_json, app_id_s],
                )
                .map_err(db)?;
                tx.commit().map_err(db)
            })
            .await?;
        self.tree.metrics.inc("kyc_applications_total", "approved");
        Ok(att)
    }

    async fn view(&self, app_id: String) -> Result<ApplicationView, ApiError> {
        let id = app_id.clone();
        let row = self
            .store
            .with(move |conn| {
                conn.query_row(
                    "SELECT status, attestation FROM applications WHERE id = ?1",
                    [id],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)),
                )
                .optional()
                .map_err(db)
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

async fn apply(
    State(svc): State<IssuerService>,
    Json(a): Json<KycApplication>,
) -> Result<(StatusCode, Json<ApplicationView>), ApiError> {
    normalise_id(&a.id).map_err(|e| ApiError::new(ErrorCode::BadId, e.to_string()).field("id"))?;
    a.verify()?;
    let mut idb = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut idb);
    let app_id = hex::encode(idb);
    let now = unix_now();
    let id = app_id.clone();
    svc.store
        .with(move |conn| {
            conn.execute(
                "INSERT INTO applications (id, person_id, holder_commitment, holder_key, status, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
                rusqlite::params![id, a.id, a.holder_commitment, a.holder_key, now as i64],
            )
            .map(|_| ())
            .map_err(db)
        })
        .await?;
    svc.tree.metrics.inc("kyc_applications_total", "received");
    if svc.cfg.auto_approve_kyc_stand_in {
        svc.approve(&app_id, false).await?;
        return Ok((StatusCode::OK, Json(svc.view(app_id).await?)));
    }
    Ok((StatusCode::ACCEPTED, Json(svc.view(app_id).await?)))
}

fn check_app_id(id: &str) -> Result<(), ApiError> {
    zkcredit_api::auth::hex_n::<16>("application_id", id)
        .map(|_| ())
        .map_err(ApiError::from)
}

async fn application(
    State(svc): State<IssuerService>,
    Path(id): Path<String>,
) -> Result<Json<ApplicationView>, ApiError> {
    check_app_id(&id)?;
    Ok(Json(svc.view(id).await?))
}

async fn pending(
    State(svc): State<IssuerService>,
    headers: HeaderMap,
) -> Result<Json<Vec<PendingApplication>>, ApiError> {
    svc.tree.check_admin(&headers)?;
    let list = svc
        .store
        .with(|conn| {
            let mut st = conn
                .prepare("SELECT id, person_id, holder_key, created_at FROM applications WHERE status = 'pending' ORDER BY created_at LIMIT 1000")
                .map_err(db)?;
            let rows = st
                .query_map([], |r| {
                    Ok(PendingApplication {
                        application_id: r.get(0)?,
                        id: r.get(1)?,
                        holder_key: r.get(2)?,
                        created_at: r.get::<_, i64>(3)? as u64,
                    })
                })
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            Ok(rows)
        })
        .await?;
    Ok(Json(list))
}

async fn approve(
    State(svc): State<IssuerService>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<ApplicationView>, ApiError> {
    svc.tree.check_admin(&headers)?;
    check_app_id(&id)?;
    // The body is optional: empty means `{}`.
    let b: Approve = if body.iter().all(|c| c.is_ascii_whitespace()) {
        Approve::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(ErrorCode::InvalidBody, e.to_string()))?
    };
    svc.approve(&id, b.replace).await?;
    if b.publish {
        svc.tree.publish().await?;
    }
    Ok(Json(svc.view(id).await?))
}

async fn reject(
    State(svc): State<IssuerService>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<ApplicationView>, ApiError> {
    svc.tree.check_admin(&headers)?;
    check_app_id(&id)?;
    let i = id.clone();
    let n = svc
        .store
        .with(move |conn| {
            conn.execute(
                "UPDATE applications SET status = 'rejected', decided_at = ?1 WHERE id = ?2 AND status = 'pending'",
                rusqlite::params![unix_now() as i64, i],
            )
            .map_err(db)
        })
        .await?;
    if n == 0 {
        return Err(ApiError::new(
            ErrorCode::NotPending,
            "no pending application with this id",
        ));
    }
    Ok(Json(svc.view(id).await?))
}

async fn add_client(
    State(svc): State<IssuerService>,
    headers: HeaderMap,
    Json(b): Json<NewClient>,
) -> Result<Json<ClientAdded>, ApiError> {
    svc.tree.check_admin(&headers)?;
    if b.token.len() < 16 {
        return Err(ApiError::new(
            ErrorCode::WeakToken,
            "client token must be at least 16 characters",
        )
        .field("token"));
    }
    if b.name.is_empty() || b.name.len() > 64 {
        return Err(
            ApiError::new(ErrorCode::BadName, "name must be 1..=64 characters").field("name"),
        );
    }
    let digest = hex::encode(sha(&b.token));
    let name = b.name.clone();
    svc.store
        .with(move |conn| {
            conn.execute(
                "INSERT INTO clients (name, token_sha256) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET token_sha256 = ?2",
                [name, digest],
            )
            .map(|_| ())
            .map_err(db)
        })
        .await?;
    Ok(Json(ClientAdded { client: b.name }))
}

async fn lookup(
    State(svc): State<IssuerService>,
    headers: HeaderMap,
    Json(b): Json<SubjectLookup>,
) -> Result<Json<SubjectKey>, ApiError> {
    let token = bearer(&headers)
        .map(sha)
        .ok_or_else(ApiError::unauthorized)?;
    let client = svc
        .store
        .with(move |conn| {
            // Looked up by the token's SHA-256: timing reveals nothing about the token.
            conn.query_row(
                "SELECT name FROM clients WHERE token_sha256 = ?1",
                [hex::encode(token)],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(db)
        })
        .await?;
    let Some(client) = client else {
        svc.tree
            .metrics
            .inc("subject_lookups_total", "unauthorized");
        return Err(ApiError::unauthorized());
    };
    let key = svc.subject_key(&b.id)?;
    let k = fr_to_dec(&key);
    let logged = k.clone();
    svc.store
        .with(move |conn| {
            conn.execute(
                "INSERT INTO lookups (client, at, subject_key) VALUES (?1, ?2, ?3)",
                rusqlite::params![client, unix_now() as i64, logged],
            )
            .map(|_| ())
            .map_err(db)
        })
        .await?;
    svc.tree.metrics.inc("subject_lookups_total", "ok");
    Ok(Json(SubjectKey { subject_key: k }))
}

async fn openapi() -> axum::Json<serde_json::Value> {
    axum::Json(zkcredit_api::openapi::document(
        "zkcredit KYC issuer (KYC stand-in: operator approval)",
        &[zkcredit_api::issuer::ROUTES, zkcredit_api::provider::ROUTES],
    ))
}
