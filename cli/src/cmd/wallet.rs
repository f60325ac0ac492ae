//! `zkcredit wallet init|register|prove|serve|apply`: the borrower's wallet on the command
//! line, and `serve`, the same wallet as a local web page (`zkcredit-wallet-app`).

use super::{load_prover, read_json, read_text, runtime, secs, CliError};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::time::Instant;
use zkcredit_api::client::{IssuerClient, RegistryClient, VerifierClient};
use zkcredit_api::unix_now;
use zkcredit_circuits::eligibility::EligibilityParams;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_wallet::wallet::{self, attestation_path};
use zkcredit_wallet::{Decision, ProofFile, Wallet};

/// `zkcredit wallet …`.
#[derive(Subcommand)]
pub enum WalletCmd {
    /// Create a wallet: a random holder secret in an encrypted keystore (argon2id +
    /// XChaCha20-Poly1305). Password from --password-file or $ZKCREDIT_WALLET_PASSWORD.
    Init {
        #[command(flatten)]
        w: WalletArgs,
    },
    /// Apply to the KYC issuer with a real-world identifier; with --wait, poll until the
    /// operator decides and store the attestation. Without --id, resume the application this
    /// wallet filed earlier (it is remembered in the wallet directory until decided).
    Register {
        #[command(flatten)]
        w: WalletArgs,
        /// Issuer base URL.
        #[arg(long)]
        issuer: String,
        /// Real-world identifier (e.g. national id number): files a new application.
        #[arg(long)]
        id: Option<String>,
        /// Poll until approved (seconds; 0: do not wait).
        #[arg(long, default_value_t = 0)]
        wait: u64,
    },
    /// Fetch a proof request, every slot's witness, and prove (writes proof.json).
    Prove {
        #[command(flatten)]
        w: WalletArgs,
        /// Proof request: the verifier's `…/v1/requests/{nonce}` URL, or a JSON file.
        #[arg(long)]
        request: String,
        /// Registry base URL.
        #[arg(long)]
        registry: String,
        /// The verifier id (hex) of the lender you mean to apply to, as the lender publishes
        /// it (`GET /v1/verifier`); a request from any other verifier is refused before
        /// proving.
        #[arg(long)]
        verifier_id: String,
        /// Output file.
        #[arg(long, default_value = "proof.json")]
        out: PathBuf,
        #[command(flatten)]
        keys: ProverArgs,
    },
    /// The wallet as a web page: serves it on 127.0.0.1 only and prints its link (with a
    /// random key made at each start; the page is refused without it). The page does every
    /// step above; this process holds the keystore and proves. Stop with Ctrl-C.
    Serve(ServeArgs),
    /// Send proof.json to the lender and print the decision (exit 1 if refused).
    Apply {
        /// The proof file.
        #[arg(long, default_value = "proof.json")]
        proof: PathBuf,
        /// Verifier base URL (default: the one the request came from).
        #[arg(long)]
        verifier: Option<String>,
        /// Wallet directory whose history of applications records the decision (the one
        /// the page of `wallet serve` shows).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// `zkcredit wallet serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Wallet directory (created with the keystore from the page if new).
    #[arg(long, default_value = "wallet")]
    dir: PathBuf,
    /// The KYC issuer's base URL.
    #[arg(long)]
    issuer: String,
    /// The registry's base URL.
    #[arg(long)]
    registry: String,
    /// A lender this wallet trusts, as `NAME=VERIFIER_ID=URL`: the 64 hex digits the lender
    /// publishes at `GET /v1/verifier`, and its verifier's base URL; repeat for each. A
    /// request link at any other URL, or naming another verifier, is refused before
    /// anything is gathered.
    #[arg(long = "lender", required = true)]
    lenders: Vec<String>,
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    #[command(flatten)]
    keys: ProverArgs,
}

/// The eligibility circuit a wallet proves and where its keys are.
#[derive(Args, Debug)]
pub struct ProverArgs {
    /// Where verifying keys live (default: `ZKCREDIT_PARAMS`, else `./params`, else next
    /// to the installed binary).
    #[arg(long, env = "ZKCREDIT_PARAMS")]
    params: Option<PathBuf>,
    /// Where proving keys are cached (default: `<params>/cache`).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Circuit.
    #[arg(long, default_value = "eligibility_s16_d32")]
    circuit: String,
}

impl ProverArgs {
    /// The circuit's id and shape (an eligibility circuit, else a usage error).
    fn circuit(&self) -> Result<(CircuitId, EligibilityParams), CliError> {
        let id = CircuitId::parse(&self.circuit)?;
        match id {
            CircuitId::Eligibility(p) => Ok((id, p)),
            _ => Err(CliError::Usage(
                "wallet proofs use an eligibility circuit".into(),
            )),
        }
    }

    /// Loads (or derives, for the development key) the circuit's prover.
    fn load(&self, id: &CircuitId) -> Result<zkcredit_prover::fast::Prover, CliError> {
        let params = super::resolve_params(self.params.clone(), &id.name())?;
        let cache = self.cache.clone().unwrap_or_else(|| params.join("cache"));
        load_prover(id, &params, &cache)
    }
}

/// Runs the local wallet app until Ctrl-C or SIGTERM.
fn serve(a: ServeArgs) -> Result<(), CliError> {
    let lenders = a
        .lenders
        .iter()
        .map(|l| zkcredit_wallet_app::KnownLender::parse(l).map_err(CliError::Usage))
        .collect::<Result<Vec<_>, _>>()?;
    let (id, p) = a.keys.circuit()?;
    eprintln!("loading the proving key for {} …", id.name());
    let prover = std::sync::Arc::new(a.keys.load(&id)?);
    let measured = std::sync::Arc::new(std::sync::OnceLock::new());
    // One proof at a time on this machine: a borrower's proof waits for the timing proof
    // (started at once, normally done long before a request is opened) instead of sharing
    // the cores with it.
    let one_at_a_time = std::sync::Arc::new(std::sync::Mutex::new(()));
    if zkcredit_wallet::history::load(&a.dir)
        .ok()
        .and_then(|h| zkcredit_wallet::history::last_prove_seconds(&h))
        .is_none()
    {
        // No proof made by this wallet yet: time one proof of a synthetic eligible
        // applicant on this machine, in the background, for the page's first estimate.
        let (prover, measured, gate) = (prover.clone(), measured.clone(), one_at_a_time.clone());
        let (started_tx, started) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _one = gate
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = started_tx.send(());
            if let Some(s) = time_one_proof(&prover, p) {
                let _ = measured.set(s);
            }
        });
        // The timing proof holds the gate before the page can ask for a proof.
        let _ = started.recv();
    }
    let prove: zkcredit_wallet_app::ProveFn = std::sync::Arc::new(move |w| {
        let _one = one_at_a_time
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        wallet::prove(&prover, p, w)
    });
    let cfg = zkcredit_wallet_app::AppConfig {
        dir: a.dir.clone(),
        issuer: a.issuer,
        registry: a.registry,
        lenders,
        params: p,
        kdf: (
            zkcredit_wallet::keystore::DEFAULT_M_KIB,
            zkcredit_wallet::keystore::DEFAULT_T,
        ),
        port: a.port,
        measured_proof_seconds: measured,
    };
    runtime()?.block_on(async {
        let app = zkcredit_wallet_app::start(cfg, prove)
            .await
            .map_err(|e| CliError::Runtime(e.to_string()))?;
        println!(
            "wallet {} open at (this link is its key; keep it to yourself):",
            a.dir.display()
        );
        println!("{}", app.link());
        super::shutdown_signal().await;
        app.stop().await.map_err(CliError::runtime)
    })
}

/// Seconds one proof of a synthetic eligible applicant takes on this machine.
fn time_one_proof(prover: &zkcredit_prover::fast::Prover, p: EligibilityParams) -> Option<f64> {
    use ark_std::rand::SeedableRng;
    let mut rng = ark_std::rand::rngs::StdRng::seed_from_u64(7);
    let now = unix_now();
    let (_, _, w) = zkcredit_testkit::scenario::eligible_applicant(
        p,
        zkcredit_testkit::scenario::Layout::for_slots(p.slots),
        &mut rng,
        4,
        now,
    )
    .ok()?;
    let t = Instant::now();
    wallet::prove(prover, p, &w).ok()?;
    Some(t.elapsed().as_secs_f64())
}

/// Wallet location and password.
#[derive(Args, Debug)]
pub struct WalletArgs {
    /// Wallet directory.
    #[arg(long, default_value = "wallet")]
    dir: PathBuf,
    /// File holding the keystore password (else $ZKCREDIT_WALLET_PASSWORD).
    #[arg(long)]
    password_file: Option<PathBuf>,
}

impl WalletArgs {
    fn password(&self) -> Result<String, CliError> {
        match &self.password_file {
            Some(p) => Ok(read_text(p)?.trim_end_matches(['\n', '\r']).to_string()),
            None => std::env::var("ZKCREDIT_WALLET_PASSWORD").map_err(|_| {
                CliError::Usage("give --password-file or set ZKCREDIT_WALLET_PASSWORD".into())
            }),
        }
    }
}

/// `zkcredit wallet …`.
pub fn wallet(cmd: WalletCmd) -> Result<(), CliError> {
    match cmd {
        WalletCmd::Init { w } => {
            let pw = w.password()?;
            let t = Instant::now();
            let wal = Wallet::create(
                &w.dir,
                &pw,
                zkcredit_wallet::keystore::DEFAULT_M_KIB,
                zkcredit_wallet::keystore::DEFAULT_T,
            )?;
            println!(
                "wallet created in {} ({}); holder key {}",
                w.dir.display(),
                secs(t),
                wal.holder_key_hex()
            );
            Ok(())
        }
        WalletCmd::Register {
            w,
            issuer,
            id,
            wait,
        } => {
            let mut wal = Wallet::open(&w.dir, &w.password()?)?;
            let client = IssuerClient::new(zkcredit_api::client::http_client(), issuer.clone());
            runtime()?.block_on(async {
                let mut app = match (id, wallet::pending_application(&w.dir)?) {
                    (Some(id), _) => {
                        let app = wal.register(&client, &id).await?;
                        wallet::save_pending_application(
                            &w.dir,
                            &wallet::PendingApplication {
                                issuer: issuer.clone(),
                                application_id: app.application_id.clone(),
                            },
                        )?;
                        app
                    }
                    (None, Some(p)) if p.issuer == issuer => {
                        client.application(&p.application_id).await?
                    }
                    (None, Some(p)) => {
                        return Err(CliError::Usage(format!(
                            "this wallet's application {} is at {}, not {issuer}: pass that --issuer, or --id to apply here",
                            p.application_id, p.issuer
                        )))
                    }
                    (None, None) => {
                        return Err(CliError::Usage(
                            "this wallet has no application waiting: pass --id <your identifier> to apply".into(),
                        ))
                    }
                };
                println!("application {} is {}", app.application_id, app.status);
                let deadline = Instant::now() + std::time::Duration::from_secs(wait);
                while app.status == "pending" && Instant::now() < deadline {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    app = client.application(&app.application_id).await?;
                }
                match (app.status.as_str(), app.attestation) {
                    ("approved", Some(a)) => {
                        wal.save_attestation(&w.dir, a)?;
                        wallet::clear_pending_application(&w.dir)?;
                        println!(
                            "approved: attestation stored in {}",
                            attestation_path(&w.dir).display()
                        );
                        Ok(())
                    }
                    ("pending", _) => {
                        println!(
                            "still pending: run `zkcredit wallet register --issuer {issuer} --wait 600` (without --id) once the operator approves"
                        );
                        Ok(())
                    }
                    (s, _) => {
                        wallet::clear_pending_application(&w.dir)?;
                        Err(CliError::Refused(format!("application {s}")))
                    }
                }
            })
        }
        WalletCmd::Prove {
            w,
            request,
            registry,
            verifier_id,
            out,
            keys,
        } => {
            let wal = Wallet::open(&w.dir, &w.password()?)?;
            let (id, p) = keys.circuit()?;
            let bar = indicatif::ProgressBar::new(p.slots as u64 + 2);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
                )
                .map_err(CliError::runtime)?,
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            let rt = runtime()?;
            let http = zkcredit_api::client::http_client();
            let (req, verifier) =
                if request.starts_with("http://") || request.starts_with("https://") {
                    bar.set_message("fetching the proof request");
                    let r = rt.block_on(wallet::fetch_request(&http, &request))?;
                    let base = request.split("/v1/requests/").next().map(str::to_string);
                    (r, base)
                } else {
                    (read_json(Path::new(&request))?, None)
                };
            wallet::check_request_verifier(&req, &verifier_id)?;
            if let Some(base) = &verifier {
                bar.set_message("asking the verifier whether you already applied in this scope");
                let v = VerifierClient::new(http.clone(), base.clone());
                rt.block_on(wallet::check_not_applied(&wal, &v, &req))?;
            }
            bar.println(format!(
                "request from verifier {} (pinned), product {:?}, period {}",
                req.verifier_id, req.product, req.period
            ));
            bar.inc(1);
            let registry = RegistryClient::new(http.clone(), registry);
            let mut witness =
                rt.block_on(wal.gather(&registry, &req, unix_now(), |slot, url| {
                    bar.set_message(format!("witness for slot {slot} from {url}"));
                    bar.inc(1);
                }))?;
            // §6.10 under a new-loan limit, the first origination tag no lender recorded
            // (asked of the lender's verifier; from a request file, index 0).
            if let (Some(base), true) = (&verifier, witness.policy.max_new_loans > 0) {
                bar.set_message("asking the verifier which of your new-loan tags are used");
                let v = VerifierClient::new(http.clone(), base.clone());
                rt.block_on(zkcredit_wallet::origination::choose_at_verifier(
                    &v,
                    &req,
                    &mut witness,
                ))?;
            }
            bar.set_position(p.slots as u64 + 1);
            bar.set_message("loading the proving key");
            let prover = keys.load(&id)?;
            bar.set_message("proving (Groth16, BN254)");
            let t = Instant::now();
            let sub = wallet::prove(&prover, p, &witness)?;
            bar.inc(1);
            // The bar (stderr, drawn only on a terminal) is cleared; the outcome goes to
            // stdout on its own lines, on a terminal or not.
            bar.finish_and_clear();
            println!("proved in {}", secs(t));
            let proof = sub
                .proof
                .groth16()
                .cloned()
                .ok_or_else(|| CliError::Runtime("the wallet proves with Groth16".into()))?;
            let file = ProofFile {
                request: req,
                verifier,
                proof,
                public_signals: sub.public_signals,
            };
            let json = serde_json::to_vec_pretty(&file).map_err(|e| CliError::input(&out, e))?;
            zkcredit_prover::files::write_atomic(&out, &json)?;
            println!("wrote {}", out.display());
            Ok(())
        }
        WalletCmd::Serve(a) => serve(a),
        WalletCmd::Apply {
            proof,
            verifier,
            dir,
        } => {
            let file: ProofFile = read_json(&proof)?;
            let url = verifier.or(file.verifier.clone()).ok_or_else(|| {
                CliError::Usage("the proof file names no verifier: pass --verifier URL".into())
            })?;
            let d = runtime()?.block_on(wallet::apply(
                &VerifierClient::new(zkcredit_api::client::http_client(), url.clone()),
                &file.submission(),
            ))?;
            if let Some(dir) = dir {
                let (decision, detail) = match &d {
                    Decision::Accepted(_) => ("accepted", format!("accepted by {url}")),
                    Decision::Refused { code, message } => (
                        "refused",
                        format!("{url} refused the proof ({code}): {message}"),
                    ),
                };
                zkcredit_wallet::history::append(
                    &dir,
                    zkcredit_wallet::history::Entry {
                        at: unix_now(),
                        lender: url.clone(),
                        verifier_id: file.request.verifier_id.clone(),
                        product: file.request.product.clone(),
                        decision: decision.into(),
                        detail,
                        prove_seconds: None,
                    },
                )?;
            }
            match d {
                Decision::Accepted(a) => {
                    println!(
                        "ACCEPTED by {url}: request {}, nullifier {}",
                        a.request_nonce, a.nullifier
                    );
                    Ok(())
                }
                Decision::Refused { code, message } => {
                    Err(CliError::Refused(format!("{code}: {message}")))
                }
            }
        }
    }
}
