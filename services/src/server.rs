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
