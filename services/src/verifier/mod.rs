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

mod config;

use crate::http::Json;
use crate::server::{with_common, Metrics};
use crate::store::{db, Store};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
pub use config::{load_or_create_verifier_id, parse_policies, VerifierConfig};
use rand::RngCore;
use rusqlite::OptionalExtension;
use std::sync::Arc;
use zkcredit_api::client::RegistryClient;
use zkcredit_api::verifier::signal_field;
pub use zkcredit_api::verifier::{
    Accepted, BatchResult, BatchSubmission, NewRequest, ProofRequest, Submission, MAX_BATCH,
};
use zkcredit_api::{unix_now, ApiError, ErrorCode};
use zkcredit_circuits::eligibility::{offchain_context, Policy, PublicInputs};
use zkcredit_circuits::eligibility::{
    PI_CONTEXT, PI_NOW, PI_NULLIFIER, PI_POLICY_HASH, PI_REGISTRY_ROOT, PI_SCOPE,
};
use zkcredit_circuits::field::{fr_from_dec, fr_to_dec, fr_to_u64};
use zkcredit_circuits::Fr;
use zkcredit_verifier::snarkjs::public_from_json;
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
        let registry = RegistryClient::new(self.http.clone(), self.cfg.registry_url.clone());
        let s = registry
            .root_status(root)
            .await
            .map_err(|e| ApiError::new(ErrorCode::RegistryUnavailable, e.to_string()))?;
        Ok(s.current
            || s.retired_at
                .is_some_and(|t| unix_now() <= t + self.cfg.root_window))
    }

    /// Every check but the Groth16 one and the nullifier record (spec §7, in order).
    async fn precheck(&self, sub: &Submission) -> Result<Checked, ApiError> {
        let proof = sub.proof.to_proof()?;
        let signals = public_from_json(&sub.public_signals)?;
        let public = PublicInputs::from_slice(&signals).map_err(|e| {
            ApiError::new(ErrorCode::BadPublicSignals, e.to_string()).field("public_signals")
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
                ErrorCode::UnknownRequest,
                "the proof's context matches no request of this verifier",
            )
            .field(signal_field(PI_CONTEXT)));
        };
        let now = unix_now();
        if now > expiry as u64 {
            return Err(ApiError::new(
                ErrorCode::RequestExpired,
                format!("request {nonce} expired at {expiry}"),
            ));
        }
        if fr_to_dec(&public.policy_hash) != policy_hash {
            return Err(ApiError::new(
                ErrorCode::PolicyMismatch,
                "the proof is for another policy",
            )
            .field(signal_field(PI_POLICY_HASH)));
        }
        if fr_to_dec(&public.scope) != scope {
            return Err(ApiError::new(
                ErrorCode::ScopeMismatch,
                "the proof is for another nullifier scope",
            )
            .field(signal_field(PI_SCOPE)));
        }
        let t = fr_to_u64(&public.now).ok_or_else(|| {
            ApiError::new(ErrorCode::NowOutOfSkew, "now is not a u64").field(signal_field(PI_NOW))
        })?;
        if t.abs_diff(now) > self.cfg.max_skew {
            return Err(ApiError::new(
                ErrorCode::NowOutOfSkew,
                format!(
                    "proof time {t} is more than {} s from {now}",
                    self.cfg.max_skew
                ),
            )
            .field(signal_field(PI_NOW)));
        }
        if !self.root_is_recent(&public.registry_root).await? {
            return Err(ApiError::new(
                ErrorCode::UnknownRegistryRoot,
                "the registry root is not current nor recent",
            )
            .field(signal_field(PI_REGISTRY_ROOT)));
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
                    return Err(ApiError::new(ErrorCode::NullifierReused, "this person already applied in this scope").field(signal_field(PI_NULLIFIER)));
                }
                let used = tx.execute("UPDATE requests SET used_at = ?1 WHERE nonce = ?2 AND used_at IS NULL", rusqlite::params![now, nonce]).map_err(db)?;
                if used == 0 {
                    return Err(ApiError::new(ErrorCode::RequestAlreadyUsed, "this request was already answered"));
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
        .map_err(|e| ApiError::new(ErrorCode::BadField, e.to_string()).field("scope"))?;
    if b.ttl_seconds == 0 || b.ttl_seconds > svc.cfg.max_ttl {
        return Err(ApiError::new(
            ErrorCode::BadTtl,
            format!("ttl_seconds must be in 1..={}", svc.cfg.max_ttl),
        )
        .field("ttl_seconds"));
    }
    if !svc.cfg.policies.is_empty() && !svc.cfg.policies.contains(&b.policy) {
        return Err(ApiError::new(
            ErrorCode::PolicyNotOffered,
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
            ApiError::new(ErrorCode::BadField, "nonce must be 32 bytes of hex").field("nonce"),
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
        row.ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such request"))?;
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
            .unwrap_or_else(|e| e.code.as_str()),
    );
    Ok(Json(result?))
}

async fn verify_batch(
    State(svc): State<VerifierService>,
    Json(b): Json<BatchSubmission>,
) -> Result<Json<Vec<BatchResult>>, ApiError> {
    if b.items.is_empty() || b.items.len() > MAX_BATCH {
        return Err(ApiError::new(
            ErrorCode::BadBatchSize,
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
                results[i].code = Some(e.code.as_str().to_string());
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
            results[*i].code = Some(ErrorCode::InvalidProof.as_str().into());
            results[*i].message = Some(ErrorCode::InvalidProof.description().into());
            continue;
        }
        match svc.record(c).await {
            Ok(a) => {
                results[*i].accepted = true;
                results[*i].nullifier = Some(a.nullifier);
            }
            Err(e) => {
                results[*i].code = Some(e.code.as_str().to_string());
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
    axum::Json(zkcredit_api::openapi::document(
        "zkcredit verifier service (lender API)",
        &[zkcredit_api::verifier::ROUTES],
    ))
}
