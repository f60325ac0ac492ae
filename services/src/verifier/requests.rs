//! Proof requests (spec §7.0): opened only by the lender (bearer token), for a policy the
//! lender offers, in the nullifier scope the configuration fixes
//! (`request_scope(verifier_id, product, now / period_seconds)`); expired requests are
//! pruned and the number of open ones is bounded.

use super::VerifierService;
use crate::http::{bearer, ct_eq, sha, Json};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use rand::RngCore;
use zkcredit_api::verifier::{
    request_scope, NewRequest, NullifierStatus, OriginationStatus, ProofRequest, VerifierInfo,
};
use zkcredit_api::{unix_now, ApiError, ErrorCode};
use zkcredit_circuits::eligibility::{offchain_context, Policy};
use zkcredit_circuits::field::fr_to_dec;

/// Requests expired longer than this are deleted (answers in between say `request_expired`).
pub const PRUNE_AFTER: u64 = 3600;

impl VerifierService {
    /// Deletes the requests that expired more than [`PRUNE_AFTER`] seconds before `now`
    /// (also done whenever a request is created); returns how many.
    pub async fn prune_expired(&self, now: u64) -> Result<usize, ApiError> {
        self.store
            .prune(now.saturating_sub(PRUNE_AFTER) as i64)
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
    let row = super::db::RequestRow {
        nonce: req.nonce.clone(),
        context: req.context.clone(),
        policy_json: serde_json::to_string(&req.policy).map_err(ApiError::internal)?,
        policy_hash: req.policy_hash.clone(),
        scope: req.scope.clone(),
        expiry: expiry as i64,
        created_at: now as i64,
        product: req.product.clone(),
        period: period as i64,
    };
    svc.store
        .insert_request(
            row,
            now as i64,
            now.saturating_sub(PRUNE_AFTER) as i64,
            svc.cfg.max_open_requests,
        )
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
        .request_by_nonce(nonce)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such request"))?;
    let policy: Policy = serde_json::from_str(&row.policy_json).map_err(ApiError::internal)?;
    Ok(Json(ProofRequest {
        nonce: row.nonce,
        verifier_id: vid,
        expiry: row.expiry as u64,
        context: row.context,
        policy,
        policy_hash: row.policy_hash,
        scope: row.scope,
        product: row.product,
        period: row.period as u64,
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
    let recorded = svc.store.nullifier_recorded(nonce, n, now).await?;
    Ok(Json(NullifierStatus { recorded }))
}

/// `GET /v1/requests/{nonce}/originations/{tag}` (spec §6.10): whether the tag is recorded.
/// Asked while the request is open, as the nullifier status is. The verifier learns the
/// tags a wallet asks about: the one the proof will show, and the borrower's used tags of
/// the epoch before it (so how many new loans of this epoch are recorded; SPEC §6.10).
pub(super) async fn origination_status(
    State(svc): State<VerifierService>,
    Path((nonce, tag)): Path<(String, String)>,
) -> Result<Json<OriginationStatus>, ApiError> {
    check_nonce(&nonce)?;
    let t = zkcredit_circuits::field::fr_from_dec(&tag)
        .map_err(|e| ApiError::new(ErrorCode::BadField, e.to_string()).field("tag"))?;
    if ark_ff::Zero::is_zero(&t) {
        return Err(ApiError::new(ErrorCode::BadField, "the tag 0 means no limit").field("tag"));
    }
    let now = unix_now() as i64;
    let used = svc.store.tag_recorded(nonce, fr_to_dec(&t), now).await?;
    Ok(Json(OriginationStatus { used }))
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
