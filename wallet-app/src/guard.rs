//! The boundary of the local wallet app (SPEC §7.3). Every request must:
//!
//! - name the loopback address the app is bound to in `Host` (`127.0.0.1:PORT` or
//!   `localhost:PORT`), so a website that rebinds its DNS name to 127.0.0.1 cannot reach it;
//! - carry the per-start token as the first path segment (`/TOKEN/…`), compared in constant
//!   time: another local program or page without the printed link gets 403 `missing_token`;
//! - when it changes anything, be a `POST` of `application/json` whose `Origin` is the app's
//!   own and whose `Sec-Fetch-Site` (when the browser sends one) is `same-origin` (no CSRF:
//!   a cross-site form cannot send JSON, and a cross-site fetch carries a foreign `Origin`).
//!   `GET` never changes state.
//!
//! Every answer, refusals included, carries a strict Content-Security-Policy (scripts,
//! styles and connections to this origin only; no inline code, no frames, no forms
//! elsewhere), `no-referrer`, `nosniff`, `DENY` framing and `no-store` caching.

use axum::extract::Request;
use axum::http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::sync::{Arc, OnceLock};

/// The Content-Security-Policy of every answer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; base-uri 'none'; form-action 'none'; \
                       frame-ancestors 'none'";

/// The most a request body may hold.
pub const MAX_BODY: usize = 16 * 1024;

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "code": code, "message": message })),
    )
        .into_response()
}

/// Constant-time equality of two strings' bytes (the length is not secret).
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn header(req: &Request, name: HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The checks of this module, in order; `None` lets the request through.
fn check(req: &Request, token: &str, port: Option<u16>) -> Option<Response> {
    let Some(port) = port else {
        return Some(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting",
            "starting",
        ));
    };
    let host = header(req, HOST).unwrap_or("");
    // Browsers leave the default port 80 out of `Host` and `Origin`.
    let bare = port == 80 && (host == "127.0.0.1" || host == "localhost");
    if !bare && host != format!("127.0.0.1:{port}") && host != format!("localhost:{port}") {
        return Some(refuse(
            StatusCode::FORBIDDEN,
            "bad_host",
            "this wallet answers only at 127.0.0.1 on its own port",
        ));
    }
    let path = req.uri().path();
    let first = path
        .strip_prefix('/')
        .map(|p| p.split('/').next().unwrap_or(""))
        .unwrap_or("");
    if !same_token(first, token) {
        return Some(refuse(
            StatusCode::FORBIDDEN,
            "missing_token",
            "this address needs the wallet's key: open the link `zkcredit wallet serve` printed",
        ));
    }
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return None;
    }
    if req.method() != Method::POST {
        return Some(refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "only GET and POST",
        ));
    }
    let own = format!("http://{host}");
    if header(req, ORIGIN) != Some(own.as_str()) {
        return Some(refuse(
            StatusCode::FORBIDDEN,
            "bad_origin",
            "changes are accepted only from the wallet's own page",
        ));
    }
    if let Some(site) = header(req, HeaderName::from_static("sec-fetch-site")) {
        if site != "same-origin" {
            return Some(refuse(
                StatusCode::FORBIDDEN,
                "bad_origin",
                "changes are accepted only from the wallet's own page",
            ));
        }
    }
    let json = header(req, CONTENT_TYPE)
        .map(|c| c.split(';').next().unwrap_or("").trim() == "application/json")
        .unwrap_or(false);
    if !json {
        return Some(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_json",
            "send JSON (Content-Type: application/json)",
        ));
    }
    None
}

fn harden(mut r: Response) -> Response {
    let h = r.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: &'static str| {
        h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    };
    set(h, "content-security-policy", CSP);
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(h, "cache-control", "no-store");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "cross-origin-resource-policy", "same-origin");
    r
}

/// Wraps `router` in the checks above; `port` is set once the app is bound.
pub fn protect(router: Router, token: String, port: Arc<OnceLock<u16>>) -> Router {
    router
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                let refused = check(&req, &token, port.get().copied());
                async move {
                    harden(match refused {
                        Some(r) => r,
                        None => next.run(req).await,
                    })
                }
            },
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
        assert!(!same_token("", "a"));
    }
}
