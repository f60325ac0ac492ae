//! `zkcredit issuer serve`, `zkcredit provider serve|import`, `zkcredit wallet …`.

use crate::{load_or_setup, read_text, secs, shutdown_signal, CliError};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::time::Instant;
use zkcredit_circuits::field::fr_from_dec;
use zkcredit_circuits::registry::Role;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_services::tree::{RegistryLink, TreeConfig};
use zkcredit_services::wallet::{self, Decision, ProofFile, Wallet};

/// Options shared by the tree-holding services (issuer, providers).
#[derive(Args, Debug)]
pub struct TreeArgs {
    /// Where the service keeps its SQLite stores.
    #[arg(long)]
    data_dir: PathBuf,
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// File holding the admin (operator) bearer token.
    #[arg(long)]
    admin_token_file: PathBuf,
    /// This provider's id in the registry (decimal).
    #[arg(long)]
    provider_id: String,
    /// Tree depth (binary-equivalent, even).
    #[arg(long, default_value_t = 32)]
    depth: usize,
    /// Registry service URL to publish to.
    #[arg(long, requires_all = ["slot", "registry_token_file"])]
    registry_url: Option<String>,
    /// This provider's registry slot.
    #[arg(long)]
    slot: Option<usize>,
    /// File holding this provider's registry bearer token.
    #[arg(long)]
    registry_token_file: Option<PathBuf>,
    /// Publish (and refresh the timestamp) every this many seconds; 0: on demand only.
    #[arg(long, default_value_t = 3600)]
    publish_every: u64,
}

/// `zkcredit issuer …`.
#[derive(Subcommand)]
pub enum IssuerCmd {
    /// Run the KYC issuer (KYC stand-in: applications approved by an operator).
    Serve {
        #[command(flatten)]
        tree: TreeArgs,
        /// Validity of a KYC record, days.
        #[arg(long, default_value_t = 365)]
        valid_days: u64,
        /// KYC STAND-IN FOR DEMOS ONLY: approve every application without any check.
        #[arg(long)]
        auto_approve_kyc_stand_in: bool,
    },
}

/// `zkcredit provider …`.
#[derive(Subcommand)]
pub enum ProviderCmd {
    /// Run a fraud list, lender or bureau.
    Serve {
        /// fraud | lender | bureau.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        tree: TreeArgs,
        /// The KYC issuer's attestation key (hex, from `GET /v1/issuer`).
        #[arg(long)]
        issuer_key: String,
    },
    /// Bulk-import a CSV (`subject_key,v0,v1,v2`) or JSON file into a running provider and
    /// publish; prints the import and publication times.
    Import {
        /// Provider base URL.
        #[arg(long)]
        url: String,
        /// File holding the admin token.
        #[arg(long)]
        admin_token_file: PathBuf,
        /// The file (.csv or .json).
        file: PathBuf,
    },
}

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
    /// operator decides and store the attestation.
    Register {
        #[command(flatten)]
        w: WalletArgs,
        /// Issuer base URL.
        #[arg(long)]
        issuer: String,
        /// Real-world identifier (e.g. national id number).
        #[arg(long)]
        id: String,
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
        /// Output file.
        #[arg(long, default_value = "proof.json")]
        out: PathBuf,
        /// Where verifying keys live.
        #[arg(long, default_value = "params")]
        params: PathBuf,
        /// Where proving keys are cached.
        #[arg(long, default_value = "params/cache")]
        cache: PathBuf,
        /// Circuit.
        #[arg(long, default_value = "eligibility_s16_d32")]
        circuit: String,
    },
    /// Send proof.json to the lender and print the decision (exit 1 if refused).
    Apply {
        /// The proof file.
        #[arg(long, default_value = "proof.json")]
        proof: PathBuf,
        /// Verifier base URL (default: the one the request came from).
        #[arg(long)]
        verifier: Option<String>,
    },
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

fn usage(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Runtime::new().map_err(usage)
}

/// Structured logs to stderr (stdout is for the program's own output), `RUST_LOG` filter.
pub(crate) fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .try_init();
}

fn token_file(p: &Path) -> Result<String, CliError> {
    let t = read_text(p)?.trim().to_string();
    if t.len() < 16 {
        return Err(CliError::Usage(format!(
            "{}: a token must be at least 16 characters",
            p.display()
        )));
    }
    Ok(t)
}

impl TreeArgs {
    /// The registry link, when `--registry-url`, `--slot` and the token file are given.
    fn registry(&self) -> Result<Option<RegistryLink>, CliError> {
        match (&self.registry_url, self.slot, &self.registry_token_file) {
            (Some(url), Some(slot), Some(f)) => Ok(Some(RegistryLink {
                url: url.trim_end_matches('/').to_string(),
                slot,
                token: token_file(f)?,
            })),
            _ => Ok(None),
        }
    }

    fn provider_id(&self) -> Result<zkcredit_circuits::Fr, CliError> {
        fr_from_dec(&self.provider_id).map_err(|e| CliError::Usage(format!("--provider-id: {e}")))
    }
}

async fn serve_until_signal(
    name: &str,
    router: axum::Router,
    listen: std::net::SocketAddr,
    tree: &zkcredit_services::tree::TreeService,
    publish_every: u64,
) -> Result<(), CliError> {
    let running = zkcredit_services::server::spawn(router, listen)
        .await
        .map_err(|e| CliError::Usage(format!("{listen}: {e}")))?;
    println!("{name} listening on {}", running.url());
    let sched = (publish_every > 0)
        .then(|| tree.spawn_scheduler(std::time::Duration::from_secs(publish_every)));
    shutdown_signal().await;
    tracing::info!("shutting down");
    if let Some(s) = sched {
        s.abort();
    }
    running.stop().await.map_err(usage)
}

/// `zkcredit issuer …`.
pub fn issuer(cmd: IssuerCmd) -> Result<(), CliError> {
    let IssuerCmd::Serve {
        tree,
        valid_days,
        auto_approve_kyc_stand_in,
    } = cmd;
    init_tracing();
    let admin = token_file(&tree.admin_token_file)?;
    let svc = zkcredit_services::issuer::IssuerService::open(
        &tree.data_dir,
        zkcredit_services::issuer::IssuerConfig {
            provider_id: tree.provider_id()?,
            depth: tree.depth,
            registry: tree.registry()?,
            validity: valid_days * 86_400,
            auto_approve_kyc_stand_in,
        },
        &admin,
    )
    .map_err(usage)?;
    if auto_approve_kyc_stand_in {
        tracing::warn!("KYC STAND-IN: every application is approved without any identity check");
    }
    println!("issuer attestation key {}", svc.issuer_key_hex());
    let t = svc.tree().clone();
    runtime()?.block_on(serve_until_signal(
        "issuer",
        svc.router(),
        tree.listen,
        &t,
        tree.publish_every,
    ))
}

/// `zkcredit provider …`.
pub fn provider(cmd: ProviderCmd) -> Result<(), CliError> {
    match cmd {
        ProviderCmd::Serve {
            role,
            tree,
            issuer_key,
        } => {
            init_tracing();
            let role = match role.as_str() {
                "fraud" | "fraud_list" => Role::FraudList,
                "lender" => Role::Lender,
                "bureau" => Role::Bureau,
                other => {
                    return Err(CliError::Usage(format!(
                        "--role {other}: expected fraud, lender or bureau"
                    )))
                }
            };
            let ik = zkcredit_services::auth::parse_public_key("--issuer-key", &issuer_key)
                .map_err(usage)?;
            let admin = token_file(&tree.admin_token_file)?;
            let svc = zkcredit_services::provider::ProviderService::open(
                &tree.data_dir,
                TreeConfig {
                    role,
                    provider_id: tree.provider_id()?,
                    depth: tree.depth,
                    issuer_key: ik,
                    registry: tree.registry()?,
                },
                &admin,
            )
            .map_err(usage)?;
            let t = svc.tree().clone();
            runtime()?.block_on(serve_until_signal(
                &format!("provider ({role:?})"),
                svc.router(),
                tree.listen,
                &t,
                tree.publish_every,
            ))
        }
        ProviderCmd::Import {
            url,
            admin_token_file,
            file,
        } => {
            let admin = token_file(&admin_token_file)?;
            let ct = match file.extension().and_then(|e| e.to_str()) {
                Some("csv") => "text/csv",
                Some("json") => "application/json",
                _ => return Err(CliError::Usage("the file must end in .csv or .json".into())),
            };
            let body = std::fs::read(&file)
                .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
            let t = Instant::now();
            let rep: zkcredit_services::tree::ImportReport = runtime()?.block_on(async {
                let http = reqwest::Client::new();
                let u = format!("{}/v1/admin/import?publish=true", url.trim_end_matches('/'));
                let req = http
                    .post(&u)
                    .bearer_auth(&admin)
                    .header("content-type", ct)
                    .body(body);
                wallet::send(&u, req).await.map_err(usage)
            })?;
            println!(
                "imported {} upserts, {} deletes: parse {:.2} s, journal {:.2} s",
                rep.upserts, rep.deletes, rep.parse_seconds, rep.store_seconds
            );
            if let Some(p) = &rep.published {
                println!(
                    "published root {} ({} rows, {}): tree {:.2} s, persist {:.2} s; registry: {}",
                    p.root,
                    p.rows,
                    if p.rebuilt {
                        "parallel rebuild"
                    } else {
                        "incremental"
                    },
                    p.tree_seconds,
                    p.persist_seconds,
                    p.registry
                );
            }
            println!("total {}", secs(t));
            Ok(())
        }
    }
}

/// `zkcredit wallet …`.
pub fn wallet_cmd(cmd: WalletCmd) -> Result<(), CliError> {
    match cmd {
        WalletCmd::Init { w } => {
            let pw = w.password()?;
            let t = Instant::now();
            let wal = Wallet::create(
                &w.dir,
                &pw,
                zkcredit_services::keystore::DEFAULT_M_KIB,
                zkcredit_services::keystore::DEFAULT_T,
            )
            .map_err(usage)?;
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
            let mut wal = Wallet::open(&w.dir, &w.password()?).map_err(usage)?;
            let issuer = issuer.trim_end_matches('/').to_string();
            runtime()?.block_on(async {
                let http = reqwest::Client::new();
                let mut app = wal.register(&http, &issuer, &id).await.map_err(usage)?;
                println!("application {} is {}", app.application_id, app.status);
                let deadline = Instant::now() + std::time::Duration::from_secs(wait);
                while app.status == "pending" && Instant::now() < deadline {
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    app = wallet::get_json(
                        &http,
                        &format!("{issuer}/v1/kyc/applications/{}", app.application_id),
                    )
                    .await
                    .map_err(usage)?;
                }
                match (app.status.as_str(), app.attestation) {
                    ("approved", Some(a)) => {
                        wal.save_attestation(&w.dir, a).map_err(usage)?;
                        println!(
                            "approved: attestation stored in {}",
                            wallet::attestation_path(&w.dir).display()
                        );
                        Ok(())
                    }
                    ("pending", _) => {
                        println!("still pending: rerun with --wait once the operator approves");
                        Ok(())
                    }
                    (s, _) => Err(CliError::Usage(format!("application {s}"))),
                }
            })
        }
        WalletCmd::Prove {
            w,
            request,
            registry,
            out,
            params,
            cache,
            circuit,
        } => {
            let wal = Wallet::open(&w.dir, &w.password()?).map_err(usage)?;
            let id = CircuitId::parse(&circuit)?;
            let CircuitId::Eligibility(p) = id else {
                return Err(CliError::Usage(
                    "wallet proofs use an eligibility circuit".into(),
                ));
            };
            let bar = indicatif::ProgressBar::new(p.slots as u64 + 2);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
                )
                .map_err(usage)?,
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            let rt = runtime()?;
            let http = reqwest::Client::new();
            let (req, verifier) =
                if request.starts_with("http://") || request.starts_with("https://") {
                    bar.set_message("fetching the proof request");
                    let r = rt
                        .block_on(wallet::fetch_request(&http, &request))
                        .map_err(usage)?;
                    let base = request.split("/v1/requests/").next().map(str::to_string);
                    (r, base)
                } else {
                    let text = read_text(Path::new(&request))?;
                    (
                        serde_json::from_str(&text)
                            .map_err(|e| CliError::Usage(format!("{request}: {e}")))?,
                        None,
                    )
                };
            bar.inc(1);
            let registry = registry.trim_end_matches('/').to_string();
            let witness = rt
                .block_on(
                    wal.gather(&http, &registry, &req, crate::unix_now(), |slot, url| {
                        bar.set_message(format!("witness for slot {slot} from {url}"));
                        bar.inc(1);
                    }),
                )
                .map_err(usage)?;
            bar.set_position(p.slots as u64 + 1);
            bar.set_message("loading the proving key");
            let prover = load_or_setup(&id, &params, &cache)?;
            bar.set_message("proving (Groth16, BN254)");
            let t = Instant::now();
            let sub = wallet::prove(&prover, p, &witness).map_err(usage)?;
            bar.inc(1);
            bar.finish_with_message(format!("proved in {}", secs(t)));
            let file = ProofFile {
                request: req,
                verifier,
                proof: sub.proof,
                public_signals: sub.public_signals,
            };
            let json = serde_json::to_vec_pretty(&file).map_err(usage)?;
            zkcredit_prover::files::write_atomic(&out, &json)?;
            println!("wrote {}", out.display());
            Ok(())
        }
        WalletCmd::Apply { proof, verifier } => {
            let text = read_text(&proof)?;
            let file: ProofFile = serde_json::from_str(&text)
                .map_err(|e| CliError::Usage(format!("{}: {e}", proof.display())))?;
            let url = verifier.or(file.verifier.clone()).ok_or_else(|| {
                CliError::Usage("the proof file names no verifier: pass --verifier URL".into())
            })?;
            let d = runtime()?
                .block_on(wallet::apply(
                    &reqwest::Client::new(),
                    url.trim_end_matches('/'),
                    &file.submission(),
                ))
                .map_err(usage)?;
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
