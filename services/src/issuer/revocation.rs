//! The revocation list (issue 10 finding 8). A binding is revoked when the operator replaces
//! it (a lost wallet: the old holder key) or revokes an approved application outright (its
//! binding and KYC row are removed too). `GET /v1/revocations` serves every revoked
//! (subject key, holder key), signed with the attestation key, so providers that pin the
//! issuer key can check it; entries older than the attestation validity are pruned (every
//! attestation they could refuse has expired).

use super::applications::check_app_id;
use super::IssuerService;
use crate::http::Json;
use crate::store::{cells, Sql, P};
use axum::extract::State;
use zkcredit_api::auth::parse_public_key;
use zkcredit_api::issuer::{RevocationList, Revoke};
use zkcredit_api::{unix_now, ApiError, ErrorCode};
use zkcredit_circuits::field::fr_from_dec;

/// Records that `holder_key` no longer holds `subject_key` (inside the caller's
/// transaction), pruning entries older than `validity` seconds first.
pub(super) fn insert(
    s: &mut dyn Sql,
    subject_key: &str,
    holder_key: &str,
    now: u64,
    validity: u64,
    application: &str,
) -> Result<(), ApiError> {
    s.exec(
        "DELETE FROM revocations WHERE revoked_at < $1",
        &[P::I(now.saturating_sub(validity) as i64)],
    )?;
    s.exec(
        "INSERT INTO revocations (subject_key, holder_key, revoked_at, application) VALUES ($1, $2, $3, $4)
         ON CONFLICT (subject_key, holder_key) DO UPDATE SET revoked_at = $3, application = $4",
        &[P::T(subject_key), P::T(holder_key), P::I(now as i64), P::T(application)],
    )
    .map(|_| ())
}

impl IssuerService {
    /// The current revocation list, signed now (expired entries left out; they are pruned
    /// when the next revocation is written). A read: it never waits for an approval.
    pub async fn revocation_list(&self) -> Result<RevocationList, ApiError> {
        let validity = self.cfg.validity;
        let rows = self
            .db
            .read(move |s| {
                s.rows(
                    "SELECT subject_key, holder_key, revoked_at FROM revocations WHERE revoked_at >= $1 ORDER BY subject_key, holder_key",
                    &[P::I(unix_now().saturating_sub(validity) as i64)],
                )?
                .into_iter()
                .map(|r| {
                    let [k, h, at] = cells(r)?;
                    Ok((k.text("subject_key")?, h.text("holder_key")?, at.int("revoked_at")?))
                })
                .collect::<Result<Vec<_>, ApiError>>()
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
        self.db
            .write(move |s| {
                let row = s
                    .row(
                        "SELECT person_id, holder_key, status FROM applications WHERE id = $1",
                        &[P::T(&app_id)],
                    )?
                    .ok_or_else(|| {
                        ApiError::new(ErrorCode::UnknownApplication, "no such application")
                    })?;
                let [person, holder_key, status] = cells(row)?;
                let (person, holder_key) =
                    (person.text("person_id")?, holder_key.text("holder_key")?);
                if status.text("status")? != "approved" {
                    return Err(ApiError::new(
                        ErrorCode::NotPending,
                        "only an approved application's binding can be revoked",
                    ));
                }
                let key = super::subject_key(&svc.pepper_fr(), &person)?;
                let key_s = zkcredit_circuits::field::fr_to_dec(&key);
                insert(
                    s,
                    &key_s,
                    &holder_key,
                    unix_now(),
                    svc.cfg.validity,
                    &app_id,
                )?;
                let removed = s.exec(
                    "DELETE FROM holders WHERE subject_key = $1 AND holder_key = $2",
                    &[P::T(&key_s), P::T(&holder_key)],
                )?;
                if removed > 0 {
                    svc.tree.stage_in(s, &[(key, None)])?;
                }
                s.exec(
                    "UPDATE applications SET status = 'revoked', decided_at = $1 WHERE id = $2",
                    &[P::I(unix_now() as i64), P::T(&app_id)],
                )?;
                Ok(())
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
