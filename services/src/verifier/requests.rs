//! Proof requests (spec §7.0): opened only by the lender (bearer token), for a policy the
//! lender offers, in the nullifier scope the configuration fixes
//! (`request_scope(verifier_id, product, now / period_seconds)`); expired requests are
//! pruned and the number of open ones is bounded.

use super::VerifierService;
use crate::http::{bearer, ct_eq, sha, Json};
use crate::store::db;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use rand::RngCore;
use rusqlite::OptionalExtension;
use zkcredit_api::verifier::{
    request_scope, NewRequest, NullifierStatus, ProofRequest, VerifierInfo,
};
use zkcredit_api::{unix_now, ApiError, ErrorCode};
use zkcredit_circuits::eligibility::{offchain_context, Policy};
use zkcredit_circuits::field::fr_to_dec;

/// Requests expired longer than this are deleted (answers in between say `request_expired`).
pub const PRUNE_AFTER: u64 = 3600;

/// Deletes the requests expired before `?1` (answered or not).
const PRUNE_SQL: &str = "DELETE FROM requests WHERE expiry < ?1";

impl VerifierService {
    /// Deletes the requests that expired more than [`PRUNE_AFTER`] seconds before `now`
    /// (also done whenever a request is created); returns how many.
    pub async fn prune_expired(&self, now: u64) -> Result<usize, ApiError> {
        self.store
            .with(move |conn| {
                conn.execute(PRUNE_SQL, [now.saturating_sub(PRUNE_AFTER) as i64])
                    .map_err(db)
            })
            .await
    }
}

pub(super) async fn create_request(
    State(svc): State<VerifierService>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ProofRequest>, ApiError> {
    // Credentials before the body is looked at.
    let ok = bearer(&headers).is_some_and(|t| ct_eq(&sha(t), &svc.cfg.lender_token_sha256));
    if !ok {
        svc.metrics.inc("verifier_requests_total", "unauthorized");
        return Err(ApiError::unauthorized());
    }
    let v: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(ErrorCode::MalformedJson, e.to_string()))?;
    if v.get("scope").is_some() {
        return Err(ApiError::new(
            ErrorCode::ScopeFixed,
            "the nullifier scope is fixed by the verifier's configuration; remove `scope`",
        )
        .field("scope"));
    }
    let b: NewRequest = serde_json::from_value(v)
        .map_err(|e| ApiError::new(ErrorCode::InvalidBody, e.to_string()))?;
    if b.ttl_seconds == 0 || b.ttl_seconds > svc.cfg.max_ttl {
        return Err(ApiError::new(
            ErrorCode::BadTtl,
            format!("ttl_seconds must be in 1..={}", svc.cfg.max_ttl),
        )
        .field("ttl_seconds"));
    }
    // Fail closed: an empty list offers nothing.
    if !svc.cfg.policies.contains(&b.policy) {
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
    let period = now / svc.cfg.period_seconds;
    let scope = request_scope(&svc.cfg.verifier_id, &svc.cfg.product, period);
    let context = offchain_context(svc.cfg.verifier_id, nonce, expiry);
    let req = ProofRequest {
        nonce: hex::encode(nonce),
        verifier_id: hex::encode(svc.cfg.verifier_id),
        expiry,
        context: fr_to_dec(&context),
        policy: b.policy,
        policy_hash: fr_to_dec(&b.policy.hash()),
        scope: fr_to_dec(&scope),
        product: svc.cfg.product.clone(),
        period,
    };
    let r = req.clone();
    let cap = svc.cfg.max_open_requests;
    let policy_json = serde_json::to_string(&r.policy).map_err(ApiError::internal)?;
    svc.store
        .with(move |conn| {
            let tx = conn.transaction().map_err(db)?;
            tx.execute(PRUNE_SQL, [now.saturating_sub(PRUNE_AFTER) as i64])
                .map_err(db)?;
            let open: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM requests WHERE used_at IS NULL AND expiry >= ?1",
                    [now as i64],
                    |r| r.get(0),
                )
                .map_err(db)?;
            if open as u64 >= cap {
                return Err(ApiError::new(
                    ErrorCode::StoreFull,
                    format!("{cap} requests are open; retry when some are answered or expired"),
                ));
            }
            tx.execute(
                "INSERT INTO requests (nonce, context, policy_json, policy_hash, scope, expiry, created_at, product, period) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                rusqlite::params![r.nonce, r.context, policy_json, r.policy_hash, r.scope, r.expiry as i64, now as i64, r.product, r.period as i64],
            )
            .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await?;
    svc.metrics.inc("verifier_requests_total", "created");
    Ok(Json(req))
}

/// A request nonce is 32 bytes of hex.
fn check_nonce(nonce: &str) -> Result<(), ApiError> {
    if nonce.len() != 64 || hex::decode(nonce).is_err() {
        return Err(
            ApiError::new(ErrorCode::BadField, "nonce must be 32 bytes of hex").field("nonce"),
        );
    }
    Ok(())
}

pub(super) async fn get_request(
    State(svc): State<VerifierService>,
    Path(nonce): Path<String>,
) -> Result<Json<ProofRequest>, ApiError> {
    check_nonce(&nonce)?;
    let vid = hex::encode(svc.cfg.verifier_id);
    let row = svc
        .store
        .with(move |conn| {
            conn.query_row("SELECT context, policy_json, policy_hash, scope, expiry, product, period FROM requests WHERE nonce = ?1", [nonce.clone()], |r| {
                Ok((nonce.clone(), r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, i64>(4)?, r.get::<_, String>(5)?, r.get::<_, i64>(6)?))
            })
            .optional()
            .map_err(db)
        })
        .await?;
    let (nonce, context, policy_json, policy_hash, scope, expiry, product, period) =
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
        product,
        period: period as u64,
    }))
}

/// Whether a nullifier is recorded in the scope of an open (unexpired) request. Anyone
/// holding a request may ask; a nullifier is unguessable without the holder secret, and it
/// is the value the proof would reveal to this verifier anyway.
pub(super) async fn nullifier_status(
    State(svc): State<VerifierService>,
    Path((nonce, nullifier)): Path<(String, String)>,
) -> Result<Json<NullifierStatus>, ApiError> {
    check_nonce(&nonce)?;
    let n = zkcredit_circuits::field::fr_from_dec(&nullifier)
        .map_err(|e| ApiError::new(ErrorCode::BadField, e.to_string()).field("nullifier"))?;
    let n = fr_to_dec(&n);
    let now = unix_now() as i64;
    let recorded = svc
        .store
        .with(move |conn| {
            let scope: Option<String> = conn
                .query_row(
                    "SELECT scope FROM requests WHERE nonce = ?1 AND expiry > ?2",
                    rusqlite::params![nonce, now],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            let scope =
                scope.ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such open request"))?;
            conn.query_row(
                "SELECT 1 FROM nullifiers WHERE scope = ?1 AND nullifier = ?2",
                [scope, n],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(db)
        })
        .await?;
    Ok(Json(NullifierStatus { recorded }))
}

pub(super) async fn info(State(svc): State<VerifierService>) -> Json<VerifierInfo> {
    Json(VerifierInfo {
        verifier_id: hex::encode(svc.cfg.verifier_id),
        name: svc.cfg.name.clone(),
        product: svc.cfg.product.clone(),
        vk_digest: svc.vk_digest.clone(),
        insecure_dev_keys: svc.cfg.insecure_dev_keys,
    })
}
