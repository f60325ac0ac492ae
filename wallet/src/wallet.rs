//! The borrower's wallet (spec §2, §6, §7.2): an encrypted keystore holding the holder
//! secret, KYC registration with the issuer, gathering every registry slot's witness from
//! its provider with signed requests, proving, and applying to a lender.
//!
//! Files in a wallet directory: `keystore.json` (the holder secret, argon2id +
//! XChaCha20-Poly1305, see [`crate::keystore`]) and `attestation.json` (the issuer's
//! signed binding of the subject key to the holder's request-signing key; useless without
//! that key, which is derived from the holder secret).

use crate::keystore::{Keystore, KeystoreError};
use ark_ff::UniformRand;
use std::path::{Path, PathBuf};
use zkcredit_api::auth::{holder_signing_key, Attestation, KycApplication, WitnessRequest};
use zkcredit_api::client::{
    ClientError, IssuerClient, ProviderClient, RegistryClient, VerifierClient,
};
use zkcredit_api::issuer::ApplicationView;
use zkcredit_api::verifier::{Accepted, ProofRequest, Submission};
use zkcredit_circuits::eligibility::{EligibilityParams, EligibilityWitness, SlotWitness};
use zkcredit_circuits::field::{fr_from_dec, fr_to_dec};
use zkcredit_circuits::imt::LookupWitness;
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::Fr;

/// Wallet errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WalletError {
    /// A service could not be reached or refused (its code and message).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The keystore could not be opened.
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    /// A file problem.
    #[error("{0}")]
    Io(String),
    /// The wallet has no attestation yet.
    #[error("this wallet is not registered with the KYC issuer yet (run `wallet register`)")]
    NotRegistered,
    /// A provider or the registry served something inconsistent.
    #[error("slot {slot}: {message}")]
    Provider {
        /// Registry slot.
        slot: usize,
        /// What is wrong.
        message: String,
    },
    /// The records do not satisfy the policy: no proof can exist (names the rule).
    #[error("no proof is possible: {0}")]
    CannotProve(String),
    /// Proving failed.
    #[error("proving failed: {0}")]
    Prove(String),
    /// The request is not from the verifier the wallet pins (or not bound to it): refused
    /// before anything is gathered or proven.
    #[error("untrusted verifier: {0}")]
    UntrustedVerifier(String),
    /// This person already applied in the request's scope (the verifier records the nullifier).
    #[error("you already applied to this lender for {product} in this period (the verifier has recorded your application for the request's scope); no proof was made")]
    AlreadyApplied {
        /// The lender's product.
        product: String,
    },
    /// Every origination tag of this epoch the policy allows is recorded (spec §6.10):
    /// the borrower took the most new loans this lender accepts in the epoch.
    #[error("you have already taken {} this period at lenders that check the limit, and this lender accepts {} — no proof was made; the next period starts {}", crate::origination::new_loans(*asked), crate::origination::limit_in_words(*limit), crate::origination::utc(*next_epoch))]
    NewLoanLimitReached {
        /// The policy's `max_new_loans`.
        limit: u64,
        /// How many tags were asked about, all used.
        asked: u64,
        /// When the next epoch starts (Unix seconds).
        next_epoch: u64,
    },
}

/// A wallet: the holder secret and, once registered, the issuer's attestation.
#[derive(Clone)]
pub struct Wallet {
    holder_secret: Fr,
    attestation: Option<Attestation>,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet")
            .field("holder_secret", &"<redacted>")
            .field("registered", &self.attestation.is_some())
            .finish()
    }
}

/// The keystore file in a wallet directory.
pub fn keystore_path(dir: &Path) -> PathBuf {
    dir.join("keystore.json")
}

/// The attestation file in a wallet directory.
pub fn attestation_path(dir: &Path) -> PathBuf {
    dir.join("attestation.json")
}

/// The file remembering the wallet's KYC application while the operator decides, so that
/// `wallet register` resumes it instead of filing another.
pub fn application_path(dir: &Path) -> PathBuf {
    dir.join("application.json")
}

/// The KYC application a wallet filed and is waiting on.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingApplication {
    /// The issuer's base URL.
    pub issuer: String,
    /// The application id the issuer gave.
    pub application_id: String,
}

/// Remembers `app` in `dir` (replacing any earlier one).
pub fn save_pending_application(dir: &Path, app: &PendingApplication) -> Result<(), WalletError> {
    let p = application_path(dir);
    let json = serde_json::to_vec_pretty(app).map_err(|e| io(&p, e))?;
    write_private(&p, &json)
}

/// The application `dir` is waiting on, if any.
pub fn pending_application(dir: &Path) -> Result<Option<PendingApplication>, WalletError> {
    let p = application_path(dir);
    match std::fs::read(&p) {
        Ok(b) => Ok(Some(serde_json::from_slice(&b).map_err(|e| io(&p, e))?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&p, e)),
    }
}

/// Forgets the application `dir` was waiting on (decided).
pub fn clear_pending_application(dir: &Path) -> Result<(), WalletError> {
    let p = application_path(dir);
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(&p, e)),
    }
}

fn io(p: &Path, e: impl std::fmt::Display) -> WalletError {
    WalletError::Io(format!("{}: {e}", p.display()))
}

pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), WalletError> {
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let mut f = o.open(&tmp).map_err(|e| io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| io(&tmp, e))?;
        f.sync_all().map_err(|e| io(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

impl Wallet {
    /// A new wallet with a random holder secret (OS randomness).
    pub fn generate() -> Self {
        Self {
            holder_secret: Fr::rand(&mut rand::rngs::OsRng),
            attestation: None,
        }
    }

    /// Creates `dir` with a new wallet sealed under `password` (argon2id `m_kib`, `t`).
    /// Refuses to overwrite an existing keystore.
    pub fn create(dir: &Path, password: &str, m_kib: u32, t: u32) -> Result<Self, WalletError> {
        if password.len() < 8 {
            return Err(WalletError::Io(
                "password must be at least 8 characters".into(),
            ));
        }
        let ks = keystore_path(dir);
        if ks.exists() {
            return Err(io(&ks, "a wallet already exists here"));
        }
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let w = Self::generate();
        let sealed = Keystore::seal(&w.holder_secret, password, m_kib, t)?;
        let json = serde_json::to_vec_pretty(&sealed).map_err(|e| io(&ks, e))?;
        write_private(&ks, &json)?;
        Ok(w)
    }

    /// Opens the wallet in `dir` (wrong password: [`KeystoreError::WrongPassword`]).
    pub fn open(dir: &Path, password: &str) -> Result<Self, WalletError> {
        let ks = keystore_path(dir);
        let bytes = std::fs::read(&ks).map_err(|e| io(&ks, e))?;
        let holder_secret = Keystore::from_json(&bytes)?.open(password)?;
        let ap = attestation_path(dir);
        let attestation = match std::fs::read(&ap) {
            Ok(b) => Some(serde_json::from_slice(&b).map_err(|e| io(&ap, e))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&ap, e)),
        };
        Ok(Self {
            holder_secret,
            attestation,
        })
    }

    /// Stores the attestation in `dir` (after checking it names this wallet's key).
    pub fn save_attestation(&mut self, dir: &Path, a: Attestation) -> Result<(), WalletError> {
        self.set_attestation(a)?;
        let json = serde_json::to_vec_pretty(&self.attestation).map_err(|e| io(dir, e))?;
        write_private(&attestation_path(dir), &json)
    }

    /// Adopts an attestation (must name this wallet's holder key).
    pub fn set_attestation(&mut self, a: Attestation) -> Result<(), WalletError> {
        if a.holder_key != self.holder_key_hex() {
            return Err(WalletError::Io(
                "the attestation binds another holder key".into(),
            ));
        }
        self.attestation = Some(a);
        Ok(())
    }

    /// The attestation, if registered.
    pub fn attestation(&self) -> Option<&Attestation> {
        self.attestation.as_ref()
    }

    /// The request-signing public key (hex).
    pub fn holder_key_hex(&self) -> String {
        hex::encode(
            holder_signing_key(&self.holder_secret)
                .verifying_key()
                .as_bytes(),
        )
    }

    /// The KYC application for real-world identifier `id`.
    pub fn application(&self, id: &str) -> KycApplication {
        KycApplication::sign(&self.holder_secret, id)
    }

    /// The subject key, once registered.
    pub fn subject_key(&self) -> Result<Fr, WalletError> {
        let a = self
            .attestation
            .as_ref()
            .ok_or(WalletError::NotRegistered)?;
        fr_from_dec(&a.subject_key).map_err(|e| WalletError::Io(format!("attestation: {e}")))
    }

    /// A signed witness request to provider `provider_id` at time `now`.
    pub fn witness_request(
        &self,
        provider_id: &Fr,
        now: u64,
    ) -> Result<WitnessRequest, WalletError> {
        let att = self
            .attestation
            .as_ref()
            .ok_or(WalletError::NotRegistered)?;
        let holder = holder_signing_key(&self.holder_secret);
        Ok(WitnessRequest::sign(
            &holder,
            att,
            &self.subject_key()?,
            provider_id,
            now,
        ))
    }

    /// Applies to the issuer (`POST /v1/kyc/applications`).
    pub async fn register(
        &self,
        issuer: &IssuerClient,
        id: &str,
    ) -> Result<ApplicationView, WalletError> {
        Ok(issuer.apply(&self.application(id)).await?)
    }

    /// Collects the witness for `request` from the registry and every
    /// provider it lists, checking each witness opens the root the registry holds.
    /// `progress(slot, what)` is called as each slot is fetched.
    pub async fn gather(
        &self,
        registry: &RegistryClient,
        request: &ProofRequest,
        now: u64,
        mut progress: impl FnMut(usize, &str),
    ) -> Result<EligibilityWitness, WalletError> {
        let subject = self.subject_key()?;
        let view = registry.view().await?;
        let mut slots = Vec::with_capacity(view.slots.len());
        let mut depth = None;
        for sv in &view.slots {
            if sv.value.role == Role::Empty {
                slots.push(None);
                continue;
            }
            let endpoint = sv
                .endpoint
                .as_deref()
                .ok_or_else(|| WalletError::Provider {
                    slot: sv.slot,
                    message: "the registry lists no endpoint for this provider".into(),
                })?;
            progress(sv.slot, endpoint);
            let req = self.witness_request(&sv.value.provider_id, now)?;
            let provider = ProviderClient::new(registry.0.http().clone(), endpoint);
            let resp = provider.witness(&req).await?;
            let root = resp.witness.computed_root();
            if root != sv.value.provider_root {
                let message = if sv.value.published_at == 0 {
                    "this provider has never published its tree to the registry: its operator \
                     must start it with --registry-url, --slot and --registry-token-file (it \
                     publishes at start) or run `zkcredit provider publish`"
                        .to_string()
                } else if resp.published_at > sv.value.published_at {
                    format!(
                        "the provider published a newer tree (at {}) than the registry holds (at {}): \
                         the registry has not been told yet; its operator must check the \
                         provider's registry token and slot (`zkcredit provider status`), or retry \
                         in a minute",
                        resp.published_at, sv.value.published_at
                    )
                } else {
                    format!(
                        "the provider's witness opens root {} but the registry holds {}: \
                         retry in a minute; if it persists the provider's operator must publish \
                         (`zkcredit provider publish`)",
                        fr_to_dec(&root),
                        fr_to_dec(&sv.value.provider_root)
                    )
                };
                return Err(WalletError::Provider {
                    slot: sv.slot,
                    message,
                });
            }
            // §4.2/§4.3: a valid lookup of the subject key that agrees with `present`:
            // the subject's own leaf opens its record; a low leaf is sealed (or open: its
            // record is then unused) — never a record the circuit would not accept.
            match resp.witness.verify(&root, &subject) {
                Some((present, _)) if present == resp.present => {}
                _ => {
                    return Err(WalletError::Provider {
                        slot: sv.slot,
                        message: format!(
                            "the provider's witness is not a valid {} witness for the subject key (§4.3)",
                            if resp.present { "membership" } else { "non-membership" }
                        ),
                    })
                }
            }
            depth = Some(resp.witness.siblings.len() / 3 * 2);
            slots.push(Some(SlotWitness {
                slot: sv.value,
                lookup: resp.witness,
            }));
        }
        let depth = depth.ok_or_else(|| WalletError::Provider {
            slot: 0,
            message: "the registry has no providers".into(),
        })?;
        let slots = view
            .slots
            .iter()
            .zip(slots)
            .map(|(sv, s)| {
                s.unwrap_or(SlotWitness {
                    slot: sv.value,
                    lookup: LookupWitness::empty(depth),
                })
            })
            .collect();
        Ok(EligibilityWitness {
            holder_secret: self.holder_secret,
            subject_key: subject,
            policy: request.policy,
            now,
            scope: fr_from_dec(&request.scope)
                .map_err(|e| WalletError::Io(format!("request scope: {e}")))?,
            context: fr_from_dec(&request.context)
                .map_err(|e| WalletError::Io(format!("request context: {e}")))?,
            // The first tag; `pick_origination_index` moves on past used ones (§6.10).
            origination_index: 0,
            slots,
        })
    }
}

/// The proof file `wallet prove` writes and `wallet apply` sends.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofFile {
    /// The request answered.
    pub request: ProofRequest,
    /// The lender's verifier base URL, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<String>,
    /// The proof (snarkjs layout).
    pub proof: zkcredit_verifier::snarkjs::ProofJson,
    /// The seven public signals (decimal).
    pub public_signals: Vec<String>,
}

impl ProofFile {
    /// What is sent to the verifier.
    pub fn submission(&self) -> Submission {
        Submission::groth16(self.proof.clone(), self.public_signals.clone())
    }
}

/// Checks `witness` natively (spec §6, every rule the circuit enforces) without proving: a
/// witness no proof can exist for is refused as [`WalletError::CannotProve`], saying in words
/// which condition fails with the borrower's own figures, then the rule's name and section.
pub fn check(params: EligibilityParams, witness: &EligibilityWitness) -> Result<(), WalletError> {
    witness.check(&params).map(|_| ()).map_err(|e| {
        let why = crate::explain::why_not(&e, witness);
        WalletError::CannotProve(match &e {
            zkcredit_circuits::CircuitError::Statement { rule, detail } => {
                format!("{why} — {detail} (rule {})", rule.namespace())
            }
            _ => why,
        })
    })
}

/// Proves `witness` (checked natively first: a witness that violates the policy is refused
/// with the rule it breaks, and no proof is attempted).
pub fn prove(
    prover: &zkcredit_prover::fast::Prover,
    params: EligibilityParams,
    witness: &EligibilityWitness,
) -> Result<Submission, WalletError> {
    check(params, witness)?;
    let (proof, public) = zkcredit_prover::prove_eligibility(prover, params, witness.clone())
        .map_err(|e| WalletError::Prove(e.to_string()))?;
    Ok(Submission::groth16(
        zkcredit_verifier::snarkjs::ProofJson::from_proof(&proof),
        zkcredit_verifier::snarkjs::public_to_json(&public.to_vec()),
    ))
}

/// Proves `witness` with halo2 (SPEC §11), checked natively first as [`prove`] does: the
/// submission carries `proof_system: "halo2-kzg"`, for a lender whose verifier has the
/// halo2 key.
pub fn prove_halo2(
    prover: &zkcredit_halo2::system::Halo2Prover,
    params: EligibilityParams,
    witness: &EligibilityWitness,
) -> Result<Submission, WalletError> {
    if params != prover.circuit {
        return Err(WalletError::Prove(format!(
            "the halo2 prover is for {}, the request for {}",
            prover.circuit.id(),
            params.id()
        )));
    }
    check(params, witness)?;
    let (proof, public) = prover
        .prove(witness.clone())
        .map_err(|e| WalletError::Prove(e.to_string()))?;
    Ok(Submission::halo2(
        zkcredit_api::verifier::Halo2ProofJson {
            system: proof.system,
            proof: proof.proof,
        },
        zkcredit_verifier::snarkjs::public_to_json(&public.to_vec()),
    ))
}

/// A lender's decision on a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Accepted; the nullifier was recorded.
    Accepted(Accepted),
    /// Refused with a code and message.
    Refused {
        /// Error code (e.g. `nullifier_reused`).
        code: String,
        /// Message.
        message: String,
    },
}

/// Sends a submission to the verifier (`POST /v1/verify`).
pub async fn apply(
    verifier: &VerifierClient,
    submission: &Submission,
) -> Result<Decision, WalletError> {
    match verifier.verify(submission).await {
        Ok(a) => Ok(Decision::Accepted(a)),
        Err(ClientError::Service {
            code,
            message,
            status,
            ..
        }) if (400..500).contains(&status) => Ok(Decision::Refused { code, message }),
        Err(e) => Err(e.into()),
    }
}

/// Asks the verifier, before anything is gathered or proved, whether this person's nullifier
/// for the request's scope is already recorded. The verifier learns only the nullifier the
/// proof would reveal to it anyway.
pub async fn check_not_applied(
    w: &Wallet,
    verifier: &zkcredit_api::client::VerifierClient,
    req: &ProofRequest,
) -> Result<(), WalletError> {
    let scope = zkcredit_circuits::field::fr_from_dec(&req.scope)
        .map_err(|e| WalletError::UntrustedVerifier(format!("request scope: {e}")))?;
    let n = zkcredit_circuits::eligibility::nullifier(&w.holder_secret, &scope);
    if verifier.nullifier_status(&req.nonce, &n).await?.recorded {
        return Err(WalletError::AlreadyApplied {
            product: req.product.clone(),
        });
    }
    Ok(())
}

/// Fetches a proof request from a verifier URL (`…/v1/requests/{nonce}`).
pub async fn fetch_request(http: &reqwest::Client, url: &str) -> Result<ProofRequest, WalletError> {
    Ok(zkcredit_api::client::send(url, http.get(url)).await?)
}

/// Checks, before gathering or proving, that `req` comes from the verifier the borrower
/// pins (`verifier_id`, from the lender's published `GET /v1/verifier`): its `verifier_id`
/// is the pinned one, its context is `offchain_context(pinned, nonce, expiry)` and its
/// scope is the pinned verifier's (`request_scope`). A request relayed from another
/// verifier is refused, so a malicious lender cannot spend the borrower's nullifier in
/// another lender's scope or obtain a proof another verifier accepts.
pub fn check_request_verifier(req: &ProofRequest, pinned_hex: &str) -> Result<(), WalletError> {
    let pinned: [u8; 32] = hex::decode(pinned_hex.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            WalletError::UntrustedVerifier("the pinned verifier id is not 32 bytes of hex".into())
        })?;
    zkcredit_api::verifier::check_request_origin(req, &pinned)
        .map_err(WalletError::UntrustedVerifier)
}
