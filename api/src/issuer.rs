//! The KYC issuer's messages (spec §7.2).

use crate::auth::Attestation;
use crate::error::ErrorCode as E;
use crate::openapi::{Auth, Route};
use serde::{Deserialize, Serialize};

/// An application as the wallet sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApplicationView {
    /// Application id (hex; the wallet's capability to read it).
    pub application_id: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// The attestation, once approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<Attestation>,
}

/// An application as the operator sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default)]
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
#[derive(Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientAdded {
    /// The client's name.
    pub client: String,
}

/// `POST /v1/subjects/lookup` body.
#[derive(Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubjectKey {
    /// The subject key (decimal).
    pub subject_key: String,
}

/// `GET /v1/issuer`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
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

/// The issuer's own routes (its KYC tree adds [`crate::provider::ROUTES`]).
pub const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/v1/issuer",
        summary: "Attestation key, provider id, published KYC root",
        auth: Auth::None,
        errors: &[],
    },
    Route {
        method: "post",
        path: "/v1/kyc/applications",
        summary: "Apply for KYC {id, holder_commitment, holder_key, signature} (KYC stand-in: an operator approves)",
        auth: Auth::None,
        errors: &[E::BadId, E::BadEncoding, E::BadSignature, E::AlreadyRegistered],
    },
    Route {
        method: "get",
        path: "/v1/kyc/applications/{id}",
        summary: "An application's status and, once approved, its attestation",
        auth: Auth::None,
        errors: &[E::BadEncoding, E::UnknownApplication],
    },
    Route {
        method: "get",
        path: "/v1/admin/applications",
        summary: "Pending applications",
        auth: Auth::Admin,
        errors: &[],
    },
    Route {
        method: "post",
        path: "/v1/admin/applications/{id}/approve",
        summary: "Approve {replace?, publish?}: KYC row staged, attestation signed",
        auth: Auth::Admin,
        errors: &[E::UnknownApplication, E::AlreadyRegistered, E::ApplicationRejected, E::NotPending],
    },
    Route {
        method: "post",
        path: "/v1/admin/applications/{id}/reject",
        summary: "Reject an application",
        auth: Auth::Admin,
        errors: &[E::UnknownApplication, E::NotPending],
    },
    Route {
        method: "post",
        path: "/v1/admin/clients",
        summary: "Allow a provider {name, token} to look up subject keys",
        auth: Auth::Admin,
        errors: &[E::BadName, E::WeakToken],
    },
    Route {
        method: "post",
        path: "/v1/subjects/lookup",
        summary: "A customer's subject key {id} (client token; every lookup is logged)",
        auth: Auth::Client,
        errors: &[E::BadId],
    },
];
