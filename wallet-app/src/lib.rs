//! # zkcredit-wallet-app
//!
//! The borrower's wallet as a web page (SPEC §7.3). `zkcredit wallet serve` starts this app
//! on the borrower's own machine: it listens on 127.0.0.1 only, serves one page embedded in
//! the binary, and does every step of the command-line wallet for it — create or unlock the
//! keystore, apply for KYC, open a lender's request, gather and check, prove natively,
//! submit, keep a history — through the same [`zkcredit_wallet`] library. The holder secret
//! stays in this process; the page only ever sees public values and words.
//!
//! Security of a local web app ([`guard`]): a random token per start is part of every path
//! (the printed link carries it; without it every request is refused), the `Host` must be
//! the loopback address the app is bound to (no DNS rebinding), every state change is a
//! `POST` of JSON whose `Origin` is the app's own, and every answer carries a strict
//! Content-Security-Policy with no inline script, no framing and no referrer.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
pub mod guard;
mod job;
mod lender;
mod routes;
mod session;

pub use error::AppError;
pub use session::KnownLender;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use zkcredit_api::verifier::Submission;
use zkcredit_circuits::eligibility::{EligibilityParams, EligibilityWitness};
use zkcredit_services::server::Running;
use zkcredit_wallet::WalletError;

/// The prover the app uses: proves a checked witness (natively, on all cores). Given by
/// the caller, which holds the proving key.
pub type ProveFn =
    Arc<dyn Fn(&EligibilityWitness) -> Result<Submission, WalletError> + Send + Sync>;

/// What the app serves.
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// The wallet directory (keystore, attestation, pending application, history).
    pub dir: PathBuf,
    /// The KYC issuer's base URL.
    pub issuer: String,
    /// The registry's base URL.
    pub registry: String,
    /// The lenders this wallet trusts, by the verifier id each publishes
    /// (`GET /v1/verifier`) and its verifier's URL: a request link elsewhere, or a request
    /// naming another verifier, is refused before anything is gathered.
    pub lenders: Vec<KnownLender>,
    /// The eligibility circuit's shape.
    pub params: EligibilityParams,
    /// Argon2id memory (KiB) and passes for a new keystore.
    pub kdf: (u32, u32),
    /// Port on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// Seconds one proof of this circuit took on this machine, once measured by the caller
    /// (e.g. a proof of a synthetic witness at start): the progress estimate when this
    /// wallet has made no proof yet (its history's last proof time comes first).
    pub measured_proof_seconds: Arc<OnceLock<f64>>,
}

/// A running wallet app.
#[derive(Debug)]
pub struct WalletApp {
    server: Running,
    token: String,
}

impl WalletApp {
    /// The link to open: `http://127.0.0.1:PORT/TOKEN/`. Whoever has it drives the wallet;
    /// it is printed to the borrower's terminal only.
    pub fn link(&self) -> String {
        format!("{}/{}/", self.server.url(), self.token)
    }

    /// The base URL without the token (every path under it is refused without one).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Stops the app (in-flight requests finish).
    pub async fn stop(self) -> std::io::Result<()> {
        self.server.stop().await
    }
}

/// Starts the wallet app on 127.0.0.1 (the only address it ever binds).
pub async fn start(cfg: AppConfig, prove: ProveFn) -> Result<WalletApp, AppError> {
    for (i, l) in cfg.lenders.iter().enumerate() {
        if cfg.lenders[..i]
            .iter()
            .any(|o| o.url == l.url || o.name == l.name)
        {
            return Err(AppError::BadInput(format!(
                "the lender {:?} repeats another lender's name or URL (one verifier id may \
                 serve at several URLs, each under its own name)",
                l.name
            )));
        }
    }
    std::fs::create_dir_all(&cfg.dir)
        .map_err(|e| AppError::Internal(format!("{}: {e}", cfg.dir.display())))?;
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
    let token = hex::encode(raw);
    let port = Arc::new(OnceLock::new());
    // Redirects are not followed: every service is reached at the URL configured or pinned.
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .connect_timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let state = routes::AppState {
        cfg: Arc::new(cfg.clone()),
        session: Arc::new(Mutex::new(session::Session::default())),
        creating: Arc::new(tokio::sync::Mutex::new(())),
        http,
        prove,
    };
    let router = guard::protect(routes::router(state, &token), token.clone(), port.clone());
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], cfg.port));
    let server = zkcredit_services::server::spawn(router, addr)
        .await
        .map_err(|e| AppError::Internal(format!("cannot listen on {addr}: {e}")))?;
    let _ = port.set(server.addr.port());
    Ok(WalletApp { server, token })
}
