//! The local wallet app's boundary (SPEC §7.3), replayed abuse by abuse over real HTTP: no
//! token, a wrong token, a foreign `Host` (DNS rebinding), a foreign or missing `Origin`
//! (CSRF), a cross-site fetch, a form post (not JSON), a method other than GET/POST, an
//! oversized body, unknown fields, and what the page may choose (password rules, request
//! links). Every answer carries the strict Content-Security-Policy. The holder secret is
//! never in any answer.

use std::sync::Arc;
use zkcredit_circuits::eligibility::EligibilityParams;
use zkcredit_wallet::WalletError;
use zkcredit_wallet_app::{guard::CSP, start, AppConfig, KnownLender, ProveFn, WalletApp};

async fn app(dir: &std::path::Path) -> WalletApp {
    // No proof is made in these tests: the prover refuses loudly if it is ever reached.
    let prove: ProveFn = Arc::new(|_| Err(WalletError::Prove("not in this test".into())));
    start(
        AppConfig {
            dir: dir.to_path_buf(),
            issuer: "http://127.0.0.1:9".into(),
            registry: "http://127.0.0.1:9".into(),
            lenders: vec![
                KnownLender::parse(&format!("L={}=http://127.0.0.1:9", "11".repeat(32))).unwrap(),
            ],
            params: EligibilityParams { slots: 4, depth: 8 },
            kdf: (1024, 1),
            port: 0,
            measured_proof_seconds: Default::default(),
        },
        prove,
    )
    .await
    .unwrap()
}

fn origin(app: &WalletApp) -> String {
    app.url()
}

/// Sends `r` and answers its status, error code and Content-Security-Policy.
async fn ask(r: reqwest::RequestBuilder) -> (u16, String, String) {
    code(r.send().await.unwrap()).await
}

async fn code(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let csp = r
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, body["code"].as_str().unwrap_or("").to_string(), csp)
}

#[tokio::test]
async fn refuses_every_request_without_the_token_or_from_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let http = reqwest::Client::new();
    let link = app.link();
    let base = app.url();

    // The page itself, with the token: served, hardened.
    let r = http.get(&link).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-security-policy"], CSP);
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    assert!(html.contains("<script src=\"app.js\""), "no inline script");
    assert!(!html.contains("<script>"), "no inline script");

    // No token, a wrong token, a token prefix: 403 missing_token, with the CSP.
    for url in [
        format!("{base}/"),
        format!("{base}/api/state"),
        format!("{base}/{}/api/state", "0".repeat(64)),
        format!("{}x/api/state", link.trim_end_matches('/')),
        format!("{}/api/state", &link[..link.len() - 10]),
    ] {
        let (s, c, csp) = ask(http.get(&url)).await;
        assert_eq!((s, c.as_str()), (403, "missing_token"), "{url}");
        assert_eq!(csp, CSP, "{url}");
    }

    // DNS rebinding: the right token under a foreign Host.
    let r = http
        .get(format!("{link}api/state"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await.1, "bad_host");

    let post = |path: &str| http.post(format!("{link}api/{path}"));
    // CSRF: no Origin, a foreign Origin, a cross-site fetch, a form post.
    let (s, c, _) = ask(post("create").json(&serde_json::json!({"password": "x"}))).await;
    assert_eq!((s, c.as_str()), (403, "bad_origin"));
    let (s, c, _) = ask(post("create")
        .header("origin", "http://evil.example")
        .json(&serde_json::json!({"password": "correct horse battery"})))
    .await;
    assert_eq!((s, c.as_str()), (403, "bad_origin"));
    let (s, c, _) = ask(post("create")
        .header("origin", origin(&app))
        .header("sec-fetch-site", "cross-site")
        .json(&serde_json::json!({"password": "correct horse battery"})))
    .await;
    assert_eq!((s, c.as_str()), (403, "bad_origin"));
    let (s, c, _) = ask(post("create")
        .header("origin", origin(&app))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("password=correct+horse+battery"))
    .await;
    assert_eq!((s, c.as_str()), (415, "not_json"));
    let r = http
        .delete(format!("{link}api/state"))
        .header("origin", origin(&app))
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await.1, "method_not_allowed");
    // Nothing was created by any of them.
    assert!(!dir.path().join("keystore.json").exists());

    // Bounds: an oversized body, unknown fields, a weak password.
    let ok = |path: &str, body: serde_json::Value| {
        post(path)
            .header("origin", origin(&app))
            .header("sec-fetch-site", "same-origin")
            .json(&body)
    };
    let big = "x".repeat(20_000);
    let (s, c, _) = ask(ok("create", serde_json::json!({ "password": big }))).await;
    assert_eq!((s, c.as_str()), (413, "bad_request_body"));
    let (s, c, _) = ask(ok(
        "create",
        serde_json::json!({"password": "correct horse battery", "secret": 1}),
    ))
    .await;
    assert_eq!((s, c.as_str()), (422, "bad_request_body"));
    let (s, c, _) = ask(ok("state", serde_json::json!({}))).await;
    assert_eq!((s, c.as_str()), (405, "bad_request_body"));
    let (s, c, _) = ask(http.get(format!("{link}nothing-here"))).await;
    assert_eq!((s, c.as_str()), (404, "not_found"));
    // `/TOKEN` (no slash) leads to the page, token kept.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(link.trim_end_matches('/'))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], link.trim_start_matches(&base));
    let (s, c, _) = ask(ok("create", serde_json::json!({"password": "short"}))).await;
    assert_eq!((s, c.as_str()), (400, "weak_password"));
    // Before a wallet exists: unlock and every later step say what to do first.
    let (_, c, _) = ask(ok(
        "unlock",
        serde_json::json!({"password": "whatever it is"}),
    ))
    .await;
    assert_eq!(c, "no_wallet");
    let (_, c, _) = ask(ok("kyc/apply", serde_json::json!({"id": "X-1"}))).await;
    assert_eq!(c, "locked");

    // The real page's way: created, then a wrong password is refused, the right one opens.
    let r = ok(
        "create",
        serde_json::json!({"password": "correct horse battery"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let state: serde_json::Value = r.json().await.unwrap();
    assert_eq!(state["wallet"], "unlocked");
    let secret_free = serde_json::to_string(&state).unwrap();
    assert!(!secret_free.contains("secret"), "{secret_free}");
    let (_, c, _) = ask(ok(
        "create",
        serde_json::json!({"password": "correct horse battery"}),
    ))
    .await;
    assert_eq!(c, "wallet_exists");
    ok("lock", serde_json::json!({})).send().await.unwrap();
    let (s, c, _) = ask(ok(
        "unlock",
        serde_json::json!({"password": "correct horse battere"}),
    ))
    .await;
    assert_eq!((s, c.as_str()), (401, "wrong_password"));
    let r = ok(
        "unlock",
        serde_json::json!({"password": "correct horse battery"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // A request link must be a lender's request link; the wallet is not registered yet.
    for url in [
        "file:///etc/passwd",
        "http://x/v1/requests/",
        "http://x/v1/requests/zz",
        "javascript:alert(1)",
    ] {
        let (s, c, _) = ask(ok("request/open", serde_json::json!({ "url": url }))).await;
        assert_eq!((s, c.as_str()), (400, "bad_input"), "{url}");
    }
    let (_, c, _) = ask(ok(
        "request/open",
        serde_json::json!({"url": "http://127.0.0.1:9/v1/requests/ab"}),
    ))
    .await;
    assert_eq!(c, "not_ready");
    let (_, c, _) = ask(ok("prove", serde_json::json!({}))).await;
    assert_eq!(c, "not_ready");
    let (_, c, _) = ask(ok("submit", serde_json::json!({}))).await;
    assert_eq!(c, "not_ready");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn listens_on_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    let first = app(dir.path()).await;
    assert!(
        first.url().starts_with("http://127.0.0.1:"),
        "{}",
        first.url()
    );
    let link = first.link();
    let token = link.trim_end_matches('/').rsplit('/').next().unwrap();
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    let other_dir = tempfile::tempdir().unwrap();
    let other = app(other_dir.path()).await;
    assert_ne!(
        other.link().rsplit('/').nth(1),
        link.rsplit('/').nth(1),
        "a new token per start"
    );
    other.stop().await.unwrap();
    first.stop().await.unwrap();
}
