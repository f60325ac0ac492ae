//! Serving: common routes (`/healthz`, `/metrics`), body limits, graceful shutdown.

use axum::Router;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;

/// Largest accepted request body (a batch of 256 proofs fits comfortably).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Prometheus counters, by name and label.
#[derive(Default, Debug)]
pub struct Metrics {
    counters: std::sync::Mutex<std::collections::BTreeMap<String, Arc<AtomicU64>>>,
}

impl Metrics {
    /// Increments `name{label}` by one.
    pub fn inc(&self, name: &str, label: &str) {
        let key = format!("{name}{{result=\"{label}\"}}");
        let c = {
            let mut m = self.counters.lock().unwrap_or_else(|p| p.into_inner());
            m.entry(key).or_default().clone()
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let m = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let mut last = String::new();
        for (k, v) in m.iter() {
            let name = k.split('{').next().unwrap_or(k).to_string();
            if name != last {
                out.push_str(&format!("# TYPE {name} counter\n"));
                last = name;
            }
            out.push_str(&format!("{k} {}\n", v.load(Ordering::Relaxed)));
        }
        out
    }
}

/// Adds `/healthz` and `/metrics` and the body limit to a service router.
pub fn with_common(router: Router, metrics: Arc<Metrics>) -> Router {
    router
        .route(
            "/healthz",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            "/metrics",
            axum::routing::get(move || {
                let m = metrics.clone();
                async move { ([("content-type", "text/plain; version=0.0.4")], m.render()) }
            }),
        )
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// Bound address.
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Graceful shutdown: stop accepting, finish in-flight requests.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.await.map_err(std::io::Error::other)?
    }

    /// The base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Binds `addr` and serves `router` until [`Running::stop`].
pub async fn spawn(router: Router, addr: SocketAddr) -> std::io::Result<Running> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    tracing::info!(%addr, "listening");
    Ok(Running {
        addr,
        shutdown: Some(tx),
        task,
    })
}

/// An OpenAPI 3.1 document listing `paths` as `(method, path, summary, "status,status")`,
/// plus the common `/healthz` and `/metrics`.
pub fn openapi_doc(title: &str, paths: &[(&str, &str, &str, &str)]) -> serde_json::Value {
    let mut p = serde_json::Map::new();
    let common = [
        ("get", "/healthz", "Liveness", "200"),
        ("get", "/metrics", "Prometheus metrics", "200"),
        ("get", "/openapi.json", "This document", "200"),
    ];
    for (method, path, summary, codes) in paths.iter().chain(common.iter()) {
        let responses: serde_json::Map<String, serde_json::Value> = codes
            .split(',')
            .map(|c| {
                let d = match c {
                    "200" => "success",
                    "202" => "accepted, pending",
                    "400" => "bad field (JSON error body names it)",
                    "401" => "missing or wrong credentials",
                    "403" => "credentials do not allow this",
                    "404" => "not found",
                    "409" => "conflicts with recorded state",
                    "413" => "body too large",
                    "415" => "wrong content type",
                    "422" => "body does not match the schema",
                    "507" => "tree full",
                    _ => "see the error body",
                };
                (c.to_string(), serde_json::json!({"description": d}))
            })
            .collect();
        let entry = p
            .entry(path.to_string())
            .or_insert_with(|| serde_json::json!({}));
        entry[*method] = serde_json::json!({"summary": summary, "responses": responses});
    }
    serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": title, "version": env!("CARGO_PKG_VERSION")},
        "components": {"schemas": {"Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}, "required": ["code", "message"]}}}}},
        "paths": p
    })
}

/// Adds the provider-tree routes of [`crate::tree`] to an OpenAPI document.
pub fn add_tree_paths(doc: &mut serde_json::Value) {
    let tree = openapi_doc(
        "",
        &[
            ("put", "/v1/admin/rows/{subject_key}", "Stage an upsert {values: [v0, v1, v2]} (admin token)", "200,400,401,422"),
            ("get", "/v1/admin/rows/{subject_key}", "The row as it will be published (admin token)", "200,401,404"),
            ("delete", "/v1/admin/rows/{subject_key}", "Stage a delete (admin token)", "200,400,401"),
            ("post", "/v1/admin/import", "Bulk import: text/csv (subject_key,v0,v1,v2) or application/json {upsert, delete}; ?publish=true (admin token)", "200,400,401,413,415,422"),
            ("post", "/v1/admin/publish", "Apply staged changes, persist the tree, publish the root to the registry (admin token)", "200,401,507"),
            ("get", "/v1/admin/status", "Rows, pending changes, registry acknowledgement (admin token)", "200,401"),
            ("get", "/v1/status", "Role, provider id, published root and time", "200"),
            ("post", "/v1/witness", "Lookup witness for the attested subject key: issuer attestation + fresh holder signature required", "200,400,401,403,422"),
        ],
    );
    if let (Some(dst), Some(src)) = (doc["paths"].as_object_mut(), tree["paths"].as_object()) {
        for (k, v) in src {
            dst.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}
