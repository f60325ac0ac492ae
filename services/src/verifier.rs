//! The lender's API (spec §7): proof requests and verification.
//!
//! - `POST /v1/requests` `{policy, scope, ttl_seconds}` → the request and the `context` the
//!   proof must bind (`keccak256(abi.encode(verifier_id, nonce, expiry))`, top 3 bits cleared).
//! - `GET /v1/requests/{nonce}` → the same (what a wallet fetches).
//! - `POST /v1/verify` `{proof, public_signals}` (snarkjs layouts) → `{accepted, nullifier}`.
//! - `POST /v1/verify/batch` `{items: [...]}` → one result per item; one random linear
//!   combination checks every proof, an invalid one is identified and never passes.
//!
//! Every check has its own error code: `unknown_request`, `request_expired`,
//! `policy_mismatch`, `scope_mismatch`, `now_out_of_skew`, `unknown_registry_root`,
//! `invalid_proof`, `nullifier_reused` (409); malformed input is a 4xx naming the field. The
//! nullifier is recorded in the same SQLite transaction that consumes the request, with
//! `synchronous=FULL`: after a kill -9 it is still there, and two concurrent submissions of
//! one nullifier never both succeed (the primary key decides).

use crate::api::{ApiError, Json};
use crate::registry::{unix_now, RootStatus};
use crate::server::{with_common, Metrics};
use crate::store::{db, Store};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use rand::RngCore;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use zkcredit_circuits::eligibility::{offchain_context, Policy, PublicInputs};
use zkcredit_circuits::field::{fr_from_dec, fr_to_dec, fr_to_u64};
use zkcredit_circuits::Fr;
use zkcredit_verifier::snarkjs::{public_from_json, ProofJson};
use zkcredit_verifier::Verifier;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS requests (
    nonce TEXT PRIMARY KEY,
    context TEXT NOT NULL UNIQUE,
    policy_json TEXT NOT NULL,
    policy_hash TEXT NOT NULL,
    scope TEXT NOT NULL,
    expiry INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE TABLE IF NOT EXISTS nullifiers (
    scope TEXT NOT NULL,
    nullifier TEXT NOT NULL,
    request_nonce TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (scope, nullifier)
);
";

/// Verifier configuration.
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    /// This verifier's identity, bound into every context.
    pub verifier_id: [u8; 32],
    /// Base URL of the registry service.
    pub registry_url: String,
    /// Seconds a replaced registry root stays acceptable.
    pub root_window: u64,
    /// Accepted |now − server clock|.
    pub max_skew: u64,
    /// Longest request lifetime a client may ask for.
    pub max_ttl: u64,
    /// The policies this lender offers; a request for any other is refused
    /// (`policy_not_offered`), so a borrower cannot open a request with a laxer policy.
    /// Empty: any policy (tests and tools only).
    pub policies: Vec<Policy>,
}

/// Verifier service state.
#[derive(Clone)]
pub struct VerifierService {
    store: Store,
    verifier: Arc<Verifier>,
    cfg: Arc<VerifierConfig>,
    http: reqwest::Client,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for VerifierService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierService")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// `POST /v1/requests` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// The policy to prove against.
    pub policy: Policy,
    /// Nullifier scope (decimal field element), e.g. a hash of lender id and month.
    pub scope: String,
    /// Lifetime in seconds.
    pub ttl_seconds: u64,
}

/// A proof request as served.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProofRequest {
    /// Request nonce (hex).
    pub nonce: String,
    /// Verifier id (hex).
    pub verifier_id: String,
    /// Expiry (Unix seconds).
    pub expiry: u64,
    /// The context the proof must bind (decimal).
    pub context: String,
    /// The policy.
    pub policy: Policy,
    /// Its hash (decimal).
    pub policy_hash: String,
    /// Nullifier scope (decimal).
    pub scope: String,
}

/// A proof submission (snarkjs layouts).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// `proof.json`.
    pub proof: ProofJson,
    /// `public.json`: the six public signals.
    pub public_signals: Vec<String>,
}

/// `POST /v1/verify` success.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Accepted {
    /// Always true.
    pub accepted: bool,
    /// The recorded nullifier.
    pub nullifier: String,
    /// The request answered.
    pub request_nonce: String,
}

/// `POST /v1/verify/batch` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSubmission {
    /// At most 256 submissions.
    pub items: Vec<Submission>,
}

/// One batch result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BatchResult {
    /// Index in the batch.
    pub index: usize,
    /// Accepted and recorded.
    pub accepted: bool,
    /// The nullifier, when accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nullifier: Option<String>,
    /// Error code, when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Error message, when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Largest batch.
pub const MAX_BATCH: usize = 256;

struct Checked {
    proof: ark_groth16::Proof<ark_bn254::Bn254>,
    public: PublicInputs,
    nonce: String,
}

impl VerifierService {
    /// Opens the store under `data_dir`.
    pub fn open(
        data_dir: &std::path::Path,
        vk: &ark_groth16::VerifyingKey<ark_bn254::Bn254>,
        cfg: VerifierConfig,
    ) -> Result<Self, ApiError> {
        let store = Store::open(&data_dir.join("verifier.sqlite"), SCHEMA).map_err(db)?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(ApiError::internal)?;
        Ok(Self {
            store,
            verifier: Arc::new(Verifier::new(vk)),
            cfg: Arc::new(cfg),
            http,
            metrics: Arc::default(),
        })
    }

    /// The router.
    pub fn router(self) -> Router {
        let metrics = self.metrics.clone();
        let r = Router::new()
            .route("/v1/requests", post(create_request))
            .route("/v1/requests/{nonce}", get(get_request))
            .route("/v1/verify", post(verify_one))
            .route("/v1/verify/batch", post(verify_batch))
            .route("/openapi.json", get(openapi))
            .with_state(self);
        with_common(r, metrics)
    }

    async fn root_is_recent(&self, root: &Fr) -> Result<bool, ApiError> {
        let url = format!(
            "{}/v1/registry/roots/{}",
            self.cfg.registry_url,
            fr_to_dec(root)
        );
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| ApiError::new(503, "registry_unavailable", e.to_string()))?;
        if !resp.status().is_success() {
            return Err(ApiError::new(
                503,
                "registry_unavailable",
                format!("registry answered {}", resp.status()),
            ));
        }
        let s: RootStatus = resp
            .json()
            .await
            .map_err(|e| ApiError::new(503, "registry_unavailable", e.to_string()))?;
        Ok(s.current
            || s.retired_at
                .is_some_and(|t| unix_now() <= t + self.cfg.root_window))
    }

    /// Every check but the Groth16 one and the nullifier record (spec §7, in order).
    async fn precheck(&self, sub: &Submission) -> Result<Checked, ApiError> {
        let proof = sub.proof.to_proof()?;
        let signals = public_from_json(&sub.public_signals)?;
        let public = PublicInputs::from_slice(&signals).map_err(|e| {
            ApiError::new(400, "bad_public_signals", e.to_string()).field("public_signals")
        })?;
        let ctx = fr_to_dec(&public.context);
        let row = self
            .store
            .with(move |conn| {
                conn.query_row(
                    "SELECT nonce, policy_hash, scope, expiry FROM requests WHERE context = ?1",
                    [ctx],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, i64>(3)?,
                        ))
                    },
                )
                .optional()
                .map_err(db)
            })
            .await?;
        let Some((nonce, policy_hash, scope, expiry)) = row else {
            return Err(ApiError::new(
                422,
                "unknown_request",
                "the proof's context matches no request of this verifier",
            )
            .field("public_signals[5]"));
        };
        let now = unix_now();
        if now > expiry as u64 {
            return Err(ApiError::new(
                422,
                "request_expired",
                format!("request {nonce} expired at {expiry}"),
            ));
        }
        if fr_to_dec(&public.policy_hash) != policy_hash {
            return Err(
                ApiError::new(422, "policy_mismatch", "the proof is for another policy")
                    .field("public_signals[1]"),
            );
        }
        if fr_to_dec(&public.scope) != scope {
            return Err(ApiError::new(
                422,
                "scope_mismatch",
                "the proof is for another nullifier scope",
            )
            .field("public_signals[3]"));
        }
        let t = fr_to_u64(&public.now).ok_or_else(|| {
            ApiError::new(422, "now_out_of_skew", "now is not a u64").field("public_signals[2]")
        })?;
        if t.abs_diff(now) > self.cfg.max_skew {
            return Err(ApiError::new(
                422,
                "now_out_of_skew",
                format!(
                    "proof time {t} is more than {} s from {now}",
                    self.cfg.max_skew
                ),
            )
            .field("public_signals[2]"));
        }
        if !self.root_is_recent(&public.registry_root).await? {
            return Err(ApiError::new(
                422,
                "unknown_registry_root",
                "the registry root is not current nor recent",
            )
            .field("public_signals[0]"));
        }
        Ok(Checked {
            proof,
            public,
            nonce,
        })
    }

    /// Records the nullifier and consumes the request, atomically.
    async fn record(&self, c: &Checked) -> Result<Accepted, ApiError> {
        let (scope, nullifier, nonce) = (
            fr_to_dec(&c.public.scope),
            fr_to_dec(&c.public.nullifier),
            c.nonce.clone(),
        );
        let now = unix_now() as i64;
        let out = Accepted {
            accepted: true,
            nullifier: nullifier.clone(),
            request_nonce: nonce.clone(),
        };
        self.store
            .with(move |conn| {
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db)?;
                let inserted = tx
                    .execute(
                        "INSERT INTO nullifiers (scope, nullifier, request_nonce, recorded_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                        rusqlite::params![scope, nullifier, nonce, now],
                    )
                    .map_err(db)?;
                if inserted == 0 {
                    return Err(ApiError::new(409, "nullifier_reused", "this person already applied in this scope").field("public_signals[4]"));
                }
                let used = tx.execute("UPDATE requests SET used_at = ?1 WHERE nonce = ?2 AND used_at IS NULL", rusqlite::params![now, nonce]).map_err(db)?;
                if used == 0 {
                    return Err(ApiError::new(409, "request_already_used", "this request was already answered"));
                }
                tx.commit().map_err(db)
            })
            .await?;
        Ok(out)
    }
}

async fn create_request(
    State(svc): State<VerifierService>,
    Json(b): Json<NewRequest>,
) -> Result<Json<ProofRequest>, ApiError> {
    let scope = fr_from_dec(&b.scope)
        .map_err(|e| ApiError::new(400, "bad_field", e.to_string()).field("scope"))?;
    if b.ttl_seconds == 0 || b.ttl_seconds > svc.cfg.max_ttl {
        return Err(ApiError::new(
            400,
            "bad_ttl",
            format!("ttl_seconds must be in 1..={}", svc.cfg.max_ttl),
        )
        .field("ttl_seconds"));
    }
    if !svc.cfg.policies.is_empty() && !svc.cfg.policies.contains(&b.policy) {
        return Err(ApiError::new(
            400,
            "policy_not_offered",
            "this lender does not offer this policy",
        )
        .field("policy"));
    }
    let mut nonce = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let now = unix_now();
    let expiry = now + b.ttl_seconds;
    let context = offchain_context(svc.cfg.verifier_id, nonce, expiry);
    let req = ProofRequest {
        nonce: hex::encode(nonce),
        verifier_id: hex::encode(svc.cfg.verifier_id),
        expiry,
        context: fr_to_dec(&context),
        policy: b.policy,
        policy_hash: fr_to_dec(&b.policy.hash()),
        scope: fr_to_dec(&scope),
    };
    let r = req.clone();
    svc.store
        .with(move |conn| {
            conn.execute(
                "INSERT INTO requests (nonce, context, policy_json, policy_hash, scope, expiry, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                rusqlite::params![r.nonce, r.context, serde_json::to_string(&r.policy).unwrap_or_default(), r.policy_hash, r.scope, r.expiry as i64, now as i64],
            )
            .map_err(db)
        })
        .await?;
    svc.metrics.inc("verifier_requests_total", "created");
    Ok(Json(req))
}

async fn get_request(
    State(svc): State<VerifierService>,
    Path(nonce): Path<String>,
) -> Result<Json<ProofRequest>, ApiError> {
    if nonce.len() != 64 || hex::decode(&nonce).is_err() {
        return Err(
            ApiError::new(400, "bad_field", "nonce must be 32 bytes of hex").field("nonce"),
        );
    }
    let vid = hex::encode(svc.cfg.verifier_id);
    let row = svc
        .store
        .with(move |conn| {
            conn.query_row("SELECT context, policy_json, policy_hash, scope, expiry FROM requests WHERE nonce = ?1", [nonce.clone()], |r| {
                Ok((nonce.clone(), r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, i64>(4)?))
            })
            .optional()
            .map_err(db)
        })
        .await?;
    let (nonce, context, policy_json, policy_hash, scope, expiry) =
        row.ok_or_else(|| ApiError::new(404, "unknown_request", "no such request"))?;
    let policy: Policy = serde_json::from_str(&policy_json).map_err(ApiError::internal)?;
    Ok(Json(ProofRequest {
        nonce,
        verifier_id: vid,
        expiry: expiry as u64,
        context,
        policy,
        policy_hash,
        scope,
    }))
}

async fn verify_one(
    State(svc): State<VerifierService>,
    Json(sub): Json<Submission>,
) -> Result<Json<Accepted>, ApiError> {
    let result = async {
        let c = svc.precheck(&sub).await?;
        let v = svc.verifier.clone();
        let (proof, public) = (c.proof.clone(), c.public);
        tokio::task::spawn_blocking(move || v.verify(&proof, &public))
            .await
            .map_err(ApiError::internal)??;
        svc.record(&c).await
    }
    .await;
    svc.metrics.inc(
        "verifier_verify_total",
        result
            .as_ref()
            .map(|_| "accepted")
            .unwrap_or_else(|e| e.code),
    );
    Ok(Json(result?))
}

async fn verify_batch(
    State(svc): State<VerifierService>,
    Json(b): Json<BatchSubmission>,
) -> Result<Json<Vec<BatchResult>>, ApiError> {
    if b.items.is_empty() || b.items.len() > MAX_BATCH {
        return Err(ApiError::new(
            400,
            "bad_batch_size",
            format!("a batch holds 1..={MAX_BATCH} items"),
        )
        .field("items"));
    }
    let mut results: Vec<BatchResult> = (0..b.items.len())
        .map(|index| BatchResult {
            index,
            accepted: false,
            nullifier: None,
            code: None,
            message: None,
        })
        .collect();
    let mut checked = Vec::new();
    for (i, sub) in b.items.iter().enumerate() {
        match svc.precheck(sub).await {
            Ok(c) => checked.push((i, c)),
            Err(e) => {
                results[i].code = Some(e.code.to_string());
                results[i].message = Some(e.message);
            }
        }
    }
    let items: Vec<_> = checked
        .iter()
        .map(|(_, c)| (c.proof.clone(), c.public.to_vec()))
        .collect();
    let v = svc.verifier.clone();
    let outcome = tokio::task::spawn_blocking(move || v.verify_batch(&items))
        .await
        .map_err(ApiError::internal)?;
    let invalid: std::collections::BTreeSet<usize> = match outcome {
        Ok(()) => Default::default(),
        Err(e) => e.invalid.into_iter().collect(),
    };
    for (k, (i, c)) in checked.iter().enumerate() {
        if invalid.contains(&k) {
            results[*i].code = Some("invalid_proof".into());
            results[*i].message = Some("the Groth16 check failed".into());
            continue;
        }
        match svc.record(c).await {
            Ok(a) => {
                results[*i].accepted = true;
                results[*i].nullifier = Some(a.nullifier);
            }
            Err(e) => {
                results[*i].code = Some(e.code.to_string());
                results[*i].message = Some(e.message);
            }
        }
    }
    for r in &results {
        svc.metrics.inc(
            "verifier_verify_total",
            r.code.as_deref().unwrap_or("accepted"),
        );
    }
    Ok(Json(results))
}

async fn openapi() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": "zkcredit verifier service (lender API)", "version": env!("CARGO_PKG_VERSION")},
        "paths": {
            "/v1/requests": {"post": {"summary": "Create a proof request {policy, scope, ttl_seconds}; returns the context to bind", "responses": {"200": {"description": "the request"}, "400": {"description": "bad field"}}}},
            "/v1/requests/{nonce}": {"get": {"summary": "Fetch a proof request", "responses": {"200": {"description": "the request"}, "404": {"description": "unknown"}}}},
            "/v1/verify": {"post": {"summary": "Verify {proof, public_signals} (snarkjs layouts) and record the nullifier", "responses": {
                "200": {"description": "accepted"},
                "400": {"description": "malformed: bad_field, bad_point, bad_public_signals, malformed_json"},
                "409": {"description": "nullifier_reused, request_already_used"},
                "413": {"description": "body too large"},
                "415": {"description": "not application/json"},
                "422": {"description": "unknown_request, request_expired, policy_mismatch, scope_mismatch, now_out_of_skew, unknown_registry_root, invalid_proof, invalid_body"},
                "503": {"description": "registry_unavailable"}}}},
            "/v1/verify/batch": {"post": {"summary": "Verify up to 256 submissions with one random linear combination; one result per item"}},
            "/healthz": {"get": {"summary": "Liveness"}},
            "/metrics": {"get": {"summary": "Prometheus metrics"}}
        }
    }))
}
