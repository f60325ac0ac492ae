//! The KYC issuer's messages (spec §7.2).

use crate::auth::{hex_n, parse_public_key, Attestation, AuthError, KycApplication};
use crate::error::ErrorCode as E;
use crate::openapi::{schema, Auth, Body, Param, Route};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use zkcredit_circuits::field::{fr_from_dec, fr_to_be_bytes};
use zkcredit_circuits::Fr;

/// Largest raw identifier the issuer stores, in bytes (before normalisation; the normalised
/// identifier is at most 62 bytes, spec §3.4).
pub const MAX_RAW_ID_BYTES: usize = 128;
/// Largest client token the issuer accepts, in bytes.
pub const MAX_TOKEN_BYTES: usize = 256;
/// Domain of the issuer's signed revocation list.
pub const REVOCATIONS_DOMAIN: &[u8] = b"zkcredit/revocations/v1";

/// An application as the wallet sees it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct ApplicationView {
    /// Application id (hex; the wallet's capability to read it).
    pub application_id: String,
    /// `pending`, `approved`, `rejected` or `revoked`.
    pub status: String,
    /// The attestation, once approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<Attestation>,
}

/// An application as the operator sees it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct PendingApplication {
    /// Application id.
    pub application_id: String,
    /// The identifier to check.
    pub id: String,
    /// The holder key it will be bound to.
    pub holder_key: String,
    /// Submitted at.
    pub created_at: u64,
}

/// `POST /v1/admin/applications/{id}/approve` body (empty body: both false).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Approve {
    /// Replace an existing binding of the identifier (a lost wallet).
    #[serde(default)]
    pub replace: bool,
    /// Publish the KYC tree at once.
    #[serde(default)]
    pub publish: bool,
}

/// `POST /v1/admin/clients` body: a provider allowed to look up subject keys.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// The client's name (1..=64 characters).
    pub name: String,
    /// Its bearer token (≥ 16 characters; stored hashed).
    pub token: String,
}

impl std::fmt::Debug for NewClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewClient")
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// `POST /v1/admin/clients` answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct ClientAdded {
    /// The client's name.
    pub client: String,
}

/// `POST /v1/subjects/lookup` body.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectLookup {
    /// The real-world identifier.
    pub id: String,
}

impl std::fmt::Debug for SubjectLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectLookup { id: <redacted> }")
    }
}

/// `POST /v1/subjects/lookup` answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct SubjectKey {
    /// The subject key (decimal).
    pub subject_key: String,
}

/// `GET /v1/issuer`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct IssuerInfo {
    /// ed25519 attestation key (hex).
    pub issuer_key: String,
    /// Provider id (decimal).
    pub provider_id: String,
    /// Published KYC root (decimal).
    pub root: String,
    /// When published.
    pub published_at: u64,
}

/// `POST /v1/admin/revocations` body: revoke the binding an approved application created.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    /// The approved application whose (subject key, holder key) binding is revoked.
    pub application_id: String,
}

/// One revoked binding: attestations for `subject_key` held by `holder_key` are refused.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// The subject key (decimal).
    pub subject_key: String,
    /// The revoked holder key (hex).
    pub holder_key: String,
    /// When it was revoked (Unix seconds).
    pub revoked_at: u64,
}

/// `GET /v1/revocations`: every revoked binding, signed by the issuer's attestation key over
/// [`REVOCATIONS_DOMAIN`] ‖ `generated_at` ‖ count ‖ each (subject key, holder key,
/// revoked_at), so a provider that pins the issuer key trusts no one on the path, and
/// refuses a list older than its freshness bound.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RevocationList {
    /// When the issuer produced this list (Unix seconds).
    pub generated_at: u64,
    /// The revoked bindings.
    pub revoked: Vec<Revocation>,
    /// The issuer's ed25519 signature (hex).
    pub signature: String,
}

fn revocations_message(generated_at: u64, revoked: &[(Fr, [u8; 32], u64)]) -> Vec<u8> {
    let mut m = REVOCATIONS_DOMAIN.to_vec();
    m.extend_from_slice(&generated_at.to_be_bytes());
    m.extend_from_slice(&(revoked.len() as u64).to_be_bytes());
    for (k, h, at) in revoked {
        m.extend_from_slice(&fr_to_be_bytes(k));
        m.extend_from_slice(h);
        m.extend_from_slice(&at.to_be_bytes());
    }
    m
}

fn enc(field: &'static str, reason: impl Into<String>) -> AuthError {
    AuthError::Encoding {
        field,
        reason: reason.into(),
    }
}

impl RevocationList {
    /// The issuer signs the list `revoked` (subject key, holder key, revoked_at) at `now`.
    pub fn sign(issuer: &SigningKey, revoked: &[(Fr, VerifyingKey, u64)], now: u64) -> Self {
        let raw: Vec<(Fr, [u8; 32], u64)> = revoked
            .iter()
            .map(|(k, h, at)| (*k, *h.as_bytes(), *at))
            .collect();
        let sig = issuer.sign(&revocations_message(now, &raw));
        Self {
            generated_at: now,
            revoked: revoked
                .iter()
                .map(|(k, h, at)| Revocation {
                    subject_key: zkcredit_circuits::field::fr_to_dec(k),
                    holder_key: hex::encode(h.as_bytes()),
                    revoked_at: *at,
                })
                .collect(),
            signature: hex::encode(sig.to_bytes()),
        }
    }

    /// Checks the issuer's signature; returns the revoked (subject key, holder key) pairs.
    pub fn verify(&self, issuer: &VerifyingKey) -> Result<HashSet<(Fr, [u8; 32])>, AuthError> {
        let mut raw = Vec::with_capacity(self.revoked.len());
        for r in &self.revoked {
            let k = fr_from_dec(&r.subject_key)
                .map_err(|e| enc("revoked.subject_key", e.to_string()))?;
            let h = parse_public_key("revoked.holder_key", &r.holder_key)?;
            raw.push((k, *h.as_bytes(), r.revoked_at));
        }
        let sig = Signature::from_bytes(&hex_n::<64>("signature", &self.signature)?);
        issuer
            .verify_strict(&revocations_message(self.generated_at, &raw), &sig)
            .map_err(|_| AuthError::BadSignature)?;
        Ok(raw.into_iter().map(|(k, h, _)| (k, h)).collect())
    }
}

/// The issuer's own routes (its KYC tree adds [`crate::provider::ROUTES`]).
pub const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/v1/issuer",
        summary: "Attestation key, provider id, published KYC root",
        auth: Auth::None,
        errors: &[],
        params: &[],
        request: None,
        response: Body::json::<IssuerInfo>(),
        accepted: false,
    },
    Route {
        method: "post",
        path: "/v1/kyc/applications",
        summary: "Apply for KYC {id, holder_commitment, holder_key, signature} (KYC stand-in: an operator approves)",
        auth: Auth::None,
        errors: &[E::BadId, E::BadEncoding, E::BadSignature, E::AlreadyRegistered, E::TooManyApplications, E::StoreFull],
        params: &[],
        request: Some(Body::json::<KycApplication>()),
        response: Body::json::<ApplicationView>(),
        accepted: true,
    },
    Route {
        method: "get",
        path: "/v1/kyc/applications/{id}",
        summary: "An application's status and, once approved, its attestation",
        auth: Auth::None,
        errors: &[E::BadEncoding, E::UnknownApplication],
        params: &[Param::path::<String>("id", "Application id (32 hex characters)")],
        request: None,
        response: Body::json::<ApplicationView>(),
        accepted: false,
    },
    Route {
        method: "get",
        path: "/v1/admin/applications",
        summary: "Pending applications",
        auth: Auth::Admin,
        errors: &[],
        params: &[],
        request: None,
        response: Body::json::<Vec<PendingApplication>>(),
        accepted: false,
    },
    Route {
        method: "post",
        path: "/v1/admin/applications/{id}/approve",
        summary: "Approve {replace?, publish?}: KYC row staged, attestation signed",
        auth: Auth::Admin,
        errors: &[E::UnknownApplication, E::AlreadyRegistered, E::ApplicationRejected, E::NotPending, E::RebindLimited],
        params: &[Param::path::<String>("id", "Application id (32 hex characters)")],
        request: Some(Body::OptionalJson(schema::of::<Approve>)),
        response: Body::json::<ApplicationView>(),
        accepted: false,
    },
    Route {
        method: "post",
        path: "/v1/admin/applications/{id}/reject",
        summary: "Reject an application",
        auth: Auth::Admin,
        errors: &[E::UnknownApplication, E::NotPending],
        params: &[Param::path::<String>("id", "Application id (32 hex characters)")],
        request: None,
        response: Body::json::<ApplicationView>(),
        accepted: false,
    },
    Route {
        method: "post",
        path: "/v1/admin/clients",
        summary: "Allow a provider {name, token} to look up subject keys",
        auth: Auth::Admin,
        errors: &[E::BadName, E::WeakToken, E::BadRequest, E::StoreFull],
        params: &[],
        request: Some(Body::json::<NewClient>()),
        response: Body::json::<ClientAdded>(),
        accepted: false,
    },
    Route {
        method: "post",
        path: "/v1/admin/revocations",
        summary: "Revoke the binding of an approved application {application_id} (a lost wallet); providers refuse its attestation",
        auth: Auth::Admin,
        errors: &[E::BadEncoding, E::UnknownApplication, E::NotPending, E::StoreFull],
        params: &[],
        request: Some(Body::json::<Revoke>()),
        response: Body::json::<RevocationList>(),
        accepted: false,
    },
    Route {
        method: "get",
        path: "/v1/revocations",
        summary: "Every revoked (subject key, holder key), signed by the attestation key; providers fetch it before answering witnesses",
        auth: Auth::None,
        errors: &[],
        params: &[],
        request: None,
        response: Body::json::<RevocationList>(),
        accepted: false,
    },
    Route {
        method: "post",
        path: "/v1/subjects/lookup",
        summary: "A customer's subject key {id} (client token; rate-limited per token; every lookup is logged)",
        auth: Auth::Client,
        errors: &[E::BadId, E::RateLimited],
        params: &[],
        request: Some(Body::json::<SubjectLookup>()),
        response: Body::json::<SubjectKey>(),
        accepted: false,
    },
];
