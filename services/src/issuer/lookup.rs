//! Provider clients and subject-key lookups. A lookup turns a real-world identifier into
//! the peppered subject key, so it is what lets a provider learn whose leaf a key is: it
//! needs a client token registered by the operator, is rate-limited per token
//! ([`super::IssuerLimits::lookups_per_minute`], 429 `rate_limited`) and every answered
//! lookup is logged in the `lookups` table (client, time, subject key). The budget is
//! counted in that table, in the transaction that logs the lookup (under a lock per
//! client), so issuer processes sharing a PostgreSQL store share it too; a per-process
//! count in front of it refuses a client over budget without touching the database.

use super::{subject_key, IssuerService};
use crate::http::{bearer, sha, Json};
use crate::store::P;
use axum::extract::State;
use axum::http::HeaderMap;
use std::collections::HashMap;
use std::sync::Mutex;
use zkcredit_api::issuer::{ClientAdded, NewClient, SubjectKey, SubjectLookup, MAX_TOKEN_BYTES};
use zkcredit_api::{unix_now, ApiError, ErrorCode};
use zkcredit_circuits::field::fr_to_dec;

/// Fixed one-minute windows of lookups per client, in this process: a gate in front of the
/// store's count, so a client over its budget is refused without a database connection
/// (the store's count stays the authority shared by every issuer process).
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (u64, u32)>>,
}

impl RateLimiter {
    /// Counts one request by `client` at `now`; false when the minute's budget is spent.
    pub fn allow(&self, client: &str, now: u64, per_minute: u32) -> bool {
        let minute = now / 60;
        let mut g = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        // Old windows are dropped so the map holds at most one entry per client.
        g.retain(|_, (m, _)| *m == minute);
        let e = g.entry(client.to_string()).or_insert((minute, 0));
        if e.1 >= per_minute {
            return false;
        }
        e.1 += 1;
        true
    }
}

pub(super) async fn add_client(
    State(svc): State<IssuerService>,
    Json(b): Json<NewClient>,
) -> Result<Json<ClientAdded>, ApiError> {
    if b.token.len() < 16 {
        return Err(ApiError::new(
            ErrorCode::WeakToken,
            "client token must be at least 16 characters",
        )
        .field("token"));
    }
    if b.token.len() > MAX_TOKEN_BYTES {
        return Err(ApiError::bad_request(format!(
            "client token must be at most {MAX_TOKEN_BYTES} bytes"
        ))
        .field("token"));
    }
    if b.name.is_empty() || b.name.len() > 64 || b.name.chars().any(char::is_control) {
        return Err(ApiError::new(
            ErrorCode::BadName,
            "name must be 1..=64 characters, none of them a control character",
        )
        .field("name"));
    }
    let digest = hex::encode(sha(&b.token));
    let name = b.name.clone();
    let max = svc.limits.max_clients;
    svc.db
        .write(move |s| {
            let known = s
                .row("SELECT 1 FROM clients WHERE name = $1", &[P::T(&name)])?
                .is_some();
            // One token names one client: the lookup log must say who asked.
            let holder = s.row(
                "SELECT name FROM clients WHERE token_sha256 = $1 AND name <> $2",
                &[P::T(&digest), P::T(&name)],
            )?;
            if holder.is_some() {
                return Err(ApiError::bad_request(
                    "this token is already registered to another client",
                )
                .field("token"));
            }
            let n = s.count("SELECT COUNT(*) FROM clients", &[])?;
            if !known && n >= max {
                return Err(ApiError::new(
                    ErrorCode::StoreFull,
                    format!("the issuer has {n} clients (at most {max})"),
                ));
            }
            s.exec(
                "INSERT INTO clients (name, token_sha256) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET token_sha256 = $2",
                &[P::T(&name), P::T(&digest)],
            )?;
            Ok(())
        })
        .await?;
    Ok(Json(ClientAdded { client: b.name }))
}

pub(super) async fn lookup(
    State(svc): State<IssuerService>,
    headers: HeaderMap,
    Json(b): Json<SubjectLookup>,
) -> Result<Json<SubjectKey>, ApiError> {
    let token = bearer(&headers)
        .map(sha)
        .ok_or_else(ApiError::unauthorized)?;
    let client = svc
        .db
        .read(move |s| {
            // Looked up by the token's SHA-256: timing reveals nothing about the token.
            s.row(
                "SELECT name FROM clients WHERE token_sha256 = $1 ORDER BY name LIMIT 1",
                &[P::T(&hex::encode(token))],
            )?
            .and_then(|r| r.into_iter().next())
            .map(|c| c.text("name"))
            .transpose()
        })
        .await?;
    let Some(client) = client else {
        svc.tree
            .metrics
            .inc("subject_lookups_total", "unauthorized");
        return Err(ApiError::unauthorized());
    };
    let per_minute = svc.limits.lookups_per_minute;
    let counted = if svc.lookups.allow(&client, unix_now(), per_minute) {
        lookup_counted(&svc, &client, &b.id).await?
    } else {
        None
    };
    let Some(k) = counted else {
        svc.tree
            .metrics
            .inc("subject_lookups_total", "rate_limited");
        tracing::warn!(%client, "subject-key lookups rate-limited");
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!("at most {per_minute} subject-key lookups per minute per client"),
        ));
    };
    svc.tree.metrics.inc("subject_lookups_total", "ok");
    Ok(Json(SubjectKey { subject_key: k }))
}

/// Counts the lookup against `client`'s budget in the store and logs it: the subject key
/// (decimal), or `None` when the minute's budget is spent (counted by every issuer process
/// sharing the store).
async fn lookup_counted(
    svc: &IssuerService,
    client: &str,
    id: &str,
) -> Result<Option<String>, ApiError> {
    let key = subject_key(&svc.pepper_fr(), id)?;
    let logged = fr_to_dec(&key);
    let per_minute = svc.limits.lookups_per_minute;
    let who = client.to_string();
    svc.db
        .write_as(&format!("lookups:{client}"), move |s| {
            let now = unix_now();
            let since = (now - now % 60) as i64;
            let n = s.count(
                "SELECT COUNT(*) FROM lookups WHERE client = $1 AND at >= $2",
                &[P::T(&who), P::I(since)],
            )?;
            if n >= u64::from(per_minute) {
                return Ok(None);
            }
            s.exec(
                "INSERT INTO lookups (client, at, subject_key) VALUES ($1, $2, $3)",
                &[P::T(&who), P::I(now as i64), P::T(&logged)],
            )?;
            Ok(Some(logged))
        })
        .await
}
