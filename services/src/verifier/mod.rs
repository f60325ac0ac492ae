//! The lender's API (spec §7): proof requests and verification.
//!
//! - `POST /v1/requests` (lender bearer token) `{policy, ttl_seconds}` → the request, its
//!   configured scope and the `context` the proof must bind
//!   (`keccak256(abi.encode(verifier_id, nonce, expiry))`, top 3 bits cleared).
//! - `GET /v1/requests/{nonce}` → the same (what a wallet fetches).
//! - `GET /v1/verifier` → the identity a wallet pins.
//! - `POST /v1/verify` `{proof, public_signals}` (snarkjs layouts) → `{accepted, nullifier}`.
//! - `POST /v1/verify/batch` `{items: [...]}` → one result per item; one random linear
//!   combination checks every Groth16 proof and one KZG accumulator every halo2 proof; an
//!   invalid one is identified and never passes.
//!
//! Every check has its own error code: `unknown_request`, `request_expired`,
//! `policy_mismatch`, `scope_mismatch`, `now_out_of_skew`, `unknown_registry_root`,
//! `invalid_proof`, `nullifier_reused`, `origination_limit_reached` (409); malformed input is a 4xx naming the field. The
//! nullifier is recorded in the same transaction that consumes the request ([`db`]): on
//! SQLite with `synchronous=FULL`, on PostgreSQL shared by every replica; after a kill -9 it
//! is still there, and two concurrent submissions of one nullifier never both succeed, on
//! one replica or several (the primary key decides). A replica whose database is down
//! answers `503 database_unavailable` and `GET /readyz` says so.
//!
//! With a halo2 verifying key ([`VerifierService::with_halo2`], `--halo2-vk`), a submission
//! `{"proof_system": "halo2-kzg", …}` is checked the same way (spec §11): the same
//! prechecks, then the KZG check, with the same error codes; in a batch its halo2 items
//! share one KZG accumulator (one final pairing). Without one such a submission is refused `proof_system_not_accepted`.
//!
//! A proof under a policy with a new-loan limit (spec §6.10) carries a non-zero origination
//! tag, recorded in the nullifier's transaction ([`db`]);
//! `GET /v1/requests/{nonce}/originations/{tag}` tells a wallet whether a tag is used.

mod config;
pub mod db;
mod requests;
mod roots;

use crate::http::Json;
use crate::server::{with_common_health, Metrics};
use ark_ff::Zero;
use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
pub use config::{
    expected_slots_of, lender_token_digest, load_or_create_verifier_id, parse_expected_slots,
    parse_policies, ExpectedProvider, ExpectedSlot, VerifierConfig, DEFAULT_MAX_OPEN_REQUESTS,
    DEFAULT_PERIOD_SECONDS,
};
pub use db::{VerifierDb, DEFAULT_PG_SCHEMA};
pub use requests::PRUNE_AFTER;
use std::sync::Arc;
use zkcredit_api::verifier::signal_field;
pub use zkcredit_api::verifier::{
    Accepted, BatchResult, BatchSubmission, NewRequest, ProofRequest, Submission, MAX_BATCH,
};
use zkcredit_api::verifier::{ProofSystem, SubmittedProof};
use zkcredit_api::{unix_now, ApiError, ErrorCode};
use zkcredit_circuits::eligibility::{epoch_of, PublicInputs};
use zkcredit_circuits::eligibility::{PI_CONTEXT, PI_NOW, PI_POLICY_HASH, PI_SCOPE};
use zkcredit_circuits::field::{fr_to_dec, fr_to_u64};
use zkcredit_halo2::keys::VkFile;
use zkcredit_halo2::system::{
    is_dev, verify_eligibility, verify_eligibility_batch, Halo2Proof, MAX_PROOF_BYTES,
};
use zkcredit_verifier::snarkjs::public_from_json;
use zkcredit_verifier::Verifier;

/// Verifier service state.
#[derive(Clone)]
pub struct VerifierService {
    store: VerifierDb,
    verifier: Arc<Verifier>,
    cfg: Arc<VerifierConfig>,
    http: reqwest::Client,
    metrics: Arc<Metrics>,
    vk_digest: String,
    /// The halo2 verifying key, when this verifier also accepts halo2 proofs (spec §11).
    halo2: Option<Arc<VkFile>>,
}

impl std::fmt::Debug for VerifierService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierService")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// A decoded proof of a submission.
#[derive(Clone)]
enum CheckedProof {
    Groth16(Box<ark_groth16::Proof<ark_bn254::Bn254>>),
    Halo2(Halo2Proof),
}

struct Checked {
    proof: CheckedProof,
    public: PublicInputs,
    nonce: String,
}

impl VerifierService {
    /// Opens the SQLite store `data_dir/verifier.sqlite` (see [`VerifierService::with_db`]).
    pub fn open(
        data_dir: &std::path::Path,
        vk: &ark_groth16::VerifyingKey<ark_bn254::Bn254>,
        cfg: VerifierConfig,
    ) -> Result<Self, ApiError> {
        cfg.validate()?;
        let store = VerifierDb::open_sqlite(&data_dir.join("verifier.sqlite"))?;
        Self::with_db(store, vk, cfg)
    }

    /// The service on `store`; refuses a configuration that would accept too much
    /// ([`VerifierConfig::validate`]: no policy, no expected KYC slot, …). Logs the
    /// verifying key's digest.
    pub fn with_db(
        store: VerifierDb,
        vk: &ark_groth16::VerifyingKey<ark_bn254::Bn254>,
        cfg: VerifierConfig,
    ) -> Result<Self, ApiError> {
        cfg.validate()?;
        let vk_digest = zkcredit_verifier::keys::vk_digest(vk);
        tracing::info!(%vk_digest, insecure_dev_keys = cfg.insecure_dev_keys, verifier_id = %hex::encode(cfg.verifier_id), "verifier key");
        if cfg.insecure_dev_keys {
            tracing::warn!(%vk_digest, "INSECURE DEVELOPMENT KEYS: anyone can forge proofs this verifier accepts");
        }
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
            vk_digest,
            halo2: None,
        })
    }

    /// Also accepts halo2 proofs (spec §11) against `vk`; a key made from the development
    /// powers of tau is refused unless the configuration allows development keys. Logs the
    /// key's digest.
    pub fn with_halo2(mut self, vk: VkFile) -> Result<Self, ApiError> {
        let digest = vk.digest();
        if is_dev(&vk) {
            if !self.cfg.insecure_dev_keys {
                return Err(ApiError::new(
                    ErrorCode::Malformed,
                    "the halo2 verifying key is made from the INSECURE development powers of tau: anyone can forge proofs it accepts (allow development keys to use it)",
                ));
            }
            tracing::warn!(halo2_vk_digest = %digest, "INSECURE DEVELOPMENT halo2 KEY: anyone can forge proofs this verifier accepts");
        }
        tracing::info!(halo2_vk_digest = %digest, circuit = %vk.circuit, "halo2 verifying key");
        self.halo2 = Some(Arc::new(vk));
        Ok(self)
    }

    /// The proof of `sub` in its system, if this verifier accepts that system.
    fn decode_proof(&self, sub: &Submission) -> Result<CheckedProof, ApiError> {
        let not_accepted = |why: String| {
            ApiError::new(ErrorCode::ProofSystemNotAccepted, why).field("proof_system")
        };
        match (sub.proof_system, &sub.proof) {
            (ProofSystem::Groth16, SubmittedProof::Groth16(p)) => {
                Ok(CheckedProof::Groth16(Box::new(p.to_proof()?)))
            }
            (ProofSystem::Halo2Kzg, SubmittedProof::Halo2(h)) => {
                if self.halo2.is_none() {
                    return Err(not_accepted(
                        "this verifier is not configured for halo2-kzg proofs".into(),
                    ));
                }
                let proof = Halo2Proof {
                    system: h.system.clone(),
                    proof: h.proof.clone(),
                };
                if h.system != zkcredit_halo2::keys::SYSTEM {
                    return Err(not_accepted(format!(
                        "a proof of system {:?} announced as halo2-kzg",
                        h.system
                    )));
                }
                match proof.bytes() {
                    Ok(b) if b.len() <= MAX_PROOF_BYTES => Ok(CheckedProof::Halo2(proof)),
                    Ok(b) => Err(ApiError::new(
                        ErrorCode::Malformed,
                        format!(
                            "a halo2 proof of {} bytes (at most {MAX_PROOF_BYTES})",
                            b.len()
                        ),
                    )
                    .field("proof")),
                    Err(e) => {
                        Err(ApiError::new(ErrorCode::Malformed, e.to_string()).field("proof"))
                    }
                }
            }
            (system, _) => Err(not_accepted(format!(
                "the proof is not in the {} layout",
                system.as_str()
            ))),
        }
    }

    /// The proof system's check of one checked submission (blocking: call off the runtime).
    fn check_one(
        verifier: &Verifier,
        halo2: Option<&VkFile>,
        proof: &CheckedProof,
        public: &PublicInputs,
    ) -> Result<(), ApiError> {
        match proof {
            CheckedProof::Groth16(p) => Ok(verifier.verify(p, public)?),
            CheckedProof::Halo2(p) => {
                let vk = halo2.ok_or_else(|| ApiError::of(ErrorCode::ProofSystemNotAccepted))?;
                verify_eligibility(vk, p, &public.to_vec())
                    .map_err(|_| ApiError::of(ErrorCode::InvalidProof))
            }
        }
    }

    /// The digest of the verifying key accepted.
    pub fn vk_digest(&self) -> &str {
        &self.vk_digest
    }

    /// The metrics (served on the metrics address only).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The router.
    pub fn router(self) -> Router {
        let metrics = self.metrics.clone();
        let health =
            serde_json::json!({"status": "ok", "insecure_dev_keys": self.cfg.insecure_dev_keys});
        let r = Router::new()
            .route("/readyz", get(ready))
            .route("/v1/requests", post(requests::create_request))
            .route("/v1/requests/{nonce}", get(requests::get_request))
            .route(
                "/v1/requests/{nonce}/nullifiers/{nullifier}",
                get(requests::nullifier_status),
            )
            .route(
                "/v1/requests/{nonce}/originations/{tag}",
                get(requests::origination_status),
            )
            .route("/v1/verifier", get(requests::info))
            .route("/v1/verify", post(verify_one))
            .route("/v1/verify/batch", post(verify_batch))
            .route("/openapi.json", get(openapi))
            .with_state(self);
        with_common_health(r, metrics, health)
    }

    /// Every check but the Groth16 one and the nullifier record (spec §7, in order); the
    /// registry is asked once per distinct root in `roots`.
    async fn precheck(
        &self,
        sub: &Submission,
        roots: &mut roots::RootCache,
    ) -> Result<Checked, ApiError> {
        let proof = self.decode_proof(sub)?;
        let signals = public_from_json(&sub.public_signals)?;
        let public = PublicInputs::from_slice(&signals).map_err(|e| {
            ApiError::new(ErrorCode::BadPublicSignals, e.to_string()).field("public_signals")
        })?;
        let row = self
            .store
            .request_by_context(fr_to_dec(&public.context))
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
                format!("the request expired at {expiry}"),
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
        self.check_root_cached(&public.registry_root, roots).await?;
        // §6.10 a tag counts in the current epoch only (a skew window across an epoch
        // boundary must not open the next epoch's tags early). A used tag is refused by
        // `record`, after the nullifier: a retry of an accepted submission is
        // `already_accepted`, never `origination_limit_reached`.
        if !public.origination_tag.is_zero() && epoch_of(t) != epoch_of(now) {
            return Err(ApiError::new(
                ErrorCode::NowOutOfSkew,
                format!(
                    "the proof is dated in origination epoch {}, the current epoch is {}: prove again",
                    epoch_of(t),
                    epoch_of(now)
                ),
            )
            .field(signal_field(PI_NOW)));
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
        let tag = (!c.public.origination_tag.is_zero()).then(|| db::TagRecord {
            tag: fr_to_dec(&c.public.origination_tag),
            epoch: fr_to_u64(&c.public.now).map_or(0, epoch_of) as i64,
        });
        self.store.record(scope, nullifier, nonce, now, tag).await?;
        Ok(out)
    }
}

/// `GET /readyz`: 200 while the database answers, 503 `database_unavailable` otherwise.
async fn ready(State(svc): State<VerifierService>) -> Result<Json<serde_json::Value>, ApiError> {
    crate::server::readiness(svc.store.ping().await)
}

async fn verify_one(
    State(svc): State<VerifierService>,
    Json(sub): Json<Submission>,
) -> Result<Json<Accepted>, ApiError> {
    let result = async {
        let c = svc.precheck(&sub, &mut Default::default()).await?;
        let (v, halo2) = (svc.verifier.clone(), svc.halo2.clone());
        let (proof, public) = (c.proof.clone(), c.public);
        tokio::task::spawn_blocking(move || {
            VerifierService::check_one(&v, halo2.as_deref(), &proof, &public)
        })
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
    let mut roots = roots::RootCache::new();
    for (i, sub) in b.items.iter().enumerate() {
        match svc.precheck(sub, &mut roots).await {
            Ok(c) => checked.push((i, c)),
            Err(e) => {
                results[i].code = Some(e.code.as_str().to_string());
                results[i].message = Some(e.message);
            }
        }
    }
    // Groth16 items: one random linear combination; halo2 items: one KZG accumulator (spec §11.4).
    let mut groth16 = Vec::new();
    let mut halo2 = Vec::new();
    for (k, (_, c)) in checked.iter().enumerate() {
        match &c.proof {
            CheckedProof::Groth16(p) => groth16.push((k, (**p).clone(), c.public.to_vec())),
            CheckedProof::Halo2(p) => halo2.push((k, p.clone(), c.public)),
        }
    }
    let (v, vk) = (svc.verifier.clone(), svc.halo2.clone());
    let invalid = tokio::task::spawn_blocking(move || {
        let mut invalid = std::collections::BTreeSet::new();
        let items: Vec<_> = groth16
            .iter()
            .map(|(_, p, x)| (p.clone(), x.clone()))
            .collect();
        if let Err(e) = v.verify_batch(&items) {
            invalid.extend(e.invalid.into_iter().map(|j| groth16[j].0));
        }
        if !halo2.is_empty() {
            match vk.as_deref() {
                Some(vk) => {
                    let publics: Vec<Vec<_>> = halo2.iter().map(|(_, _, x)| x.to_vec()).collect();
                    let items: Vec<_> = halo2
                        .iter()
                        .zip(&publics)
                        .map(|((_, p, _), x)| (p, x.as_slice()))
                        .collect();
                    invalid.extend(
                        verify_eligibility_batch(vk, &items)
                            .into_iter()
                            .map(|j| halo2[j].0),
                    );
                }
                // Prechecked away (proof_system_not_accepted); never all invalid silently.
                None => invalid.extend(halo2.iter().map(|(k, _, _)| *k)),
            }
        }
        invalid
    })
    .await
    .map_err(ApiError::internal)?;
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
