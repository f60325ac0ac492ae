//! A lender's request, from link to decision (SPEC §7.3): open it (only at a trusted
//! lender's verifier URL, naming that lender's verifier id), prove in the background, send
//! the proof once and record the decision.

use crate::job::{self, Job, Outcome};
use crate::routes::{load_history, view, AppJson, AppState, Empty, StateView, MAX_FIELD};
use crate::session::Opened;
use crate::AppError;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use zkcredit_api::client::VerifierClient;
use zkcredit_api::unix_now;
use zkcredit_api::verifier::ProofRequest;
use zkcredit_wallet::history::{self, Entry};
use zkcredit_wallet::wallet;
use zkcredit_wallet::{Decision, WalletError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OpenRequest {
    url: String,
}

/// The most a request answer may hold.
const MAX_REQUEST_BODY: usize = 64 * 1024;

/// Fetches the proof request at `url` (no redirect; at most [`MAX_REQUEST_BODY`] bytes).
async fn fetch_request(http: &reqwest::Client, url: &str) -> Result<ProofRequest, AppError> {
    let failed =
        |m: String| AppError::Wallet(WalletError::Io(format!("the lender's request: {m}")));
    let mut r = http
        .get(url)
        .send()
        .await
        .map_err(|e| failed(format!("cannot reach {url}: {e}")))?;
    let status = r.status();
    let mut body = Vec::new();
    while let Some(chunk) = r.chunk().await.map_err(|e| failed(e.to_string()))? {
        if body.len() + chunk.len() > MAX_REQUEST_BODY {
            return Err(failed("the answer is too large to be a request".into()));
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        let code = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_string))
            .unwrap_or_else(|| status.to_string());
        return Err(failed(format!(
            "the lender answered {code}: ask the lender for a new link"
        )));
    }
    serde_json::from_slice(&body).map_err(|_| failed("the answer is not a proof request".into()))
}

pub(crate) async fn open_request(
    State(st): State<AppState>,
    AppJson(b): AppJson<OpenRequest>,
) -> Result<Json<StateView>, AppError> {
    let url = b.url.trim();
    let bad = || {
        AppError::BadInput(
            "paste the lender's request link: it looks like https://lender.example/v1/requests/0123abcd…".into(),
        )
    };
    let (base, nonce) = url.split_once("/v1/requests/").ok_or_else(bad)?;
    if url.len() > MAX_FIELD || nonce.is_empty() || !nonce.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let base = crate::session::base_url(base).ok_or_else(bad)?;
    let w = st.wallet()?;
    if w.attestation().is_none() {
        return Err(AppError::NotReady(
            "finish KYC before answering a lender's request".into(),
        ));
    }
    if st.session()?.busy() {
        return Err(AppError::Busy);
    }
    // Only a trusted lender's verifier is asked anything.
    let lender = st
        .cfg
        .lenders
        .iter()
        .find(|l| l.url == base)
        .cloned()
        .ok_or_else(|| AppError::UnknownLender(base.clone()))?;
    let req = fetch_request(&st.http, &format!("{base}/v1/requests/{nonce}")).await?;
    if !req.verifier_id.eq_ignore_ascii_case(&lender.verifier_id) {
        return Err(AppError::UnknownVerifier {
            lender: lender.name,
            got: req.verifier_id.chars().take(64).collect(),
        });
    }
    wallet::check_request_verifier(&req, &lender.verifier_id)?;
    if req.expiry <= unix_now() {
        return Err(AppError::NotReady(
            "this request has expired: ask the lender for a new link".into(),
        ));
    }
    {
        let mut s = st.session()?;
        if s.busy() {
            return Err(AppError::Busy);
        }
        // Locked (or locked and unlocked as someone else) while the request was fetched.
        if s.wallet.as_ref().map(|cur| cur.holder_key_hex()) != Some(w.holder_key_hex()) {
            return Err(AppError::Locked);
        }
        s.request = Some(Opened { req, base, lender });
        s.job = None;
    }
    Ok(Json(view(&st)?))
}

pub(crate) async fn prove(
    State(st): State<AppState>,
    AppJson(_): AppJson<Empty>,
) -> Result<Response, AppError> {
    let estimate = history::last_prove_seconds(&load_history(&st.cfg.dir))
        .or_else(|| st.cfg.measured_proof_seconds.get().copied());
    let (w, opened, job) = {
        let mut s = st.session()?;
        if s.busy() {
            return Err(AppError::Busy);
        }
        let w = s.wallet.clone().ok_or(AppError::Locked)?;
        let opened = s
            .request
            .clone()
            .ok_or_else(|| AppError::NotReady("open a lender's request first".into()))?;
        if opened.req.expiry <= unix_now() {
            return Err(AppError::NotReady(
                "this request has expired: ask the lender for a new link".into(),
            ));
        }
        let job = Arc::new(Mutex::new(Job::new(st.cfg.params.slots, estimate)));
        s.job = Some(job.clone());
        (w, opened, job)
    };
    tokio::spawn(job::run(job.clone(), w, opened, st.clone()));
    let v = job
        .lock()
        .map_err(|_| AppError::Internal("job lock poisoned".into()))?
        .view();
    Ok(Json(v).into_response())
}

#[derive(Serialize)]
pub(crate) struct DecisionView {
    /// `accepted` or `refused`.
    decision: &'static str,
    message: String,
}

pub(crate) async fn submit(
    State(st): State<AppState>,
    AppJson(_): AppJson<Empty>,
) -> Result<Json<DecisionView>, AppError> {
    let (file, seconds, opened, job) = {
        let mut s = st.session()?;
        if s.submitting {
            return Err(AppError::Busy);
        }
        let opened = s
            .request
            .clone()
            .ok_or_else(|| AppError::NotReady("open a lender's request first".into()))?;
        let job = s
            .job
            .clone()
            .ok_or_else(|| AppError::NotReady("make the proof first".into()))?;
        let outcome = job
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .outcome
            .clone();
        if opened.req.expiry <= unix_now() {
            return Err(AppError::NotReady(
                "this request has expired: ask the lender for a new link".into(),
            ));
        }
        match outcome {
            Outcome::Ready { file, seconds } => {
                s.submitting = true;
                (file, seconds, opened, job)
            }
            _ => return Err(AppError::NotReady("there is no proof ready to send".into())),
        }
    };
    // In a task of its own: a page closed or reloaded while the proof is being sent drops
    // this handler, never the sending, its history entry or the end of `submitting`.
    let st2 = st.clone();
    let task = tokio::spawn(async move {
        let sent = send(&st2, &file, seconds, &opened).await;
        let mut s = st2
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.submitting = false;
        if sent.is_ok() && s.job.as_ref().is_some_and(|j| Arc::ptr_eq(j, &job)) {
            s.request = None;
            s.job = None;
        }
        sent
    });
    task.await
        .map_err(|e| AppError::Internal(format!("sending failed: {e}")))?
        .map(Json)
}

/// Sends the proof and records the decision.
async fn send(
    st: &AppState,
    file: &zkcredit_wallet::ProofFile,
    seconds: f64,
    opened: &Opened,
) -> Result<DecisionView, AppError> {
    let verifier = VerifierClient::new(st.http.clone(), opened.base.clone());
    let d = wallet::apply(&verifier, &file.submission()).await?;
    let (decision, message) = match d {
        Decision::Accepted(_) => (
            "accepted",
            format!(
                "{} accepted your application for {}: you meet every condition",
                opened.lender.name, opened.req.product
            ),
        ),
        Decision::Refused { code, message } => (
            "refused",
            format!(
                "{} refused the proof ({code}): {message}",
                opened.lender.name
            ),
        ),
    };
    let recorded = history::append(
        &st.cfg.dir,
        Entry {
            at: unix_now(),
            lender: opened.lender.name.clone(),
            verifier_id: opened.lender.verifier_id.clone(),
            product: opened.req.product.clone(),
            decision: decision.into(),
            detail: message.clone(),
            prove_seconds: Some(seconds),
        },
    );
    // The lender's decision stands whatever happens to the history file.
    if let Err(e) = recorded {
        tracing::warn!("the decision could not be written to the history: {e}");
    }
    Ok(DecisionView { decision, message })
}
