//! `zkcredit gen-witness` and `zkcredit prove` (one witness, or a directory in bulk).

use super::{load_prover, secs, CliError};
use ark_std::rand::{rngs::StdRng, SeedableRng};
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Instant;
use zkcredit_api::unix_now;
use zkcredit_circuits::eligibility::{
    offchain_context, EligibilityCircuit, EligibilityParams, PublicInputs,
};
use zkcredit_circuits::field::fr_to_dec;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::files::write_atomic;
use zkcredit_prover::witness_file::WitnessFile;
use zkcredit_testkit::scenario::{eligible_applicant, Layout};
use zkcredit_verifier::snarkjs::{public_to_json, ProofJson};

/// `zkcredit gen-witness`.
#[derive(Args)]
pub struct GenWitnessArgs {
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
    /// Also write the full assignment as an iden3 `.wtns` file (wire order of
    /// `zkcredit export-r1cs`), for `snarkjs wtns check` and `snarkjs groth16 prove`.
    #[arg(long)]
    wtns: Option<PathBuf>,
}

/// `zkcredit prove`.
#[derive(Args)]
pub struct ProveArgs {
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
    /// Where verifying keys live (default: `ZKCREDIT_PARAMS`, else `./params`, else next to
    /// the installed binary).
    #[arg(long, env = "ZKCREDIT_PARAMS")]
    params: Option<PathBuf>,
    /// Where proving keys are cached (default: `<params>/cache`).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// The proof system (SPEC §11).
    #[arg(long, value_enum, default_value = "groth16")]
    system: super::halo2::ProofSystem,
    /// halo2: the phase-1 powers-of-tau file; without it, the INSECURE development one.
    #[arg(long)]
    ptau: Option<PathBuf>,
}

impl ProveArgs {
    /// The prover of `id` from the resolved params and cache directories.
    fn prover(&self, id: &CircuitId) -> Result<zkcredit_prover::fast::Prover, CliError> {
        let params = super::resolve_params(self.params.clone(), &id.name())?;
        let cache = self.cache.clone().unwrap_or_else(|| params.join("cache"));
        load_prover(id, &params, &cache)
    }
}

/// Runs `zkcredit gen-witness`.
pub fn gen_witness(a: GenWitnessArgs) -> Result<(), CliError> {
    let params = EligibilityParams {
        slots: a.slots,
        depth: a.depth,
    };
    params
        .validate()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let now = unix_now();
    let mut rng = StdRng::seed_from_u64(a.seed);
    let t = Instant::now();
    let (world, _b, mut w) = eligible_applicant(
        params,
        Layout::for_slots(a.slots),
        &mut rng,
        a.borrowers,
        now,
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    w.context = offchain_context([7u8; 32], [a.seed as u8; 32], now + 600);
    if let Some(path) = &a.wtns {
        let public = w
            .check(&params)
            .map_err(zkcredit_prover::ProverError::from)?;
        let circuit = EligibilityCircuit::with_public(params, w.clone(), public);
        let z = zkcredit_prover::fast::assignment(circuit)?;
        write_atomic(path, &zkcredit_prover::circom::r1cs::wtns_bytes(&z))?;
        println!("wrote {} ({} wires)", path.display(), z.len());
    }
    let file = WitnessFile {
        circuit: params.id(),
        witness: w,
    };
    write_atomic(&a.out, file.to_json().as_bytes())?;
    println!(
        "generated {} providers × {} borrowers in {}; registry root {}\nwrote {}",
        world.providers.len(),
        a.borrowers + 1,
        secs(t),
        fr_to_dec(&world.registry.root()),
        a.out.display()
    );
    Ok(())
}

/// Runs `zkcredit prove`.
pub fn prove(a: ProveArgs) -> Result<(), CliError> {
    if a.system == super::halo2::ProofSystem::Halo2 {
        let Some(witness) = &a.witness else {
            return Err(CliError::Usage(
                "--system halo2 proves one --witness FILE (no --batch yet)".into(),
            ));
        };
        let cache = match &a.cache {
            Some(c) => c.clone(),
            None => a
                .params
                .clone()
                .unwrap_or_else(|| PathBuf::from("params"))
                .join("cache"),
        };
        return super::halo2::prove(witness, a.ptau.as_deref(), &cache, &a.out);
    }
    match (&a.witness, &a.batch) {
        (Some(witness), None) => {
            let (id, p, w) = WitnessFile::read(witness)?;
            let pk = a.prover(&id)?;
            let t = Instant::now();
            let (proof, public) = zkcredit_prover::prove_eligibility(&pk, p, w)?;
            let took = secs(t);
            write_proof_files(&a.out, "", &proof, &public)?;
            println!(
                "proved {} in {took}; wrote {}/proof.json and public.json",
                id.name(),
                a.out.display()
            );
            Ok(())
        }
        (None, Some(dir)) => {
            let cores = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
            prove_dir(dir, &a, a.jobs.unwrap_or(cores))
        }
        _ => Err(CliError::Usage(
            "give exactly one of --witness FILE or --batch DIR".into(),
        )),
    }
}

fn write_proof_files(
    out: &Path,
    prefix: &str,
    proof: &ark_groth16::Proof<ark_bn254::Bn254>,
    public: &PublicInputs,
) -> Result<(), CliError> {
    write_atomic(
        &out.join(format!("{prefix}proof.json")),
        pretty(&ProofJson::from_proof(proof)).as_bytes(),
    )?;
    write_atomic(
        &out.join(format!("{prefix}public.json")),
        pretty(&public_to_json(&public.to_vec())).as_bytes(),
    )?;
    Ok(())
}

/// Pretty JSON (these types always serialise).
fn pretty<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Bulk proving: every witness in `dir`, `jobs` at a time.
fn prove_dir(dir: &Path, a: &ProveArgs, jobs: usize) -> Result<(), CliError> {
    if jobs == 0 {
        return Err(CliError::Usage("--jobs must be at least 1".into()));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| CliError::input(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(CliError::input(dir, "no *.json witness files"));
    }
    let mut items = Vec::with_capacity(files.len());
    let mut circuit = None;
    for f in files {
        let (id, p, w) = WitnessFile::read(&f)?;
        if circuit.get_or_insert((id, p)).0 != id {
            return Err(CliError::Usage(
                "all witnesses of a batch must be for the same circuit".into(),
            ));
        }
        items.push((f, w));
    }
    let Some((id, params)) = circuit else {
        return Err(CliError::input(dir, "no witness files"));
    };
    let pk = a.prover(&id)?;
    std::fs::create_dir_all(&a.out).map_err(|e| CliError::input(&a.out, e))?;
    zkcredit_prover::resources::reset_peak_rss();
    let t = Instant::now();
    let results = zkcredit_prover::batch::prove_batch(&pk, params, items, jobs)?;
    let elapsed = t.elapsed().as_secs_f64();
    let mut failed = Vec::new();
    for (f, r) in results.iter() {
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or("witness");
        let written = match r {
            Ok((proof, public)) => write_proof_files(&a.out, &format!("{stem}."), proof, public),
            Err(e) => Err(CliError::Usage(e.to_string())),
        };
        if let Err(e) = written {
            failed.push(format!("{}: {e}", f.display()));
        }
    }
    let ok = results.len() - failed.len();
    println!(
        "proved {ok}/{} witnesses of {} in {elapsed:.2} s: {:.2} proofs/s with {jobs} in flight; peak RSS {}",
        results.len(),
        id.name(),
        ok as f64 / elapsed,
        zkcredit_prover::resources::peak_rss_text()
    );
    for f in &failed {
        eprintln!("  failed: {f}");
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::CheckFailed(format!(
            "{} of {} witnesses failed",
            failed.len(),
            results.len()
        )))
    }
}
