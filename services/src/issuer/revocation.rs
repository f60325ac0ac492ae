//! The revocation list (issue 10 finding 8). A binding is revoked when the operator replaces
//! it (a lost wallet: the old holder key) or revokes an approved application outright (its
//! binding and KYC row are removed too). `GET /v1/revocations` serves every revoked
//! (subject key, holder key), signed with the attestation key, so providers that pin the
//! issuer key can check it; entries older than the attestation validity are pruned (every
//! attestation they could refuse has expired).

use super::applications::check_app_id;
use super::IssuerService;
use crate::http::Json;
use crate::store::db;
use axum::extract::State;
use rusqlite::{OptionalExtension, TransactionBehavior};
use zkcredit_api::auth::parse_public_key;
use zkcredit_api::issuer::{RevocationList, Revoke};
use zkcredit_api::{unix_now, ApiError, ErrorCode};
use zkcredit_circuits::field::fr_from_dec;

/// Records that `holder_key` no longer holds `subject_key` (inside the caller's transaction).
pub(super) fn insert(
    tx: &rusqlite::Transaction<'_>,
    subject_key: &str,
    holder_key: &str,
    now: u64,
    application: &str,
) -> Result<(), ApiError> {
    tx.execute(
        "INSERT INTO revocations (subject_key, holder_key, revoked_at, application) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(subject_key, holder_key) DO UPDATE SET revoked_at = ?3, application = ?4",
        rusqlite::params![subject_key, holder_key, now as i64, application],
    )
    .map(|_| ())
    .map_err(db)
}

impl IssuerService {
    /// The current revocation list, signed now (expired entries pruned first).
    pub async fn revocation_list(&self) -> Result<RevocationList, ApiError> {
        let validity = self.cfg.validity;
        let rows = self
            .store
            .with(move |conn| {
                let now = unix_now();
                conn.execute(
                    "DELETE FROM revocations WHERE revoked_at < ?1",
                    [now.saturating_sub(validity) as i64],
                )
                .map_err(db)?;
                let mut st = conn
                    .prepare("SELECT subject_key, holder_key, revoked_at FROM revocations ORDER BY subject_key, holder_key")
                    .map_err(db)?;
                let rows = st
                    .query_map([], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                        ))
                    })
                    .map_err(db)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(db)?;
                Ok(rows)
            })
            .await?;
        let mut revoked = Vec::with_capacity(rows.len());
        for (k, h, at) in rows {
            let k = fr_from_dec(&k).map_err(ApiError::internal)?;
            let h = parse_public_key("holder_key", &h).map_err(ApiError::internal)?;
            revoked.push((k, h, at.max(0) as u64));
        }
        Ok(RevocationList::sign(&self.signing, &revoked, unix_now()))
    }

    /// Revokes the binding an approved application created: the pair goes on the list; if
    /// it is still the identifier's binding, the binding and the KYC row are removed.
    pub async fn revoke(&self, app_id: &str) -> Result<(), ApiError> {
        let svc = self.clone();
        let app_id = app_id.to_string();
        self.store
            .with(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(db)?;
                let (person, holder_key, status) = tx
                    .query_row(
                        "SELECT person_id, holder_key, status FROM applications WHERE id = ?1",
                        [&app_id],
                        |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                            ))
                        },
                    )
                    .optional()
                    .map_err(db)?
                    .ok_or_else(|| {
                        ApiError::new(ErrorCode::UnknownApplication, "no such application")
                    })?;
                if status != "approved" {
                    return Err(ApiError::new(
                        ErrorCode::NotPending,
                        "only an approved application's binding can be revoked",
                    ));
                }
                let key = super::subject_key(&svc.pepper_fr(), &person)?;
                let key_s = zkcredit_circuits::field::fr_to_dec(&key);
                insert(&tx, &key_s, &holder_key, unix_now(), &app_id)?;
                let removed = tx
                    .execute(
                        "DELETE FROM holders WHERE subject_key = ?1 AND holder_key = ?2",
                        [&key_s, &holder_key],
                    )
                    .map_err(db)?;
                if removed > 0 {
                    svc.tree.stage_blocking(&[(key, None)])?;
                }
                tx.execute(
                    "UPDATE applications SET status = 'revoked', decided_at = ?1 WHERE id = ?2",
                    rusqlite::params![unix_now() as i64, app_id],
                )
                .map_err(db)?;
                tx.commit().map_err(db)
            })
            .await
    }
}

pub(super) async fn list(
    State(svc): State<IssuerService>,
) -> Result<Json<RevocationList>, ApiError> {
    Ok(Json(svc.revocation_list().await?))
}

pub(super) async fn revoke(
    State(svc): State<IssuerService>,
    Json(b): Json<Revoke>,
) -> Result<Json<RevocationList>, ApiError> {
    check_app_id(&b.application_id)?;
    svc.revoke(&b.application_id).await?;
    svc.tree.metrics.inc("revocations_total", "revoked");
    Ok(Json(svc.revocation_list().await?))
}
