//! The tree's HTTP routes (admin rows, import, publish, status, witness).

use super::store::meta;
use super::{parse_import, parse_subject_key, AdminStatus, ImportReport};
use super::{PublishReport, Status, TreeService, WitnessResponse, MAX_IMPORT_BYTES};
use crate::http::Json;
use crate::store::db;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::HeaderMap;
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
    pub fn routes(self) -> (Router, Router) {
        let small = Router::new()
            .route(
                "/v1/admin/rows/{key}",
                put(put_row).get(get_row).delete(delete_row),
            )
            .route("/v1/admin/publish", post(publish_now))
            .route("/v1/admin/status", get(admin_status))
            .route("/v1/status", get(status))
            .route("/v1/witness", post(witness))
            .with_state(self.clone());
        let big = Router::new()
            .route("/v1/admin/import", post(import))
            .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES))
            .layer(tower_http::limit::RequestBodyLimitLayer::new(
                MAX_IMPORT_BYTES,
            ))
            .with_state(self);
        (small, big)
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
    let (pending, reg) = svc
        .store
        .with(|conn| {
            let n: i64 = conn
                .query_row("SELECT COUNT(*) FROM changes", [], |r| r.get(0))
                .map_err(db)?;
            Ok((
                n as u64,
                meta(conn, "registry_pending")?.as_deref() == Some("1"),
            ))
        })
        .await?;
    let rows = svc
        .state
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .tree
        .len();
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
    body: Bytes,
) -> Result<Json<ImportReport>, ApiError> {
    svc.check_admin(&headers)?;
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
    svc.metrics.inc("witness_requests_total", "ok");
    Ok(Json(svc.witness_for(&key)?))
}
