//! Serving: common routes (`/healthz`, `/metrics`), body limits, graceful shutdown.
//! `/metrics` answers only on a separate metrics listen address ([`spawn_with_metrics`]);
//! on the service address it is 404, so counters are not public.

use axum::response::IntoResponse;
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

/// Marks requests that arrived on the metrics listen address.
#[derive(Clone, Copy, Debug)]
struct MetricsPort;

/// Adds `/healthz` and `/metrics` and the body limit to a service router.
pub fn with_common(router: Router, metrics: Arc<Metrics>) -> Router {
    with_common_health(router, metrics, serde_json::json!({"status": "ok"}))
}

/// [`with_common`] with the `/healthz` body `health` (e.g. a verifier reports
/// `insecure_dev_keys`).
pub fn with_common_health(
    router: Router,
    metrics: Arc<Metrics>,
    health: serde_json::Value,
) -> Router {
    router
        .route(
            "/healthz",
            axum::routing::get(move || {
                let h = health.clone();
                async move { axum::Json(h) }
            }),
        )
        .route(
            "/metrics",
            axum::routing::get(move |port: Option<axum::Extension<MetricsPort>>| {
                let m = metrics.clone();
                async move {
                    if port.is_none() {
                        return zkcredit_api::ApiError::new(
                            zkcredit_api::ErrorCode::NotFound,
                            "metrics are served on the metrics address only",
                        )
                        .into_response();
                    }
                    ([("content-type", "text/plain; version=0.0.4")], m.render()).into_response()
                }
            }),
        )
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
}

/// The router served on the metrics address: `/metrics` and `/healthz` only.
fn metrics_only(router: Router) -> Router {
    router
        .layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                match req.uri().path() {
                    "/metrics" | "/healthz" => next.run(req).await,
                    _ => zkcredit_api::ApiError::of(zkcredit_api::ErrorCode::NotFound)
                        .into_response(),
                }
            },
        ))
        .layer(axum::Extension(MetricsPort))
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// Bound address.
    pub addr: SocketAddr,
    /// The metrics address, when one was asked for.
    pub metrics_addr: Option<SocketAddr>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    metrics: Option<Box<Running>>,
}

impl Running {
    /// Graceful shutdown: stop accepting, finish in-flight requests.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(m) = self.metrics.take() {
            Box::pin(m.stop()).await?;
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.await.map_err(std::io::Error::other)?
    }

    /// The metrics base URL, when a metrics address was asked for.
    pub fn metrics_url(&self) -> Option<String> {
        self.metrics_addr.map(|a| format!("http://{a}"))
    }

    /// The base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Connection and request bounds of every service (issue 10, finding 10).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Requests handled at once; more are answered 503 `overloaded` at once (no queue).
    pub max_in_flight: usize,
    /// Open connections; further connections are closed on accept.
    pub max_connections: usize,
    /// Time to receive a request's headers (slowloris).
    pub header_timeout: std::time::Duration,
    /// Time to receive a request's body.
    pub body_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            max_connections: 1024,
            header_timeout: std::time::Duration::from_secs(10),
            body_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// The 503 `overloaded` answer, given before any route (or a route's own header layers) runs,
/// so it carries the strictest headers itself: a JSON error that no browser renders, frames,
/// sniffs or caches.
fn overloaded() -> axum::response::Response {
    use axum::http::header::{
        HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS,
        X_FRAME_OPTIONS,
    };
    let mut r = zkcredit_api::ApiError::of(zkcredit_api::ErrorCode::Overloaded).into_response();
    let h = r.headers_mut();
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The request-level bounds: body read timeout and the in-flight limit (503 `overloaded`).
fn bounded(router: Router, limits: Limits) -> Router {
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight));
    router
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let permits = permits.clone();
                async move {
                    match permits.try_acquire_owned() {
                        Ok(permit) => {
                            let r = next.run(req).await;
                            drop(permit);
                            r
                        }
                        Err(_) => overloaded(),
                    }
                }
            },
        ))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            limits.body_timeout,
        ))
}

/// Binds `addr` and serves `router` until [`Running::stop`], with the default [`Limits`].
pub async fn spawn(router: Router, addr: SocketAddr) -> std::io::Result<Running> {
    spawn_limited(router, addr, Limits::default()).await
}

/// Binds `addr` and serves `router` with `limits` until [`Running::stop`].
pub async fn spawn_limited(
    router: Router,
    addr: SocketAddr,
    limits: Limits,
) -> std::io::Result<Running> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let router = bounded(router, limits);
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let task = tokio::spawn(async move {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        loop {
            let (stream, _) = tokio::select! {
                _ = &mut rx => break,
                accepted = listener.accept() => match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = connections.clone().try_acquire_owned() else {
                drop(stream);
                continue;
            };
            let svc = hyper_util::service::TowerToHyperService::new(router.clone());
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), svc);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                let _ = conn.await;
                drop(permit);
            });
        }
        drop(listener);
        // Finish in-flight requests, but not forever.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(30), graceful.shutdown()).await;
        Ok(())
    });
    tracing::info!(%addr, "listening");
    Ok(Running {
        addr,
        metrics_addr: None,
        shutdown: Some(tx),
        task,
        metrics: None,
    })
}

/// [`spawn`], plus `/metrics` (and `/healthz`) on `metrics_addr` when given.
pub async fn spawn_with_metrics(
    router: Router,
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
) -> std::io::Result<Running> {
    let metrics = match metrics_addr {
        Some(m) => Some(Box::new(spawn(metrics_only(router.clone()), m).await?)),
        None => None,
    };
    let mut r = spawn(router, addr).await?;
    r.metrics_addr = metrics.as_ref().map(|m| m.addr);
    r.metrics = metrics;
    Ok(r)
}

/// `GET /readyz`'s answer given the store's `ping`: 200 while the store answers (every pooled
/// connection busy counts: the database answers, the replica is loaded), else the error
/// (503 `database_unavailable`).
pub fn readiness(
    ping: Result<(), zkcredit_api::ApiError>,
) -> Result<crate::http::Json<serde_json::Value>, zkcredit_api::ApiError> {
    match ping {
        Err(e) if e.code == zkcredit_api::ErrorCode::Overloaded => {}
        r => r?,
    }
    Ok(crate::http::Json(serde_json::json!({"status": "ok"})))
}
