//! Typed async clients of every service (reqwest): what the wallet, the command line, the
//! test launcher, the tests and the load example use instead of hand-built requests. A
//! 2xx answer decodes into the route's response type; any other into
//! [`ClientError::Service`] with the body's code, message and field.

mod issuer;
mod provider;
mod registry;
mod verifier;

pub use issuer::IssuerClient;
pub use provider::ProviderClient;
pub use registry::RegistryClient;
pub use verifier::VerifierClient;

use crate::error::{ErrorBody, ErrorCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// What a call can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The service could not be reached, or its answer could not be read.
    #[error("cannot reach {url}: {message}")]
    Http {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The service answered with an error body.
    #[error("{url} refused ({status} {code}): {message}")]
    Service {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The error code (a string: the service may be newer than this client).
        code: String,
        /// The message.
        message: String,
        /// The field at fault.
        field: Option<String>,
    },
}

impl ClientError {
    /// The HTTP status of a service refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Service { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The error code of a service refusal, as sent.
    pub fn code_str(&self) -> Option<&str> {
        match self {
            ClientError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The error code of a service refusal, if it is one this build knows.
    pub fn code(&self) -> Option<ErrorCode> {
        self.code_str().and_then(ErrorCode::parse)
    }

    /// The message of a service refusal.
    pub fn message(&self) -> Option<&str> {
        match self {
            ClientError::Service { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The field a service refusal names, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            ClientError::Service { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

/// Largest answer a client reads (bytes). Every service answer is far smaller (a lookup
/// witness is a few KiB, the largest listing a few MiB); a larger or endless body from a
/// broken or hostile endpoint is cut off with [`ClientError::Http`], never buffered.
pub const MAX_RESPONSE_BYTES: usize = 32 << 20;

/// How long a client waits to connect to a service.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long one call may take, answer included (a bulk-import part is the slowest call).
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The HTTP client every command-line role and the wallet use: no redirects (a proof or a
/// token is never re-sent to another address the service names), connect and call
/// timeouts. Answers are capped at [`MAX_RESPONSE_BYTES`] by the decoding functions.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .build()
        // Only a TLS backend or system configuration failure makes `build` fail; this
        // build has no TLS backend, and the default client has the same requirements.
        .unwrap_or_default()
}

/// Reads an answer's body as text, at most `limit` bytes (refused up front when the
/// declared length is larger, cut off as soon as the stream passes it).
pub async fn read_body(
    url: &str,
    mut r: reqwest::Response,
    limit: usize,
) -> Result<String, ClientError> {
    let too_large = || ClientError::Http {
        url: url.into(),
        message: format!("the answer is larger than {limit} bytes"),
    };
    if r.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = r.chunk().await.map_err(|e| ClientError::Http {
        url: url.into(),
        message: e.to_string(),
    })? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| ClientError::Http {
        url: url.into(),
        message: "the answer is not UTF-8 text".into(),
    })
}

/// A service's base URL and an HTTP client (cheap to clone), with an optional bearer token.
#[derive(Clone)]
pub struct Endpoint {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Endpoint {
    /// `base` is the service's base URL, e.g. `http://127.0.0.1:8080` (a trailing `/` is dropped).
    pub fn new(http: reqwest::Client, base: impl Into<String>) -> Self {
        let mut base = base.into();
        while base.ends_with('/') {
            base.pop();
        }
        Self {
            http,
            base,
            token: None,
        }
    }

    /// The same endpoint authenticated with bearer `token`.
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> (String, reqwest::RequestBuilder) {
        let url = self.url(path);
        let mut rb = self.http.request(method, &url);
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        (url, rb)
    }

    /// `GET path`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let (url, rb) = self.request(reqwest::Method::GET, path);
        send(&url, rb).await
    }

    /// `DELETE path`.
    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let (url, rb) = self.request(reqwest::Method::DELETE, path);
        send(&url, rb).await
    }

    /// `POST path` with a JSON body.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let (url, rb) = self.request(reqwest::Method::POST, path);
        send(&url, rb.json(body)).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let (url, rb) = self.request(reqwest::Method::PUT, path);
        send(&url, rb.json(body)).await
    }

    /// `GET path` of a text answer (e.g. `/metrics`, Prometheus text exposition); a non-2xx
    /// answer is decoded as an error body, as for JSON routes.
    pub async fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let (url, rb) = self.request(reqwest::Method::GET, path);
        let http_error = |e: reqwest::Error| ClientError::Http {
            url: url.clone(),
            message: e.to_string(),
        };
        let r = rb.send().await.map_err(http_error)?;
        let status = r.status().as_u16();
        let text = read_body(&url, r, MAX_RESPONSE_BYTES).await?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        // Not 2xx: `decode_text` answers the refusal.
        decode_text::<serde::de::IgnoredAny>(&url, status, &text).map(|_| text)
    }

    /// `POST path` with a raw body of `content_type`.
    pub async fn post_raw<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<T, ClientError> {
        let (url, rb) = self.request(reqwest::Method::POST, path);
        send(&url, rb.header("content-type", content_type).body(body)).await
    }
}

/// Sends `req` (to `url`) and decodes the answer: JSON on 2xx, the error body otherwise.
pub async fn send<T: DeserializeOwned>(
    url: &str,
    req: reqwest::RequestBuilder,
) -> Result<T, ClientError> {
    let r = req.send().await.map_err(|e| ClientError::Http {
        url: url.into(),
        message: e.to_string(),
    })?;
    decode_response(url, r).await
}

/// Decodes a service answer: JSON on 2xx, the error body as [`ClientError::Service`] otherwise.
pub async fn decode_response<T: DeserializeOwned>(
    url: &str,
    r: reqwest::Response,
) -> Result<T, ClientError> {
    let status = r.status().as_u16();
    let text = read_body(url, r, MAX_RESPONSE_BYTES).await?;
    decode_text(url, status, &text)
}

/// Decodes an answer already read (`status`, `text`).
pub fn decode_text<T: DeserializeOwned>(
    url: &str,
    status: u16,
    text: &str,
) -> Result<T, ClientError> {
    if !(200..300).contains(&status) {
        let (code, message, field) = match serde_json::from_str::<ErrorBody>(text) {
            Ok(b) => (b.error.code, b.error.message, b.error.field),
            Err(_) => (
                "unknown".to_string(),
                text.chars().take(512).collect(),
                None,
            ),
        };
        return Err(ClientError::Service {
            url: url.into(),
            status,
            code,
            message,
            field,
        });
    }
    serde_json::from_str(text).map_err(|e| ClientError::Http {
        url: url.into(),
        message: format!("unexpected answer: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_decode_into_service_errors_and_garbage_does_not_panic() {
        let e = decode_text::<serde_json::Value>(
            "u",
            409,
            r#"{"error":{"code":"nullifier_reused","message":"m","field":"public_signals[4]"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::NullifierReused));
        assert_eq!(e.status(), Some(409));
        let e = decode_text::<serde_json::Value>("u", 502, "<html>").unwrap_err();
        assert_eq!(e.code_str(), Some("unknown"));
        assert!(matches!(
            decode_text::<u64>("u", 200, "\"x\""),
            Err(ClientError::Http { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_answers_never_panics(status in 100u16..600, text in ".{0,200}") {
            let _ = decode_text::<crate::verifier::Accepted>("u", status, &text);
        }
    }
}
