//! The registry service (spec §5, off chain): provider slots, authenticated root
//! publication, and the history of registry roots.
//!
//! - `POST /v1/admin/providers` (admin bearer token): `{slot, role, provider_id, token}`
//!   registers a provider (role `empty` clears the slot); the provider's token is stored
//!   as a SHA-256 digest only.
//! - `POST /v1/slots/{slot}/root` (that provider's bearer token): `{provider_root,
//!   published_at, signature}`, the signature by the provider's own ed25519 key, kept with
//!   the slot and served with every root the slot's value is part of.
//! - `GET /v1/registry`: current root, every slot, recent root history.
//! - `GET /v1/registry/roots/{root}`: whether `root` is current or when it was retired, with
//!   the slot leaves it was computed from, signed by the registry's ed25519 key (generated
//!   at first start, kept in the store; `GET /v1/registry/key`), so a verifier pinning that
//!   key refuses forged answers and recomputes the root from the slots (spec §7.0).
//! - `GET /readyz`: 200 while the store answers, `503 database_unavailable` otherwise.
//!
//! The store ([`db`]) is the embedded SQLite file or a PostgreSQL schema shared by
//! replicas; every write is serialised by the database, so the root history stays linear.

pub mod db;
mod slots;

use crate::http::{bearer, ct_eq, sha, Json};
use crate::server::{with_common, Metrics};
use crate::store::DatabaseUrl;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
pub use db::{RegistryDb, DEFAULT_PG_SCHEMA};
pub use slots::{registry_of, SlotRow, Write};
use std::sync::Arc;
use zkcredit_api::registry::{root_status_message, RegistryKey};
use zkcredit_api::registry::{PublishRoot, RegisterProvider};
pub use zkcredit_api::registry::{RegistryView, RootStatus, RootView, SlotView};
use zkcredit_api::{unix_now, ApiError, ErrorCode};
use zkcredit_circuits::field::{fr_from_dec, fr_to_dec};
use zkcredit_circuits::registry::{Registry, Role, Slot};
use zkcredit_circuits::Fr;

/// Seconds a `published_at` may lie ahead of the service clock.
pub const FUTURE_SKEW: u64 = 60;

/// Registry service state.
#[derive(Clone)]
pub struct RegistryService {
    store: RegistryDb,
    slots: usize,
    admin_token_sha256: [u8; 32],
    signing_key: Arc<ed25519_dalek::SigningKey>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for RegistryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryService")
            .field("slots", &self.slots)
            .finish_non_exhaustive()
    }
}

fn field(name: &str, s: &str) -> Result<Fr, ApiError> {
    fr_from_dec(s).map_err(|e| ApiError::new(ErrorCode::BadField, e.to_string()).field(name))
}

impl RegistryService {
    /// Opens the SQLite store under `data_dir` with `slots` slots; `admin_token` authorises
    /// provider registration.
    pub fn open(
        data_dir: &std::path::Path,
        slots: usize,
        admin_token: &str,
    ) -> Result<Self, ApiError> {
        Registry::new(slots).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let store = RegistryDb::open_sqlite(&data_dir.join("registry.sqlite"))?;
        let RegistryDb::Sqlite(lite) = &store else {
            return Err(ApiError::internal("open_sqlite opened another backend"));
        };
        let key = crate::store::load_or_create_signing_key(lite, "registry_meta")?;
        lite.with_sync(|conn| db::check_slots_sqlite(conn, slots))?;
        Ok(Self::with_store(store, key, slots, admin_token))
    }

    /// Opens the store `url` names (PostgreSQL tables in `schema`, shared by every replica
    /// of this registry, which share its signing key too).
    pub async fn open_db(
        url: &DatabaseUrl,
        schema: &str,
        slots: usize,
        admin_token: &str,
    ) -> Result<Self, ApiError> {
        Registry::new(slots).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let store = RegistryDb::open(url, schema).await?;
        store.check_slots(slots).await?;
        let key = store.signing_key().await?;
        Ok(Self::with_store(store, key, slots, admin_token))
    }

    fn with_store(
        store: RegistryDb,
        key: ed25519_dalek::SigningKey,
        slots: usize,
        admin_token: &str,
    ) -> Self {
        Self {
            store,
            slots,
            admin_token_sha256: sha(admin_token),
            signing_key: Arc::new(key),
            metrics: Arc::default(),
        }
    }

    /// The registry's answer-signing public key (hex): what verifiers pin.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.signing_key.verifying_key().as_bytes())
    }

    /// The router.
    pub fn router(self) -> Router {
        let metrics = self.metrics.clone();
        let r = Router::new()
            .route("/readyz", get(ready))
            .route("/v1/admin/providers", post(register))
            .route("/v1/slots/{slot}/root", post(publish))
            .route("/v1/registry", get(view))
            .route("/v1/registry/roots/{root}", get(root_status))
            .route("/v1/registry/key", get(registry_key))
            .route("/openapi.json", get(openapi))
            .with_state(self);
        with_common(r, metrics)
    }

    /// The current view (also used in-process by tools).
    pub async fn view(&self) -> Result<RegistryView, ApiError> {
        let (rows, history) = self.store.snapshot().await?;
        let reg = registry_of(&rows, self.slots)?;
        let mut endpoints: std::collections::BTreeMap<usize, String> = rows
            .into_iter()
            .filter_map(|r| Some((usize::try_from(r.slot).ok()?, r.endpoint?)))
            .collect();
        Ok(RegistryView {
            root: fr_to_dec(&reg.root()),
            slots: reg
                .slots()
                .iter()
                .enumerate()
                .map(|(i, s)| SlotView {
                    slot: i,
                    value: *s,
                    endpoint: endpoints.remove(&i),
                })
                .collect(),
            history,
        })
    }
}

async fn register(
    State(svc): State<RegistryService>,
    headers: HeaderMap,
    Json(b): Json<RegisterProvider>,
) -> Result<Json<RegistryView>, ApiError> {
    let ok = bearer(&headers).is_some_and(|t| ct_eq(&sha(t), &svc.admin_token_sha256));
    if !ok {
        svc.metrics
            .inc("registry_admin_requests_total", "unauthorized");
        return Err(ApiError::unauthorized());
    }
    if b.slot >= svc.slots {
        return Err(ApiError::new(
            ErrorCode::BadSlot,
            format!("slot {} out of range 0..{}", b.slot, svc.slots),
        )
        .field("slot"));
    }
    let id = field("provider_id", &b.provider_id)?;
    if b.role != Role::Empty && b.token.len() < 16 {
        return Err(ApiError::new(
            ErrorCode::WeakToken,
            "provider token must be at least 16 characters",
        )
        .field("token"));
    }
    if let Some(e) = &b.endpoint {
        let ok = (e.starts_with("http://") || e.starts_with("https://"))
            && e.len() <= 256
            && !e.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(ApiError::new(
                ErrorCode::BadEndpoint,
                "endpoint must be an http(s) URL of at most 256 characters",
            )
            .field("endpoint"));
        }
    }
    let slot_value = if b.role == Role::Empty {
        Slot::default()
    } else {
        Slot {
            role: b.role,
            provider_id: id,
            provider_root: Fr::from(0u64),
            published_at: 0,
        }
    };
    // Validate with the native registry's rules (slot 0 is KYC only, …).
    let mut probe = Registry::new(svc.slots).map_err(ApiError::internal)?;
    probe
        .set(b.slot, slot_value)
        .map_err(|e| ApiError::new(ErrorCode::BadRole, e.to_string()).field("role"))?;
    let row = (b.role != Role::Empty).then(|| SlotRow {
        slot: b.slot as i64,
        role: b.role as u8 as i64,
        provider_id: fr_to_dec(&id),
        provider_root: "0".into(),
        published_at: 0,
        token_sha256: Some(hex::encode(sha(&b.token))),
        endpoint: b.endpoint.clone(),
        signature: None,
    });
    svc.store
        .write(Write::Register { slot: b.slot, row }, svc.slots, unix_now())
        .await?;
    svc.metrics.inc("registry_admin_requests_total", "ok");
    Ok(Json(svc.view().await?))
}

async fn publish(
    State(svc): State<RegistryService>,
    Path(slot): Path<usize>,
    headers: HeaderMap,
    Json(b): Json<PublishRoot>,
) -> Result<Json<RegistryView>, ApiError> {
    if slot >= svc.slots {
        return Err(ApiError::new(
            ErrorCode::UnknownSlot,
            format!("slot {slot} out of range 0..{}", svc.slots),
        ));
    }
    let root = field("provider_root", &b.provider_root)?;
    // The registry is not the trust anchor for provider roots (verifiers check the
    // signature against the key they pin); it only refuses a malformed one early.
    if hex::decode(&b.signature).map(|v| v.len()) != Ok(64) {
        return Err(
            ApiError::new(ErrorCode::BadField, "signature must be 64 bytes of hex")
                .field("signature"),
        );
    }
    let token = bearer(&headers)
        .map(sha)
        .ok_or_else(ApiError::unauthorized)?;
    let now = unix_now();
    if b.published_at > now + FUTURE_SKEW {
        return Err(ApiError::new(
            ErrorCode::PublishedInFuture,
            format!(
                "published_at {} is ahead of the clock ({now})",
                b.published_at
            ),
        )
        .field("published_at"));
    }
    let w = Write::Publish {
        slot,
        token,
        root,
        published_at: b.published_at,
        signature: b.signature,
    };
    let result = svc.store.write(w, svc.slots, now).await;
    svc.metrics.inc(
        "registry_publish_total",
        if result.is_ok() { "ok" } else { "rejected" },
    );
    result?;
    Ok(Json(svc.view().await?))
}

/// `GET /readyz`: 200 while the store answers, 503 `database_unavailable` otherwise.
async fn ready(State(svc): State<RegistryService>) -> Result<Json<serde_json::Value>, ApiError> {
    crate::server::readiness(svc.store.ping().await)
}

async fn view(State(svc): State<RegistryService>) -> Result<Json<RegistryView>, ApiError> {
    Ok(Json(svc.view().await?))
}

async fn registry_key(State(svc): State<RegistryService>) -> Json<RegistryKey> {
    Json(RegistryKey {
        public_key: svc.public_key_hex(),
    })
}

async fn root_status(
    State(svc): State<RegistryService>,
    Path(root): Path<String>,
) -> Result<Json<RootStatus>, ApiError> {
    let root = field("root", &root)?;
    let s = fr_to_dec(&root);
    let (row, slots_json) = svc.store.root_status(s.clone()).await?;
    let (slots, signatures): (Vec<Slot>, Vec<String>) = match slots_json {
        Some((j, sigs)) => (
            serde_json::from_str(&j).map_err(ApiError::internal)?,
            match sigs {
                Some(s) => serde_json::from_str(&s).map_err(ApiError::internal)?,
                None => Vec::new(),
            },
        ),
        None => (Vec::new(), Vec::new()),
    };
    let (known, current, retired_at) = match row {
        None => (false, false, None),
        Some(None) => (true, true, None),
        Some(Some(t)) => (true, false, Some(t as u64)),
    };
    let mut status = RootStatus {
        root: s,
        known,
        current,
        retired_at,
        slots,
        signatures,
        signed_at: unix_now(),
        signature: String::new(),
    };
    let msg = root_status_message(&status).map_err(ApiError::internal)?;
    use ed25519_dalek::Signer;
    status.signature = hex::encode(svc.signing_key.sign(&msg).to_bytes());
    svc.metrics.inc("registry_root_status_total", "ok");
    Ok(Json(status))
}

async fn openapi() -> axum::Json<serde_json::Value> {
    axum::Json(zkcredit_api::openapi::document(
        "zkcredit registry service",
        &[zkcredit_api::registry::ROUTES],
    ))
}
