//! The lender's API messages (spec §7).

use crate::error::ErrorCode as E;
use crate::openapi::{Auth, Route};
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
    /// At most [`MAX_BATCH`] submissions.
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

/// The verifier's routes.
pub const ROUTES: &[Route] = &[
    Route {
        method: "post",
        path: "/v1/requests",
        summary: "Create a proof request {policy, scope, ttl_seconds}; returns the context to bind",
        auth: Auth::None,
        errors: &[E::BadField, E::BadTtl, E::PolicyNotOffered, E::InvalidBody],
    },
    Route {
        method: "get",
        path: "/v1/requests/{nonce}",
        summary: "Fetch a proof request (what a wallet reads)",
        auth: Auth::None,
        errors: &[E::BadField, E::NotFound],
    },
    Route {
        method: "post",
        path: "/v1/verify",
        summary: "Verify {proof, public_signals} (snarkjs layouts) and record the nullifier",
        auth: Auth::None,
        errors: &[
            E::BadField, E::BadPoint, E::BadPublicSignals, E::Malformed, E::MalformedJson, E::InvalidBody,
            E::UnknownRequest, E::RequestExpired, E::PolicyMismatch, E::ScopeMismatch, E::NowOutOfSkew,
            E::UnknownRegistryRoot, E::InvalidProof, E::NullifierReused, E::RequestAlreadyUsed,
            E::RegistryUnavailable,
        ],
    },
    Route {
        method: "post",
        path: "/v1/verify/batch",
        summary: "Verify up to 256 submissions with one random linear combination; one result per item (each refusal carries its code)",
        auth: Auth::None,
        errors: &[E::BadBatchSize, E::MalformedJson, E::InvalidBody],
    },
];
