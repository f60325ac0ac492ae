//! `zkcredit`: setup, witness generation, proving, verification and the demo.
#![forbid(unsafe_code)]

mod bench;
mod demo;
mod roles;

use ark_std::rand::{rngs::StdRng, SeedableRng};
use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use zkcredit_circuits::eligibility::{offchain_context, EligibilityWitness, PUBLIC_INPUT_NAMES};
use zkcredit_circuits::scenario::{eligible_applicant, Layout};
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::files::{pk_path, read_pk, write_atomic, write_pk, VkFiles};
use zkcredit_verifier::snarkjs::{parse_proof, parse_public, parse_vk, public_to_json, ProofJson};
use zkcredit_verifier::Verifier;

#[derive(Parser)]
#[command(
    name = "zkcredit",
    version,
    about = "Zero-knowledge credit eligibility proofs (Groth16/BN254)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate Groth16 keys: verifying key to the params dir, proving key to the cache.
    /// Default: INSECURE development keys from the published seed (same on every machine).
    Setup {
        /// Circuit, e.g. eligibility_s16_d32, fraud_only_d32.
        #[arg(long, default_value = "eligibility_s16_d32")]
        circuit: String,
        /// Where verifying keys live.
        #[arg(long, default_value = "params")]
        params: PathBuf,
        /// Where proving keys are cached.
        #[arg(long, default_value = "params/cache")]
        cache: PathBuf,
        /// Production keys from OS randomness instead of the insecure development seed.
        /// Requires --params to name a directory other than the committed `params`.
        #[arg(long)]
        os_rng: bool,
        /// Only check that the development verifying key equals the committed one.
        #[arg(long)]
        check: bool,
    },
    /// Generate a synthetic alliance (KYC issuer, fraud lists, lenders, bureau) and an
    /// eligible applicant's witness file.
    GenWitness {
        /// Output witness file.
        #[arg(long, default_value = "witness.json")]
        out: PathBuf,
        /// Registry slots.
        #[arg(long, default_value_t = 16)]
        slots: usize,
        /// Provider tree depth.
        #[arg(long, default_value_t = 32)]
        depth: usize,
        /// Other borrowers in every provider's tree.
        #[arg(long, default_value_t = 1000)]
        borrowers: usize,
        /// RNG seed (synthetic data only).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Prove a witness file (writes proof.json and public.json, snarkjs layout), or with
    /// --batch every *.json witness file of a directory on all cores (provider bulk proving;
    /// writes <name>.proof.json and <name>.public.json).
    Prove {
        /// Witness file (from gen-witness or a wallet).
        #[arg(long, conflicts_with = "batch", required_unless_present = "batch")]
        witness: Option<PathBuf>,
        /// Directory of witness files to prove in bulk.
        #[arg(long)]
        batch: Option<PathBuf>,
        /// Proofs in flight at once in --batch mode (default: one per core); each in-flight
        /// proof adds about 190 MiB at 16 slots × depth 32.
        #[arg(long)]
        jobs: Option<usize>,
        /// Output directory.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Where verifying keys live.
        #[arg(long, default_value = "params")]
        params: PathBuf,
        /// Where proving keys are cached.
        #[arg(long, default_value = "params/cache")]
        cache: PathBuf,
    },
    /// Verify proof.json + public.json against verification_key.json. Exit 0 valid, 1 invalid, 2 bad input.
    Verify {
        /// proof.json
        #[arg(long)]
        proof: PathBuf,
        /// public.json
        #[arg(long)]
        public: PathBuf,
        /// verification_key.json
        #[arg(long)]
        vk: PathBuf,
    },
    /// The end-to-end story on generated provider data: setup (or cached keys), witness,
    /// prove, verify, and a refused applicant.
    Demo {
        /// Where verifying keys live.
        #[arg(long, default_value = "params")]
        params: PathBuf,
        /// Where proving keys are cached.
        #[arg(long, default_value = "params/cache")]
        cache: PathBuf,
    },
    /// Generate contracts/src/Groth16Verifier.sol (from the committed verifying key) and the
    /// Poseidon libraries (from the circuits' constants). --check: fail on any difference.
    GenContracts {
        /// Workspace root.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Compare instead of writing.
        #[arg(long)]
        check: bool,
    },
    /// The registry service (spec §5): `zkcredit registry serve`.
    Registry {
        #[command(subcommand)]
        cmd: ServeCmd,
    },
    /// The KYC issuer (spec §2, §3.4): `zkcredit issuer serve`.
    Issuer {
        #[command(subcommand)]
        cmd: roles::IssuerCmd,
    },
    /// A fraud list, lender or bureau (spec §4): `zkcredit provider serve|import`.
    Provider {
        #[command(subcommand)]
        cmd: roles::ProviderCmd,
    },
    /// The borrower's wallet: `zkcredit wallet init|register|prove|apply`.
    Wallet {
        #[command(subcommand)]
        cmd: roles::WalletCmd,
    },
    /// The lender's verifier service (spec §7): `zkcredit verifier serve`.
    Verifier {
        #[command(subcommand)]
        cmd: ServeCmd,
    },
    /// Measure constraints, setup, witness, prove and verify times per circuit and size.
    Bench {
        /// Proofs per circuit (median and min reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Only the smallest sizes (a quick look).
        #[arg(long)]
        quick: bool,
        /// Also write the results as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Also prove the same statements with circom + snarkjs (needs scripts/install-js.sh;
        /// prepares a 2^14 powers-of-tau file once in ~/.cache/zkcredit-peer, ≈ 10 min).
        #[arg(long)]
        peer: bool,
        /// Write benches/RESULTS.md-style Markdown (tables, machine, command, date) here.
        #[arg(long)]
        markdown: Option<PathBuf>,
    },
}

/// `serve` options shared by the services.
#[derive(Subcommand)]
enum ServeCmd {
    /// Run the service until Ctrl-C / SIGTERM (graceful shutdown).
    Serve {
        /// Where the service keeps its SQLite store.
        #[arg(long)]
        data_dir: PathBuf,
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// File holding the admin bearer token (registry); never pass secrets on the command line.
        #[arg(long)]
        admin_token_file: Option<PathBuf>,
        /// Registry slots (registry).
        #[arg(long, default_value_t = 16)]
        slots: usize,
        /// Registry service URL (verifier).
        #[arg(long)]
        registry_url: Option<String>,
        /// Where verifying keys live (verifier).
        #[arg(long, default_value = "params")]
        params: PathBuf,
        /// Circuit whose proofs are accepted (verifier).
        #[arg(long, default_value = "eligibility_s16_d32")]
        circuit: String,
        /// Accepted |proof now − clock| in seconds (verifier).
        #[arg(long, default_value_t = 300)]
        max_skew: u64,
        /// Seconds a replaced registry root stays acceptable (verifier).
        #[arg(long, default_value_t = 3600)]
        root_window: u64,
        /// JSON file with the policies this lender offers (a policy object or an array of
        /// them); requests for any other policy are refused (verifier). Without it any
        /// policy may be requested.
        #[arg(long)]
        policy_file: Option<PathBuf>,
    },
}

/// A witness file: the circuit it is for and the witness.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WitnessFile {
    circuit: String,
    witness: EligibilityWitness,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Prover(#[from] zkcredit_prover::ProverError),
    #[error(transparent)]
    Verify(#[from] zkcredit_verifier::VerifyError),
    #[error("proof is INVALID: {0}")]
    Invalid(zkcredit_verifier::VerifyError),
    #[error("REFUSED: {0}")]
    Refused(String),
}

fn read_text(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

fn secs(t: Instant) -> String {
    format!("{:.2} s", t.elapsed().as_secs_f64())
}

/// Loads the proving key from the cache, or derives the development keys and caches them.
fn load_or_setup(
    id: &CircuitId,
    params: &Path,
    cache: &Path,
) -> Result<zkcredit_prover::fast::Prover, CliError> {
    let name = id.name();
    let vk_files = VkFiles::new(params, &name);
    let vk = vk_files.read()?;
    let path = pk_path(cache, &name);
    if path.exists() {
        match read_pk(&path, &vk) {
            Ok(pk) => return Ok(id.prover(pk)?),
            Err(e) => eprintln!("warning: ignoring cached proving key: {e}"),
        }
    }
    eprintln!("deriving INSECURE development proving key for {name} (cached afterwards) …");
    let t = Instant::now();
    let pk = id.insecure_dev_setup()?;
    if pk.vk != vk {
        return Err(CliError::Usage(format!(
            "{} is not the development key of {name}: it came from another setup; its proving key must be supplied in {}",
            vk_files.bin.display(),
            path.display()
        )));
    }
    write_pk(&path, &pk)?;
    eprintln!("  setup {}", secs(t));
    Ok(id.prover(pk)?)
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.cmd {
        Cmd::Setup {
            circuit,
            params,
            cache,
            os_rng,
            check,
        } => {
            let id = CircuitId::parse(&circuit)?;
            let name = id.name();
            let files = VkFiles::new(&params, &name);
            if os_rng && params == Path::new("params") {
                return Err(CliError::Usage(
                    "--os-rng keys must not overwrite the committed development keys: pass --params DIR".into(),
                ));
            }
            let t = Instant::now();
            let pk = if os_rng {
                id.setup_os_rng()?
            } else {
                id.insecure_dev_setup()?
            };
            let took = secs(t);
            if check {
                let committed = files.read()?;
                if committed != pk.vk {
                    return Err(CliError::Usage(format!(
                        "{}: committed verifying key differs from the development setup (digest {} vs {})",
                        files.bin.display(),
                        zkcredit_verifier::keys::vk_digest(&committed),
                        zkcredit_verifier::keys::vk_digest(&pk.vk)
                    )));
                }
                println!("{name}: committed verifying key matches the development setup ({took})");
                return Ok(());
            }
            files.write(&pk.vk)?;
            let pkp = pk_path(&cache, &name);
            write_pk(&pkp, &pk)?;
            println!(
                "{} keys for {name} in {took}\n  verifying key: {} (sha256 {})\n  proving key:   {}",
                if os_rng { "production (OS randomness)" } else { "INSECURE development" },
                files.json.display(),
                zkcredit_verifier::keys::vk_digest(&pk.vk),
                pkp.display()
            );
            Ok(())
        }
        Cmd::GenWitness {
            out,
            slots,
            depth,
            borrowers,
            seed,
        } => {
            let params = zkcredit_circuits::eligibility::EligibilityParams { slots, depth };
            params
                .validate()
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let layout = if slots >= 8 {
                Layout::default()
            } else {
                Layout {
                    fraud_lists: 1,
                    lenders: slots.saturating_sub(3).max(1),
                    bureaus: 1,
                }
            };
            let now = unix_now();
            let mut rng = StdRng::seed_from_u64(seed);
            let t = Instant::now();
            let (world, _b, mut w) = eligible_applicant(params, layout, &mut rng, borrowers, now)
                .map_err(|e| CliError::Usage(e.to_string()))?;
            w.context = offchain_context([7u8; 32], [seed as u8; 32], now + 600);
            let file = WitnessFile {
                circuit: params.id(),
                witness: w,
            };
            let text = serde_json::to_string_pretty(&file).expect("serialisable");
            write_atomic(&out, text.as_bytes())?;
            println!(
                "generated {} providers × {} borrowers in {}; registry root {}\nwrote {}",
                world.providers.len(),
                borrowers + 1,
                secs(t),
                zkcredit_circuits::field::fr_to_dec(&world.registry.root()),
                out.display()
            );
            Ok(())
        }
        Cmd::Prove {
            witness,
            batch,
            jobs,
            out,
            params,
            cache,
        } => match (witness, batch) {
            (Some(witness), None) => {
                let (id, p, w) = read_witness_file(&witness)?;
                let pk = load_or_setup(&id, &params, &cache)?;
                let t = Instant::now();
                let (proof, public) = zkcredit_prover::prove_eligibility(&pk, p, w)?;
                let took = secs(t);
                write_proof_files(&out, "", &proof, &public)?;
                println!(
                    "proved {} in {took}; wrote {}/proof.json and public.json",
                    id.name(),
                    out.display()
                );
                Ok(())
            }
            (None, Some(dir)) => {
                let cores = std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1);
                prove_batch(&dir, &out, &params, &cache, jobs.unwrap_or(cores))
            }
            _ => Err(CliError::Usage(
                "give exactly one of --witness FILE or --batch DIR".into(),
            )),
        },
        Cmd::Verify { proof, public, vk } => {
            let vk = parse_vk(&read_text(&vk)?)?;
            let proof = parse_proof(&read_text(&proof)?)?;
            let public = parse_public(&read_text(&public)?)?;
            let t = Instant::now();
            Verifier::new(&vk)
                .verify_raw(&proof, &public)
                .map_err(|e| match e {
                    zkcredit_verifier::VerifyError::InvalidProof => CliError::Invalid(e),
                    other => CliError::Verify(other),
                })?;
            println!("proof is VALID ({:.2} ms)", t.elapsed().as_secs_f64() * 1e3);
            if public.len() == PUBLIC_INPUT_NAMES.len() {
                for (n, v) in PUBLIC_INPUT_NAMES.iter().zip(&public) {
                    println!("  {n:>13} = {}", zkcredit_circuits::field::fr_to_dec(v));
                }
            }
            Ok(())
        }
        Cmd::Demo { params, cache } => demo::demo(&params, &cache),
        Cmd::Registry { cmd } => serve(false, cmd),
        Cmd::Issuer { cmd } => roles::issuer(cmd),
        Cmd::Provider { cmd } => roles::provider(cmd),
        Cmd::Wallet { cmd } => roles::wallet_cmd(cmd),
        Cmd::Verifier { cmd } => serve(true, cmd),
        Cmd::GenContracts { root, check } => {
            let id = CircuitId::default_eligibility().name();
            let vk = VkFiles::new(&root.join("params"), &id).read()?;
            let digest = zkcredit_verifier::keys::vk_digest(&vk);
            let mut stale = Vec::new();
            for (rel, text) in zkcredit_evm::codegen::all(&vk, &id, &digest) {
                let path = root.join(&rel);
                if check {
                    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                        stale.push(rel);
                    }
                } else {
                    write_atomic(&path, text.as_bytes())?;
                    println!("wrote {}", path.display());
                }
            }
            if !stale.is_empty() {
                return Err(CliError::Usage(format!(
                    "generated files differ from the generator (run `zkcredit gen-contracts`): {}",
                    stale.join(", ")
                )));
            }
            if check {
                println!("generated contracts are fresh");
            }
            Ok(())
        }
        Cmd::Bench {
            runs,
            quick,
            json,
            peer,
            markdown,
        } => {
            if runs == 0 {
                return Err(CliError::Usage("--runs must be at least 1".into()));
            }
            let v = bench::run(runs, quick, peer);
            if let Some(path) = markdown {
                write_atomic(
                    &path,
                    bench::results_markdown(&v, runs, quick, peer).as_bytes(),
                )?;
            }
            if let Some(path) = json {
                write_atomic(
                    &path,
                    serde_json::to_string_pretty(&v)
                        .expect("serialisable")
                        .as_bytes(),
                )?;
            }
            Ok(())
        }
    }
}

fn read_witness_file(
    path: &Path,
) -> Result<
    (
        CircuitId,
        zkcredit_circuits::eligibility::EligibilityParams,
        EligibilityWitness,
    ),
    CliError,
> {
    let file: WitnessFile = serde_json::from_str(&read_text(path)?)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    let id = CircuitId::parse(&file.circuit)?;
    let CircuitId::Eligibility(p) = id else {
        return Err(CliError::Usage(format!(
            "witness files are for eligibility circuits, not {}",
            file.circuit
        )));
    };
    Ok((id, p, file.witness))
}

fn write_proof_files(
    out: &Path,
    prefix: &str,
    proof: &ark_groth16::Proof<ark_bn254::Bn254>,
    public: &zkcredit_circuits::eligibility::PublicInputs,
) -> Result<(), CliError> {
    let proof_json =
        serde_json::to_string_pretty(&ProofJson::from_proof(proof)).expect("serialisable");
    let public_json =
        serde_json::to_string_pretty(&public_to_json(&public.to_vec())).expect("serialisable");
    write_atomic(
        &out.join(format!("{prefix}proof.json")),
        proof_json.as_bytes(),
    )?;
    write_atomic(
        &out.join(format!("{prefix}public.json")),
        public_json.as_bytes(),
    )?;
    Ok(())
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| format!("{:.0} MiB", kb / 1024.0))
        .unwrap_or_else(|| "n/a".into())
}

/// Bulk proving: every witness in `dir`, `jobs` at a time, on a dedicated rayon pool.
fn prove_batch(
    dir: &Path,
    out: &Path,
    params: &Path,
    cache: &Path,
    jobs: usize,
) -> Result<(), CliError> {
    use rayon::prelude::*;
    if jobs == 0 {
        return Err(CliError::Usage("--jobs must be at least 1".into()));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| CliError::Usage(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(CliError::Usage(format!(
            "{}: no *.json witness files",
            dir.display()
        )));
    }
    let parsed = files
        .iter()
        .map(|f| read_witness_file(f).map(|w| (f.clone(), w)))
        .collect::<Result<Vec<_>, _>>()?;
    let id = parsed[0].1 .0;
    if parsed.iter().any(|(_, (i, _, _))| *i != id) {
        return Err(CliError::Usage(
            "all witnesses of a batch must be for the same circuit".into(),
        ));
    }
    let pk = load_or_setup(&id, params, cache)?;
    std::fs::create_dir_all(out).map_err(|e| CliError::Usage(format!("{}: {e}", out.display())))?;
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let t = Instant::now();
    // Large stacks: constraint synthesis recurses deeply (seen to overflow 2 MiB worker stacks).
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .stack_size(64 << 20)
        .build()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let results: Vec<(PathBuf, Result<(), CliError>)> = pool.install(|| {
        parsed
            .into_par_iter()
            .map(|(f, (_, p, w))| {
                let stem = f
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("witness")
                    .to_string();
                let r = zkcredit_prover::prove_eligibility(&pk, p, w)
                    .map_err(CliError::from)
                    .and_then(|(proof, public)| {
                        write_proof_files(out, &format!("{stem}."), &proof, &public)
                    });
                (f, r)
            })
            .collect()
    });
    let elapsed = t.elapsed().as_secs_f64();
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(f, r)| r.as_ref().err().map(|e| format!("{}: {e}", f.display())))
        .collect();
    let ok = results.len() - failed.len();
    println!(
        "proved {ok}/{} witnesses of {} in {elapsed:.2} s: {:.2} proofs/s with {jobs} in flight; peak RSS {}",
        results.len(),
        id.name(),
        ok as f64 / elapsed,
        peak_rss()
    );
    for f in &failed {
        eprintln!("  failed: {f}");
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "{} of {} witnesses failed",
            failed.len(),
            results.len()
        )))
    }
}

/// Runs the registry (`verifier == false`) or verifier service until a shutdown signal.
fn serve(verifier: bool, cmd: ServeCmd) -> Result<(), CliError> {
    let ServeCmd::Serve {
        data_dir,
        listen,
        admin_token_file,
        slots,
        registry_url,
        params,
        circuit,
        max_skew,
        root_window,
        policy_file,
    } = cmd;
    roles::init_tracing();
    let api = |e: zkcredit_services::ApiError| CliError::Usage(e.to_string());
    let router = if verifier {
        let registry_url =
            registry_url.ok_or_else(|| CliError::Usage("--registry-url is required".into()))?;
        let id = CircuitId::parse(&circuit)?;
        let vk = VkFiles::new(&params, &id.name()).read()?;
        let id_file = data_dir.join("verifier-id");
        let verifier_id: [u8; 32] = match std::fs::read(&id_file) {
            Ok(b) => b
                .try_into()
                .map_err(|_| CliError::Usage(format!("{}: not 32 bytes", id_file.display())))?,
            Err(_) => {
                let mut b = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
                write_atomic(&id_file, &b)?;
                b
            }
        };
        let cfg = zkcredit_services::verifier::VerifierConfig {
            verifier_id,
            registry_url,
            root_window,
            max_skew,
            max_ttl: 86_400,
            policies: match &policy_file {
                None => {
                    tracing::warn!("no --policy-file: requests may name any policy");
                    Vec::new()
                }
                Some(f) => {
                    let text = read_text(f)?;
                    let v: serde_json::Value = serde_json::from_str(&text)
                        .map_err(|e| CliError::Usage(format!("{}: {e}", f.display())))?;
                    let list = if v.is_array() {
                        v
                    } else {
                        serde_json::Value::Array(vec![v])
                    };
                    serde_json::from_value(list)
                        .map_err(|e| CliError::Usage(format!("{}: {e}", f.display())))?
                }
            },
        };
        zkcredit_services::verifier::VerifierService::open(&data_dir, &vk, cfg)
            .map_err(api)?
            .router()
    } else {
        let path = admin_token_file
            .ok_or_else(|| CliError::Usage("--admin-token-file is required".into()))?;
        let token = read_text(&path)?.trim().to_string();
        if token.len() < 16 {
            return Err(CliError::Usage(format!(
                "{}: the admin token must be at least 16 characters",
                path.display()
            )));
        }
        zkcredit_services::registry::RegistryService::open(&data_dir, slots, &token)
            .map_err(api)?
            .router()
    };
    let rt = tokio::runtime::Runtime::new().map_err(|e| CliError::Usage(e.to_string()))?;
    rt.block_on(async move {
        let running = zkcredit_services::server::spawn(router, listen)
            .await
            .map_err(|e| CliError::Usage(format!("{listen}: {e}")))?;
        println!(
            "{} listening on {}",
            if verifier { "verifier" } else { "registry" },
            running.url()
        );
        shutdown_signal().await;
        tracing::info!("shutting down");
        running
            .stop()
            .await
            .map_err(|e| CliError::Usage(e.to_string()))
    })
}

async fn shutdown_signal() {
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

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1_790_000_000)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Invalid(e)) => {
            eprintln!("error: proof is INVALID: {e}");
            ExitCode::from(1)
        }
        Err(CliError::Refused(m)) => {
            eprintln!("REFUSED: {m}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
