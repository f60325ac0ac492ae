//! Every error the services answer (spec §9): one [`ErrorCode`] table holds the stable
//! machine code, the HTTP status and the description; bodies are
//! `{"error": {"code", "message", "field"?}}` ([`ErrorBody`]). The servers, the typed
//! clients and the OpenAPI documents all read this one table.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = ($status:literal, $code:literal, $desc:literal), )*) => {
        /// A stable machine-readable error code, with its HTTP status.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as sent, e.g. `nullifier_reused`.
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The HTTP status it is answered with.
            pub const fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// What it means, for people (the OpenAPI documents list it).
            pub const fn description(self) -> &'static str {
                match self { $(ErrorCode::$variant => $desc,)* }
            }

            /// The code named `s`, if it is one of ours.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($code => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

error_codes! {
    // --- any service: transport and body (spec §9)
    /// A request the service cannot use, not covered by a more precise code.
    BadRequest = (400, "bad_request", "the request cannot be used"),
    /// JSON syntax error (line and column in the message).
    MalformedJson = (400, "malformed_json", "the body is not valid JSON"),
    /// The JSON does not match the schema (the message names the field).
    InvalidBody = (422, "invalid_body", "the body does not match the schema"),
    /// Wrong or missing `content-type`.
    UnsupportedMediaType = (415, "unsupported_media_type", "wrong content type"),
    /// The body exceeds the service's limit.
    BodyTooLarge = (413, "body_too_large", "the body is larger than the service accepts"),
    /// A field element is not canonical decimal below r.
    BadField = (400, "bad_field", "a field element is not a canonical decimal below r"),
    /// A curve point is not on the curve or not in the prime-order subgroup.
    BadPoint = (400, "bad_point", "a curve point is off the curve or outside the subgroup"),
    /// A proof or key is malformed in another way.
    Malformed = (400, "malformed", "a proof or key is malformed"),
    /// Missing or wrong bearer token or credentials.
    Unauthorized = (401, "unauthorized", "missing or wrong credentials"),
    /// The credentials are valid but do not allow this.
    Forbidden = (403, "forbidden", "these credentials do not allow this"),
    /// No such resource.
    NotFound = (404, "not_found", "no such resource"),
    /// A store failure (details are logged, never returned).
    Internal = (500, "internal", "internal error (logged)"),
    // --- registry (spec §5)
    /// Slot index out of range in a registration.
    BadSlot = (400, "bad_slot", "slot index out of range"),
    /// Slot index out of range in a publication.
    UnknownSlot = (404, "unknown_slot", "no such slot"),
    /// A provider token shorter than 16 characters.
    WeakToken = (400, "weak_token", "a token must be at least 16 characters"),
    /// A provider endpoint that is not an http(s) URL.
    BadEndpoint = (400, "bad_endpoint", "endpoint must be an http(s) URL of at most 256 characters"),
    /// A role the slot cannot hold (slot 0 is the KYC issuer's).
    BadRole = (400, "bad_role", "the slot cannot hold this role"),
    /// `published_at` ahead of the registry's clock.
    PublishedInFuture = (400, "published_in_future", "published_at is ahead of the clock"),
    /// `published_at` earlier than the slot's previous one.
    PublishedBeforePrevious = (409, "published_before_previous", "published_at is not later than the slot's previous publication (a new root needs a later time)"),
    // --- issuer (spec §7.2)
    /// An identifier that does not normalise.
    BadId = (400, "bad_id", "the identifier is empty, too long or has characters outside the allowed set"),
    /// A client name outside 1..=64 characters.
    BadName = (400, "bad_name", "name must be 1..=64 characters"),
    /// No such KYC application.
    UnknownApplication = (404, "unknown_application", "no such application"),
    /// The identifier is bound to another holder key.
    AlreadyRegistered = (409, "already_registered", "this identifier is bound to another holder key"),
    /// The application was rejected.
    ApplicationRejected = (409, "application_rejected", "the application was rejected"),
    /// The application was already decided.
    NotPending = (409, "not_pending", "the application is not pending"),
    /// Too many applications for this holder key or identifier (bounded per key and per id).
    TooManyApplications = (429, "too_many_applications", "this holder key or identifier has too many applications"),
    /// A client token made more subject-key lookups than its rate allows.
    RateLimited = (429, "rate_limited", "too many requests for this credential; retry later"),
    /// The identifier was rebound (replaced) too often in the period.
    RebindLimited = (429, "rebind_limited", "this identifier was rebound too often in the period; retry later"),
    // --- providers' trees and witness API (spec §4, §7.3)
    /// A subject key outside [1, 2^248).
    BadKey = (400, "bad_key", "subject key must be in [1, 2^248)"),
    /// A record value that is not a u64 (or breaks the role's record shape).
    BadValue = (400, "bad_value", "a record value is not an unsigned 64-bit integer or breaks the record shape"),
    /// A CSV line that does not parse.
    BadCsv = (400, "bad_csv", "a CSV line does not parse (the field names the line)"),
    /// The tree has no free leaf.
    TreeFull = (507, "tree_full", "the tree has no free leaf"),
    /// A credential that is not well-formed hex / key / signature.
    BadEncoding = (400, "bad_encoding", "a credential is not well-formed"),
    /// A witness request outside the provider's time window.
    StaleRequest = (401, "stale_request", "the request timestamp is outside the provider's window"),
    /// An attestation not signed by the alliance's issuer.
    BadAttestation = (403, "bad_attestation", "the attestation is not signed by this alliance's KYC issuer"),
    /// An expired attestation.
    AttestationExpired = (403, "attestation_expired", "the attestation has expired"),
    /// A request addressed to another provider.
    WrongProvider = (403, "wrong_provider", "the request is addressed to another provider"),
    /// A request not signed by the attested holder key.
    BadSignature = (403, "bad_signature", "the request is not signed by the attested holder key"),
    /// The attestation is on the issuer's revocation list (e.g. a replaced, lost wallet).
    AttestationRevoked = (403, "attestation_revoked", "the issuer has revoked this holder key for this subject"),
    /// Another process opened this provider tree's PostgreSQL schema after this one and now
    /// writes it; this one refuses every write (spec §4.4).
    TreeTakenOver = (409, "tree_taken_over", "another process has taken this provider tree over; this one no longer writes it"),
    /// A SQLite tree's file is held by another process (its lock file), which writes it.
    TreeInUse = (409, "tree_in_use", "the tree's SQLite file is open in another process, which writes it"),
    /// The provider has no fresh revocation list from the issuer, so it answers no witness.
    RevocationsUnavailable = (503, "revocations_unavailable", "no fresh revocation list from the issuer; witnesses are withheld until there is one"),
    // --- verifier, the lender's API (spec §7)
    /// A request lifetime outside the configured bounds.
    BadTtl = (400, "bad_ttl", "ttl_seconds is outside the configured bounds"),
    /// A policy this lender does not offer.
    PolicyNotOffered = (400, "policy_not_offered", "this lender does not offer this policy"),
    /// A batch of 0 or more than 256 items.
    BadBatchSize = (400, "bad_batch_size", "a batch holds 1..=256 items"),
    /// Not exactly seven decimal public signals.
    BadPublicSignals = (400, "bad_public_signals", "public_signals must be the seven public inputs of spec §6"),
    /// The proof's context matches no request of this verifier.
    UnknownRequest = (422, "unknown_request", "the proof's context matches no request of this verifier"),
    /// The request has expired.
    RequestExpired = (422, "request_expired", "the request has expired"),
    /// The proof is for another policy.
    PolicyMismatch = (422, "policy_mismatch", "the proof is for another policy"),
    /// The proof is for another nullifier scope.
    ScopeMismatch = (422, "scope_mismatch", "the proof is for another nullifier scope"),
    /// The proof's `now` is outside the skew window.
    NowOutOfSkew = (422, "now_out_of_skew", "the proof's time is outside the accepted skew"),
    /// The registry root is neither current nor recent.
    UnknownRegistryRoot = (422, "unknown_registry_root", "the registry root is neither current nor recent"),
    /// The proof does not verify (the Groth16 pairing check or the halo2 KZG check failed).
    InvalidProof = (422, "invalid_proof", "the proof does not verify"),
    /// The submission's proof system is not one this verifier is configured for, or its
    /// proof is not in that system's layout (spec §11).
    ProofSystemNotAccepted = (400, "proof_system_not_accepted", "this verifier does not accept proofs of this system, or the proof is not in its layout"),
    /// The person already applied in this scope.
    NullifierReused = (409, "nullifier_reused", "this person already applied in this scope"),
    /// The proof's origination tag is recorded: the borrower reached the policy's limit of
    /// new loans this epoch (spec §6.10), at this lender or another sharing the record.
    OriginationLimitReached = (409, "origination_limit_reached", "this origination tag is used: the borrower's limit of new loans for this epoch is reached"),
    /// The request was already answered.
    RequestAlreadyUsed = (409, "request_already_used", "this request was already answered"),
    /// This very submission (this request, this nullifier) was already accepted: the answer
    /// to a retry whose first attempt was recorded but not answered (a cut connection, a
    /// crash between commit and reply). The application stands accepted.
    AlreadyAccepted = (409, "already_accepted", "this request was already accepted with this nullifier: the application stands accepted"),
    /// The registry could not be asked.
    RegistryUnavailable = (503, "registry_unavailable", "the registry could not be reached"),
    /// The registry's answer is not signed by the registry key the verifier pins, or is stale.
    RegistryUntrusted = (502, "registry_untrusted", "the registry's answer is not signed by the pinned registry key"),
    /// The registry root's slots differ from the lender's pinned expectation.
    RegistrySlotsMismatch = (422, "registry_slots_mismatch", "the registry root's slot set differs from the one this lender expects"),
    /// A provider root in the registry root is not signed by the key the lender pins for it.
    ProviderRootUnsigned = (422, "provider_root_unsigned", "a provider root in this registry root is not signed by the key this lender pins for that provider"),
    /// A request body named a nullifier scope; the verifier's configuration fixes it.
    ScopeFixed = (400, "scope_fixed", "the nullifier scope is fixed by the verifier's configuration, not chosen by the caller"),
    /// Too many requests in flight; retry later.
    Overloaded = (503, "overloaded", "the service is at its concurrency limit; retry later"),
    /// The service's database cannot be reached (a replica whose PostgreSQL is down). Retry
    /// later: the retry's answer says whether an interrupted attempt was recorded.
    DatabaseUnavailable = (503, "database_unavailable", "the service's database cannot be reached; retry later"),
    /// A table of the service is full (bounded storage).
    StoreFull = (507, "store_full", "the service's bounded table is full; retry later"),
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown error code {s:?}")))
    }
}

impl JsonSchema for ErrorCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ErrorCode".into()
    }

    /// What [`Serialize`] writes: one of the code strings of the table.
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A stable machine-readable error code (spec §9); each fixes the HTTP status.",
            "enum": Self::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        })
    }
}

/// An API error: a code (which fixes the HTTP status), a message, optionally the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Human-readable message.
    pub message: String,
    /// The offending field, when one is to blame.
    pub field: Option<String>,
}

impl ApiError {
    /// A new error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// The error with the code's own description as message.
    pub fn of(code: ErrorCode) -> Self {
        Self::new(code, code.description())
    }

    /// Names the field at fault.
    pub fn field(mut self, f: impl Into<String>) -> Self {
        self.field = Some(f.into());
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(ErrorCode::Unauthorized, "missing or wrong bearer token")
    }

    /// 500 `internal` (details are logged, not returned).
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str().to_string(),
                message: self.message.clone(),
                field: self.field.clone(),
            },
        }
    }
}

/// The JSON error body of every service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Inside [`ErrorBody`]; the code stays a string so a client can read codes it does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    /// The code (one of [`ErrorCode`]; a client keeps codes it does not know as text).
    #[schemars(with = "ErrorCode")]
    pub code: String,
    /// The message.
    pub message: String,
    /// The field at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl From<zkcredit_verifier::VerifyError> for ApiError {
    fn from(e: zkcredit_verifier::VerifyError) -> Self {
        use zkcredit_verifier::VerifyError as V;
        match e {
            V::InvalidProof => Self::of(ErrorCode::InvalidProof),
            V::BadField { ref field, .. } => {
                Self::new(ErrorCode::BadField, e.to_string()).field(field.clone())
            }
            V::BadPoint { ref field, .. } => {
                Self::new(ErrorCode::BadPoint, e.to_string()).field(field.clone())
            }
            V::PublicInputCount { .. } => {
                Self::new(ErrorCode::BadPublicSignals, e.to_string()).field("public_signals")
            }
            other => Self::new(ErrorCode::Malformed, other.to_string()),
        }
    }
}

#[cfg(feature = "axum")]
mod server {
    use super::{ApiError, ErrorCode};
    use axum::extract::rejection::JsonRejection;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};

    impl IntoResponse for ApiError {
        fn into_response(self) -> Response {
            let status =
                StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, axum::Json(self.body())).into_response()
        }
    }

    impl From<JsonRejection> for ApiError {
        fn from(r: JsonRejection) -> Self {
            let code = match r {
                JsonRejection::MissingJsonContentType(_) => ErrorCode::UnsupportedMediaType,
                JsonRejection::JsonSyntaxError(_) => ErrorCode::MalformedJson,
                JsonRejection::JsonDataError(_) => ErrorCode::InvalidBody,
                JsonRejection::BytesRejection(_) => ErrorCode::BodyTooLarge,
                _ => ErrorCode::BadRequest,
            };
            // serde's message names the field or line/column.
            Self::new(code, r.body_text())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_unique_parses_back_and_has_an_error_status() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {c}");
            assert_eq!(ErrorCode::parse(c.as_str()), Some(*c));
            assert!((400..600).contains(&c.status()), "{c}");
            assert!(!c.description().is_empty());
            let j = serde_json::to_string(c).unwrap();
            assert_eq!(serde_json::from_str::<ErrorCode>(&j).unwrap(), *c);
        }
        assert!(serde_json::from_str::<ErrorCode>("\"no_such_code\"").is_err());
    }

    #[test]
    fn body_layout_is_spec_9() {
        let e = ApiError::new(ErrorCode::NullifierReused, "again").field("public_signals[4]");
        let v = serde_json::to_value(e.body()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"code": "nullifier_reused", "message": "again", "field": "public_signals[4]"}})
        );
        assert_eq!(e.status(), 409);
    }
}
