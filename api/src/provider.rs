//! A provider's tree service messages (spec §4, §7.3): what fraud lists, lenders, bureaus
//! and the KYC issuer's tree answer.

use crate::auth::WitnessRequest;
use crate::error::ErrorCode as E;
use crate::openapi::{schema, Auth, Body, Param, Route};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zkcredit_circuits::imt::LookupWitness;
use zkcredit_circuits::registry::Role;

/// What a publication did.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct PublishReport {
    /// The published root (decimal).
    pub root: String,
    /// Its timestamp.
    pub published_at: u64,
    /// Rows in the tree.
    pub rows: usize,
    /// Journal entries applied.
    pub changes_applied: usize,
    /// Whether the tree was rebuilt in parallel rather than updated row by row.
    pub rebuilt: bool,
    /// Seconds spent updating or rebuilding the tree.
    pub tree_seconds: f64,
    /// Seconds spent persisting it (one transaction).
    pub persist_seconds: f64,
    /// `published`, `not_configured`, or `failed: …` (retried later).
    pub registry: String,
}

/// What an import staged.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ImportReport {
    /// Rows upserted.
    pub upserts: usize,
    /// Keys deleted.
    pub deletes: usize,
    /// Seconds parsing and validating.
    pub parse_seconds: f64,
    /// Seconds writing the journal (one transaction).
    pub store_seconds: f64,
    /// The publication, when `?publish=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<PublishReport>,
}

/// `POST /v1/witness` answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct WitnessResponse {
    /// Provider id (decimal).
    pub provider_id: String,
    /// Provider role.
    pub role: Role,
    /// The published root the witness opens (decimal).
    pub root: String,
    /// When it was published.
    pub published_at: u64,
    /// Whether the subject is in the tree.
    pub present: bool,
    /// The lookup witness.
    pub witness: LookupWitness,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct Status {
    /// Role.
    pub role: Role,
    /// Provider id (decimal).
    pub provider_id: String,
    /// Published root (decimal).
    pub root: String,
    /// When published (0: never).
    pub published_at: u64,
    /// The provider's ed25519 root-signing key (hex): what lenders pin in
    /// `--expected-slots` (spec §7.0).
    pub public_key: String,
}

/// `GET /v1/admin/status`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct AdminStatus {
    /// Public part.
    #[serde(flatten)]
    pub status: Status,
    /// Rows in the published tree.
    pub rows: usize,
    /// Staged journal entries not yet published.
    pub pending_changes: u64,
    /// The registry has not yet acknowledged the last publication.
    pub registry_pending: bool,
}

/// A record value in JSON: a number or a decimal string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Value {
    /// A number.
    N(u64),
    /// A decimal string (the KYC issuer's holder commitment is a field element).
    S(String),
}

impl Value {
    /// The value as decimal text.
    pub fn text(&self) -> String {
        match self {
            Value::N(n) => n.to_string(),
            Value::S(s) => s.clone(),
        }
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Value::N(n)
    }
}

/// `PUT /v1/admin/rows/{subject_key}` body.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RowValues {
    /// `[v0, v1, v2]` (spec §4.3 records).
    pub values: [Value; 3],
}

/// One row of a JSON import.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRow {
    /// The subject key (decimal).
    pub subject_key: String,
    /// `[v0, v1, v2]`.
    pub values: [Value; 3],
}

/// `POST /v1/admin/import` JSON body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportJson {
    /// Rows to upsert.
    #[serde(default)]
    pub upsert: Vec<ImportRow>,
    /// Subject keys to delete.
    #[serde(default)]
    pub delete: Vec<String>,
}

/// `POST /v1/admin/import` query.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Publish at once.
    #[serde(default)]
    pub publish: bool,
    /// Hold the provider's scheduled publications for this many seconds (at most
    /// [`MAX_IMPORT_HOLD`]; 0, the default: no hold): a client sending a large file in
    /// several requests publishes once, at the end, not part of it on a schedule.
    #[serde(default)]
    pub hold: u64,
}

/// The longest hold one import request may ask for, seconds.
pub const MAX_IMPORT_HOLD: u64 = 600;

/// `PUT|DELETE /v1/admin/rows/{subject_key}` answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct Staged {
    /// `upsert` or `delete`.
    pub staged: String,
    /// The subject key (decimal).
    pub subject_key: String,
}

/// `GET /v1/admin/rows/{subject_key}` answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct RowView {
    /// The subject key (decimal).
    pub subject_key: String,
    /// The record (decimal).
    pub values: Vec<String>,
}

/// The tree routes every provider (and the issuer's KYC tree) serves.
pub const ROUTES: &[Route] = &[
    Route {
        method: "put",
        path: "/v1/admin/rows/{subject_key}",
        summary: "Stage an upsert {values: [v0, v1, v2]}",
        auth: Auth::Admin,
        errors: &[E::BadField, E::BadKey, E::BadValue, E::InvalidBody, E::DatabaseUnavailable, E::Overloaded, E::TreeTakenOver],
        params: &[Param::path::<String>("subject_key", "The subject key (decimal, in [1, 2^248))")],
        request: Some(Body::json::<RowValues>()),
        response: Body::json::<Staged>(),
        accepted: false,
    },
    Route {
        method: "get",
        path: "/v1/admin/rows/{subject_key}",
        summary: "The row as it will be published",
        auth: Auth::Admin,
        errors: &[E::BadField, E::BadKey, E::NotFound, E::DatabaseUnavailable, E::Overloaded],
        params: &[Param::path::<String>("subject_key", "The subject key (decimal, in [1, 2^248))")],
        request: None,
        response: Body::json::<RowView>(),
        accepted: false,
    },
    Route {
        method: "delete",
        path: "/v1/admin/rows/{subject_key}",
        summary: "Stage a delete",
        auth: Auth::Admin,
        errors: &[E::BadField, E::BadKey, E::DatabaseUnavailable, E::Overloaded, E::TreeTakenOver],
        params: &[Param::path::<String>("subject_key", "The subject key (decimal, in [1, 2^248))")],
        request: None,
        response: Body::json::<Staged>(),
        accepted: false,
    },
    Route {
        method: "post",
        path: "/v1/admin/import",
        summary: "Bulk import: text/csv (subject_key,v0,v1,v2) or application/json {upsert, delete}; ?publish=true; validated whole, nothing staged on error",
        auth: Auth::Admin,
        errors: &[E::BadCsv, E::BadField, E::BadKey, E::BadValue, E::InvalidBody, E::UnsupportedMediaType, E::BodyTooLarge, E::TreeFull, E::DatabaseUnavailable, E::Overloaded, E::TreeTakenOver],
        params: &[Param::query::<ImportQuery>()],
        request: Some(Body::JsonOrCsv(schema::of::<ImportJson>, "Rows to upsert, one per line: `subject_key,v0,v1,v2` (decimal; an optional first line `subject_key,v0,v1,v2` is a header); deletes need JSON")),
        response: Body::json::<ImportReport>(),
        accepted: false,
    },
    Route {
        method: "post",
        path: "/v1/admin/publish",
        summary: "Apply staged changes, persist the tree, publish the root to the registry",
        auth: Auth::Admin,
        errors: &[E::TreeFull, E::DatabaseUnavailable, E::Overloaded, E::TreeTakenOver],
        params: &[],
        request: None,
        response: Body::json::<PublishReport>(),
        accepted: false,
    },
    Route {
        method: "get",
        path: "/v1/admin/status",
        summary: "Rows, pending changes, registry acknowledgement",
        auth: Auth::Admin,
        errors: &[E::DatabaseUnavailable, E::Overloaded],
        params: &[],
        request: None,
        response: Body::json::<AdminStatus>(),
        accepted: false,
    },
    Route {
        method: "get",
        path: "/v1/status",
        summary: "Role, provider id, published root and time",
        auth: Auth::None,
        errors: &[],
        params: &[],
        request: None,
        response: Body::json::<Status>(),
        accepted: false,
    },
    Route {
        method: "post",
        path: "/v1/witness",
        summary: "Lookup witness for the attested subject key: issuer attestation + fresh holder signature required",
        auth: Auth::Holder,
        errors: &[E::BadEncoding, E::StaleRequest, E::BadAttestation, E::AttestationExpired, E::WrongProvider, E::BadSignature, E::AttestationRevoked, E::RevocationsUnavailable, E::BadKey, E::InvalidBody, E::DatabaseUnavailable],
        params: &[],
        request: Some(Body::json::<WitnessRequest>()),
        response: Body::json::<WitnessResponse>(),
        accepted: false,
    },
];
