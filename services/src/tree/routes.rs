//! The tree's HTTP routes (admin rows, import, publish, status, witness).

use super::{bad, parse_import, parse_subject_key, AdminStatus, ImportReport};
use super::{PublishReport, Status, TreeService, WitnessResponse};
use crate::http::Json;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use std::time::Instant;
use zkcredit_api::auth::WitnessRequest;
use zkcredit_api::provider::{ImportQuery, RowValues, RowView, Staged};
use zkcredit_api::{unix_now, ApiError, ErrorCode};
use zkcredit_circuits::field::fr_to_dec;
use zkcredit_circuits::Fr;

impl TreeService {
    /// The routes of a provider tree (no `/healthz` etc.: see [`crate::server::with_common`]).
    /// Returns the small-body routes and the bulk-import route separately, so the caller can
    /// apply the common 1 MiB limit to the former only.
    ///
    /// Every `/v1/admin/*` route sits behind `require_admin`, which checks the bearer token
    /// before the handler (and so before any body) is read; the import body is then read
    /// as a stream up to the configured cap.
    pub fn routes(self) -> (Router, Router) {
        let admin = axum::middleware::from_fn_with_state(self.clone(), require_admin);
        let small = Router::new()
            .route(
                "/v1/admin/rows/{key}",
                put(put_row).get(get_row).delete(delete_row),
            )
            .route("/v1/admin/publish", post(publish_now))
            .route("/v1/admin/status", get(admin_status))
            .route_layer(admin.clone())
            .route("/v1/status", get(status))
            .route("/v1/witness", post(witness))
            .with_state(self.clone());
        let big = Router::new()
            .route("/v1/admin/import", post(import))
            .route_layer(admin)
            .with_state(self);
        (small, big)
    }
}

/// Refuses a request without the admin token (401) before its body is read.
pub(crate) async fn require_admin(
    State(svc): State<TreeService>,
    req: Request,
    next: Next,
) -> Response {
    match svc.check_admin(req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Reads `body` as a stream, refusing it (413) as soon as it passes `cap` bytes.
async fn read_capped(
    headers: &HeaderMap,
    body: Body,
    cap: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorCode::BodyTooLarge,
            format!("the import is larger than this provider's cap of {cap} bytes"),
        )
    };
    let announced = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    // `to_bytes` reads frame by frame and stops as soon as the cap is passed.
    axum::body::to_bytes(body, cap).await.map_err(|e| {
        let limit = std::error::Error::source(&e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| e.to_string())
            .contains("length limit");
        if limit {
            too_large()
        } else {
            ApiError::bad_request(format!("reading the body: {e}"))
        }
    })
}

impl TreeService {
    /// The configured import cap in bytes.
    pub fn max_import_bytes(&self) -> usize {
        self.max_import_bytes
    }
}

async fn put_row(
    State(svc): State<TreeService>,
    Path(key): Path<String>,
    headers: HeaderMap,
    Json(b): Json<RowValues>,
) -> Result<Json<Staged>, ApiError> {
    let v = super::import::record(svc.cfg.role, "values", &b.values)?;
    stage_one(&svc, &headers, &key, Some(v)).await
}

async fn delete_row(
    State(svc): State<TreeService>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Staged>, ApiError> {
    stage_one(&svc, &headers, &key, None).await
}

/// Stages one upsert (`Some`) or delete (`None`) for the admin.
async fn stage_one(
    svc: &TreeService,
    headers: &HeaderMap,
    key: &str,
    values: Option<[Fr; 3]>,
) -> Result<Json<Staged>, ApiError> {
    svc.check_admin(headers)?;
    let k = parse_subject_key("subject_key", key)?;
    let op = if values.is_some() { "upsert" } else { "delete" };
    svc.stage(vec![(k, values)]).await?;
    svc.metrics.inc("rows_staged_total", op);
    Ok(Json(Staged {
        staged: op.into(),
        subject_key: fr_to_dec(&k),
    }))
}

async fn get_row(
    State(svc): State<TreeService>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<RowView>, ApiError> {
    svc.check_admin(&headers)?;
    let k = parse_subject_key("subject_key", &key)?;
    match svc.row(k).await? {
        Some(v) => Ok(Json(RowView {
            subject_key: fr_to_dec(&k),
            values: v.iter().map(fr_to_dec).collect(),
        })),
        None => Err(ApiError::new(
            ErrorCode::NotFound,
            "no row for this subject key",
        )),
    }
}

async fn publish_now(
    State(svc): State<TreeService>,
    headers: HeaderMap,
) -> Result<Json<PublishReport>, ApiError> {
    svc.check_admin(&headers)?;
    Ok(Json(svc.publish().await?))
}

async fn status(State(svc): State<TreeService>) -> Json<Status> {
    Json(svc.status())
}

async fn admin_status(
    State(svc): State<TreeService>,
    headers: HeaderMap,
) -> Result<Json<AdminStatus>, ApiError> {
    svc.check_admin(&headers)?;
    let (pending, reg) = svc.pending().await?;
    let rows = svc.rows() as usize;
    Ok(Json(AdminStatus {
        status: svc.status(),
        rows,
        pending_changes: pending,
        registry_pending: reg,
    }))
}

async fn import(
    State(svc): State<TreeService>,
    Query(q): Query<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ImportReport>, ApiError> {
    svc.check_admin(&headers)?;
    if q.hold > zkcredit_api::provider::MAX_IMPORT_HOLD {
        return Err(bad(
            ErrorCode::BadRequest,
            "hold",
            format!(
                "at most {} seconds",
                zkcredit_api::provider::MAX_IMPORT_HOLD
            ),
        ));
    }
    let body = read_capped(&headers, body, svc.max_import_bytes).await?;
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let role = svc.cfg.role;
    let t = Instant::now();
    let changes = tokio::task::spawn_blocking(move || parse_import(role, &ct, &body))
        .await
        .map_err(ApiError::internal)??;
    let parse_seconds = t.elapsed().as_secs_f64();
    // Only a valid part holds the schedule.
    if q.hold > 0 {
        svc.hold_scheduled(q.hold).await?;
    }
    let upserts = changes.iter().filter(|c| c.1.is_some()).count();
    let deletes = changes.len() - upserts;
    let store_seconds = svc.stage(changes).await?;
    svc.metrics.inc("imports_total", "ok");
    let published = if q.publish {
        Some(svc.publish().await?)
    } else {
        None
    };
    tracing::info!(
        upserts,
        deletes,
        parse_seconds,
        store_seconds,
        "import staged"
    );
    Ok(Json(ImportReport {
        upserts,
        deletes,
        parse_seconds,
        store_seconds,
        published,
    }))
}

async fn witness(
    State(svc): State<TreeService>,
    Json(req): Json<WitnessRequest>,
) -> Result<Json<WitnessResponse>, ApiError> {
    let auth = req.authenticate(&svc.cfg.issuer_key, &svc.cfg.provider_id, unix_now());
    let key = match auth {
        Ok(k) => k,
        Err(e) => {
            svc.metrics.inc("witness_requests_total", "refused");
            return Err(e.into());
        }
    };
    // Authenticated, so the attestation is present and its holder key well-formed.
    let holder = req
        .attestation
        .as_ref()
        .map(|a| zkcredit_api::auth::hex_n::<32>("attestation.holder_key", &a.holder_key))
        .transpose()?
        .ok_or_else(ApiError::unauthorized)?;
    if let Err(e) = svc.revocations.check(&key, &holder).await {
        svc.metrics.inc("witness_requests_total", e.code.as_str());
        return Err(e);
    }
    svc.metrics.inc("witness_requests_total", "ok");
    Ok(Json(svc.witness_for(&key).await?))
}
