//! `zkcredit setup` and `zkcredit gen-contracts`.

use super::{secs, CliError};
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Instant;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::files::{pk_path, write_atomic, write_pk, VkFiles};
use zkcredit_verifier::keys::vk_digest;

/// `zkcredit setup`.
#[derive(Args)]
pub struct SetupArgs {
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
    /// The proof system (`halo2`: keys from a powers-of-tau file, no ceremony; SPEC §11).
    #[arg(long, value_enum, default_value = "groth16")]
    system: super::halo2::ProofSystem,
    /// halo2: the phase-1 powers-of-tau file (`.ptau`); without it, the INSECURE
    /// development powers of tau.
    #[arg(long)]
    ptau: Option<PathBuf>,
    /// halo2 without --ptau: also write the EVM verifier of the development key (forgeable
    /// by anyone; demos and tests only). Without it none is written for that key.
    #[arg(long)]
    insecure_dev_keys: bool,
}

/// `zkcredit gen-contracts`.
#[derive(Args)]
pub struct GenContractsArgs {
    /// Workspace root.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Compare instead of writing.
    #[arg(long)]
    check: bool,
    /// Where the verifying key is (default: `<root>/params`); e.g. the `--params` of
    /// `zkcredit import-zkey` after a ceremony.
    #[arg(long)]
    params: Option<PathBuf>,
    /// Generate from a development verifying key (forgeable by anyone; development and CI
    /// only). Without it a development key is refused.
    #[arg(long)]
    insecure_dev_keys: bool,
}

/// Runs `zkcredit setup`.
pub fn setup(a: SetupArgs) -> Result<(), CliError> {
    if a.system == super::halo2::ProofSystem::Halo2 {
        return super::halo2::setup(
            &a.circuit,
            a.ptau.as_deref(),
            &a.params,
            &a.cache,
            a.check,
            a.insecure_dev_keys,
        );
    }
    let id = CircuitId::parse(&a.circuit)?;
    let name = id.name();
    let files = VkFiles::new(&a.params, &name);
    if a.os_rng && a.params == Path::new("params") {
        return Err(CliError::Usage(
            "--os-rng keys must not overwrite the committed development keys: pass --params DIR"
                .into(),
        ));
    }
    let t = Instant::now();
    let pk = if a.os_rng {
        id.setup_os_rng()?
    } else {
        id.insecure_dev_setup()?
    };
    let took = secs(t);
    if a.check {
        let committed = files.read()?;
        if committed != pk.vk {
            return Err(CliError::CheckFailed(format!(
                "{}: committed verifying key differs from the development setup (digest {} vs {})",
                files.bin.display(),
                vk_digest(&committed),
                vk_digest(&pk.vk)
            )));
        }
        println!("{name}: committed verifying key matches the development setup ({took})");
        return Ok(());
    }
    files.write(&pk.vk)?;
    let pkp = pk_path(&a.cache, &name);
    write_pk(&pkp, &pk)?;
    println!(
        "{} keys for {name} in {took}\n  verifying key: {} (sha256 {})\n  proving key:   {}",
        if a.os_rng {
            "production (OS randomness)"
        } else {
            "INSECURE development"
        },
        files.json.display(),
        vk_digest(&pk.vk),
        pkp.display()
    );
    Ok(())
}

/// Runs `zkcredit gen-contracts`.
pub fn gen_contracts(a: GenContractsArgs) -> Result<(), CliError> {
    let id = CircuitId::default_eligibility().name();
    let params = a.params.clone().unwrap_or_else(|| a.root.join("params"));
    let vk = VkFiles::new(&params, &id).read()?;
    super::init_tracing();
    let dev = super::check_vk(&id, &vk, a.insecure_dev_keys, "gen-contracts")?;
    if dev {
        eprintln!("warning: generating contracts for an INSECURE DEVELOPMENT verifying key (--insecure-dev-keys)");
    }
    let digest = vk_digest(&vk);
    let mut stale = Vec::new();
    for (rel, text) in zkcredit_evm::codegen::all(&vk, &id, &digest, dev) {
        let path = a.root.join(&rel);
        if a.check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(rel);
            }
        } else {
            write_atomic(&path, text.as_bytes())?;
            println!("wrote {}", path.display());
        }
    }
    if !stale.is_empty() {
        return Err(CliError::CheckFailed(format!(
            "generated files differ from the generator (run `zkcredit gen-contracts`): {}",
            stale.join(", ")
        )));
    }
    if a.check {
        println!("generated contracts are fresh");
    }
    Ok(())
}
