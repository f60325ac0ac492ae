//! `zkcredit verifier serve|open-request|info`: the lender's verifier.

use super::{serve_until_signal, ServiceArgs};
use crate::cmd::admin;
use crate::cmd::{init_tracing, read_text, runtime, token_file, CliError};
use clap::Subcommand;
use std::path::PathBuf;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::files::VkFiles;

/// `zkcredit verifier …`.
#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing clap's fields buys nothing
pub enum VerifierCmd {
    /// Run the lender's verifier until Ctrl-C / SIGTERM (graceful shutdown).
    Serve {
        #[command(flatten)]
        service: ServiceArgs,
        /// Registry service URL.
        #[arg(long)]
        registry_url: String,
        /// Where verifying keys live (default: `ZKCREDIT_PARAMS`, else `./params`, else
        /// next to the installed binary).
        #[arg(long, env = "ZKCREDIT_PARAMS")]
        params: Option<PathBuf>,
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
        /// them, at least one); requests for any other policy are refused.
        #[arg(long)]
        policy_file: PathBuf,
        /// File holding the lender's bearer token (only the lender opens requests).
        #[arg(long)]
        lender_token_file: PathBuf,
        /// The registry's answer-signing key (hex; `zkcredit registry serve` prints it,
        /// `GET /v1/registry/key` serves it): obtain it out of band and pin it.
        #[arg(long)]
        registry_key: String,
        /// JSON file: the slots every registry root must hold, `[{"role": "kyc",
        /// "provider_id": "1000", "public_key": "<hex>"}, …]` (each provider's root key, as
        /// `provider serve` prints it; obtain it from the provider out of band); a root whose
        /// providers differ, or whose provider roots are not signed by these keys, is refused.
        #[arg(long)]
        expected_slots: PathBuf,
        /// The lender's name (shown by wallets).
        #[arg(long, default_value = "lender")]
        name: String,
        /// The product the nullifier scope is for (one application per person per product
        /// and period).
        #[arg(long, default_value = "credit")]
        product: String,
        /// Length of a scope period in seconds.
        #[arg(long, default_value_t = zkcredit_services::verifier::DEFAULT_PERIOD_SECONDS)]
        period_seconds: u64,
        /// Accept a development verifying key (forgeable by anyone): development only;
        /// logged at start and hourly, reported by /healthz.
        #[arg(long)]
        insecure_dev_keys: bool,
        /// Also accept halo2 proofs (`proof_system: "halo2-kzg"`, SPEC §11) against this
        /// verifying-key file (`zkcredit setup --system halo2`).
        #[arg(long)]
        halo2_vk: Option<std::path::PathBuf>,
    },
    /// Open a proof request as the lender; prints the URL the borrower's wallet proves
    /// against.
    OpenRequest(admin::OpenRequest),
    /// What the lender publishes for wallets to pin (verifier id, name, product, key digest).
    Info {
        /// The verifier's base URL.
        #[arg(long)]
        url: String,
    },
}

/// `zkcredit verifier serve`.
pub fn verifier(cmd: VerifierCmd) -> Result<(), CliError> {
    let cmd = match cmd {
        VerifierCmd::OpenRequest(o) => return admin::open_request(o),
        VerifierCmd::Info { url } => return admin::verifier_info(url),
        serve => serve,
    };
    let VerifierCmd::Serve {
        service,
        registry_url,
        params,
        circuit,
        max_skew,
        root_window,
        policy_file,
        lender_token_file,
        registry_key,
        expected_slots,
        name,
        product,
        period_seconds,
        insecure_dev_keys,
        halo2_vk,
    } = cmd
    else {
        return Err(CliError::Usage("not a serve command".into()));
    };
    init_tracing();
    let id = CircuitId::parse(&circuit)?;
    let params = crate::cmd::resolve_params(params, &id.name())?;
    let vk = VkFiles::new(&params, &id.name()).read()?;
    let dev = crate::cmd::check_vk(&id.name(), &vk, insecure_dev_keys, "verifier serve")?;
    let halo2 = match &halo2_vk {
        Some(path) => {
            let file =
                zkcredit_halo2::keys::VkFile::read(path).map_err(|e| CliError::input(path, e))?;
            if file.circuit != id.name() {
                return Err(CliError::Usage(format!(
                    "{} is a key for {}, this verifier checks {}",
                    path.display(),
                    file.circuit,
                    id.name()
                )));
            }
            if zkcredit_halo2::system::is_dev(&file) && !insecure_dev_keys {
                return Err(CliError::Usage(format!(
                    "{} is made from the INSECURE development powers of tau (anyone can forge proofs it accepts): pass --insecure-dev-keys to accept it anyway",
                    path.display()
                )));
            }
            Some(file)
        }
        None => None,
    };
    let dev = dev || halo2.as_ref().is_some_and(zkcredit_halo2::system::is_dev);
    let policies = zkcredit_services::verifier::parse_policies(&read_text(&policy_file)?)
        .map_err(|e| CliError::input(&policy_file, e))?;
    let expected = zkcredit_services::verifier::parse_expected_slots(&read_text(&expected_slots)?)
        .map_err(|e| CliError::input(&expected_slots, e))?;
    let registry_key = zkcredit_api::auth::parse_public_key("--registry-key", &registry_key)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let lender_token = token_file(&lender_token_file)?;
    use zkcredit_services::store::DatabaseUrl;
    use zkcredit_services::verifier::{load_or_create_verifier_id, VerifierDb};
    let mut service = service;
    if service.database_url.is_none() {
        service.database_url = std::env::var("ZKCREDIT_DATABASE_URL")
            .ok()
            .filter(|v| !v.is_empty());
    }
    let url = service.database("verifier.sqlite")?;
    let rt = runtime()?;
    let schema = service.schema(zkcredit_services::verifier::DEFAULT_PG_SCHEMA);
    let db = rt.block_on(VerifierDb::open(&url, schema))?;
    // The verifier id: on PostgreSQL every replica shares the one in the database (seeded
    // from `--data-dir/verifier-id` when that exists, so a verifier moving from SQLite
    // keeps the id wallets pinned); on SQLite the file beside the store.
    let verifier_id = match (&url, &service.data_dir) {
        (DatabaseUrl::Sqlite(_), Some(d)) => load_or_create_verifier_id(d)?,
        (DatabaseUrl::Sqlite(path), None) => {
            load_or_create_verifier_id(path.parent().unwrap_or(std::path::Path::new(".")))?
        }
        (_, dir) => {
            let seed = match dir {
                Some(d) if d.join("verifier-id").exists() => {
                    // Seeding keeps the scope; the nullifiers recorded on SQLite are not
                    // moved, so people who applied there could apply again: refused.
                    let old = d.join("verifier.sqlite");
                    if old.exists() {
                        let n = rt.block_on(VerifierDb::open_sqlite(&old)?.nullifier_count())?;
                        if n > 0 {
                            return Err(CliError::Usage(format!(
                                "{} holds {n} recorded nullifiers, which are not moved to PostgreSQL: starting the fleet with this verifier id would let those people apply again in the same scope. Start the fleet without --data-dir (a new verifier id, which wallets pin anew)",
                                old.display()
                            )));
                        }
                    }
                    Some(load_or_create_verifier_id(d)?)
                }
                _ => None,
            };
            rt.block_on(db.shared_verifier_id(seed))?
                .ok_or_else(|| CliError::Runtime("no shared verifier id".into()))?
        }
    };
    let cfg = zkcredit_services::verifier::VerifierConfig {
        verifier_id,
        name,
        registry_url,
        registry_key,
        expected_slots: expected,
        root_window,
        max_skew,
        max_ttl: 86_400,
        policies,
        lender_token_sha256: zkcredit_services::verifier::lender_token_digest(&lender_token),
        product,
        period_seconds,
        insecure_dev_keys: dev,
        max_open_requests: zkcredit_services::verifier::DEFAULT_MAX_OPEN_REQUESTS,
    };
    let mut svc = zkcredit_services::verifier::VerifierService::with_db(db, &vk, cfg)?;
    println!("verifier vk sha256 {}", svc.vk_digest());
    if let Some(file) = halo2 {
        println!("verifier halo2 vk sha256 {}", file.digest());
        svc = svc.with_halo2(file)?;
    }
    println!("verifier store {url:?}");
    if dev {
        println!("WARNING: --insecure-dev-keys: this verifier accepts proofs anyone can forge");
    }
    let digest = svc.vk_digest().to_string();
    rt.block_on(async move {
        let nag = dev.then(|| {
            tokio::spawn(async move {
                let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
                loop {
                    every.tick().await;
                    tracing::warn!(vk_digest = %digest, "INSECURE DEVELOPMENT KEYS (--insecure-dev-keys): anyone can forge proofs this verifier accepts");
                }
            })
        });
        let r = serve_until_signal("verifier", svc.router(), &service, None).await;
        if let Some(n) = nag {
            n.abort();
        }
        r
    })
}
