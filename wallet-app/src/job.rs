//! Making a proof in the background: gather every slot's witness, check the statement on
//! this machine (and stop, saying why in words, when no proof can exist), prove. The page
//! polls [`Job::view`] for a live progress bar and a time estimate (the wallet's last proof
//! time, from its history, else a proof time measured on this machine by the caller).

use crate::routes::AppState;
use crate::session::Opened;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use zkcredit_api::client::{RegistryClient, VerifierClient};
use zkcredit_api::unix_now;
use zkcredit_wallet::history::{self, Entry};
use zkcredit_wallet::{explain, wallet, ProofFile, Wallet, WalletError};

/// How a job ended, or that it has not.
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    Running,
    Ready {
        file: Box<ProofFile>,
        seconds: f64,
    },
    /// No proof can exist: the failing condition in words, and the rule as the spec names it.
    NoProof {
        words: String,
        technical: String,
    },
    Failed(String),
}

/// A proof being made.
#[derive(Debug)]
pub(crate) struct Job {
    stage: String,
    fetched: usize,
    slots: usize,
    started: Instant,
    proving_since: Option<Instant>,
    estimate: Option<f64>,
    pub outcome: Outcome,
}

/// What the page sees of a job.
#[derive(Serialize)]
pub(crate) struct JobView {
    /// `running`, `ready`, `no_proof` or `failed`.
    state: &'static str,
    stage: String,
    /// 0..=100, or none while the time cannot be estimated.
    percent: Option<f64>,
    elapsed_seconds: f64,
    remaining_seconds: Option<f64>,
    detail: Option<String>,
    /// For `no_proof`: the rule and section of the spec that fails.
    technical: Option<String>,
}

impl Job {
    pub fn new(slots: usize, estimate: Option<f64>) -> Self {
        Self {
            stage: "asking the registry which providers to ask".into(),
            fetched: 0,
            slots,
            started: Instant::now(),
            proving_since: None,
            estimate,
            outcome: Outcome::Running,
        }
    }

    pub fn running(&self) -> bool {
        matches!(self.outcome, Outcome::Running)
    }

    pub fn view(&self) -> JobView {
        let elapsed = self.started.elapsed().as_secs_f64();
        let (state, detail, technical) = match &self.outcome {
            Outcome::Running => ("running", None, None),
            Outcome::Ready { seconds, .. } => (
                "ready",
                Some(format!("your proof is ready (made in {seconds:.1} s)")),
                None,
            ),
            Outcome::NoProof { words, technical } => {
                ("no_proof", Some(words.clone()), Some(technical.clone()))
            }
            Outcome::Failed(why) => ("failed", Some(why.clone()), None),
        };
        let (percent, remaining) = match (&self.outcome, self.proving_since) {
            (Outcome::Running, None) => (
                Some(15.0 * self.fetched.min(self.slots) as f64 / self.slots.max(1) as f64),
                self.estimate,
            ),
            (Outcome::Running, Some(t)) => match self.estimate {
                Some(est) if est > 0.0 => {
                    let e = t.elapsed().as_secs_f64();
                    (
                        Some(20.0 + 80.0 * (e / est).min(0.99)),
                        Some((est - e).max(0.0)),
                    )
                }
                _ => (None, None),
            },
            (Outcome::Ready { .. }, _) => (Some(100.0), Some(0.0)),
            _ => (None, None),
        };
        JobView {
            state,
            stage: self.stage.clone(),
            percent,
            elapsed_seconds: elapsed,
            remaining_seconds: remaining,
            detail,
            technical,
        }
    }
}

fn set(job: &Mutex<Job>, f: impl FnOnce(&mut Job)) {
    f(&mut job
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// Runs one job to its end (the outcome is left in `job`, also when a step panics: the
/// wallet is never left busy).
pub(crate) async fn run(job: Arc<Mutex<Job>>, w: Wallet, opened: Opened, st: AppState) {
    let inner = {
        let (job, opened, st) = (job.clone(), opened.clone(), st.clone());
        tokio::spawn(async move { steps(&job, &w, &opened, &st).await })
    };
    let result = inner.await.unwrap_or_else(|e| {
        Err(Stop::Failed(WalletError::Prove(format!(
            "the wallet failed unexpectedly ({e}); nothing was sent"
        ))))
    });
    let outcome = match result {
        Ok((file, seconds)) => Outcome::Ready {
            file: Box::new(file),
            seconds,
        },
        Err(Stop::NoProof { words, technical }) => {
            let entry = Entry {
                at: unix_now(),
                lender: opened.lender.name.clone(),
                verifier_id: opened.lender.verifier_id.clone(),
                product: opened.req.product.clone(),
                decision: "not_sent".into(),
                detail: format!("no proof can exist: {words}"),
                prove_seconds: None,
            };
            if let Err(e) = history::append(&st.cfg.dir, entry) {
                tracing::warn!("history: {e}");
            }
            Outcome::NoProof { words, technical }
        }
        Err(Stop::Failed(e)) => Outcome::Failed(e.to_string()),
        Err(Stop::Retry(why)) => Outcome::Failed(why),
    };
    set(&job, |j| {
        j.stage = match &outcome {
            Outcome::Ready { .. } => "proof ready".into(),
            Outcome::NoProof { .. } => "stopped: no proof can exist, nothing was proved".into(),
            _ => "stopped".into(),
        };
        j.outcome = outcome;
    });
}

/// Why a job stopped short of a proof.
enum Stop {
    NoProof {
        words: String,
        technical: String,
    },
    /// Gathered data that does not fit together: worth a retry, nothing recorded.
    Retry(String),
    Failed(WalletError),
}

impl From<WalletError> for Stop {
    fn from(e: WalletError) -> Self {
        Stop::Failed(e)
    }
}

async fn steps(
    job: &Arc<Mutex<Job>>,
    w: &Wallet,
    opened: &Opened,
    st: &AppState,
) -> Result<(ProofFile, f64), Stop> {
    let registry = RegistryClient::new(st.http.clone(), st.cfg.registry.clone());
    let witness = w
        .gather(&registry, &opened.req, unix_now(), |_, _| {
            set(job, |j| {
                j.fetched += 1;
                j.stage = format!(
                    "fetching your records from the alliance's providers ({} so far)",
                    j.fetched
                );
            })
        })
        .await?;
    set(job, |j| {
        j.fetched = j.slots;
        j.stage = "checking every condition on this computer".into();
    });
    // The native twin of the circuit (spec §6): when a condition on the borrower fails, no
    // proof can exist; any other failure is data that does not fit together (a provider
    // mid-publication, a registry out of step): try again, nothing is recorded.
    if let Err(e) = witness.check(&st.cfg.params) {
        if !explain::is_about_the_borrower(&e) {
            return Err(Stop::Retry(format!(
                "{} (nothing was proved or sent)",
                explain::why_not(&e, &witness)
            )));
        }
        return Err(Stop::NoProof {
            words: explain::why_not(&e, &witness),
            technical: e.to_string(),
        });
    }
    // Only now, with a proof possible, the lender's verifier is asked whether this
    // pseudonym (the nullifier the proof would show it anyway) already applied in the scope.
    set(job, |j| {
        j.stage = "asking the lender whether you already applied in this period".into();
    });
    let verifier = VerifierClient::new(st.http.clone(), opened.base.clone());
    wallet::check_not_applied(w, &verifier, &opened.req).await?;
    // §6.10 under a new-loan limit, the first of this period's tags no lender recorded.
    let mut witness = witness;
    if witness.policy.max_new_loans > 0 {
        set(job, |j| {
            j.stage = "asking the lender which of your new-loan tags this period are used".into();
        });
        zkcredit_wallet::origination::choose_at_verifier(&verifier, &opened.req, &mut witness)
            .await?;
    }
    set(job, |j| {
        j.stage = "proving on this computer (Groth16 over BN254)".into();
        j.proving_since = Some(Instant::now());
    });
    let prove = st.prove.clone();
    let t = Instant::now();
    let sub = tokio::task::spawn_blocking(move || prove(&witness))
        .await
        .map_err(|e| WalletError::Prove(e.to_string()))??;
    let Some(proof) = sub.proof.groth16().cloned() else {
        return Err(WalletError::Prove("the wallet proves with Groth16".into()).into());
    };
    let file = ProofFile {
        request: opened.req.clone(),
        verifier: Some(opened.base.clone()),
        proof,
        public_signals: sub.public_signals,
    };
    Ok((file, t.elapsed().as_secs_f64()))
}
