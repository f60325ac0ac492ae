//! A provider's indexed tree as a service (spec §4, §7.3): what the fraud lists, lenders,
//! bureaus and the KYC issuer share.
//!
//! **Persistence and crash consistency (spec §4.4).** Two tables in one SQLite file:
//! `changes`, an append-only journal of admin upserts and deletes (the provider's wishes),
//! and `leaves`, the tree's leaf table *as last published* (index → key, next key,
//! record). The in-memory tree always equals `leaves`. Publishing applies the journal to
//! the tree (O(depth) per row, or a parallel rebuild for large batches), then writes the
//! touched leaves, the new root and timestamp, and removes the applied journal entries in
//! **one** transaction (`synchronous=FULL`). A crash before the commit leaves the old tree
//! and the journal; after, the new tree. On start the tree is rebuilt from `leaves`, checked
//! well-formed, and its root compared with the recorded published root: a service whose
//! store disagrees refuses to start. The registry is told after the commit; a pending
//! notification survives a restart and is retried.
//!
//! Routes (admin bearer token on `/v1/admin/*`):
//! - `PUT|GET|DELETE /v1/admin/rows/{subject_key}` — stage an upsert `{values: [v0,v1,v2]}`,
//!   read the row as it will be published, stage a delete;
//! - `POST /v1/admin/import` — bulk import, `text/csv` (`subject_key,v0,v1,v2` per line,
//!   optional header) or `application/json` (`{upsert: [{subject_key, values}], delete: [..]}`);
//!   all rows validated before any is staged; `?publish=true` publishes at once;
//! - `POST /v1/admin/publish` — apply the journal, persist, tell the registry;
//! - `GET /v1/admin/status`; `GET /v1/status` (public: role, id, root, published_at);
//! - `POST /v1/witness` — the lookup witness for the attested subject key, only for a
//!   request carrying the issuer's attestation and a fresh holder signature
//!   ([`crate::auth::WitnessRequest`]); anyone else gets 401/403 before the tree is read.

use crate::api::{bearer, ct_eq, sha, unix_now, ApiError, Json};
use crate::auth::WitnessRequest;
use crate::server::Metrics;
use crate::store::{db, Store};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post, put};
use axum::Router;
use ed25519_dalek::VerifyingKey;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;
use zkcredit_circuits::field::{fr_from_be_bytes, fr_from_dec, fr_to_be_bytes, fr_to_dec};
use zkcredit_circuits::imt::{check_key, IndexedMerkleTree, Leaf, LookupWitness};
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::{CircuitError, Fr};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS leaves (
    idx INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    next_key BLOB NOT NULL,
    rec BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key BLOB NOT NULL,
    rec BLOB
);
CREATE TABLE IF NOT EXISTS meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);
";

/// Journals larger than this are applied by a parallel rebuild instead of row by row.
pub const REBUILD_THRESHOLD: usize = 20_000;
/// Largest accepted bulk-import body (a 1M-row CSV is ≈ 100 MB).
pub const MAX_IMPORT_BYTES: usize = 512 << 20;

/// Where a provider publishes its root.
#[derive(Clone)]
pub struct RegistryLink {
    /// Registry service base URL.
    pub url: String,
    /// The provider's slot.
    pub slot: usize,
    /// The provider's bearer token at the registry.
    pub token: String,
}

impl std::fmt::Debug for RegistryLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLink")
            .field("url", &self.url)
            .field("slot", &self.slot)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Configuration of one provider tree.
#[derive(Clone, Debug)]
pub struct TreeConfig {
    /// The provider's role (KYC for the issuer).
    pub role: Role,
    /// Its id as registered in the registry.
    pub provider_id: Fr,
    /// Tree depth (binary-equivalent, even).
    pub depth: usize,
    /// The KYC issuer's attestation key.
    pub issuer_key: VerifyingKey,
    /// Where to publish (none: publish locally only).
    pub registry: Option<RegistryLink>,
}

struct Published {
    tree: IndexedMerkleTree,
    root: Fr,
    published_at: u64,
}

/// A provider tree service.
#[derive(Clone)]
pub struct TreeService {
    store: Store,
    cfg: Arc<TreeConfig>,
    state: Arc<RwLock<Published>>,
    publish_lock: Arc<tokio::sync::Mutex<()>>,
    admin_sha: [u8; 32],
    http: reqwest::Client,
    pub(crate) metrics: Arc<Metrics>,
}

impl std::fmt::Debug for TreeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeService")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// What a publication did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PublishReport {
    /// The published root (decimal).
    pub root: String,
    /// Its timestamp.
    pub published_at: u64,
    /// Rows in the tree.
    pub rows: usize,
    /// Journal entries applied.
    pub changes_applied: usize,
    /// Whether the tree was rebuilt in parallel rather than updated row by row.
    pub rebuilt: bool,
    /// Seconds spent updating or rebuilding the tree.
    pub tree_seconds: f64,
    /// Seconds spent persisting it (one transaction).
    pub persist_seconds: f64,
    /// `published`, `not_configured`, or `failed: …` (retried later).
    pub registry: String,
}

/// What an import staged.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImportReport {
    /// Rows upserted.
    pub upserts: usize,
    /// Keys deleted.
    pub deletes: usize,
    /// Seconds parsing and validating.
    pub parse_seconds: f64,
    /// Seconds writing the journal (one transaction).
    pub store_seconds: f64,
    /// The publication, when `?publish=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<PublishReport>,
}

/// `POST /v1/witness` answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WitnessResponse {
    /// Provider id (decimal).
    pub provider_id: String,
    /// Provider role.
    pub role: Role,
    /// The published root the witness opens (decimal).
    pub root: String,
    /// When it was published.
    pub published_at: u64,
    /// Whether the subject is in the tree.
    pub present: bool,
    /// The lookup witness.
    pub witness: LookupWitness,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Status {
    /// Role.
    pub role: Role,
    /// Provider id (decimal).
    pub provider_id: String,
    /// Published root (decimal).
    pub root: String,
    /// When published (0: never).
    pub published_at: u64,
}

/// `GET /v1/admin/status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AdminStatus {
    /// Public part.
    #[serde(flatten)]
    pub status: Status,
    /// Rows in the published tree.
    pub rows: usize,
    /// Staged journal entries not yet published.
    pub pending_changes: u64,
    /// The registry has not yet acknowledged the last publication.
    pub registry_pending: bool,
}

/// A record value in JSON: a number or a decimal string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Value {
    N(u64),
    S(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RowBody {
    values: [Value; 3],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportRow {
    subject_key: String,
    values: [Value; 3],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportJson {
    #[serde(default)]
    upsert: Vec<ImportRow>,
    #[serde(default)]
    delete: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    #[serde(default)]
    publish: bool,
}

fn bad(code: &'static str, field: impl Into<String>, msg: impl Into<String>) -> ApiError {
    ApiError::new(400, code, msg).field(field)
}

/// Parses a subject key (decimal, in `[1, 2^248)`).
pub fn parse_subject_key(field: &str, s: &str) -> Result<Fr, ApiError> {
    let k = fr_from_dec(s.trim()).map_err(|e| bad("bad_field", field, e.to_string()))?;
    check_key(&k).map_err(|e| bad("bad_key", field, e.to_string()))?;
    Ok(k)
}

/// Validates a record for `role` (spec §4.3): numeric fields are u64; the KYC issuer's `v0`
/// is a holder commitment (any field element).
pub fn parse_record(role: Role, field: &str, v: [&str; 3]) -> Result<[Fr; 3], ApiError> {
    let mut out = [Fr::from(0u64); 3];
    for (i, s) in v.iter().enumerate() {
        let s = s.trim();
        let name = format!("{field}[{i}]");
        out[i] = if role == Role::Kyc && i == 0 {
            fr_from_dec(s).map_err(|e| bad("bad_field", &name, e.to_string()))?
        } else {
            Fr::from(s.parse::<u64>().map_err(|_| {
                bad(
                    "bad_value",
                    &name,
                    format!("{s:?} is not an unsigned 64-bit integer"),
                )
            })?)
        };
    }
    if role == Role::FraudList && out[2] != Fr::from(0u64) {
        return Err(bad(
            "bad_value",
            format!("{field}[2]"),
            "fraud-list records are (reason, listed_at, 0)",
        ));
    }
    Ok(out)
}

fn record(role: Role, field: &str, v: &[Value; 3]) -> Result<[Fr; 3], ApiError> {
    let s: Vec<String> = v
        .iter()
        .map(|x| match x {
            Value::N(n) => n.to_string(),
            Value::S(s) => s.clone(),
        })
        .collect();
    parse_record(role, field, [&s[0], &s[1], &s[2]])
}

fn rec_bytes(v: &[Fr; 3]) -> Vec<u8> {
    v.iter().flat_map(fr_to_be_bytes).collect()
}

fn fr_blob(b: &[u8]) -> Result<Fr, ApiError> {
    let a: [u8; 32] = b
        .try_into()
        .map_err(|_| ApiError::internal("bad blob length in store"))?;
    fr_from_be_bytes(&a).map_err(ApiError::internal)
}

fn rec_blob(b: &[u8]) -> Result<[Fr; 3], ApiError> {
    if b.len() != 96 {
        return Err(ApiError::internal("bad record length in store"));
    }
    Ok([fr_blob(&b[..32])?, fr_blob(&b[32..64])?, fr_blob(&b[64..])?])
}

fn meta(conn: &rusqlite::Connection, k: &str) -> Result<Option<String>, ApiError> {
    conn.query_row("SELECT v FROM meta WHERE k = ?1", [k], |r| r.get(0))
        .optional()
        .map_err(db)
}

fn set_meta(conn: &rusqlite::Connection, k: &str, v: &str) -> Result<(), ApiError> {
    conn.execute(
        "INSERT INTO meta (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = ?2",
        [k, v],
    )
    .map(|_| ())
    .map_err(db)
}

fn load_tree(conn: &rusqlite::Connection, depth: usize) -> Result<IndexedMerkleTree, ApiError> {
    let mut stmt = conn
        .prepare("SELECT idx, key, next_key, rec FROM leaves")
        .map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    let mut leaves = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        let idx: i64 = r.get(0).map_err(db)?;
        let key: Vec<u8> = r.get(1).map_err(db)?;
        let next: Vec<u8> = r.get(2).map_err(db)?;
        let rec: Vec<u8> = r.get(3).map_err(db)?;
        leaves.push((
            idx as u64,
            Leaf {
                key: fr_blob(&key)?,
                next_key: fr_blob(&next)?,
                values: rec_blob(&rec)?,
            },
        ));
    }
    if leaves.is_empty() {
        return IndexedMerkleTree::new(depth).map_err(ApiError::internal);
    }
    IndexedMerkleTree::from_leaves(depth, leaves)
        .map_err(|e| ApiError::internal(format!("store holds a malformed tree: {e}")))
}

fn write_leaf(tx: &rusqlite::Transaction<'_>, i: u64, leaf: Option<Leaf>) -> Result<(), ApiError> {
    match leaf {
        Some(l) => tx
            .prepare_cached(
                "INSERT INTO leaves (idx, key, next_key, rec) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(idx) DO UPDATE SET key = ?2, next_key = ?3, rec = ?4",
            )
            .and_then(|mut st| {
                st.execute(params![
                    i as i64,
                    fr_to_be_bytes(&l.key).to_vec(),
                    fr_to_be_bytes(&l.next_key).to_vec(),
                    rec_bytes(&l.values)
                ])
            })
            .map(|_| ())
            .map_err(db),
        None => tx
            .prepare_cached("DELETE FROM leaves WHERE idx = ?1")
            .and_then(|mut st| st.execute([i as i64]))
            .map(|_| ())
            .map_err(db),
    }
}

type Change = (Fr, Option<[Fr; 3]>);
/// The journal's net effect: last write per key.
type Net = BTreeMap<Fr, Option<[Fr; 3]>>;

/// Staged journal entries up to the last one: last write per key wins.
fn read_changes(conn: &rusqlite::Connection) -> Result<(i64, Net), ApiError> {
    let mut stmt = conn
        .prepare("SELECT seq, key, rec FROM changes ORDER BY seq")
        .map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    let (mut max, mut out) = (0i64, BTreeMap::new());
    while let Some(r) = rows.next().map_err(db)? {
        max = r.get(0).map_err(db)?;
        let key: Vec<u8> = r.get(1).map_err(db)?;
        let rec: Option<Vec<u8>> = r.get(2).map_err(db)?;
        out.insert(fr_blob(&key)?, rec.as_deref().map(rec_blob).transpose()?);
    }
    Ok((max, out))
}

fn tree_error(e: CircuitError) -> ApiError {
    match e {
        CircuitError::TreeFull { .. } => ApiError::new(507, "tree_full", e.to_string()),
        other => ApiError::internal(other),
    }
}

impl TreeService {
    /// Opens (creating) the store `file` under `data_dir`, rebuilds the tree and checks it
    /// against the recorded published root. `admin_token` authorises `/v1/admin/*`.
    pub fn open(
        data_dir: &std::path::Path,
        file: &str,
        cfg: TreeConfig,
        admin_token: &str,
    ) -> Result<Self, ApiError> {
        if admin_token.len() < 16 {
            return Err(ApiError::bad_request(
                "admin token must be at least 16 characters",
            ));
        }
        IndexedMerkleTree::new(cfg.depth).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let store = Store::open(&data_dir.join(file), SCHEMA).map_err(db)?;
        let depth = cfg.depth;
        let identity = format!(
            "{}:{}:{}",
            cfg.role as u8,
            fr_to_dec(&cfg.provider_id),
            depth
        );
        let state = store.with_sync(move |conn| {
            match meta(conn, "identity")? {
                None => set_meta(conn, "identity", &identity)?,
                Some(s) if s == identity => {}
                Some(s) => {
                    return Err(ApiError::bad_request(format!(
                        "store belongs to role:id:depth {s}, not {identity}"
                    )))
                }
            }
            let tree = load_tree(conn, depth)?;
            let root = tree.root();
            let published_at = meta(conn, "published_at")?
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            if let Some(r) = meta(conn, "published_root")? {
                if r != fr_to_dec(&root) {
                    return Err(ApiError::internal(format!(
                        "store inconsistent: leaves hash to {} but {r} was published",
                        fr_to_dec(&root)
                    )));
                }
            }
            Ok(Published {
                tree,
                root,
                published_at,
            })
        })?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(ApiError::internal)?;
        Ok(Self {
            store,
            cfg: Arc::new(cfg),
            state: Arc::new(RwLock::new(state)),
            publish_lock: Arc::default(),
            admin_sha: sha(admin_token),
            http,
            metrics: Arc::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TreeConfig {
        &self.cfg
    }

    pub(crate) fn check_admin(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if bearer(headers).is_some_and(|t| ct_eq(&sha(t), &self.admin_sha)) {
            Ok(())
        } else {
            self.metrics.inc("admin_requests_total", "unauthorized");
            Err(ApiError::unauthorized())
        }
    }

    /// The routes of a provider tree (no `/healthz` etc.: see [`crate::server::with_common`]).
    /// Returns the small-body routes and the bulk-import route separately, so the caller can
    /// apply the common 1 MiB limit to the former only.
    pub fn routes(self) -> (Router, Router) {
        let small = Router::new()
            .route(
                "/v1/admin/rows/{key}",
                put(put_row).get(get_row).delete(delete_row),
            )
            .route("/v1/admin/publish", post(publish_now))
            .route("/v1/admin/status", get(admin_status))
            .route("/v1/status", get(status))
            .route("/v1/witness", post(witness))
            .with_state(self.clone());
        let big = Router::new()
            .route("/v1/admin/import", post(import))
            .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES))
            .layer(tower_http::limit::RequestBodyLimitLayer::new(
                MAX_IMPORT_BYTES,
            ))
            .with_state(self);
        (small, big)
    }

    /// The public status.
    pub fn status(&self) -> Status {
        let g = self.state.read().unwrap_or_else(|p| p.into_inner());
        Status {
            role: self.cfg.role,
            provider_id: fr_to_dec(&self.cfg.provider_id),
            root: fr_to_dec(&g.root),
            published_at: g.published_at,
        }
    }

    /// Stages changes in the journal (one transaction).
    pub async fn stage(&self, changes: Vec<Change>) -> Result<f64, ApiError> {
        let t = Instant::now();
        self.store
            .with(move |conn| {
                let tx = conn.transaction().map_err(db)?;
                {
                    let mut st = tx
                        .prepare("INSERT INTO changes (key, rec) VALUES (?1, ?2)")
                        .map_err(db)?;
                    for (k, v) in &changes {
                        st.execute(params![
                            fr_to_be_bytes(k).to_vec(),
                            v.as_ref().map(rec_bytes)
                        ])
                        .map_err(db)?;
                    }
                }
                tx.commit().map_err(db)
            })
            .await?;
        Ok(t.elapsed().as_secs_f64())
    }

    /// The row for `key` as it will be after the next publication.
    pub async fn row(&self, key: Fr) -> Result<Option<[Fr; 3]>, ApiError> {
        let staged = self
            .store
            .with(move |conn| {
                conn.query_row(
                    "SELECT rec FROM changes WHERE key = ?1 ORDER BY seq DESC LIMIT 1",
                    [fr_to_be_bytes(&key).to_vec()],
                    |r| r.get::<_, Option<Vec<u8>>>(0),
                )
                .optional()
                .map_err(db)
            })
            .await?;
        match staged {
            Some(rec) => rec.as_deref().map(rec_blob).transpose(),
            None => Ok(self
                .state
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .tree
                .get(&key)),
        }
    }

    /// Applies the journal, persists the tree in one transaction, and tells the registry.
    pub async fn publish(&self) -> Result<PublishReport, ApiError> {
        let _guard = self.publish_lock.lock().await;
        let state = self.state.clone();
        let depth = self.cfg.depth;
        let mut report = self
            .store
            .with(move |conn| apply_and_persist(conn, &state, depth))
            .await?;
        report.registry = self.notify_registry().await;
        self.metrics.inc(
            "publish_total",
            if report.registry.starts_with("failed") {
                "registry_failed"
            } else {
                "ok"
            },
        );
        Ok(report)
    }

    /// Sends the current root to the registry if it has not acknowledged it yet.
    async fn notify_registry(&self) -> String {
        let Some(link) = &self.cfg.registry else {
            return "not_configured".into();
        };
        let (root, at) = {
            let g = self.state.read().unwrap_or_else(|p| p.into_inner());
            (g.root, g.published_at)
        };
        match crate::registry::client::publish(
            &self.http,
            &link.url,
            &link.token,
            link.slot,
            &root,
            at,
        )
        .await
        {
            Ok(()) => {
                let cleared = self
                    .store
                    .with(move |conn| set_meta(conn, "registry_pending", "0"))
                    .await;
                match cleared {
                    Ok(()) => "published".into(),
                    Err(e) => format!("failed: {}", e.message),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "registry publication failed; will retry");
                format!("failed: {e}")
            }
        }
    }

    /// Publishes every `every` (refreshing `published_at` even without changes, so the
    /// root never ages out of a policy's `max_root_age`), and retries a pending registry
    /// notification at once.
    pub fn spawn_scheduler(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let svc = self.clone();
        tokio::spawn(async move {
            let pending = svc
                .store
                .with(|conn| meta(conn, "registry_pending"))
                .await
                .ok()
                .flatten();
            if pending.as_deref() == Some("1") {
                let r = svc.notify_registry().await;
                tracing::info!(registry = %r, "retried pending registry publication");
            }
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                match svc.publish().await {
                    Ok(r) => {
                        tracing::info!(root = %r.root, changes = r.changes_applied, registry = %r.registry, "scheduled publication")
                    }
                    Err(e) => tracing::error!(error = %e, "scheduled publication failed"),
                }
            }
        })
    }

    /// The witness for `key` in the published tree (after authentication).
    fn witness_for(&self, key: &Fr) -> Result<WitnessResponse, ApiError> {
        let g = self.state.read().unwrap_or_else(|p| p.into_inner());
        let (present, witness) = g
            .tree
            .witness(key)
            .map_err(|e| bad("bad_key", "attestation.subject_key", e.to_string()))?;
        Ok(WitnessResponse {
            provider_id: fr_to_dec(&self.cfg.provider_id),
            role: self.cfg.role,
            root: fr_to_dec(&g.root),
            published_at: g.published_at,
            present,
            witness,
        })
    }
}

fn apply_and_persist(
    conn: &mut rusqlite::Connection,
    state: &RwLock<Published>,
    depth: usize,
) -> Result<PublishReport, ApiError> {
    let (max_seq, changes) = read_changes(conn)?;
    let now = unix_now();
    let n_changes = changes.len();
    let t_tree = Instant::now();
    let rebuilt = n_changes > REBUILD_THRESHOLD;
    let tree_seconds;
    let persist = |tx: &rusqlite::Transaction<'_>, root: &Fr| -> Result<(), ApiError> {
        set_meta(tx, "published_root", &fr_to_dec(root))?;
        set_meta(tx, "published_at", &now.to_string())?;
        set_meta(tx, "registry_pending", "1")?;
        tx.execute("DELETE FROM changes WHERE seq <= ?1", [max_seq])
            .map_err(db)?;
        Ok(())
    };
    let t_persist;
    if rebuilt {
        // Parallel rebuild from the merged rows; the live tree keeps serving meanwhile.
        let rows: Vec<(Fr, [Fr; 3])> = {
            let g = state.read().unwrap_or_else(|p| p.into_inner());
            let mut merged: BTreeMap<Fr, [Fr; 3]> = g
                .tree
                .keys()
                .filter_map(|k| g.tree.get(k).map(|v| (*k, v)))
                .collect();
            drop(g);
            for (k, v) in &changes {
                match v {
                    Some(v) => merged.insert(*k, *v),
                    None => merged.remove(k),
                };
            }
            merged.into_iter().collect()
        };
        let tree = IndexedMerkleTree::from_rows(depth, &rows).map_err(tree_error)?;
        let root = tree.root();
        tree_seconds = t_tree.elapsed().as_secs_f64();
        t_persist = Instant::now();
        let tx = conn.transaction().map_err(db)?;
        tx.execute("DELETE FROM leaves", []).map_err(db)?;
        for (i, l) in tree.occupied_leaves() {
            write_leaf(&tx, i, Some(l))?;
        }
        persist(&tx, &root)?;
        tx.commit().map_err(db)?;
        let mut g = state.write().unwrap_or_else(|p| p.into_inner());
        *g = Published {
            tree,
            root,
            published_at: now,
        };
    } else {
        let mut g = state.write().unwrap_or_else(|p| p.into_inner());
        let mut applied = Ok(());
        for (k, v) in &changes {
            let r = match v {
                Some(v) => g.tree.upsert(*k, *v),
                None => match g.tree.delete(k) {
                    Err(CircuitError::KeyNotFound) => Ok(()),
                    r => r,
                },
            };
            if let Err(e) = r {
                applied = Err(tree_error(e));
                break;
            }
        }
        let touched = g.tree.take_touched();
        let root = g.tree.root();
        tree_seconds = t_tree.elapsed().as_secs_f64();
        t_persist = Instant::now();
        let written = applied.and_then(|()| {
            let tx = conn.transaction().map_err(db)?;
            for i in touched {
                write_leaf(&tx, i, g.tree.leaf(i))?;
            }
            persist(&tx, &root)?;
            tx.commit().map_err(db)
        });
        if let Err(e) = written {
            // Roll the in-memory tree back to what the store holds.
            g.tree = load_tree(conn, depth)?;
            g.tree.take_touched();
            return Err(e);
        }
        g.root = root;
        g.published_at = now;
    }
    let g = state.read().unwrap_or_else(|p| p.into_inner());
    Ok(PublishReport {
        root: fr_to_dec(&g.root),
        published_at: now,
        rows: g.tree.len(),
        changes_applied: n_changes,
        rebuilt,
        tree_seconds,
        persist_seconds: t_persist.elapsed().as_secs_f64(),
        registry: String::new(),
    })
}

async fn put_row(
    State(svc): State<TreeService>,
    Path(key): Path<String>,
    headers: HeaderMap,
    Json(b): Json<RowBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let v = record(svc.cfg.role, "values", &b.values)?;
    stage_one(&svc, &headers, &key, Some(v)).await
}

async fn delete_row(
    State(svc): State<TreeService>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    stage_one(&svc, &headers, &key, None).await
}

/// Stages one upsert (`Some`) or delete (`None`) for the admin.
async fn stage_one(
    svc: &TreeService,
    headers: &HeaderMap,
    key: &str,
    values: Option<[Fr; 3]>,
) -> Result<Json<serde_json::Value>, ApiError> {
    svc.check_admin(headers)?;
    let k = parse_subject_key("subject_key", key)?;
    let op = if values.is_some() { "upsert" } else { "delete" };
    svc.stage(vec![(k, values)]).await?;
    svc.metrics.inc("rows_staged_total", op);
    Ok(Json(
        serde_json::json!({"staged": op, "subject_key": fr_to_dec(&k)}),
    ))
}

async fn get_row(
    State(svc): State<TreeService>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    svc.check_admin(&headers)?;
    let k = parse_subject_key("subject_key", &key)?;
    match svc.row(k).await? {
        Some(v) => Ok(Json(
            serde_json::json!({"subject_key": fr_to_dec(&k), "values": v.iter().map(fr_to_dec).collect::<Vec<_>>()}),
        )),
        None => Err(ApiError::new(
            404,
            "not_found",
            "no row for this subject key",
        )),
    }
}

async fn publish_now(
    State(svc): State<TreeService>,
    headers: HeaderMap,
) -> Result<Json<PublishReport>, ApiError> {
    svc.check_admin(&headers)?;
    Ok(Json(svc.publish().await?))
}

async fn status(State(svc): State<TreeService>) -> Json<Status> {
    Json(svc.status())
}

async fn admin_status(
    State(svc): State<TreeService>,
    headers: HeaderMap,
) -> Result<Json<AdminStatus>, ApiError> {
    svc.check_admin(&headers)?;
    let (pending, reg) = svc
        .store
        .with(|conn| {
            let n: i64 = conn
                .query_row("SELECT COUNT(*) FROM changes", [], |r| r.get(0))
                .map_err(db)?;
            Ok((
                n as u64,
                meta(conn, "registry_pending")?.as_deref() == Some("1"),
            ))
        })
        .await?;
    let rows = svc
        .state
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .tree
        .len();
    Ok(Json(AdminStatus {
        status: svc.status(),
        rows,
        pending_changes: pending,
        registry_pending: reg,
    }))
}

/// Parses a bulk import (CSV or JSON) into validated changes; errors name the line or item.
pub fn parse_import(role: Role, content_type: &str, body: &[u8]) -> Result<Vec<Change>, ApiError> {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ct.as_str() {
        "text/csv" => {
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .trim(csv::Trim::All)
                .flexible(false)
                .from_reader(body);
            let mut out = Vec::new();
            for (n, rec) in rdr.records().enumerate() {
                let line = n + 1;
                let rec = rec.map_err(|e| bad("bad_csv", format!("line {line}"), e.to_string()))?;
                if rec.len() != 4 {
                    return Err(bad(
                        "bad_csv",
                        format!("line {line}"),
                        format!(
                            "expected 4 columns (subject_key,v0,v1,v2), got {}",
                            rec.len()
                        ),
                    ));
                }
                if line == 1 && &rec[0] == "subject_key" {
                    continue;
                }
                let k = parse_subject_key(&format!("line {line}: subject_key"), &rec[0])?;
                let v = parse_record(
                    role,
                    &format!("line {line}: values"),
                    [&rec[1], &rec[2], &rec[3]],
                )?;
                out.push((k, Some(v)));
            }
            Ok(out)
        }
        "application/json" => {
            let j: ImportJson = serde_json::from_slice(body)
                .map_err(|e| ApiError::new(422, "invalid_body", e.to_string()))?;
            let mut out = Vec::with_capacity(j.upsert.len() + j.delete.len());
            for (i, r) in j.upsert.iter().enumerate() {
                let k = parse_subject_key(&format!("upsert[{i}].subject_key"), &r.subject_key)?;
                out.push((
                    k,
                    Some(record(role, &format!("upsert[{i}].values"), &r.values)?),
                ));
            }
            for (i, d) in j.delete.iter().enumerate() {
                out.push((parse_subject_key(&format!("delete[{i}]"), d)?, None));
            }
            Ok(out)
        }
        _ => Err(ApiError::new(
            415,
            "unsupported_media_type",
            "import takes text/csv or application/json",
        )),
    }
}

async fn import(
    State(svc): State<TreeService>,
    Query(q): Query<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ImportReport>, ApiError> {
    svc.check_admin(&headers)?;
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let role = svc.cfg.role;
    let t = Instant::now();
    let changes = tokio::task::spawn_blocking(move || parse_import(role, &ct, &body))
        .await
        .map_err(ApiError::internal)??;
    let parse_seconds = t.elapsed().as_secs_f64();
    let upserts = changes.iter().filter(|c| c.1.is_some()).count();
    let deletes = changes.len() - upserts;
    let store_seconds = svc.stage(changes).await?;
    svc.metrics.inc("imports_total", "ok");
    let published = if q.publish {
        Some(svc.publish().await?)
    } else {
        None
    };
    tracing::info!(
        upserts,
        deletes,
        parse_seconds,
        store_seconds,
        "import staged"
    );
    Ok(Json(ImportReport {
        upserts,
        deletes,
        parse_seconds,
        store_seconds,
        published,
    }))
}

async fn witness(
    State(svc): State<TreeService>,
    Json(req): Json<WitnessRequest>,
) -> Result<Json<WitnessResponse>, ApiError> {
    let auth = req.authenticate(&svc.cfg.issuer_key, &svc.cfg.provider_id, unix_now());
    let key = match auth {
        Ok(k) => k,
        Err(e) => {
            svc.metrics.inc("witness_requests_total", "refused");
            return Err(e.into());
        }
    };
    svc.metrics.inc("witness_requests_total", "ok");
    Ok(Json(svc.witness_for(&key)?))
}
