//! KYC applications: filing (bounded per holder key and in total), the operator's queue,
//! approval and rejection. Approval is one `BEGIN IMMEDIATE` transaction on the issuer's
//! store — the application must be pending, the identifier unbound or bound to the same
//! holder (or replaced, within the rebind limit), the binding written, the replaced binding
//! revoked and the KYC row staged — so two concurrent approvals can never create two
//! bindings or two attestations.

use super::{check_raw_id, subject_key, IssuerService};
use crate::http::Json;
use crate::store::db;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rand::RngCore;
use rusqlite::{OptionalExtension, TransactionBehavior};
use zkcredit_api::auth::{Attestation, KycApplication};
use zkcredit_api::issuer::{ApplicationView, Approve, PendingApplication};
use zkcredit_api::{unix_now, ApiError, ErrorCode};
use zkcredit_circuits::field::{fr_from_dec, fr_to_dec};
use zkcredit_circuits::subject::normalise_id;
use zkcredit_circuits::Fr;

impl IssuerService {
    /// Approves an application: binds the identifier to the holder, stages the KYC row and
    /// returns the attestation — all in one transaction. With `replace`, a binding to
    /// another holder is replaced (at most [`super::IssuerLimits::rebinds_per_period`]
    /// times per period) and the replaced holder key is revoked.
    pub async fn approve(&self, app_id: &str, replace: bool) -> Result<Attestation, ApiError> {
        let svc = self.clone();
        let app_id = app_id.to_string();
        let att = self
            .store
            .with(move |conn| svc.approve_in(conn, &app_id, replace))
            .await?;
        self.tree.metrics.inc("kyc_applications_total", "approved");
        Ok(att)
    }

    fn approve_in(
        &self,
        conn: &mut rusqlite::Connection,
        app_id: &str,
        replace: bool,
    ) -> Result<Attestation, ApiError> {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let (person, commitment_s, holder_key_s, status) = tx
            .query_row(
                "SELECT person_id, holder_commitment, holder_key, status FROM applications WHERE id = ?1",
                [app_id],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?)),
            )
            .optional()
            .map_err(db)?
            .ok_or_else(|| ApiError::new(ErrorCode::UnknownApplication, "no such application"))?;
        match status.as_str() {
            "pending" => {}
            "rejected" => {
                return Err(ApiError::new(
                    ErrorCode::ApplicationRejected,
                    "this application was rejected",
                ))
            }
            _ => {
                return Err(ApiError::new(
                    ErrorCode::NotPending,
                    "this application was already decided",
                ))
            }
        }
        let key = subject_key(&self.pepper_fr(), &person)?;
        let commitment = fr_from_dec(&commitment_s).map_err(ApiError::internal)?;
        let holder = zkcredit_api::auth::parse_public_key("holder_key", &holder_key_s)
            .map_err(ApiError::from)?;
        let key_s = fr_to_dec(&key);
        let now = unix_now();
        let existing = tx
            .query_row(
                "SELECT holder_commitment, holder_key, application FROM holders WHERE subject_key = ?1",
                [&key_s],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)),
            )
            .optional()
            .map_err(db)?;
        if let Some((c, old_holder, old_app)) = existing {
            // The application's signature proves possession of the key, not of the
            // commitment: someone's bound commitment with another key is never a wallet's
            // own application (both come from one secret) and would hand the person's
            // records to that key.
            if c == commitment_s && old_holder != holder_key_s {
                return Err(ApiError::new(
                    ErrorCode::AlreadyRegistered,
                    "this application pairs the person's bound holder commitment with another key; a wallet derives both from one secret, so it is refused (even with replace)",
                ));
            }
            if c != commitment_s {
                if !replace {
                    return Err(ApiError::new(ErrorCode::AlreadyRegistered,
                        "this person is already bound to another holder key; approve with replace to rebind",
                    ));
                }
                let since = now.saturating_sub(self.limits.rebind_period) as i64;
                let n: i64 = tx
                    .query_row(
                        "SELECT COUNT(*) FROM rebinds WHERE subject_key = ?1 AND at > ?2",
                        rusqlite::params![key_s, since],
                        |r| r.get(0),
                    )
                    .map_err(db)?;
                if n as u64 >= self.limits.rebinds_per_period {
                    return Err(ApiError::new(
                        ErrorCode::RebindLimited,
                        format!(
                            "this identifier was rebound {n} time(s) in the last {} days",
                            self.limits.rebind_period / 86_400
                        ),
                    ));
                }
                tx.execute(
                    "INSERT INTO rebinds (subject_key, at) VALUES (?1, ?2)",
                    rusqlite::params![key_s, now as i64],
                )
                .map_err(db)?;
                // The lost wallet's attestation is refused by every provider from now on.
                if old_holder != holder_key_s {
                    super::revocation::insert(&tx, &key_s, &old_holder, now, &old_app)?;
                }
            }
        }
        // A holder key rebound on purpose is no longer revoked for this subject.
        tx.execute(
            "DELETE FROM revocations WHERE subject_key = ?1 AND holder_key = ?2",
            [&key_s, &holder_key_s],
        )
        .map_err(db)?;
        let expires = now + self.cfg.validity;
        let att = Attestation::sign(&self.signing, &key, &holder, now, expires);
        let att_json = serde_json::to_string(&att).map_err(ApiError::internal)?;
        tx.execute(
            "INSERT INTO holders (subject_key, holder_commitment, holder_key, application) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(subject_key) DO UPDATE SET holder_commitment = ?2, holder_key = ?3, application = ?4",
            [&key_s, &commitment_s, &holder_key_s, app_id],
        )
        .map_err(db)?;
        tx.execute(
            "UPDATE applications SET status = 'approved', decided_at = ?1, attestation = ?2 WHERE id = ?3 AND status = 'pending'",
            rusqlite::params![now as i64, att_json, app_id],
        )
        .map_err(db)?;
        // The KYC row is staged while the issuer's transaction is open: if staging fails,
        // nothing is bound.
        self.tree
            .stage_blocking(&[(key, Some([commitment, Fr::from(now), Fr::from(expires)]))])?;
        tx.commit().map_err(db)?;
        Ok(att)
    }
}

pub(super) async fn apply(
    State(svc): State<IssuerService>,
    Json(a): Json<KycApplication>,
) -> Result<(StatusCode, Json<ApplicationView>), ApiError> {
    check_raw_id(&a.id)?;
    normalise_id(&a.id).map_err(|e| ApiError::new(ErrorCode::BadId, e.to_string()).field("id"))?;
    let (commitment, holder) = a.verify()?;
    // Canonical forms (lower-case hex, decimal without leading zeros): bindings and
    // revocations compare them as text.
    let mut a = a;
    a.holder_key = hex::encode(holder.as_bytes());
    a.holder_commitment = fr_to_dec(&commitment);
    let mut idb = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut idb);
    let app_id = hex::encode(idb);
    let now = unix_now();
    let id = app_id.clone();
    let limits = svc.limits;
    svc.store
        .with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let per_key: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM applications WHERE holder_key = ?1",
                    [&a.holder_key],
                    |r| r.get(0),
                )
                .map_err(db)?;
            if per_key as u64 >= limits.applications_per_holder_key {
                return Err(ApiError::new(
                    ErrorCode::TooManyApplications,
                    format!(
                        "this holder key has {per_key} applications (at most {})",
                        limits.applications_per_holder_key
                    ),
                ));
            }
            let pending: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM applications WHERE status = 'pending'",
                    [],
                    |r| r.get(0),
                )
                .map_err(db)?;
            if pending as u64 >= limits.max_pending_applications {
                return Err(ApiError::new(
                    ErrorCode::StoreFull,
                    "the issuer's queue of pending applications is full; retry later",
                ));
            }
            tx.execute(
                "INSERT INTO applications (id, person_id, holder_commitment, holder_key, status, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
                rusqlite::params![id, a.id, a.holder_commitment, a.holder_key, now as i64],
            )
            .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await?;
    svc.tree.metrics.inc("kyc_applications_total", "received");
    if svc.cfg.auto_approve_kyc_stand_in {
        svc.approve(&app_id, false).await?;
        return Ok((StatusCode::OK, Json(svc.view(app_id).await?)));
    }
    Ok((StatusCode::ACCEPTED, Json(svc.view(app_id).await?)))
}

pub(super) fn check_app_id(id: &str) -> Result<(), ApiError> {
    zkcredit_api::auth::hex_n::<16>("application_id", id)
        .map(|_| ())
        .map_err(ApiError::from)
}

pub(super) async fn application(
    State(svc): State<IssuerService>,
    Path(id): Path<String>,
) -> Result<Json<ApplicationView>, ApiError> {
    check_app_id(&id)?;
    Ok(Json(svc.view(id).await?))
}

pub(super) async fn pending(
    State(svc): State<IssuerService>,
) -> Result<Json<Vec<PendingApplication>>, ApiError> {
    let list = svc
        .store
        .with(|conn| {
            let mut st = conn
                .prepare("SELECT id, person_id, holder_key, created_at FROM applications WHERE status = 'pending' ORDER BY created_at LIMIT 1000")
                .map_err(db)?;
            let rows = st
                .query_map([], |r| {
                    Ok(PendingApplication {
                        application_id: r.get(0)?,
                        id: r.get(1)?,
                        holder_key: r.get(2)?,
                        created_at: r.get::<_, i64>(3)? as u64,
                    })
                })
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            Ok(rows)
        })
        .await?;
    Ok(Json(list))
}

pub(super) async fn approve(
    State(svc): State<IssuerService>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ApplicationView>, ApiError> {
    check_app_id(&id)?;
    // The body is optional: empty means `{}`.
    let b: Approve = if body.iter().all(|c| c.is_ascii_whitespace()) {
        Approve::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(ErrorCode::InvalidBody, e.to_string()))?
    };
    svc.approve(&id, b.replace).await?;
    if b.publish {
        svc.tree.publish().await?;
    }
    Ok(Json(svc.view(id).await?))
}

pub(super) async fn reject(
    State(svc): State<IssuerService>,
    Path(id): Path<String>,
) -> Result<Json<ApplicationView>, ApiError> {
    check_app_id(&id)?;
    let i = id.clone();
    let n = svc
        .store
        .with(move |conn| {
            conn.execute(
                "UPDATE applications SET status = 'rejected', decided_at = ?1 WHERE id = ?2 AND status = 'pending'",
                rusqlite::params![unix_now() as i64, i],
            )
            .map_err(db)
        })
        .await?;
    if n == 0 {
        return Err(ApiError::new(
            ErrorCode::NotPending,
            "no pending application with this id",
        ));
    }
    Ok(Json(svc.view(id).await?))
}
