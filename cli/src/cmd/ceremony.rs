//! `zkcredit export-r1cs` and `zkcredit import-zkey`: the two ends of a phase-2 ceremony run
//! with snarkjs (docs/CEREMONY.md, SPEC §10).

use super::{secs, CliError};
use clap::Args;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Instant;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_verifier::keys::vk_digest;

/// `zkcredit export-r1cs`.
#[derive(Args)]
pub struct ExportR1csArgs {
    /// Circuit, e.g. eligibility_s16_d32, fraud_only_d20.
    #[arg(long, default_value = "eligibility_s16_d32")]
    circuit: String,
    /// Output file (iden3 `.r1cs`, version 1).
    #[arg(long)]
    out: PathBuf,
}

/// `zkcredit import-zkey`.
#[derive(Args)]
pub struct ImportZkeyArgs {
    /// The ceremony's final `.zkey` (after the beacon; check it first with `snarkjs zkey
    /// verify`).
    zkey: PathBuf,
    /// The circuit it must be a key for (its constraint matrices are compared with ours).
    #[arg(long, default_value = "eligibility_s16_d32")]
    circuit: String,
    /// Where to write the verifying key (`<circuit>.vk.{bin,json,sha256}`); not the
    /// committed development `params`.
    #[arg(long)]
    params: PathBuf,
    /// Where to write the proving key (default: `<params>/cache`).
    #[arg(long)]
    cache: Option<PathBuf>,
}

fn sha256_file(p: &Path) -> Result<String, CliError> {
    let bytes = std::fs::read(p).map_err(|e| CliError::input(p, e))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// Runs `zkcredit export-r1cs`.
pub fn export_r1cs(a: ExportR1csArgs) -> Result<(), CliError> {
    let id = CircuitId::parse(&a.circuit)?;
    let t = Instant::now();
    let r = zkcredit_prover::circom::export_r1cs(&id, &a.out)?;
    println!(
        "{}: {} constraints, {} wires, {} public inputs ({})",
        id.name(),
        r.num_constraints,
        r.num_inputs + r.num_witness,
        r.num_inputs - 1,
        secs(t)
    );
    println!(
        "wrote {} (sha256 {})",
        a.out.display(),
        sha256_file(&a.out)?
    );
    Ok(())
}

/// Runs `zkcredit import-zkey`.
pub fn import_zkey(a: ImportZkeyArgs) -> Result<(), CliError> {
    let id = CircuitId::parse(&a.circuit)?;
    if a.params == Path::new("params") {
        return Err(CliError::Usage(
            "an imported key must not overwrite the committed development keys: pass --params DIR"
                .into(),
        ));
    }
    let cache = a.cache.unwrap_or_else(|| a.params.join("cache"));
    let t = Instant::now();
    let pk = zkcredit_prover::circom::import_zkey(&a.zkey, &id, &a.params, &cache)?;
    println!(
        "imported {} (sha256 {}) for {} in {}: its sizes and A/B coefficients are this circuit's, it has contributions and no known trapdoor",
        a.zkey.display(),
        sha256_file(&a.zkey)?,
        id.name(),
        secs(t)
    );
    println!(
        "the contributions and the C/H queries are checked by `snarkjs zkey verify` against the exported .r1cs and the .ptau: this must be the file that passed it"
    );
    println!(
        "verifying key {} (sha256 {})",
        a.params.join(format!("{}.vk.json", id.name())).display(),
        vk_digest(&pk.vk)
    );
    println!(
        "proving key {}",
        zkcredit_prover::files::pk_path(&cache, &id.name()).display()
    );
    Ok(())
}
