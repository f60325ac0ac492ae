//! The services as processes: `zkcredit registry serve`, `zkcredit verifier serve`,
//! `zkcredit issuer serve`, `zkcredit provider serve|import`. Each runs until Ctrl-C or
//! SIGTERM and shuts down gracefully.

use super::{init_tracing, read_text, runtime, secs, shutdown_signal, token_file, CliError};
use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;
use zkcredit_api::client::ProviderClient;
use zkcredit_circuits::field::fr_from_dec;
use zkcredit_circuits::registry::Role;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::files::VkFiles;
use zkcredit_services::tree::{RegistryLink, TreeConfig, TreeService};

/// Where every service keeps its store and listens.
#[derive(Args, Debug)]
pub struct ServiceArgs {
    /// Where the service keeps its SQLite store(s).
    #[arg(long)]
    data_dir: PathBuf,
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

/// `zkcredit registry …`.
#[derive(Subcommand)]
pub enum RegistryCmd {
    /// Run the registry until Ctrl-C / SIGTERM (graceful shutdown).
    Serve {
        #[command(flatten)]
        service: ServiceArgs,
        /// File holding the admin bearer token; never pass secrets on the command line.
        #[arg(long)]
        admin_token_file: PathBuf,
        /// Registry slots.
        #[arg(long, default_value_t = 16)]
        slots: usize,
    },
}

/// `zkcredit verifier …`.
#[derive(Subcommand)]
pub enum VerifierCmd {
    /// Run the lender's verifier until Ctrl-C / SIGTERM (graceful shutdown).
    Serve {
        #[command(flatten)]
        service: ServiceArgs,
        /// Registry service URL.
        #[arg(long)]
        registry_url: String,
        /// Where verifying keys live.
        #[arg(long, default_value = "params")]
        params: PathBuf,
        /// Circuit whose proofs are accepted.
        #[arg(long, default_value = "eligibility_s16_d32")]
        circuit: String,
        /// Accepted |proof now − clock| in seconds.
        #[arg(long, default_value_t = 300)]
        max_skew: u64,
        /// Seconds a replaced registry root stays acceptable.
        #[arg(long, default_value_t = 3600)]
        root_window: u64,
        /// JSON file with the policies this lender offers (a policy object or an array of
        /// them); requests for any other policy are refused. Without it any policy may be
        /// requested.
        #[arg(long)]
        policy_file: Option<PathBuf>,
    },
}

/// Options shared by the tree-holding services (issuer, providers).
#[derive(Args, Debug)]
pub struct TreeArgs {
    #[command(flatten)]
    service: ServiceArgs,
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

async fn serve_until_signal(
    name: &str,
    router: axum::Router,
    listen: SocketAddr,
    tree: Option<&TreeService>,
    publish_every: u64,
) -> Result<(), CliError> {
    let running = zkcredit_services::server::spawn(router, listen)
        .await
        .map_err(|e| CliError::Runtime(format!("{listen}: {e}")))?;
    println!("{name} listening on {}", running.url());
    let sched = tree
        .filter(|_| publish_every > 0)
        .map(|t| t.spawn_scheduler(std::time::Duration::from_secs(publish_every)));
    shutdown_signal().await;
    tracing::info!("shutting down");
    if let Some(s) = sched {
        s.abort();
    }
    running.stop().await.map_err(CliError::runtime)
}

/// `zkcredit registry serve`.
pub fn registry(cmd: RegistryCmd) -> Result<(), CliError> {
    let RegistryCmd::Serve {
        service: ServiceArgs { data_dir, listen },
        admin_token_file,
        slots,
    } = cmd;
    init_tracing();
    let token = token_file(&admin_token_file)?;
    let router =
        zkcredit_services::registry::RegistryService::open(&data_dir, slots, &token)?.router();
    runtime()?.block_on(serve_until_signal("registry", router, listen, None, 0))
}

/// `zkcredit verifier serve`.
pub fn verifier(cmd: VerifierCmd) -> Result<(), CliError> {
    let VerifierCmd::Serve {
        service: ServiceArgs { data_dir, listen },
        registry_url,
        params,
        circuit,
        max_skew,
        root_window,
        policy_file,
    } = cmd;
    init_tracing();
    let id = CircuitId::parse(&circuit)?;
    let vk = VkFiles::new(&params, &id.name()).read()?;
    let policies = match &policy_file {
        None => {
            tracing::warn!("no --policy-file: requests may name any policy");
            Vec::new()
        }
        Some(f) => zkcredit_services::verifier::parse_policies(&read_text(f)?)
            .map_err(|e| CliError::input(f, e))?,
    };
    let cfg = zkcredit_services::verifier::VerifierConfig {
        verifier_id: zkcredit_services::verifier::load_or_create_verifier_id(&data_dir)?,
        registry_url,
        root_window,
        max_skew,
        max_ttl: 86_400,
        policies,
    };
    let router = zkcredit_services::verifier::VerifierService::open(&data_dir, &vk, cfg)?.router();
    runtime()?.block_on(serve_until_signal("verifier", router, listen, None, 0))
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
        &tree.service.data_dir,
        zkcredit_services::issuer::IssuerConfig {
            provider_id: tree.provider_id()?,
            depth: tree.depth,
            registry: tree.registry()?,
            validity: valid_days * 86_400,
            auto_approve_kyc_stand_in,
        },
        &admin,
    )?;
    if auto_approve_kyc_stand_in {
        tracing::warn!("KYC STAND-IN: every application is approved without any identity check");
    }
    println!("issuer attestation key {}", svc.issuer_key_hex());
    let t = svc.tree().clone();
    runtime()?.block_on(serve_until_signal(
        "issuer",
        svc.router(),
        tree.service.listen,
        Some(&t),
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
            let ik = zkcredit_api::auth::parse_public_key("--issuer-key", &issuer_key)
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let admin = token_file(&tree.admin_token_file)?;
            let svc = zkcredit_services::provider::ProviderService::open(
                &tree.service.data_dir,
                TreeConfig {
                    role,
                    provider_id: tree.provider_id()?,
                    depth: tree.depth,
                    issuer_key: ik,
                    registry: tree.registry()?,
                },
                &admin,
            )?;
            let t = svc.tree().clone();
            runtime()?.block_on(serve_until_signal(
                &format!("provider ({role:?})"),
                svc.router(),
                tree.service.listen,
                Some(&t),
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
                _ => return Err(CliError::input(&file, "the file must end in .csv or .json")),
            };
            let body = std::fs::read(&file).map_err(|e| CliError::input(&file, e))?;
            let t = Instant::now();
            let client = ProviderClient::new(reqwest::Client::new(), url);
            let rep = runtime()?.block_on(async {
                if ct == "text/csv" {
                    client.import_csv(&admin, body, true).await
                } else {
                    let json =
                        serde_json::from_slice(&body).map_err(|e| CliError::input(&file, e))?;
                    return Ok(client.import_json(&admin, &json, true).await?);
                }
                .map_err(CliError::from)
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
