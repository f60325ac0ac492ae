//! OpenAPI 3.1 documents generated from the route tables of each service's module and the
//! [`ErrorCode`] table: every response lists the codes that route can answer, with the
//! status and description the table gives them.

use crate::error::ErrorCode;
use serde_json::{json, Map, Value};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Anyone.
    None,
    /// The service's admin bearer token.
    Admin,
    /// A registered provider's bearer token.
    Provider,
    /// A client token issued by the KYC issuer's admin.
    Client,
    /// The issuer's attestation and a fresh signature by the attested holder key.
    Holder,
    /// The lender's bearer token (the verifier's `--lender-token-file`).
    Lender,
}

impl Auth {
    fn describe(self) -> Option<&'static str> {
        match self {
            Auth::None => None,
            Auth::Admin => Some("admin bearer token"),
            Auth::Provider => Some("the slot's provider bearer token"),
            Auth::Client => Some("a client bearer token issued by the issuer's admin"),
            Auth::Holder => Some("issuer attestation + fresh holder signature in the body"),
            Auth::Lender => Some("the lender's bearer token"),
        }
    }
}

/// One route of a service.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// HTTP method, lower case.
    pub method: &'static str,
    /// Path with `{param}` segments.
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Who may call it.
    pub auth: Auth,
    /// The codes it can answer besides the common ones.
    pub errors: &'static [ErrorCode],
}

/// Codes any route can answer.
const COMMON: &[ErrorCode] = &[
    ErrorCode::UnsupportedMediaType,
    ErrorCode::MalformedJson,
    ErrorCode::BodyTooLarge,
    ErrorCode::Internal,
    ErrorCode::Overloaded,
];

/// Routes every service serves.
pub const COMMON_ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/healthz",
        summary: "Liveness",
        auth: Auth::None,
        errors: &[],
    },
    Route {
        method: "get",
        path: "/metrics",
        summary: "Prometheus metrics: only on the separate metrics listen address (`--metrics-listen`), 404 on the service address",
        auth: Auth::None,
        errors: &[],
    },
    Route {
        method: "get",
        path: "/openapi.json",
        summary: "This document",
        auth: Auth::None,
        errors: &[],
    },
];

fn responses(route: &Route) -> Value {
    let mut by_status: std::collections::BTreeMap<u16, Vec<ErrorCode>> = Default::default();
    let mut codes: Vec<ErrorCode> = route.errors.to_vec();
    if route.auth != Auth::None && route.auth != Auth::Holder {
        codes.push(ErrorCode::Unauthorized);
    }
    if route.method != "get" {
        codes.extend_from_slice(COMMON);
    } else if !route.path.starts_with("/healthz") && route.path != "/metrics" {
        codes.push(ErrorCode::Internal);
    }
    for c in codes {
        let v = by_status.entry(c.status()).or_default();
        if !v.contains(&c) {
            v.push(c);
        }
    }
    let mut out = Map::new();
    out.insert("200".into(), json!({"description": "success"}));
    for (status, codes) in by_status {
        let desc = codes
            .iter()
            .map(|c| format!("`{}`: {}", c.as_str(), c.description()))
            .collect::<Vec<_>>()
            .join("; ");
        out.insert(
            status.to_string(),
            json!({
                "description": desc,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                "x-error-codes": codes.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            }),
        );
    }
    Value::Object(out)
}

/// The OpenAPI document of a service made of `groups` of routes (plus the common ones).
pub fn document(title: &str, groups: &[&[Route]]) -> Value {
    let mut paths = Map::new();
    for r in groups.iter().copied().flatten().chain(COMMON_ROUTES) {
        let mut op = json!({"summary": r.summary, "responses": responses(r)});
        if let Some(a) = r.auth.describe() {
            op["security"] = json!([{"bearer": []}]);
            op["x-auth"] = json!(a);
            if r.auth == Auth::Holder {
                op.as_object_mut().map(|o| o.remove("security"));
            }
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": title, "version": env!("CARGO_PKG_VERSION")},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "enum": ErrorCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()},
                        "message": {"type": "string"},
                        "field": {"type": "string"}
                    }
                }}
            }}
        },
        "paths": paths
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_code_appears_under_its_own_status() {
        let doc = document("t", &[crate::verifier::ROUTES]);
        let r = &doc["paths"]["/v1/verify"]["post"]["responses"];
        assert_eq!(
            r["409"]["x-error-codes"],
            json!(["nullifier_reused", "request_already_used"])
        );
        assert!(r["422"]["x-error-codes"]
            .as_array()
            .unwrap()
            .contains(&json!("invalid_proof")));
        assert!(doc["paths"]["/healthz"]["get"].is_object());
    }
}
