//! The subcommands, one module each; this module holds what they share: the error type,
//! file and token reading, the async runtime, logging and the shutdown signal.

pub mod admin;
pub mod bench;
pub mod bench_gas;
pub mod bench_halo2;
pub mod bench_identical;
pub mod bench_report;
pub mod ceremony;
pub mod demo;
pub mod halo2;
pub mod import;
pub mod model;
pub mod prove;
pub mod serve;
pub mod setup;
pub mod verify;
pub mod wallet;

use std::path::Path;
use std::time::Instant;
use zkcredit_prover::cache::KeySource;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::fast::Prover;

/// Why a command failed; [`CliError::exit_code`] maps it to the process exit code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Arguments that do not fit together.
    #[error("{0}")]
    Usage(String),
    /// A file that cannot be read or does not parse.
    #[error("{path}: {message}")]
    Input {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A check the command was asked to make failed (stale artifacts, a key that differs).
    #[error("{0}")]
    CheckFailed(String),
    /// Setup, proving or key files.
    #[error(transparent)]
    Prover(#[from] zkcredit_prover::ProverError),
    /// A proof, key or public input that does not decode.
    #[error(transparent)]
    Verify(#[from] zkcredit_verifier::VerifyError),
    /// A service refused its configuration or store.
    #[error(transparent)]
    Service(#[from] zkcredit_api::ApiError),
    /// A service could not be reached or refused a call.
    #[error(transparent)]
    Client(#[from] zkcredit_api::client::ClientError),
    /// The wallet.
    #[error(transparent)]
    Wallet(#[from] zkcredit_wallet::WalletError),
    /// The in-memory EVM.
    #[error("EVM: {0}")]
    Evm(#[from] zkcredit_evm::EvmError),
    /// The async runtime, a listener or the terminal.
    #[error("{0}")]
    Runtime(String),
    /// The proof does not verify (exit 1).
    #[error("proof is INVALID: {0}")]
    Invalid(zkcredit_verifier::VerifyError),
    /// The lender refused (exit 1).
    #[error("REFUSED: {0}")]
    Refused(String),
    /// A halo2 proof does not verify (exit 1).
    #[error("proof is INVALID: {0}")]
    InvalidHalo2(zkcredit_halo2::Halo2Error),
}

/// The exit codes of every command (README "Exit codes").
pub const EXIT_CODES: &str = "Exit codes: 0 ok / accepted; 1 refused (an invalid proof, a lender's or provider's refusal, a statement the wallet cannot prove); 2 bad input or usage (arguments, files, a request the service rejects as malformed or unauthorised); 3 a service unavailable (unreachable, or it answered 5xx).";

/// Exit code: a negative answer.
pub const EXIT_REFUSED: u8 = 1;
/// Exit code: bad input or usage.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: a service could not be reached or failed (5xx).
pub const EXIT_UNAVAILABLE: u8 = 3;

fn unavailable(e: &zkcredit_api::client::ClientError) -> bool {
    use zkcredit_api::client::ClientError;
    matches!(e, ClientError::Http { .. }) || e.status().is_some_and(|s| s >= 500)
}

impl CliError {
    /// The process exit code ([`EXIT_CODES`]).
    pub fn exit_code(&self) -> u8 {
        use zkcredit_wallet::WalletError as W;
        match self {
            CliError::Invalid(_) | CliError::Refused(_) | CliError::InvalidHalo2(_) => EXIT_REFUSED,
            CliError::Client(e) | CliError::Wallet(W::Client(e)) if unavailable(e) => {
                EXIT_UNAVAILABLE
            }
            // A provider's tree the registry does not hold (yet): the alliance is not ready.
            CliError::Wallet(W::Provider { .. }) => EXIT_UNAVAILABLE,
            // The wallet's journey: a service saying no, or a statement it cannot prove.
            CliError::Wallet(
                W::Client(_)
                | W::CannotProve(_)
                | W::UntrustedVerifier(_)
                | W::AlreadyApplied { .. },
            ) => EXIT_REFUSED,
            _ => EXIT_USAGE,
        }
    }

    /// An input error for `path`.
    pub fn input(path: &Path, e: impl std::fmt::Display) -> Self {
        CliError::Input {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }

    /// A runtime error.
    pub fn runtime(e: impl std::fmt::Display) -> Self {
        CliError::Runtime(e.to_string())
    }
}

/// Reads a text file.
pub fn read_text(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::input(path, e))
}

/// Reads a JSON file.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, CliError> {
    serde_json::from_str(&read_text(path)?).map_err(|e| CliError::input(path, e))
}

/// Reads a token file (trimmed; at least 16 characters). Secrets never go on the command line.
pub fn token_file(p: &Path) -> Result<String, CliError> {
    let t = read_text(p)?.trim().to_string();
    if t.len() < 16 {
        return Err(CliError::input(p, "a token must be at least 16 characters"));
    }
    Ok(t)
}

/// `"1.23 s"` since `t`.
pub fn secs(t: Instant) -> String {
    format!("{:.2} s", t.elapsed().as_secs_f64())
}

/// A multi-threaded tokio runtime.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Runtime::new().map_err(CliError::runtime)
}

/// Structured logs to stderr (stdout is for the program's own output), `RUST_LOG` filter.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .try_init();
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// The prover of `id` from the key cache, saying on stderr when the insecure development
/// key is derived.
pub fn load_prover(id: &CircuitId, params: &Path, cache: &Path) -> Result<Prover, CliError> {
    let (prover, source) = zkcredit_prover::cache::load_or_setup(id, params, cache)?;
    if let KeySource::DerivedInsecureDev {
        seconds,
        ignored_cache,
    } = source
    {
        if let Some(why) = ignored_cache {
            eprintln!("warning: ignored the cached proving key: {why}");
        }
        eprintln!(
            "derived the INSECURE development proving key for {} in {seconds:.2} s (cached in {})",
            id.name(),
            cache.display()
        );
    }
    Ok(prover)
}

/// Refuses a development verifying key (anyone can forge proofs it accepts, spec §10) unless
/// `allow` (`--insecure-dev-keys`); logs the key's digest either way. Returns whether the
/// key is a development key. Recognition replays the published seed's draws for the
/// circuit id (and the default circuit's), so a key from `setup --os-rng` always passes and
/// a development key is recognised whatever the circuit's shape.
pub fn check_vk(
    circuit: &str,
    vk: &ark_groth16::VerifyingKey<ark_bn254::Bn254>,
    allow: bool,
    what: &str,
) -> Result<bool, CliError> {
    let digest = zkcredit_verifier::keys::vk_digest(vk);
    let default = CircuitId::default_eligibility().name();
    let dev = zkcredit_prover::setup::is_insecure_dev_vk_of_any([circuit, default.as_str()], vk);
    tracing::info!(%digest, circuit, insecure_dev_key = dev, "{what}: verifying key");
    if dev && !allow {
        return Err(CliError::Usage(format!(
            "{what}: the verifying key (sha256 {digest}) is an INSECURE DEVELOPMENT key: anyone can forge proofs it accepts. Run `zkcredit setup --os-rng --params DIR` (or a ceremony) and pass --params DIR; --insecure-dev-keys accepts it for development only"
        )));
    }
    if dev {
        tracing::warn!(%digest, "{what}: INSECURE DEVELOPMENT KEY accepted (--insecure-dev-keys): anyone can forge proofs");
    }
    Ok(dev)
}

/// The parameter directory: `--params` or `ZKCREDIT_PARAMS` when given; otherwise the first
/// of `./params`, `<binary>/../share/zkcredit/params` (an installation) and
/// `<binary>/../../params` (a cargo build of the repository) that holds `circuit`'s
/// verifying key. Missing everywhere: an error naming the places and the flag.
pub fn resolve_params(
    given: Option<std::path::PathBuf>,
    circuit: &str,
) -> Result<std::path::PathBuf, CliError> {
    if let Some(p) = given {
        return Ok(p);
    }
    let mut places = vec![std::path::PathBuf::from("params")];
    if let Some(bin) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        places.push(bin.join("../share/zkcredit/params"));
        places.push(bin.join("../../params"));
    }
    let vk = format!("{circuit}.vk.bin");
    places
        .iter()
        .find(|p| p.join(&vk).is_file())
        .cloned()
        .ok_or_else(|| {
            let looked: Vec<String> = places.iter().map(|p| p.display().to_string()).collect();
            CliError::Usage(format!(
                "no verifying key {vk} in {}: pass --params DIR or set ZKCREDIT_PARAMS (keys come from `zkcredit setup --os-rng --params DIR` or your alliance's ceremony)",
                looked.join(", ")
            ))
        })
}
