//! HTTP error bodies (spec §9): every failure is a status code and a JSON body
//! `{"error": {"code", "message", "field"?}}` naming the problem.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

pub(crate) fn sha(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Constant-time comparison of two digests.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An API error: status, stable machine code, message, optional field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Stable machine-readable code, e.g. `nullifier_reused`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// The offending field, when one is to blame.
    pub field: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Names the field at fault.
    pub fn field(mut self, f: impl Into<String>) -> Self {
        self.field = Some(f.into());
        self
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(401, "unauthorized", "missing or wrong bearer token")
    }

    /// 500 `internal` (store failure; details are logged, not returned).
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(500, "internal", "internal error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        (status, axum::Json(body)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = r.status().as_u16();
        let code = match r {
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            JsonRejection::JsonSyntaxError(_) => "malformed_json",
            JsonRejection::JsonDataError(_) => "invalid_body",
            JsonRejection::BytesRejection(_) => "body_too_large",
            _ => "bad_request",
        };
        // serde's message names the field or line/column.
        Self::new(status, code, r.body_text())
    }
}

impl From<zkcredit_verifier::VerifyError> for ApiError {
    fn from(e: zkcredit_verifier::VerifyError) -> Self {
        use zkcredit_verifier::VerifyError as V;
        match e {
            V::InvalidProof => Self::new(422, "invalid_proof", "the Groth16 check failed"),
            V::BadField { ref field, .. } => {
                Self::new(400, "bad_field", e.to_string()).field(field.clone())
            }
            V::BadPoint { ref field, .. } => {
                Self::new(400, "bad_point", e.to_string()).field(field.clone())
            }
            V::PublicInputCount { .. } => {
                Self::new(400, "bad_public_signals", e.to_string()).field("public_signals")
            }
            other => Self::new(400, "malformed", other.to_string()),
        }
    }
}

/// `axum::Json` whose rejections become [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
