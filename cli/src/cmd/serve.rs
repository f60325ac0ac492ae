//! The services as processes: `zkcredit registry serve`, `zkcredit verifier serve`,
//! `zkcredit issuer serve`, `zkcredit provider serve|import`. Each runs until Ctrl-C or
//! SIGTERM and shuts down gracefully.

use super::admin;
use super::{init_tracing, runtime, shutdown_signal, token_file, CliError};
use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use zkcredit_circuits::field::fr_from_dec;
use zkcredit_circuits::registry::Role;
use zkcredit_services::tree::{RegistryLink, Schedule, TreeConfig, TreeService};

mod verifier;
pub use verifier::{verifier, VerifierCmd};

/// Where every service keeps its store and listens.
#[derive(Args, Debug)]
pub struct ServiceArgs {
    /// Where the service keeps its SQLite store(s) (required unless `--database-url` is
    /// given).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where the service keeps its state: `sqlite://PATH` (one process) or
    /// `postgres://USER[:PASSWORD]@HOST:PORT/DB` (several replicas share it; migrations are
    /// applied at start). Default: the service's SQLite file under `--data-dir`. Every
    /// service supports PostgreSQL.
    /// `verifier serve` also reads `ZKCREDIT_DATABASE_URL` (no other service does, so one
    /// exported variable never moves another service's store).
    #[arg(long)]
    database_url: Option<String>,
    /// PostgreSQL only: the schema this service's tables live in (default
    /// `zkcredit_verifier`, `zkcredit_registry`, `zkcredit_provider`, `zkcredit_issuer`
    /// and its KYC tree in `zkcredit_issuer_tree`). Replicas of one verifier or registry
    /// share it; each provider tree (and the issuer) needs its own — one process writes it,
    /// a newer one takes it over — and so does every other service on the same database.
    #[arg(long)]
    database_schema: Option<String>,
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where `/metrics` is served (keep it private); without it metrics are not served.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
}

impl ServiceArgs {
    /// The store: `--database-url`, else the SQLite file `file` under `--data-dir`.
    fn database(&self, file: &str) -> Result<zkcredit_services::store::DatabaseUrl, CliError> {
        use zkcredit_services::store::DatabaseUrl;
        let url = match (&self.database_url, &self.data_dir) {
            (Some(u), _) => DatabaseUrl::parse(u).map_err(|e| CliError::Usage(e.message)),
            (None, Some(d)) => Ok(DatabaseUrl::Sqlite(d.join(file))),
            (None, None) => Err(CliError::Usage(
                "give --data-dir (SQLite) or --database-url".into(),
            )),
        }?;
        if self.database_schema.is_some() && !url.is_shared() {
            return Err(CliError::Usage(
                "--database-schema applies to a PostgreSQL --database-url only".into(),
            ));
        }
        Ok(url)
    }

    /// [`Self::database`], refusing PostgreSQL while `--data-dir` still holds the service's
    /// SQLite `file`: what it `holds` is not moved, and a service on PostgreSQL beside it
    /// would be a new one (`advice` says what to do instead).
    fn database_not_left_behind(
        &self,
        file: &str,
        holds: &str,
        advice: &str,
    ) -> Result<zkcredit_services::store::DatabaseUrl, CliError> {
        let url = self.database(file)?;
        if let (true, Some(d)) = (url.is_shared(), &self.data_dir) {
            let old = d.join(file);
            if old.exists() {
                return Err(CliError::Usage(format!(
                    "{} holds {holds}, which are not moved to PostgreSQL; {advice}",
                    old.display()
                )));
            }
        }
        Ok(url)
    }

    /// `--database-schema`, else `default`.
    fn schema<'a>(&'a self, default: &'a str) -> &'a str {
        self.database_schema.as_deref().unwrap_or(default)
    }
}

/// `zkcredit registry …`.
#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing clap's fields buys nothing
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
    /// Register (or re-register) a provider in a slot (admin token).
    AddProvider(admin::AddProvider),
    /// Clear a slot (admin token).
    RemoveProvider(admin::RemoveProvider),
    /// The current root, the registry key and every registered slot.
    Show {
        /// The registry's base URL.
        #[arg(long)]
        url: String,
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
    /// Publish (and refresh the timestamp) every this many seconds even without changes;
    /// 0: never on a schedule.
    #[arg(long, default_value_t = 3600)]
    publish_every: u64,
    /// Publish staged changes (admin upserts and deletes, KYC approvals) within this many
    /// seconds, and retry a registry notification that failed; 0: only on demand
    /// (`zkcredit provider publish`) and on the `--publish-every` schedule. A tree never
    /// published is published at start either way.
    #[arg(long, default_value_t = 10)]
    publish_pending_every: u64,
    /// Largest bulk-import body in bytes (read as a stream after the admin token is checked).
    #[arg(long, default_value_t = zkcredit_services::tree::DEFAULT_MAX_IMPORT_BYTES)]
    max_import_bytes: usize,
    /// Recompute every inner node of the tree from its leaf table before serving (after a
    /// start refused because the node store is corrupt or truncated).
    #[arg(long)]
    rebuild_tree: bool,
}

/// `zkcredit issuer …`.
#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing clap's fields buys nothing
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
        /// Subject-key lookups per client token and minute.
        #[arg(long, default_value_t = 600)]
        lookups_per_minute: u32,
        /// Pending KYC applications in total (beyond it new ones are refused).
        #[arg(long, default_value_t = 10_000)]
        max_pending_applications: u64,
        /// Rebinds (replacements) of one identifier allowed per `--rebind-period-days`.
        #[arg(long, default_value_t = 1)]
        rebinds_per_period: u64,
        /// The rebind period, days.
        #[arg(long, default_value_t = 30)]
        rebind_period_days: u64,
    },
    /// The applications awaiting a decision (admin token).
    Pending(admin::AdminTarget),
    /// Approve an application: binds the identifier to the wallet's key and publishes the
    /// KYC row.
    Approve(admin::Decide),
    /// Approve an application that replaces an existing binding (a lost wallet): the old
    /// holder key is revoked at every provider.
    Replace(admin::Decide),
    /// Reject an application.
    Reject(admin::Decide),
    /// Let a provider look up its customers' subject keys (a client token).
    AddClient(admin::AddClient),
    /// A customer's subject key, as a provider learns it (client token; logged).
    Lookup(admin::Lookup),
    /// The issuer's attestation key (providers pin it) and its KYC tree's root-signing key
    /// (lenders pin it in `--expected-slots`).
    Info {
        /// The issuer's base URL.
        #[arg(long)]
        url: String,
    },
}

/// `zkcredit provider …`.
#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing clap's fields buys nothing
pub enum ProviderCmd {
    /// Run a fraud list, lender or bureau.
    Serve {
        /// The provider's role.
        #[arg(long, value_enum)]
        role: admin::RoleArg,
        #[command(flatten)]
        tree: TreeArgs,
        /// The KYC issuer's attestation key (hex, from `GET /v1/issuer`).
        #[arg(long)]
        issuer_key: String,
        /// The KYC issuer's URL: its signed revocation list is checked before every witness
        /// (no fresh list: no witness).
        #[arg(long)]
        issuer_url: String,
    },
    /// Bulk-import a CSV (`subject_key,v0,v1,v2`) or JSON file into a running provider and
    /// publish; prints the import and publication times. A CSV file is validated whole
    /// first, then sent in parts of 50,000 rows under a progress bar (rows/s, ETA).
    Import {
        /// Provider base URL.
        #[arg(long)]
        url: String,
        /// File holding the admin token.
        #[arg(long)]
        admin_token_file: PathBuf,
        /// The file (.csv or .json).
        file: PathBuf,
        /// Send CSV rows from this line on (after an interrupted import: the line it named).
        #[arg(long, default_value_t = 1)]
        from_line: usize,
    },
    /// Stage an upsert of one row (admin token).
    Set(admin::SetRow),
    /// Stage the deletion of one row (admin token).
    Delete(admin::DeleteRow),
    /// Publish staged changes now and tell the registry (admin token).
    Publish(admin::AdminTarget),
    /// Role, id, root, the root-signing key lenders pin and, with the admin token, the
    /// journal and registry state.
    Status {
        /// The provider's base URL.
        #[arg(long)]
        url: String,
        /// File holding the admin token (adds rows, pending changes, registry state).
        #[arg(long)]
        admin_token_file: Option<PathBuf>,
    },
}

pub(super) async fn serve_until_signal(
    name: &str,
    router: axum::Router,
    service: &ServiceArgs,
    tree: Option<(&TreeService, &TreeArgs)>,
) -> Result<(), CliError> {
    let listen = service.listen;
    let running =
        zkcredit_services::server::spawn_with_metrics(router, listen, service.metrics_listen)
            .await
            .map_err(|e| CliError::Runtime(format!("{listen}: {e}")))?;
    if let Some(m) = running.metrics_url() {
        println!("{name} metrics on {m}");
    }
    println!("{name} listening on {}", running.url());
    let secs = |n: u64| (n > 0).then(|| std::time::Duration::from_secs(n));
    let sched = tree.map(|(t, a)| {
        t.spawn_scheduler(Schedule {
            pending_every: secs(a.publish_pending_every),
            refresh_every: secs(a.publish_every),
        })
    });
    shutdown_signal().await;
    tracing::info!("shutting down");
    if let Some(s) = sched {
        s.abort();
    }
    running.stop().await.map_err(CliError::runtime)
}

/// `zkcredit registry serve`.
pub fn registry(cmd: RegistryCmd) -> Result<(), CliError> {
    let (service, admin_token_file, slots) = match cmd {
        RegistryCmd::Serve {
            service,
            admin_token_file,
            slots,
        } => (service, admin_token_file, slots),
        RegistryCmd::AddProvider(a) => return admin::add_provider(a),
        RegistryCmd::RemoveProvider(a) => return admin::remove_provider(a),
        RegistryCmd::Show { url } => return admin::show_registry(url),
    };
    init_tracing();
    let token = token_file(&admin_token_file)?;
    use zkcredit_services::registry::{RegistryService, DEFAULT_PG_SCHEMA};
    // A registry on PostgreSQL beside the old file would have a new key, refused by every
    // verifier pinning the old one.
    let url = service.database_not_left_behind(
        "registry.sqlite",
        "this registry's slots, history and signing key",
        "drop --data-dir to start a new registry there (verifiers pin its new key)",
    )?;
    let rt = runtime()?;
    let schema = service.schema(DEFAULT_PG_SCHEMA);
    let svc = rt.block_on(RegistryService::open_db(&url, schema, slots, &token))?;
    println!("registry key {}", svc.public_key_hex());
    rt.block_on(serve_until_signal("registry", svc.router(), &service, None))
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
    let cmd = match cmd {
        IssuerCmd::Pending(t) => return admin::pending(t),
        IssuerCmd::Approve(d) => return admin::approve(d, false),
        IssuerCmd::Replace(d) => return admin::approve(d, true),
        IssuerCmd::Reject(d) => return admin::reject(d),
        IssuerCmd::AddClient(a) => return admin::add_client(a),
        IssuerCmd::Lookup(l) => return admin::lookup(l),
        IssuerCmd::Info { url } => return admin::issuer_info(url),
        serve => serve,
    };
    let IssuerCmd::Serve {
        tree,
        valid_days,
        auto_approve_kyc_stand_in,
        lookups_per_minute,
        max_pending_applications,
        rebinds_per_period,
        rebind_period_days,
    } = cmd
    else {
        return Err(CliError::Usage("not a serve command".into()));
    };
    init_tracing();
    let admin = token_file(&tree.admin_token_file)?;
    // An issuer on PostgreSQL beside the old file would be a new issuer whose subject keys
    // match no provider's rows.
    let url = tree.service.database_not_left_behind(
        "issuer.sqlite",
        "this issuer's bindings, pepper and attestation key",
        "drop --data-dir to start a new issuer there (every subject key changes)",
    )?;
    let rt = runtime()?;
    let schema = tree
        .service
        .schema(zkcredit_services::issuer::DEFAULT_PG_SCHEMA);
    let cfg = zkcredit_services::issuer::IssuerConfig {
        provider_id: tree.provider_id()?,
        depth: tree.depth,
        registry: tree.registry()?,
        validity: valid_days * 86_400,
        auto_approve_kyc_stand_in,
        rebuild_tree: tree.rebuild_tree,
    };
    let svc = rt
        .block_on(zkcredit_services::issuer::IssuerService::open_db(
            &url, schema, cfg, &admin,
        ))?
        .with_limits(zkcredit_services::issuer::IssuerLimits {
            lookups_per_minute,
            max_pending_applications,
            rebinds_per_period,
            rebind_period: rebind_period_days * 86_400,
            ..Default::default()
        })
        .with_max_import_bytes(tree.max_import_bytes);
    if auto_approve_kyc_stand_in {
        tracing::warn!("KYC STAND-IN: every application is approved without any identity check");
    }
    println!("issuer attestation key {}", svc.issuer_key_hex());
    let t = svc.tree().clone();
    println!("provider root key {}", t.public_key_hex());
    rt.block_on(serve_until_signal(
        "issuer",
        svc.router(),
        &tree.service,
        Some((&t, &tree)),
    ))
}

/// `zkcredit provider …`.
pub fn provider(cmd: ProviderCmd) -> Result<(), CliError> {
    match cmd {
        ProviderCmd::Set(a) => admin::set_row(a),
        ProviderCmd::Delete(a) => admin::delete_row(a),
        ProviderCmd::Publish(t) => admin::publish(t),
        ProviderCmd::Status {
            url,
            admin_token_file,
        } => admin::status(url, admin_token_file),
        ProviderCmd::Serve {
            role,
            tree,
            issuer_key,
            issuer_url,
        } => {
            init_tracing();
            let role: Role = role.into();
            if role == Role::Kyc {
                return Err(CliError::Usage(
                    "--role kyc: the KYC tree is served by `zkcredit issuer serve`".into(),
                ));
            }
            let ik = zkcredit_api::auth::parse_public_key("--issuer-key", &issuer_key)
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let admin = token_file(&tree.admin_token_file)?;
            // A tree on PostgreSQL beside the old file would be a new, empty provider with a
            // new key.
            let url = tree.service.database_not_left_behind(
                "provider.sqlite",
                "this provider's rows and root-signing key",
                "drop --data-dir to start the tree there (re-import the rows; lenders pin its new key)",
            )?;
            let cfg = TreeConfig {
                role,
                provider_id: tree.provider_id()?,
                depth: tree.depth,
                issuer_key: ik,
                registry: tree.registry()?,
                rebuild_nodes: tree.rebuild_tree,
            };
            let rt = runtime()?;
            let schema = tree
                .service
                .schema(zkcredit_services::tree::DEFAULT_PG_SCHEMA);
            let svc = rt
                .block_on(zkcredit_services::provider::ProviderService::open_db(
                    &url, schema, cfg, &admin,
                ))?
                .with_issuer_revocations(issuer_url.trim_end_matches('/'))
                .with_max_import_bytes(tree.max_import_bytes);
            let t = svc.tree().clone();
            println!("provider root key {}", t.public_key_hex());
            rt.block_on(serve_until_signal(
                &format!("provider ({role:?})"),
                svc.router(),
                &tree.service,
                Some((&t, &tree)),
            ))
        }
        ProviderCmd::Import {
            url,
            admin_token_file,
            file,
            from_line,
        } => super::import::run(url, admin_token_file, file, from_line),
    }
}
