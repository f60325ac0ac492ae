//! A provider's indexed tree as a service (spec §4, §7.3): what the fraud lists, lenders,
//! bureaus and the KYC issuer share.
//!
//! **Persistence and crash consistency (spec §4.4).** The tree lives on disk, in one SQLite
//! file or one PostgreSQL schema (`db/`): the journal of admin upserts and deletes
//! (`changes`), the leaf table *as last published* (every upsert takes a fresh salt from OS
//! randomness, spec §4.1), every inner node, the free list and the counts; this process
//! holds none of it. A publication applies the journal and records the new root and time
//! in **one** transaction (`nodes.rs`); a crash before the commit leaves the old tree and the
//! journal, after it the new tree. Witnesses are read from one committed state
//! (`source.rs`). At start the stored root is checked against the published one, with a
//! sample of stored paths; a store that disagrees refuses to start and names
//! `--rebuild-tree`. The registry is told after the commit; a pending notification survives
//! a restart and is retried.
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
//!   ([`zkcredit_api::auth::WitnessRequest`]); anyone else gets 401/403 before the tree is read.

mod cleanup;
mod db;
mod import;
mod nodes;
mod pages;
mod prepare;
mod publish;
mod revocation;
mod routes;
mod runs;
mod seqs;
mod source;
mod store;

pub use db::{DEFAULT_PG_SCHEMA, MIGRATIONS};
pub use import::{csv_rows, parse_import, parse_record, parse_subject_key, Change, CsvRow};
pub use publish::Schedule;
pub use revocation::{MAX_AGE as REVOCATIONS_MAX_AGE, REFRESH as REVOCATIONS_REFRESH};
pub(crate) use routes::require_admin;
pub use zkcredit_api::provider::{
    AdminStatus, ImportReport, PublishReport, Status, WitnessResponse,
};

use crate::http::{bearer, ct_eq, sha};
use crate::server::Metrics;
use crate::store::DatabaseUrl;
use axum::http::HeaderMap;
use db::{Opened, TreeDb};
use ed25519_dalek::VerifyingKey;
use std::sync::{Arc, RwLock};
use std::time::Instant;
use zkcredit_api::{ApiError, ErrorCode};
use zkcredit_circuits::field::fr_to_dec;
use zkcredit_circuits::imt::paged::Counts;
use zkcredit_circuits::imt::IndexedMerkleTree;
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::Fr;

/// Journals larger than this are applied by a parallel rebuild instead of row by row.
pub const REBUILD_THRESHOLD: usize = 20_000;
/// Default cap of a bulk-import body (a 1M-row CSV is ≈ 100 MB); the body is read as a
/// stream after the admin token is checked and refused (413) as soon as it passes the cap.
pub const DEFAULT_MAX_IMPORT_BYTES: usize = 160 << 20;

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
    /// Recompute every inner node from the leaf table at start (`--rebuild-tree`: after a
    /// start refused for a corrupt or truncated node store, spec §4.4).
    pub rebuild_nodes: bool,
}

/// The last publication as this process knows it (for `/v1/status`, pacing and the
/// registry); witnesses read root and time from the store itself.
pub(super) struct Published {
    pub(super) root: Fr,
    pub(super) published_at: u64,
    pub(super) counts: Counts,
}

/// A provider tree service.
#[derive(Clone)]
pub struct TreeService {
    db: TreeDb,
    cfg: Arc<TreeConfig>,
    state: Arc<RwLock<Published>>,
    publish_lock: Arc<tokio::sync::Mutex<()>>,
    admin_sha: [u8; 32],
    http: reqwest::Client,
    pub(crate) metrics: Arc<Metrics>,
    revocations: Arc<revocation::Source>,
    max_import_bytes: usize,
    signing_key: Arc<ed25519_dalek::SigningKey>,
    /// Scheduled publications wait until this time (unix seconds): a large import in parts.
    held_until: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for TreeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeService")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

fn bad(code: ErrorCode, field: impl Into<String>, msg: impl Into<String>) -> ApiError {
    ApiError::new(code, msg).field(field)
}

impl TreeService {
    /// Opens (creating) the SQLite store `file` under `data_dir`, rebuilds the tree and
    /// checks it against the recorded published root. `admin_token` authorises
    /// `/v1/admin/*`.
    pub fn open(
        data_dir: &std::path::Path,
        file: &str,
        cfg: TreeConfig,
        admin_token: &str,
    ) -> Result<Self, ApiError> {
        check_config(&cfg, admin_token)?;
        let (db, opened) = TreeDb::open_sqlite(
            &data_dir.join(file),
            &identity(&cfg),
            cfg.depth,
            cfg.rebuild_nodes,
        )?;
        Self::assemble(db, opened, cfg, admin_token)
    }

    /// [`Self::open`] on the store `url` names: a SQLite file, or the PostgreSQL `schema`,
    /// which this process then writes alone (a process that opened it before is refused
    /// its next write, `tree_taken_over`; spec §4.4).
    pub async fn open_db(
        url: &DatabaseUrl,
        schema: &str,
        cfg: TreeConfig,
        admin_token: &str,
    ) -> Result<Self, ApiError> {
        check_config(&cfg, admin_token)?;
        let (db, opened) =
            TreeDb::open(url, schema, identity(&cfg), cfg.depth, cfg.rebuild_nodes).await?;
        Self::assemble(db, opened, cfg, admin_token)
    }

    fn assemble(
        db: TreeDb,
        opened: Opened,
        cfg: TreeConfig,
        admin_token: &str,
    ) -> Result<Self, ApiError> {
        let Opened {
            root,
            published_at,
            counts,
            signing_key,
            held_until,
        } = opened;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(ApiError::internal)?;
        Ok(Self {
            db,
            cfg: Arc::new(cfg),
            state: Arc::new(RwLock::new(Published {
                root,
                published_at,
                counts,
            })),
            publish_lock: Arc::default(),
            admin_sha: sha(admin_token),
            http,
            metrics: Arc::default(),
            revocations: Arc::new(revocation::Source::Unconfigured),
            held_until: Arc::new(held_until.into()),
            max_import_bytes: DEFAULT_MAX_IMPORT_BYTES,
            signing_key: Arc::new(signing_key),
        })
    }

    /// Checks witness requests against the revocation list of the issuer at `issuer_url`
    /// (signed by the configured issuer key). Without it (or `with_local_revocations`)
    /// the tree answers no witness: revocations fail closed.
    pub fn with_issuer_revocations(self, issuer_url: &str) -> Self {
        self.with_issuer_revocations_every(issuer_url, revocation::REFRESH)
    }

    /// [`Self::with_issuer_revocations`], asking the issuer again after `refresh`.
    pub fn with_issuer_revocations_every(
        mut self,
        issuer_url: &str,
        refresh: std::time::Duration,
    ) -> Self {
        self.revocations = Arc::new(revocation::Source::issuer(
            self.http.clone(),
            issuer_url,
            self.cfg.issuer_key,
            refresh,
        ));
        self
    }

    /// The issuer's own tree: revocations are read from the issuer's store.
    pub(crate) fn with_local_revocations(mut self, issuer_store: crate::issuer::IssuerDb) -> Self {
        self.revocations = Arc::new(revocation::Source::Local(issuer_store));
        self
    }

    /// Caps a bulk-import body at `bytes` (default [`DEFAULT_MAX_IMPORT_BYTES`]).
    pub fn with_max_import_bytes(mut self, bytes: usize) -> Self {
        self.max_import_bytes = bytes;
        self
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

    /// The public status.
    pub fn status(&self) -> Status {
        let g = self.state.read().unwrap_or_else(|p| p.into_inner());
        Status {
            role: self.cfg.role,
            provider_id: fr_to_dec(&self.cfg.provider_id),
            root: fr_to_dec(&g.root),
            published_at: g.published_at,
            public_key: self.public_key_hex(),
        }
    }

    /// The provider's root-signing public key (hex): what a lender pins for this provider
    /// in `--expected-slots` (spec §7.0).
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key().as_bytes())
    }

    /// The provider's root-signing public key.
    pub fn public_key(&self) -> VerifyingKey {
        self.signing_key.verifying_key()
    }

    /// Stages changes in the journal (one transaction).
    pub async fn stage(&self, changes: Vec<Change>) -> Result<f64, ApiError> {
        let t = Instant::now();
        self.db.stage(changes).await?;
        Ok(t.elapsed().as_secs_f64())
    }

    /// Stages `changes` inside the issuer's transaction `s` (one commit on PostgreSQL; see
    /// `db.rs`).
    pub(crate) fn stage_in(
        &self,
        s: &mut dyn crate::store::Sql,
        changes: &[Change],
    ) -> Result<(), ApiError> {
        self.db.stage_in(s, changes)
    }

    /// The row for `key` as it will be after the next publication.
    pub async fn row(&self, key: Fr) -> Result<Option<[Fr; 3]>, ApiError> {
        match self.db.staged(key).await? {
            Some(rec) => Ok(rec),
            None => self.db.published_row(key).await,
        }
    }

    /// The witness for `key` in the published tree (after authentication): the subject's
    /// own leaf with its record open, or the low leaf **sealed** — key, next key and value
    /// commitment, never a neighbour's record (spec §4.2, §8).
    async fn witness_for(&self, key: &Fr) -> Result<WitnessResponse, ApiError> {
        let (root, published_at, present, witness) = self.db.witness(self.cfg.depth, *key).await?;
        Ok(WitnessResponse {
            provider_id: fr_to_dec(&self.cfg.provider_id),
            role: self.cfg.role,
            root: fr_to_dec(&root),
            published_at,
            present,
            witness,
        })
    }

    /// The witness for `key` in the published tree, **without** the request authentication
    /// the `/v1/witness` route performs first: for the operator's own tools and benchmarks.
    pub async fn published_witness(&self, key: &Fr) -> Result<WitnessResponse, ApiError> {
        self.witness_for(key).await
    }

    /// Holds scheduled publications for `seconds` from now (an import in parts; explicit
    /// publications are not held, and a successful explicit publication ends the hold),
    /// recorded in the store so a restart keeps the hold. Waits for a publication in
    /// progress to end.
    pub async fn hold_scheduled(&self, seconds: u64) -> Result<(), ApiError> {
        // Under the publication lock: a scheduled publication is either over before the
        // hold (its journal read done) or sees the hold when it checks under the lock.
        let _no_publication = self.publish_lock.lock().await;
        let until = zkcredit_api::unix_now().saturating_add(seconds);
        self.held_until
            .fetch_max(until, std::sync::atomic::Ordering::SeqCst);
        let now_until = self.held_until.load(std::sync::atomic::Ordering::SeqCst);
        self.db.set_meta("held_until", now_until.to_string()).await
    }

    /// Ends a hold (after a publication).
    async fn end_hold(&self) {
        if self.held_until.swap(0, std::sync::atomic::Ordering::SeqCst) != 0 {
            if let Err(e) = self.db.set_meta("held_until", "0".into()).await {
                tracing::warn!(error = %e, "cannot record the end of the import hold");
            }
        }
    }

    /// Whether scheduled publications are held now. A hold further ahead than one request
    /// may ask (a clock stepped back) is not honoured.
    fn held(&self) -> bool {
        let until = self.held_until.load(std::sync::atomic::Ordering::SeqCst);
        let now = zkcredit_api::unix_now();
        until > now && until <= now.saturating_add(zkcredit_api::provider::MAX_IMPORT_HOLD)
    }

    /// Keys in the published tree.
    pub fn rows(&self) -> u64 {
        self.state
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .counts
            .len
    }
}

/// The crash tests' hook (spec §4.4): when the environment variable
/// `ZKCREDIT_TEST_CRASH_AT` names this point, the process aborts here — no destructor, no
/// rollback, no flush, as a power cut or SIGKILL would leave it. Points: `stage:middle`,
/// `rebuild:middle` (a rebuild's first part committed, the second being written),
/// `rebuild:swapped`, `overlay:written`, `publish:before-commit`, `publish:after-commit`,
/// `cleanup:journal` (after the first committed part of removing the applied journal),
/// `prepare:written` (a `--rebuild-tree`'s new nodes committed, not swapped in).
/// Compiled in only with the `crash-points` feature (test builds); otherwise it does
/// nothing and the variable is never read.
#[cfg(feature = "crash-points")]
pub(crate) fn crash_point(name: &str) {
    if std::env::var("ZKCREDIT_TEST_CRASH_AT").is_ok_and(|v| v == name) {
        eprintln!("crash point {name} reached: aborting (ZKCREDIT_TEST_CRASH_AT)");
        std::process::abort();
    }
}

/// Without the `crash-points` feature: nothing (see the feature's version).
#[cfg(not(feature = "crash-points"))]
#[inline(always)]
pub(crate) fn crash_point(_name: &str) {}

/// The service identity recorded in a store (`role:provider id:depth`).
fn identity(cfg: &TreeConfig) -> String {
    format!(
        "{}:{}:{}",
        cfg.role as u8,
        fr_to_dec(&cfg.provider_id),
        cfg.depth
    )
}

fn check_config(cfg: &TreeConfig, admin_token: &str) -> Result<(), ApiError> {
    if admin_token.len() < 16 {
        return Err(ApiError::bad_request(
            "admin token must be at least 16 characters",
        ));
    }
    IndexedMerkleTree::new(cfg.depth).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
#[path = "disk_tests.rs"]
mod disk_tests;
#[cfg(test)]
mod hold_tests;
#[cfg(test)]
mod runs_tests;
