//! KYC applications: filing (bounded per holder key and in total), the operator's queue,
//! approval and rejection. Approval is one transaction holding the issuer's write lock
//! ([`super::IssuerDb::write`]) — the application must be pending, the identifier unbound or bound to the same
//! holder (or replaced, within the rebind limit), the binding written, the replaced binding
//! revoked and the KYC row staged — so two concurrent approvals can never create two
//! bindings or two attestations.

use super::{check_raw_id, subject_key, IssuerService};
use crate::http::Json;
use crate::store::{cells, Sql, P};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rand::RngCore;
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
            .db
            .write(move |s| svc.approve_in(s, &app_id, replace))
            .await?;
        self.tree.metrics.inc("kyc_applications_total", "approved");
        Ok(att)
    }

    fn approve_in(
        &self,
        s: &mut dyn Sql,
        app_id: &str,
        replace: bool,
    ) -> Result<Attestation, ApiError> {
        let row = s
            .row(
                "SELECT person_id, holder_commitment, holder_key, status FROM applications WHERE id = $1",
                &[P::T(app_id)],
            )?
            .ok_or_else(|| ApiError::new(ErrorCode::UnknownApplication, "no such application"))?;
        let [person, commitment_s, holder_key_s, status] = cells(row)?;
        let (person, commitment_s, holder_key_s, status) = (
            person.text("person_id")?,
            commitment_s.text("holder_commitment")?,
            holder_key_s.text("holder_key")?,
            status.text("status")?,
        );
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
        let existing = match s.row(
            "SELECT holder_commitment, holder_key, application FROM holders WHERE subject_key = $1",
            &[P::T(&key_s)],
        )? {
            Some(r) => {
                let [c, h, a] = cells(r)?;
                Some((
                    c.text("holder_commitment")?,
                    h.text("holder_key")?,
                    a.text("application")?,
                ))
            }
            None => None,
        };
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
                let n = s.count(
                    "SELECT COUNT(*) FROM rebinds WHERE subject_key = $1 AND at > $2",
                    &[P::T(&key_s), P::I(since)],
                )?;
                if n >= self.limits.rebinds_per_period {
                    return Err(ApiError::new(
                        ErrorCode::RebindLimited,
                        format!(
                            "this identifier was rebound {n} time(s) in the last {} days",
                            self.limits.rebind_period / 86_400
                        ),
                    ));
                }
                s.exec(
                    "INSERT INTO rebinds (subject_key, at) VALUES ($1, $2)",
                    &[P::T(&key_s), P::I(now as i64)],
                )?;
                // The lost wallet's attestation is refused by every provider from now on.
                if old_holder != holder_key_s {
                    super::revocation::insert(
                        s,
                        &key_s,
                        &old_holder,
                        now,
                        self.cfg.validity,
                        &old_app,
                    )?;
                }
            }
        }
        // A holder key rebound on purpose is no longer revoked for this subject.
        s.exec(
            "DELETE FROM revocations WHERE subject_key = $1 AND holder_key = $2",
            &[P::T(&key_s), P::T(&holder_key_s)],
        )?;
        let expires = now + self.cfg.validity;
        let att = Attestation::sign(&self.signing, &key, &holder, now, expires);
        let att_json = serde_json::to_string(&att).map_err(ApiError::internal)?;
        s.exec(
            "INSERT INTO holders (subject_key, holder_commitment, holder_key, application) VALUES ($1, $2, $3, $4)
             ON CONFLICT (subject_key) DO UPDATE SET holder_commitment = $2, holder_key = $3, application = $4",
            &[P::T(&key_s), P::T(&commitment_s), P::T(&holder_key_s), P::T(app_id)],
        )?;
        s.exec(
            "UPDATE applications SET status = 'approved', decided_at = $1, attestation = $2 WHERE id = $3 AND status = 'pending'",
            &[P::I(now as i64), P::T(&att_json), P::T(app_id)],
        )?;
        // The KYC row is staged while the issuer's transaction is open: if staging fails,
        // nothing is bound (on PostgreSQL both commit together).
        self.tree.stage_in(
            s,
            &[(key, Some([commitment, Fr::from(now), Fr::from(expires)]))],
        )?;
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
    svc.db
        .write(move |s| {
            let per_key = s.count(
                "SELECT COUNT(*) FROM applications WHERE holder_key = $1",
                &[P::T(&a.holder_key)],
            )?;
            if per_key >= limits.applications_per_holder_key {
                return Err(ApiError::new(
                    ErrorCode::TooManyApplications,
                    format!(
                        "this holder key has {per_key} applications (at most {})",
                        limits.applications_per_holder_key
                    ),
                ));
            }
            let pending = s.count(
                "SELECT COUNT(*) FROM applications WHERE status = 'pending'",
                &[],
            )?;
            if pending >= limits.max_pending_applications {
                return Err(ApiError::new(
                    ErrorCode::StoreFull,
                    "the issuer's queue of pending applications is full; retry later",
                ));
            }
            s.exec(
                "INSERT INTO applications (id, person_id, holder_commitment, holder_key, status, created_at)
                 VALUES ($1, $2, $3, $4, 'pending', $5)",
                &[
                    P::T(&id),
                    P::T(&a.id),
                    P::T(&a.holder_commitment),
                    P::T(&a.holder_key),
                    P::I(now as i64),
                ],
            )?;
            Ok(())
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
        .db
        .read(|s| {
            s.rows(
                "SELECT id, person_id, holder_key, created_at FROM applications WHERE status = 'pending' ORDER BY created_at LIMIT 1000",
                &[],
            )?
            .into_iter()
            .map(|r| {
                let [id, person, holder, at] = cells(r)?;
                Ok(PendingApplication {
                    application_id: id.text("id")?,
                    id: person.text("person_id")?,
                    holder_key: holder.text("holder_key")?,
                    created_at: at.int("created_at")?.max(0) as u64,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()
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
        .db
        .write(move |s| {
            s.exec(
                "UPDATE applications SET status = 'rejected', decided_at = $1 WHERE id = $2 AND status = 'pending'",
                &[P::I(unix_now() as i64), P::T(&i)],
            )
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
