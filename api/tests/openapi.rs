//! The OpenAPI documents against the code: every route has its bodies and parameters,
//! every `$ref` resolves, and real values of the body types match the generated schemas
//! exactly (required and allowed properties, types, enums), with serde agreeing on which
//! fields a request may leave out or add.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use zkcredit_api::openapi::{document, Body, Param, Route, COMMON_ROUTES};
use zkcredit_api::{auth, error, issuer, provider, registry, verifier};
use zkcredit_circuits::eligibility::Policy;
use zkcredit_circuits::imt::{Leaf, LookupWitness};
use zkcredit_circuits::registry::{Role, Slot};
use zkcredit_circuits::Fr;

fn services() -> Vec<(&'static str, Vec<&'static [Route]>)> {
    vec![
        ("registry", vec![registry::ROUTES]),
        ("provider", vec![provider::ROUTES]),
        ("issuer", vec![issuer::ROUTES, provider::ROUTES]),
        ("verifier", vec![verifier::ROUTES]),
    ]
}

fn docs() -> Vec<(&'static str, Vec<&'static [Route]>, Value)> {
    services()
        .into_iter()
        .map(|(n, g)| {
            let d = document(n, &g);
            (n, g, d)
        })
        .collect()
}

/// Routes answering something other than JSON.
const NOT_JSON: &[&str] = &["/metrics"];
/// Write routes that take no body.
const NO_BODY: &[(&str, &str)] = &[
    ("delete", "/v1/admin/rows/{subject_key}"),
    ("post", "/v1/admin/publish"),
    ("post", "/v1/admin/applications/{id}/reject"),
];

#[test]
fn every_route_has_its_bodies_and_parameters() {
    for (name, groups, doc) in docs() {
        for r in groups.iter().copied().flatten().chain(COMMON_ROUTES) {
            let op = &doc["paths"][r.path][r.method];
            let at = format!("{name}: {} {}", r.method, r.path);
            let ok = &op["responses"]["200"]["content"];
            if NOT_JSON.contains(&r.path) {
                assert!(ok["text/plain"]["schema"].is_object(), "{at}");
            } else {
                assert!(ok["application/json"]["schema"].is_object(), "{at}");
            }
            let body = &op["requestBody"];
            if r.method == "get" || NO_BODY.contains(&(r.method, r.path)) {
                assert!(body.is_null() && r.request.is_none(), "{at} takes no body");
            } else {
                assert!(
                    body["content"]["application/json"]["schema"].is_object(),
                    "{at} has no request schema"
                );
            }
            // One path parameter per `{segment}`, each described and typed.
            let segments: BTreeSet<&str> = r
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let in_path: BTreeSet<&str> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(segments, in_path, "{at}");
            for p in &params {
                assert!(p["schema"]["type"].is_string(), "{at}: {p}");
                assert!(!p["description"].as_str().unwrap().is_empty(), "{at}: {p}");
            }
        }
    }
    // The import's query parameters are `ImportQuery`'s fields; it takes CSV or JSON.
    let doc = document("p", &[provider::ROUTES]);
    let op = &doc["paths"]["/v1/admin/import"]["post"];
    let param = |name: &str| {
        op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no parameter {name}"))
    };
    for (name, ty) in [("publish", "boolean"), ("hold", "integer")] {
        let p = param(name);
        assert_eq!(p["in"], "query");
        assert_eq!(p["required"], false);
        assert_eq!(p["schema"]["type"], ty);
    }
    let csv = &op["requestBody"]["content"]["text/csv"]["schema"];
    assert_eq!(csv["type"], "string");
    assert!(csv["description"]
        .as_str()
        .unwrap()
        .contains("subject_key,v0,v1,v2"));
    let r = provider::ROUTES
        .iter()
        .find(|r| r.path == "/v1/admin/import");
    assert!(matches!(r.unwrap().params, [Param::Query(_)]));
    assert!(matches!(r.unwrap().request, Some(Body::JsonOrCsv(..))));
    // The optional approval body, and the 202 of a KYC application left for review.
    let doc = document("i", &[issuer::ROUTES]);
    let approve = &doc["paths"]["/v1/admin/applications/{id}/approve"]["post"];
    assert_eq!(approve["requestBody"]["required"], false);
    let apply = &doc["paths"]["/v1/kyc/applications"]["post"]["responses"];
    assert_eq!(apply["202"]["content"], apply["200"]["content"]);
}

fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                out.push(r);
            }
            o.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_ref_resolves_inside_its_document() {
    for (name, _, doc) in docs() {
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 10, "{name}: {} refs", all.len());
        for r in all {
            let target = r.strip_prefix('#').and_then(|p| doc.pointer(p));
            assert!(
                target.is_some_and(|t| t.is_object()),
                "{name}: {r} does not resolve"
            );
        }
        assert!(doc["components"]["schemas"]["Error"].is_object(), "{name}");
    }
}

// --- a tiny JSON Schema checker (the subset schemars writes)

fn resolve<'a>(doc: &'a Value, s: &'a Value) -> &'a Value {
    match s["$ref"].as_str() {
        Some(r) => resolve(doc, doc.pointer(&r[1..]).expect(r)),
        None => s,
    }
}

fn check(doc: &Value, s: &Value, v: &Value, at: &str) -> Result<(), String> {
    let s = resolve(doc, s);
    if s == &json!(true) || s == &json!({}) {
        return Ok(());
    }
    let fail = |why: String| Err(format!("{at}: {why} ({v} against {s})"));
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            t => vec![t.as_str().unwrap()],
        };
        let is = |t: &str| match t {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_u64() || v.is_i64(),
            "number" => v.is_number(),
            "string" => v.is_string(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => false,
        };
        if !types.iter().any(|t| is(t)) {
            return fail(format!("not of type {t}"));
        }
    }
    if s.get("const").is_some_and(|c| c != v) {
        return fail("not the constant".into());
    }
    if let Some(e) = s["enum"].as_array() {
        if !e.contains(v) {
            return fail("not in the enum".into());
        }
    }
    if let Some(all) = s["allOf"].as_array() {
        for x in all {
            check(doc, x, v, at)?;
        }
    }
    if let Some(any) = s["anyOf"].as_array() {
        if !any.iter().any(|x| check(doc, x, v, at).is_ok()) {
            return fail("matches no anyOf".into());
        }
    }
    if let Some(one) = s["oneOf"].as_array() {
        let n = one.iter().filter(|x| check(doc, x, v, at).is_ok()).count();
        if n != 1 {
            return fail(format!("matches {n} of oneOf"));
        }
    }
    if let Value::Array(items) = v {
        let n = items.len() as u64;
        if s["minItems"].as_u64().is_some_and(|m| n < m)
            || s["maxItems"].as_u64().is_some_and(|m| n > m)
        {
            return fail("wrong length".into());
        }
        for (i, x) in items.iter().enumerate() {
            if let Some(item) = s.get("items") {
                check(doc, item, x, &format!("{at}[{i}]"))?;
            }
        }
    }
    if let Value::Object(o) = v {
        let props = s["properties"].as_object();
        for r in s["required"].as_array().into_iter().flatten() {
            if !o.contains_key(r.as_str().unwrap()) {
                return fail(format!("required {r} missing"));
            }
        }
        let closed = s["additionalProperties"] == json!(false);
        for (k, x) in o {
            match props.and_then(|p| p.get(k)) {
                Some(p) => check(doc, p, x, &format!("{at}.{k}"))?,
                None if closed || props.is_some() => return fail(format!("{k} not listed")),
                None => {}
            }
        }
    }
    Ok(())
}

fn request_schema<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let s = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
    assert!(s.is_object(), "{method} {path}");
    resolve(doc, s)
}

fn response_schema<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let s =
        &doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(s.is_object(), "{method} {path}");
    resolve(doc, s)
}

fn names(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// An answer: the value matches, and the schema requires exactly the keys serde always
/// writes (`always`) and lists every key it may write.
fn answer<T: Serialize>(doc: &Value, s: &Value, sample: &T, always: &[&str]) -> Value {
    let v = serde_json::to_value(sample).unwrap();
    check(doc, s, &v, "$").unwrap();
    let always: BTreeSet<String> = always.iter().map(|k| k.to_string()).collect();
    assert_eq!(names(&s["required"]), always, "{s}");
    v
}

/// A request body: the value matches; serde and the schema agree that the body is
/// closed (an extra key is refused by both), that each required key is needed, and that
/// each other key may be left out.
fn request<T: Serialize + DeserializeOwned>(doc: &Value, s: &Value, sample: &T) {
    let v = serde_json::to_value(sample).unwrap();
    check(doc, s, &v, "$").unwrap();
    let de = |v: &Value| serde_json::from_value::<T>(v.clone()).is_ok();
    assert!(de(&v));
    let mut extra = v.clone();
    extra["no_such_field"] = json!(1);
    assert_eq!(s["additionalProperties"], json!(false), "{s}");
    assert!(!de(&extra) && check(doc, s, &extra, "$").is_err());
    let required = names(&s["required"]);
    for k in v.as_object().unwrap().keys() {
        let mut less = v.clone();
        less.as_object_mut().unwrap().remove(k);
        assert_eq!(de(&less), !required.contains(k), "{k}");
        assert_eq!(
            check(doc, s, &less, "$").is_ok(),
            !required.contains(k),
            "{k}"
        );
    }
}

fn policy() -> Policy {
    Policy {
        max_active_loans: 3,
        max_outstanding: 1_000_000,
        max_arrears_days: 30,
        min_score: 600,
        max_score_age: 86_400,
        max_root_age: 3_600,
        min_kyc_age: 0,
        // A new-loan limit present, so the field is checked against the schema too.
        max_new_loans: 2,
        // A model present, so its terms are checked against the schema too.
        model: zkcredit_circuits::model::ModelTerms {
            id: zkcredit_circuits::model::model_id("Defi Score Basic", "1"),
            scale_bits: 40,
            intercept: -(2 << 40),
            coefficients: [1 << 38, 1 << 20, 1 << 35, -(1 << 32), -1100],
            max_logit: -(3 << 40),
        },
    }
}

#[test]
fn provider_values_match_their_schemas() {
    let doc = document("p", &[provider::ROUTES]);
    let status = provider::Status {
        role: Role::FraudList,
        provider_id: "1001".into(),
        root: "42".into(),
        published_at: 7,
        public_key: "ab".repeat(32),
    };
    let all = ["role", "provider_id", "root", "published_at", "public_key"];
    answer(
        &doc,
        response_schema(&doc, "get", "/v1/status"),
        &status,
        &all,
    );
    let admin = provider::AdminStatus {
        status,
        rows: 3,
        pending_changes: 1,
        registry_pending: false,
    };
    let s = response_schema(&doc, "get", "/v1/admin/status");
    let more = [&all[..], &["rows", "pending_changes", "registry_pending"]].concat();
    answer(&doc, s, &admin, &more);
    // A membership witness (open leaf) and a non-membership one (sealed low leaf).
    let leaf = Leaf {
        key: Fr::from(5u64),
        next_key: Fr::from(9u64),
        values: [Fr::from(1u64), Fr::from(2u64), Fr::from(0u64)],
        salt: Fr::from(77u64),
    };
    let s = response_schema(&doc, "post", "/v1/witness");
    for (present, l) in [(true, leaf.opened()), (false, leaf.sealed())] {
        let w = provider::WitnessResponse {
            provider_id: "1001".into(),
            role: Role::Lender,
            root: "42".into(),
            published_at: 7,
            present,
            witness: LookupWitness {
                index: 1,
                leaf: l,
                siblings: vec![Fr::from(3u64); 6],
            },
        };
        let keys = [
            "provider_id",
            "role",
            "root",
            "published_at",
            "present",
            "witness",
        ];
        let v = answer(&doc, s, &w, &keys);
        let mut bad = v.clone();
        bad["witness"]["leaf"]["record"] = json!({"open": {"commitment": "1"}});
        assert!(check(&doc, s, &bad, "$").is_err());
    }
    let report = provider::ImportReport {
        upserts: 2,
        deletes: 1,
        parse_seconds: 0.5,
        store_seconds: 0.25,
        published: None,
    };
    let s = response_schema(&doc, "post", "/v1/admin/import");
    let keys = ["upserts", "deletes", "parse_seconds", "store_seconds"];
    answer(&doc, s, &report, &keys);
    let import = provider::ImportJson {
        upsert: vec![provider::ImportRow {
            subject_key: "5".into(),
            values: [7u64.into(), provider::Value::S("12".into()), 0u64.into()],
        }],
        delete: vec!["6".into()],
    };
    request(
        &doc,
        request_schema(&doc, "post", "/v1/admin/import"),
        &import,
    );
    let row = provider::RowValues {
        values: [1u64.into(), 2u64.into(), 3u64.into()],
    };
    let s = request_schema(&doc, "put", "/v1/admin/rows/{subject_key}");
    request(&doc, s, &row);
    let w = auth::WitnessRequest {
        attestation: None,
        provider_id: "1001".into(),
        timestamp: 9,
        signature: Some("cd".repeat(64)),
    };
    request(&doc, request_schema(&doc, "post", "/v1/witness"), &w);
}

#[test]
fn registry_values_match_their_schemas() {
    let doc = document("r", &[registry::ROUTES]);
    let add = registry::RegisterProvider {
        slot: 2,
        role: Role::Bureau,
        provider_id: "1003".into(),
        token: "t".repeat(16),
        endpoint: Some("http://bureau.invalid".into()),
    };
    request(
        &doc,
        request_schema(&doc, "post", "/v1/admin/providers"),
        &add,
    );
    let slot = Slot {
        role: Role::Kyc,
        provider_id: Fr::from(1u64),
        provider_root: Fr::from(2u64),
        published_at: 3,
    };
    let view = registry::RegistryView {
        root: "9".into(),
        slots: vec![
            registry::SlotView {
                slot: 0,
                value: slot,
                endpoint: Some("http://kyc.invalid".into()),
            },
            registry::SlotView {
                slot: 1,
                value: Slot::default(),
                endpoint: None,
            },
        ],
        history: vec![registry::RootView {
            root: "9".into(),
            current_since: 1,
            retired_at: None,
        }],
    };
    let s = response_schema(&doc, "post", "/v1/admin/providers");
    answer(&doc, s, &view, &["root", "slots", "history"]);
    // The flattened slot: its fields sit beside `slot`; `endpoint` only when registered.
    let sv = resolve(&doc, &s["properties"]["slots"]["items"]);
    let keys = [
        "slot",
        "role",
        "provider_id",
        "provider_root",
        "published_at",
    ];
    answer(&doc, sv, &view.slots[1], &keys);
}

#[test]
fn verifier_and_issuer_values_match_their_schemas() {
    let doc = document("v", &[verifier::ROUTES]);
    let open = verifier::NewRequest {
        policy: policy(),
        ttl_seconds: 600,
    };
    request(&doc, request_schema(&doc, "post", "/v1/requests"), &open);
    let req = verifier::ProofRequest {
        nonce: "00".repeat(32),
        verifier_id: "11".repeat(32),
        expiry: 100,
        context: "5".into(),
        policy: policy(),
        policy_hash: "6".into(),
        scope: "7".into(),
        product: "loan".into(),
        period: 0,
    };
    let keys = [
        "nonce",
        "verifier_id",
        "expiry",
        "context",
        "policy",
        "policy_hash",
        "scope",
        "product",
        "period",
    ];
    answer(
        &doc,
        response_schema(&doc, "post", "/v1/requests"),
        &req,
        &keys,
    );
    answer(
        &doc,
        response_schema(&doc, "get", "/v1/requests/{nonce}"),
        &req,
        &keys,
    );
    let sub = verifier::Submission::groth16(
        zkcredit_verifier::snarkjs::ProofJson {
            pi_a: vec!["1".into(), "2".into(), "1".into()],
            pi_b: vec![vec!["1".into(), "0".into()]; 3],
            pi_c: vec!["1".into(), "2".into(), "1".into()],
            protocol: "groth16".into(),
            curve: "bn128".into(),
        },
        vec!["0".into(); zkcredit_circuits::eligibility::NUM_PUBLIC_INPUTS],
    );
    request(&doc, request_schema(&doc, "post", "/v1/verify"), &sub);
    let refused = verifier::BatchResult {
        index: 0,
        accepted: false,
        nullifier: None,
        code: Some("invalid_proof".into()),
        message: Some("the proof does not verify".into()),
    };
    let s = response_schema(&doc, "post", "/v1/verify/batch");
    let v = serde_json::to_value(vec![refused]).unwrap();
    check(&doc, s, &v, "$").unwrap();
    assert_eq!(names(&resolve(&doc, &s["items"])["required"]).len(), 2);
    // An error body, as every service writes it.
    let e = error::ApiError::of(error::ErrorCode::NullifierReused).field("public_signals[4]");
    let s = &doc["paths"]["/v1/verify"]["post"]["responses"]["409"]["content"]["application/json"]
        ["schema"];
    answer(&doc, resolve(&doc, s), &e.body(), &["error"]);
    let mut unknown = serde_json::to_value(e.body()).unwrap();
    unknown["error"]["code"] = json!("no_such_code");
    assert!(check(&doc, s, &unknown, "$").is_err());

    let doc = document("i", &[issuer::ROUTES]);
    let app = auth::KycApplication::sign(&Fr::from(99u64), "alice@example.invalid");
    request(
        &doc,
        request_schema(&doc, "post", "/v1/kyc/applications"),
        &app,
    );
    let view = issuer::ApplicationView {
        application_id: "00".repeat(16),
        status: "pending".into(),
        attestation: None,
    };
    let s = response_schema(&doc, "post", "/v1/kyc/applications");
    answer(&doc, s, &view, &["application_id", "status"]);
    let approve = issuer::Approve {
        replace: true,
        publish: false,
    };
    let s = request_schema(&doc, "post", "/v1/admin/applications/{id}/approve");
    request(&doc, s, &approve);
}
