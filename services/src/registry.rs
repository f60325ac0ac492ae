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

use crate::http::{bearer, ct_eq, sha, Json};
use crate::server::{with_common, Metrics};
use crate::store::{db, load_or_create_signing_key, Store};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
use rusqlite::OptionalExtension;
use std::sync::Arc;
use zkcredit_api::registry::{root_status_message, RegistryKey};
use zkcredit_api::registry::{PublishRoot, RegisterProvider};
pub use zkcredit_api::registry::{RegistryView, RootStatus, RootView, SlotView};
use zkcredit_api::{unix_now, ApiError, ErrorCode};
use zkcredit_circuits::field::{fr_from_dec, fr_to_dec};
use zkcredit_circuits::registry::{Registry, Role, Slot};
use zkcredit_circuits::Fr;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS slots (
    slot INTEGER PRIMARY KEY,
    role INTEGER NOT NULL,
    provider_id TEXT NOT NULL,
    provider_root TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    token_sha256 TEXT,
    endpoint TEXT,
    signature TEXT
);
CREATE TABLE IF NOT EXISTS roots (
    root TEXT PRIMARY KEY,
    current_since INTEGER NOT NULL,
    retired_at INTEGER
);
CREATE TABLE IF NOT EXISTS root_slots (
    root TEXT PRIMARY KEY,
    slots_json TEXT NOT NULL,
    signatures_json TEXT
);
CREATE TABLE IF NOT EXISTS registry_meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);
";

/// Seconds a `published_at` may lie ahead of the service clock.
pub const FUTURE_SKEW: u64 = 60;

/// Registry service state.
#[derive(Clone)]
pub struct RegistryService {
    store: Store,
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

fn load_registry(conn: &rusqlite::Connection, n: usize) -> Result<Registry, ApiError> {
    let mut reg = Registry::new(n).map_err(ApiError::internal)?;
    let mut stmt = conn
        .prepare(
            "SELECT slot, role, provider_id, provider_root, published_at FROM slots ORDER BY slot",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .map_err(db)?;
    for row in rows {
        let (slot, role, id, root, at) = row.map_err(db)?;
        let slot_v = Slot {
            role: Role::from_u8(role as u8)
                .ok_or_else(|| ApiError::internal("bad role in store"))?,
            provider_id: fr_from_dec(&id).map_err(ApiError::internal)?,
            provider_root: fr_from_dec(&root).map_err(ApiError::internal)?,
            published_at: at as u64,
        };
        reg.set(slot as usize, slot_v).map_err(ApiError::internal)?;
    }
    Ok(reg)
}

/// Each slot's provider signature as last published ("" for none), in slot order.
fn slot_signatures(conn: &rusqlite::Connection, n: usize) -> Result<Vec<String>, ApiError> {
    let mut out = vec![String::new(); n];
    let mut stmt = conn
        .prepare("SELECT slot, signature FROM slots WHERE signature IS NOT NULL")
        .map_err(db)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .map_err(db)?;
    for row in rows {
        let (slot, sig) = row.map_err(db)?;
        if let Some(o) = usize::try_from(slot).ok().and_then(|i| out.get_mut(i)) {
            *o = sig;
        }
    }
    Ok(out)
}

/// Adds the columns a store created by an earlier version lacks (provider signatures).
fn migrate(store: &Store) -> Result<(), ApiError> {
    store.with_sync(|conn| {
        for (table, column) in [("slots", "signature"), ("root_slots", "signatures_json")] {
            let has: bool = conn
                .prepare(&format!(
                    "SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"
                ))
                .and_then(|mut s| s.exists([column]))
                .map_err(db)?;
            if !has {
                conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} TEXT"))
                    .map_err(db)?;
            }
        }
        Ok(())
    })
}

/// Records `reg`'s root as current (retiring the previous one) and the slot leaves it was
/// computed from, inside the caller's transaction.
fn make_current(tx: &rusqlite::Transaction<'_>, reg: &Registry, now: u64) -> Result<(), ApiError> {
    let root = &reg.root();
    let root_s = fr_to_dec(root);
    // Always the slots' current signatures: the leaves are the same (the root is), so only
    // a signature missing before (a store from before provider signatures) can change.
    let signatures = slot_signatures(tx, reg.slots().len())?;
    tx.execute(
        "INSERT INTO root_slots (root, slots_json, signatures_json) VALUES (?1, ?2, ?3)
         ON CONFLICT(root) DO UPDATE SET signatures_json = ?3",
        rusqlite::params![
            root_s,
            serde_json::to_string(reg.slots()).map_err(ApiError::internal)?,
            serde_json::to_string(&signatures).map_err(ApiError::internal)?
        ],
    )
    .map_err(db)?;
    let current: Option<String> = tx
        .query_row("SELECT root FROM roots WHERE retired_at IS NULL", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db)?;
    if current.as_deref() == Some(root_s.as_str()) {
        return Ok(());
    }
    tx.execute(
        "UPDATE roots SET retired_at = ?1 WHERE retired_at IS NULL",
        [now as i64],
    )
    .map_err(db)?;
    tx.execute(
        "INSERT INTO roots (root, current_since, retired_at) VALUES (?1, ?2, NULL)
         ON CONFLICT(root) DO UPDATE SET current_since = ?2, retired_at = NULL",
        rusqlite::params![root_s, now as i64],
    )
    .map_err(db)?;
    Ok(())
}

impl RegistryService {
    /// Opens the store under `data_dir` with `slots` slots; `admin_token` authorises
    /// provider registration.
    pub fn open(
        data_dir: &std::path::Path,
        slots: usize,
        admin_token: &str,
    ) -> Result<Self, ApiError> {
        Registry::new(slots).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let store = Store::open(&data_dir.join("registry.sqlite"), SCHEMA).map_err(db)?;
        migrate(&store)?;
        let signing_key = Arc::new(load_or_create_signing_key(&store, "registry_meta")?);
        let svc = Self {
            store,
            slots,
            admin_token_sha256: sha(admin_token),
            signing_key,
            metrics: Arc::default(),
        };
        Ok(svc)
    }

    /// The registry's answer-signing public key (hex): what verifiers pin.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.signing_key.verifying_key().as_bytes())
    }

    /// The router.
    pub fn router(self) -> Router {
        let metrics = self.metrics.clone();
        let r = Router::new()
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
        let n = self.slots;
        let reg_root_and_slots = self
            .store
            .with(move |conn| {
                let reg = load_registry(conn, n)?;
                let mut ep = conn
                    .prepare("SELECT slot, endpoint FROM slots WHERE endpoint IS NOT NULL")
                    .map_err(db)?;
                let endpoints = ep
                    .query_map([], |r| Ok((r.get::<_, i64>(0)? as usize, r.get::<_, String>(1)?)))
                    .map_err(db)?
                    .collect::<Result<std::collections::BTreeMap<_, _>, _>>()
                    .map_err(db)?;
                let mut stmt = conn
                    .prepare("SELECT root, current_since, retired_at FROM roots ORDER BY current_since DESC, retired_at IS NULL DESC LIMIT 64")
                    .map_err(db)?;
                let history = stmt
                    .query_map([], |r| Ok(RootView { root: r.get(0)?, current_since: r.get::<_, i64>(1)? as u64, retired_at: r.get::<_, Option<i64>>(2)?.map(|t| t as u64) }))
                    .map_err(db)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(db)?;
                Ok((reg, history, endpoints))
            })
            .await?;
        let (reg, history, mut endpoints) = reg_root_and_slots;
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
    let token_digest = (b.role != Role::Empty).then(|| hex::encode(sha(&b.token)));
    let n = svc.slots;
    let now = unix_now();
    svc.store
        .with(move |conn| {
            let tx = conn.transaction().map_err(db)?;
            if b.role == Role::Empty {
                tx.execute("DELETE FROM slots WHERE slot = ?1", [b.slot as i64]).map_err(db)?;
            } else {
                tx.execute(
                    "INSERT INTO slots (slot, role, provider_id, provider_root, published_at, token_sha256, endpoint, signature)
                     VALUES (?1, ?2, ?3, '0', 0, ?4, ?5, NULL)
                     ON CONFLICT(slot) DO UPDATE SET role = ?2, provider_id = ?3, provider_root = '0', published_at = 0, token_sha256 = ?4, endpoint = ?5, signature = NULL",
                    rusqlite::params![b.slot as i64, b.role as u8 as i64, fr_to_dec(&id), token_digest, b.endpoint],
                )
                .map_err(db)?;
            }
            let reg = load_registry(&tx, n)?;
            make_current(&tx, &reg, now)?;
            tx.commit().map_err(db)
        })
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
    let n = svc.slots;
    let result = svc
        .store
        .with(move |conn| {
            let tx = conn.transaction().map_err(db)?;
            let row: Option<(Option<String>, i64)> = tx
                .query_row(
                    "SELECT token_sha256, published_at FROM slots WHERE slot = ?1",
                    [slot as i64],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db)?;
            let Some((Some(digest), previous)) = row else {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "no provider registered in this slot",
                ));
            };
            if !ct_eq(&hex::decode(digest).unwrap_or_default(), &token) {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "this token does not own the slot",
                ));
            }
            if (b.published_at as i64) < previous {
                return Err(ApiError::new(
                    ErrorCode::PublishedBeforePrevious,
                    format!(
                        "published_at {} precedes the slot's {previous}",
                        b.published_at
                    ),
                )
                .field("published_at"));
            }
            tx.execute(
                "UPDATE slots SET provider_root = ?1, published_at = ?2, signature = ?3 WHERE slot = ?4",
                rusqlite::params![fr_to_dec(&root), b.published_at as i64, b.signature, slot as i64],
            )
            .map_err(db)?;
            let reg = load_registry(&tx, n)?;
            make_current(&tx, &reg, now)?;
            tx.commit().map_err(db)
        })
        .await;
    svc.metrics.inc(
        "registry_publish_total",
        if result.is_ok() { "ok" } else { "rejected" },
    );
    result?;
    Ok(Json(svc.view().await?))
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
    let q = s.clone();
    let (row, slots_json) = svc
        .store
        .with(move |conn| {
            let row = conn
                .query_row("SELECT retired_at FROM roots WHERE root = ?1", [&q], |r| {
                    r.get::<_, Option<i64>>(0)
                })
                .optional()
                .map_err(db)?;
            let slots = conn
                .query_row(
                    "SELECT slots_json, signatures_json FROM root_slots WHERE root = ?1",
                    [&q],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)),
                )
                .optional()
                .map_err(db)?;
            Ok((row, slots))
        })
        .await?;
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
