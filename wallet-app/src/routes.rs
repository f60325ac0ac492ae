//! The page and its JSON API (SPEC §7.3), every path under `/TOKEN/` ([`crate::guard`]).
//! `GET` reads; every change is a `POST`. This module: the page, the state, the keystore
//! and KYC; [`crate::lender`]: a lender's request.

use crate::session::{KnownLender, Opened, Session};
use crate::{AppConfig, AppError, ProveFn};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, MutexGuard};
use zkcredit_api::client::IssuerClient;
use zkcredit_api::unix_now;
use zkcredit_wallet::explain;
use zkcredit_wallet::history::{self, Entry};
use zkcredit_wallet::wallet::{self, attestation_path, keystore_path, PendingApplication};
use zkcredit_wallet::{Wallet, WalletError};

/// The least length of a new keystore password.
pub const MIN_PASSWORD: usize = 10;
/// The longest password, KYC identifier and request link accepted.
pub(crate) const MAX_FIELD: usize = 2048;

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub cfg: Arc<AppConfig>,
    pub session: Arc<Mutex<Session>>,
    /// Held while a keystore is being created (one at a time).
    pub creating: Arc<tokio::sync::Mutex<()>>,
    pub http: reqwest::Client,
    pub prove: ProveFn,
}

impl AppState {
    /// The session (a panic elsewhere never locks the wallet out: the state it guards is
    /// replaced whole or not at all).
    pub(crate) fn session(&self) -> Result<MutexGuard<'_, Session>, AppError> {
        Ok(self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    pub(crate) fn wallet(&self) -> Result<Wallet, AppError> {
        self.session()?.wallet.clone().ok_or(AppError::Locked)
    }
}

/// `axum::Json` whose refusals (size, syntax, unknown fields) answer the app's
/// `{code, message}` with the same status.
pub(crate) struct AppJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for AppJson<T> {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(AppJson(v)),
            Err(r) => Err(AppError::Rejected {
                status: r.status(),
                message: r.body_text(),
            }),
        }
    }
}

const INDEX: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(CONTENT_TYPE, kind)], body).into_response()
}

pub(crate) fn router(state: AppState, token: &str) -> Router {
    let home = format!("/{token}/");
    Router::new()
        .route(
            "/{token}",
            get(move || async move { Redirect::to(&home).into_response() }),
        )
        .route(
            "/{token}/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/{token}/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/{token}/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route("/{token}/api/state", get(state_view))
        .route("/{token}/api/job", get(job_view))
        .route("/{token}/api/create", post(create))
        .route("/{token}/api/unlock", post(unlock))
        .route("/{token}/api/lock", post(lock))
        .route("/{token}/api/kyc/apply", post(kyc_apply))
        .route("/{token}/api/kyc/refresh", post(kyc_refresh))
        .route(
            "/{token}/api/request/open",
            post(crate::lender::open_request),
        )
        .route("/{token}/api/prove", post(crate::lender::prove))
        .route("/{token}/api/submit", post(crate::lender::submit))
        .fallback(|| async { AppError::NotFound.into_response() })
        .method_not_allowed_fallback(|| async {
            AppError::Rejected {
                status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
                message: "use GET to read and POST to change".into(),
            }
            .into_response()
        })
        .with_state(state)
}

/// What the page shows.
#[derive(Serialize)]
pub(crate) struct StateView {
    /// `none` (no keystore yet), `locked` or `unlocked`.
    wallet: &'static str,
    /// The holder's public request-signing key (hex), once unlocked.
    holder_key: Option<String>,
    /// `none`, `pending` or `approved`.
    kyc: &'static str,
    kyc_application: Option<String>,
    issuer: String,
    lenders: Vec<KnownLender>,
    request: Option<RequestView>,
    history: Vec<Entry>,
    min_password: usize,
}

/// A request as the page shows it, after the wallet checked who asks.
#[derive(Serialize)]
struct RequestView {
    lender: String,
    verifier_id: String,
    product: String,
    expires_in_seconds: u64,
    conditions: Vec<String>,
    learns: Vec<String>,
    does_not_learn: Vec<String>,
}

fn request_view(o: &Opened) -> RequestView {
    RequestView {
        lender: o.lender.name.clone(),
        verifier_id: o.lender.verifier_id.clone(),
        product: o.req.product.clone(),
        expires_in_seconds: o.req.expiry.saturating_sub(unix_now()),
        conditions: explain::policy_conditions(&o.req.policy),
        learns: explain::lender_learns(&o.req.policy, &o.req.product),
        does_not_learn: explain::lender_does_not_learn(&o.req.policy),
    }
}

pub(crate) fn view(st: &AppState) -> Result<StateView, AppError> {
    let s = st.session()?;
    let dir = &st.cfg.dir;
    let exists = keystore_path(dir).exists();
    // An unreadable application file is as good as none: the borrower can apply again.
    let pending = wallet::pending_application(dir).unwrap_or_else(|e| {
        tracing::warn!("pending KYC application unreadable: {e}");
        None
    });
    let approved = match &s.wallet {
        Some(w) => w.attestation().is_some(),
        None => attestation_path(dir).exists(),
    };
    Ok(StateView {
        wallet: match (&s.wallet, exists) {
            (Some(_), _) => "unlocked",
            (None, true) => "locked",
            (None, false) => "none",
        },
        holder_key: s.wallet.as_ref().map(Wallet::holder_key_hex),
        kyc: if approved {
            "approved"
        } else if pending.is_some() {
            "pending"
        } else {
            "none"
        },
        // Locked, the page learns only which step the wallet is at.
        kyc_application: pending
            .filter(|_| s.wallet.is_some())
            .map(|p| p.application_id),
        issuer: st.cfg.issuer.clone(),
        lenders: st.cfg.lenders.clone(),
        request: s.request.as_ref().map(request_view),
        history: if s.wallet.is_some() {
            load_history(dir).into_iter().rev().collect()
        } else {
            Vec::new()
        },
        min_password: MIN_PASSWORD,
    })
}

/// The history, or none (with a warning in the log) when the file does not read: the next
/// application keeps the unreadable file aside and starts a new one.
pub(crate) fn load_history(dir: &std::path::Path) -> Vec<Entry> {
    history::load(dir).unwrap_or_else(|e| {
        tracing::warn!("wallet history unreadable: {e}");
        Vec::new()
    })
}

async fn state_view(State(st): State<AppState>) -> Result<Json<StateView>, AppError> {
    Ok(Json(view(&st)?))
}

async fn job_view(State(st): State<AppState>) -> Result<Response, AppError> {
    let job = st.session()?.job.clone();
    Ok(match job {
        Some(j) => {
            let v = j
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .view();
            Json(v).into_response()
        }
        None => Json(serde_json::Value::Null).into_response(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Password {
    password: String,
}

/// The password rule the server enforces (the page shows an estimate of strength as well).
fn check_password(pw: &str) -> Result<(), AppError> {
    let n = pw.chars().count();
    if n > MAX_FIELD {
        return Err(AppError::BadInput("that password is too long".into()));
    }
    if n < MIN_PASSWORD {
        return Err(AppError::WeakPassword(format!(
            "choose a password of at least {MIN_PASSWORD} characters (a few unrelated words work well)"
        )));
    }
    let mut distinct: Vec<char> = pw.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 5 {
        return Err(AppError::WeakPassword(
            "that password repeats too few characters: use a few unrelated words".into(),
        ));
    }
    Ok(())
}

async fn create(
    State(st): State<AppState>,
    AppJson(b): AppJson<Password>,
) -> Result<Json<StateView>, AppError> {
    check_password(&b.password)?;
    let _one = st.creating.lock().await;
    if keystore_path(&st.cfg.dir).exists() {
        return Err(AppError::Exists);
    }
    let (dir, (m, t)) = (st.cfg.dir.clone(), st.cfg.kdf);
    let w = tokio::task::spawn_blocking(move || Wallet::create(&dir, &b.password, m, t))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    st.session()?.wallet = Some(w);
    Ok(Json(view(&st)?))
}

async fn unlock(
    State(st): State<AppState>,
    AppJson(b): AppJson<Password>,
) -> Result<Json<StateView>, AppError> {
    if b.password.len() > MAX_FIELD {
        return Err(AppError::WrongPassword);
    }
    if !keystore_path(&st.cfg.dir).exists() {
        return Err(AppError::NoKeystore);
    }
    let dir = st.cfg.dir.clone();
    let w = tokio::task::spawn_blocking(move || Wallet::open(&dir, &b.password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| match e {
            WalletError::Keystore(zkcredit_wallet::keystore::KeystoreError::WrongPassword) => {
                AppError::WrongPassword
            }
            e => e.into(),
        })?;
    st.session()?.wallet = Some(w);
    Ok(Json(view(&st)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Empty {}

async fn lock(
    State(st): State<AppState>,
    AppJson(_): AppJson<Empty>,
) -> Result<Json<StateView>, AppError> {
    {
        let mut s = st.session()?;
        if s.busy() {
            return Err(AppError::Busy);
        }
        *s = Session::default();
    }
    Ok(Json(view(&st)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KycApply {
    id: String,
}

async fn kyc_apply(
    State(st): State<AppState>,
    AppJson(b): AppJson<KycApply>,
) -> Result<Json<StateView>, AppError> {
    let id = b.id.trim();
    if id.is_empty() || id.chars().count() > 128 || id.chars().any(char::is_control) {
        return Err(AppError::BadInput(
            "enter your identifier (1 to 128 printable characters)".into(),
        ));
    }
    let w = st.wallet()?;
    if w.attestation().is_some() {
        return Err(AppError::NotReady(
            "this wallet is already KYC-verified".into(),
        ));
    }
    let issuer = IssuerClient::new(st.http.clone(), st.cfg.issuer.clone());
    let app = w.register(&issuer, id).await?;
    wallet::save_pending_application(
        &st.cfg.dir,
        &PendingApplication {
            issuer: st.cfg.issuer.clone(),
            application_id: app.application_id,
        },
    )?;
    Ok(Json(view(&st)?))
}

#[derive(Serialize)]
struct KycStatus {
    status: String,
    message: String,
}

async fn kyc_refresh(
    State(st): State<AppState>,
    AppJson(_): AppJson<Empty>,
) -> Result<Json<KycStatus>, AppError> {
    let mut w = st.wallet()?;
    if w.attestation().is_some() {
        return Ok(Json(KycStatus {
            status: "approved".into(),
            message: "you are KYC-verified".into(),
        }));
    }
    let dir = &st.cfg.dir;
    let p = wallet::pending_application(dir)
        .ok()
        .flatten()
        .ok_or_else(|| AppError::NotReady("apply for KYC first".into()))?;
    if p.issuer != st.cfg.issuer {
        return Err(AppError::NotReady(format!(
            "this wallet's application is at {}, not at this app's issuer {}",
            p.issuer, st.cfg.issuer
        )));
    }
    let issuer = IssuerClient::new(st.http.clone(), st.cfg.issuer.clone());
    let app = match issuer.application(&p.application_id).await {
        Ok(app) => app,
        Err(e) if e.status() == Some(404) => {
            // The issuer no longer knows it: forget it, so the borrower can apply again.
            wallet::clear_pending_application(dir)?;
            return Ok(Json(KycStatus {
                status: "unknown".into(),
                message: "the issuer no longer knows this application: apply again".into(),
            }));
        }
        Err(e) => return Err(WalletError::from(e).into()),
    };
    let message = match (app.status.as_str(), app.attestation) {
        ("approved", Some(a)) => {
            w.save_attestation(dir, a.clone())?;
            wallet::clear_pending_application(dir)?;
            // Only into the wallet still unlocked (a lock while the issuer answered stays).
            let mut s = st.session()?;
            if let Some(cur) = s.wallet.as_mut() {
                if cur.holder_key_hex() == w.holder_key_hex() {
                    cur.set_attestation(a)?;
                }
            }
            "approved: you are KYC-verified".to_string()
        }
        ("pending", _) => "waiting for the issuer to check your identity".into(),
        (other, _) => {
            wallet::clear_pending_application(dir)?;
            format!("the issuer's answer: {other}; you may apply again")
        }
    };
    Ok(Json(KycStatus {
        status: app.status,
        message,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rule() {
        assert!(matches!(
            check_password("short"),
            Err(AppError::WeakPassword(_))
        ));
        assert!(matches!(
            check_password("aaaaaaaaaaaa"),
            Err(AppError::WeakPassword(_))
        ));
        assert!(check_password("correct horse battery").is_ok());
        assert!(matches!(
            check_password(&"ab".repeat(2000)),
            Err(AppError::BadInput(_))
        ));
    }
}
