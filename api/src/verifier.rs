//! The lender's API messages (spec §7).

use crate::error::ErrorCode as E;
use crate::openapi::{Auth, Body, Param, Route};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zkcredit_circuits::eligibility::{Policy, PUBLIC_INPUT_NAMES};
use zkcredit_verifier::snarkjs::ProofJson;

/// Largest batch.
pub const MAX_BATCH: usize = 256;

/// The error `field` naming public signal `index` (one of the `PI_*` constants).
pub fn signal_field(index: usize) -> String {
    debug_assert!(index < PUBLIC_INPUT_NAMES.len());
    format!("public_signals[{index}]")
}

/// Tag of the nullifier-scope derivation (ASCII "zkc/scop"; spec §7.0).
pub const TAG_SCOPE: u64 = 0x7a6b_632f_7363_6f70;

/// A 248-bit field element from `sha256(domain ‖ bytes)` (top byte cleared, so canonical).
fn fr_of(domain: &str, bytes: &[u8]) -> zkcredit_circuits::Fr {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(domain.as_bytes());
    h.update(bytes);
    let mut b: [u8; 32] = h.finalize().into();
    b[0] = 0;
    zkcredit_circuits::field::fr_from_be_bytes(&b).unwrap_or_default()
}

/// The nullifier scope of a verifier's product in a period (spec §7.0):
/// `H(TAG_SCOPE, L, P, period)` with `L`, `P` the low 248 bits of
/// `sha256("zkcredit/scope-lender/v1" ‖ verifier_id)` and
/// `sha256("zkcredit/scope-product/v1" ‖ product)`. The verifier fixes it from its
/// configuration; a wallet recomputes it, so a lender cannot ask for a nullifier in a scope
/// that is not its own.
pub fn request_scope(verifier_id: &[u8; 32], product: &str, period: u64) -> zkcredit_circuits::Fr {
    zkcredit_circuits::poseidon::hash_n([
        zkcredit_circuits::Fr::from(TAG_SCOPE),
        fr_of("zkcredit/scope-lender/v1", verifier_id),
        fr_of("zkcredit/scope-product/v1", product.as_bytes()),
        zkcredit_circuits::Fr::from(period),
    ])
}

/// Why a wallet refuses a request before proving (spec §8, finding 12).
pub fn check_request_origin(
    req: &ProofRequest,
    pinned_verifier_id: &[u8; 32],
) -> Result<(), String> {
    use zkcredit_circuits::field::fr_to_dec;
    if req.verifier_id != hex::encode(pinned_verifier_id) {
        return Err(format!(
            "the request comes from verifier {}, not the pinned verifier {}",
            req.verifier_id,
            hex::encode(pinned_verifier_id)
        ));
    }
    let nonce: [u8; 32] = hex::decode(&req.nonce)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("the request nonce is not 32 bytes of hex")?;
    let ctx =
        zkcredit_circuits::eligibility::offchain_context(*pinned_verifier_id, nonce, req.expiry);
    if fr_to_dec(&ctx) != req.context {
        return Err("the request's context is not bound to the pinned verifier".into());
    }
    if fr_to_dec(&request_scope(pinned_verifier_id, &req.product, req.period)) != req.scope {
        return Err("the request's nullifier scope is not the pinned verifier's".into());
    }
    if fr_to_dec(&req.policy.hash()) != req.policy_hash {
        return Err("the request's policy hash does not match its policy".into());
    }
    Ok(())
}

/// `POST /v1/requests` body (lender token required). The nullifier scope is not a field:
/// the verifier derives it from its configuration ([`request_scope`]).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// The policy to prove against (one the lender offers).
    pub policy: Policy,
    /// Lifetime in seconds.
    pub ttl_seconds: u64,
}

/// `GET /v1/verifier`: the identity a wallet pins (`zkcredit wallet prove --verifier-id`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct VerifierInfo {
    /// Verifier id (hex), bound into every request context and scope.
    pub verifier_id: String,
    /// Human-readable name of the lender.
    pub name: String,
    /// The nullifier-scope product name.
    pub product: String,
    /// sha256 of the verifying key accepted.
    pub vk_digest: String,
    /// True when the verifier runs with the forgeable development keys.
    pub insecure_dev_keys: bool,
}

/// A proof request as served.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
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
    /// Nullifier scope (decimal): [`request_scope`] of `verifier_id`, `product`, `period`.
    pub scope: String,
    /// The lender's product the scope is for.
    pub product: String,
    /// The period index (`created_at / period_seconds`) the scope is for.
    pub period: u64,
}

/// The proof system of a submission (spec §11).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub enum ProofSystem {
    /// Groth16 over BN254 (the default when absent).
    #[default]
    #[serde(rename = "groth16")]
    Groth16,
    /// halo2 with KZG over BN254 (SHPLONK, the Keccak transcript of its EVM verifier).
    #[serde(rename = "halo2-kzg")]
    Halo2Kzg,
}

impl ProofSystem {
    /// Groth16 (serialised by omission).
    pub fn is_groth16(&self) -> bool {
        *self == ProofSystem::Groth16
    }

    /// The name in JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProofSystem::Groth16 => "groth16",
            ProofSystem::Halo2Kzg => "halo2-kzg",
        }
    }
}

/// A halo2 proof: `{"system": "halo2-kzg", "proof": "<hex>"}` (what `zkcredit prove
/// --system halo2` writes).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Halo2ProofJson {
    /// `halo2-kzg`.
    pub system: String,
    /// The proof bytes, hex (at most 64 KiB of bytes).
    pub proof: String,
}

/// The proof of a submission, in its system's layout.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SubmittedProof {
    /// snarkjs's `proof.json`.
    Groth16(ProofJson),
    /// [`Halo2ProofJson`].
    Halo2(Halo2ProofJson),
}

impl SubmittedProof {
    /// The Groth16 proof, if this is one.
    pub fn groth16(&self) -> Option<&ProofJson> {
        match self {
            SubmittedProof::Groth16(p) => Some(p),
            SubmittedProof::Halo2(_) => None,
        }
    }

    /// The Groth16 proof, mutably (tests that tamper with it).
    pub fn groth16_mut(&mut self) -> Option<&mut ProofJson> {
        match self {
            SubmittedProof::Groth16(p) => Some(p),
            SubmittedProof::Halo2(_) => None,
        }
    }
}

impl From<ProofJson> for SubmittedProof {
    fn from(p: ProofJson) -> Self {
        SubmittedProof::Groth16(p)
    }
}

/// A proof submission.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// The proof system; absent means `groth16` (spec §11).
    #[serde(default, skip_serializing_if = "ProofSystem::is_groth16")]
    pub proof_system: ProofSystem,
    /// `proof.json` (snarkjs's layout for Groth16, [`Halo2ProofJson`] for halo2).
    pub proof: SubmittedProof,
    /// `public.json`: the seven public signals.
    pub public_signals: Vec<String>,
}

impl Submission {
    /// A Groth16 submission.
    pub fn groth16(proof: ProofJson, public_signals: Vec<String>) -> Self {
        Self {
            proof_system: ProofSystem::Groth16,
            proof: proof.into(),
            public_signals,
        }
    }

    /// A halo2 submission.
    pub fn halo2(proof: Halo2ProofJson, public_signals: Vec<String>) -> Self {
        Self {
            proof_system: ProofSystem::Halo2Kzg,
            proof: SubmittedProof::Halo2(proof),
            public_signals,
        }
    }
}

/// `POST /v1/verify` success.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct Accepted {
    /// Always true.
    pub accepted: bool,
    /// The recorded nullifier.
    pub nullifier: String,
    /// The request answered.
    pub request_nonce: String,
}

/// `POST /v1/verify/batch` body.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchSubmission {
    /// At most [`MAX_BATCH`] submissions.
    pub items: Vec<Submission>,
}

/// One batch result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
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

/// `GET /v1/requests/{nonce}/nullifiers/{nullifier}`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct NullifierStatus {
    /// The nullifier is recorded in the request's scope: this person already applied.
    pub recorded: bool,
}

/// `GET /v1/requests/{nonce}/originations/{tag}` (spec §6.10).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct OriginationStatus {
    /// The origination tag is recorded (by this lender or another sharing the record): a
    /// proof with it would be refused `origination_limit_reached`.
    pub used: bool,
}

/// The verifier's routes.
pub const ROUTES: &[Route] = &[
    crate::openapi::READYZ,
    Route {
        method: "post",
        path: "/v1/requests",
        summary: "Create a proof request {policy, ttl_seconds} (lender token); the scope is fixed by the verifier's configuration; returns the context to bind",
        auth: Auth::Lender,
        errors: &[E::ScopeFixed, E::BadTtl, E::PolicyNotOffered, E::InvalidBody, E::StoreFull, E::DatabaseUnavailable],
        params: &[],
        request: Some(Body::json::<NewRequest>()),
        response: Body::json::<ProofRequest>(),
        accepted: false,
    },
    Route {
        method: "get",
        path: "/v1/verifier",
        summary: "The verifier's identity (id, name, product, vk digest) a wallet pins",
        auth: Auth::None,
        errors: &[],
        params: &[],
        request: None,
        response: Body::json::<VerifierInfo>(),
        accepted: false,
    },
    Route {
        method: "get",
        path: "/v1/requests/{nonce}",
        summary: "Fetch a proof request (what a wallet reads)",
        auth: Auth::None,
        errors: &[E::BadField, E::NotFound, E::DatabaseUnavailable],
        params: &[Param::path::<String>("nonce", "Request nonce (64 hex characters)")],
        request: None,
        response: Body::json::<ProofRequest>(),
        accepted: false,
    },
    Route {
        method: "get",
        path: "/v1/requests/{nonce}/nullifiers/{nullifier}",
        summary: "Whether a nullifier is already recorded in an open request's scope (a wallet asks before proving; the proof would reveal the same value to the same verifier)",
        auth: Auth::None,
        errors: &[E::BadField, E::NotFound, E::DatabaseUnavailable],
        params: &[
            Param::path::<String>("nonce", "Request nonce (64 hex characters)"),
            Param::path::<String>("nullifier", "The nullifier (decimal)"),
        ],
        request: None,
        response: Body::json::<NullifierStatus>(),
        accepted: false,
    },
    Route {
        method: "get",
        path: "/v1/requests/{nonce}/originations/{tag}",
        summary: "Whether an origination tag is already recorded (spec 6.10): a wallet asks for its tags j = 0, 1, … of the epoch and proves with the first unused one",
        auth: Auth::None,
        errors: &[E::BadField, E::NotFound, E::DatabaseUnavailable],
        params: &[
            Param::path::<String>("nonce", "Request nonce (64 hex characters)"),
            Param::path::<String>("tag", "The origination tag (decimal, non-zero)"),
        ],
        request: None,
        response: Body::json::<OriginationStatus>(),
        accepted: false,
    },
    Route {
        method: "post",
        path: "/v1/verify",
        summary: "Verify {proof_system?, proof, public_signals} (Groth16 in snarkjs layouts, or halo2-kzg when the verifier is configured for it) and record the nullifier",
        auth: Auth::None,
        errors: &[
            E::BadField, E::BadPoint, E::BadPublicSignals, E::Malformed, E::MalformedJson, E::InvalidBody,
            E::ProofSystemNotAccepted,
            E::UnknownRequest, E::RequestExpired, E::PolicyMismatch, E::ScopeMismatch, E::NowOutOfSkew,
            E::UnknownRegistryRoot, E::InvalidProof, E::NullifierReused, E::OriginationLimitReached, E::RequestAlreadyUsed, E::AlreadyAccepted,
            E::RegistryUnavailable, E::RegistryUntrusted, E::RegistrySlotsMismatch,
            E::ProviderRootUnsigned, E::DatabaseUnavailable,
        ],
        params: &[],
        request: Some(Body::json::<Submission>()),
        response: Body::json::<Accepted>(),
        accepted: false,
    },
    Route {
        method: "post",
        path: "/v1/verify/batch",
        summary: "Verify up to 256 submissions (Groth16 ones with one random linear combination, halo2 ones through one KZG accumulator); one result per item (each refusal carries its code)",
        auth: Auth::None,
        errors: &[E::BadBatchSize, E::MalformedJson, E::InvalidBody, E::DatabaseUnavailable],
        params: &[],
        request: Some(Body::json::<BatchSubmission>()),
        response: Body::json::<Vec<BatchResult>>(),
        accepted: false,
    },
];
