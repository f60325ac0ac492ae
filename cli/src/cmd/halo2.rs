//! `--system halo2` of `zkcredit setup`, `prove` and `verify` (SPEC §11): the eligibility
//! statement proved with halo2 (KZG over BN254) instead of Groth16.

use super::{read_text, secs, CliError};
use std::path::{Path, PathBuf};
use std::time::Instant;
use zkcredit_circuits::eligibility::{EligibilityParams, NUM_PUBLIC_INPUTS, PUBLIC_INPUT_NAMES};
use zkcredit_circuits::field::fr_to_dec;
use zkcredit_halo2::evm::{verifier_solidity, VERIFIER_CONTRACT};
use zkcredit_halo2::keys::VkFile;
use zkcredit_halo2::system::{
    is_dev, verify_eligibility, Halo2Proof, Halo2Prover, KeySource, Powers,
};
use zkcredit_halo2::Halo2Error;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::files::write_atomic;
use zkcredit_verifier::snarkjs::{parse_public, public_to_json};

/// Which proof system a command uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProofSystem {
    /// Groth16 (a circuit-specific ceremony; 128-byte proofs).
    Groth16,
    /// halo2 with KZG (a universal powers of tau; ≈ 3.3 KB proofs).
    Halo2,
}

impl From<Halo2Error> for CliError {
    fn from(e: Halo2Error) -> Self {
        match e {
            Halo2Error::InvalidProof => CliError::InvalidHalo2(e),
            Halo2Error::Statement(rule) => CliError::Refused(format!(
                "the witness breaks rule {rule:?}: it cannot be proved"
            )),
            other => CliError::Runtime(format!("halo2: {other}")),
        }
    }
}

/// The eligibility shape named by `circuit` (halo2 proves only the eligibility statement).
pub fn eligibility_shape(circuit: &str) -> Result<EligibilityParams, CliError> {
    match CircuitId::parse(circuit)? {
        CircuitId::Eligibility(p) => Ok(p),
        other => Err(CliError::Usage(format!(
            "--system halo2 proves the eligibility statement, not {}",
            other.name()
        ))),
    }
}

/// The verifying-key file of `circuit` in `params`.
pub fn vk_path(params: &Path, circuit: &str) -> PathBuf {
    params.join(format!("{circuit}.halo2.vk.json"))
}

/// The generated Solidity verifier of `circuit`'s halo2 key in `params` (SPEC §11.5).
pub fn verifier_path(params: &Path, circuit: &str) -> PathBuf {
    params.join(format!("{circuit}.halo2.verifier.sol"))
}

/// Loads the prover; `ptau = None` is the insecure development powers of tau (warned).
pub fn load_prover(
    circuit: EligibilityParams,
    ptau: Option<&Path>,
    cache: &Path,
) -> Result<Halo2Prover, CliError> {
    let powers = match ptau {
        Some(p) => Powers::File(p.to_path_buf()),
        None => {
            eprintln!(
                "warning: INSECURE development powers of tau (published seed; pass --ptau FILE for real keys)"
            );
            Powers::InsecureDev
        }
    };
    let (prover, source) = Halo2Prover::load(circuit, &powers, &cache.join("halo2"))?;
    if let KeySource::Generated(path, s) = source {
        eprintln!(
            "generated the halo2 proving key for {} (2^{} rows) in {s:.1} s (cached in {})",
            circuit.id(),
            prover.k(),
            path.display()
        );
    }
    Ok(prover)
}

/// `zkcredit setup --system halo2`: keys from the powers of tau; writes the verifying-key
/// file and its generated EVM verifier (`--check`: compares both with those in `params`).
/// For a development key the verifier is written (or checked) only with
/// `insecure_dev_keys`: anyone can forge proofs for it.
pub fn setup(
    circuit: &str,
    ptau: Option<&Path>,
    params: &Path,
    cache: &Path,
    check: bool,
    insecure_dev_keys: bool,
) -> Result<(), CliError> {
    let shape = eligibility_shape(circuit)?;
    let t = Instant::now();
    let prover = load_prover(shape, ptau, cache)?;
    let path = vk_path(params, circuit);
    let text = prover.vk.to_json();
    let sol_path = verifier_path(params, circuit);
    let with_verifier = insecure_dev_keys || !is_dev(&prover.vk);
    let sol = verifier_solidity(&prover.vk, NUM_PUBLIC_INPUTS)?;
    let mut files = vec![(path.clone(), text)];
    if with_verifier {
        files.push((sol_path.clone(), sol));
    }
    if check {
        for (file, want) in &files {
            if &read_text(file)? != want {
                return Err(CliError::CheckFailed(format!(
                    "{}: differs from what these powers of tau give (key digest {})",
                    file.display(),
                    prover.vk.digest()
                )));
            }
        }
        let names: Vec<_> = files.iter().map(|(f, _)| f.display().to_string()).collect();
        println!(
            "{circuit}: {} what these powers of tau give",
            names.join(" and ")
        );
        return Ok(());
    }
    for (file, text) in &files {
        write_atomic(file, text.as_bytes())?;
    }
    println!(
        "halo2 keys for {circuit} (2^{} rows) in {}\n  verifying key: {} (sha256 {})",
        prover.k(),
        secs(t),
        path.display(),
        prover.vk.digest(),
    );
    if with_verifier {
        println!(
            "  EVM verifier: {} (compile: node contracts/compile.js --file FILE --contract {VERIFIER_CONTRACT} --no-yul-optimizer)",
            sol_path.display()
        );
    } else {
        println!(
            "  no EVM verifier written for a development key (anyone can forge proofs for it); --insecure-dev-keys writes one for tests"
        );
    }
    Ok(())
}

/// `zkcredit prove --system halo2`: writes `proof.json` and `public.json`.
pub fn prove(
    witness: &Path,
    ptau: Option<&Path>,
    cache: &Path,
    out: &Path,
) -> Result<(), CliError> {
    let (id, p, w) = zkcredit_prover::witness_file::WitnessFile::read(witness)?;
    let prover = load_prover(p, ptau, cache)?;
    let t = Instant::now();
    let (proof, public) = prover.prove(w)?;
    let took = secs(t);
    let json = serde_json::to_string_pretty(&proof).unwrap_or_default();
    write_atomic(&out.join("proof.json"), json.as_bytes())?;
    let pj = serde_json::to_string_pretty(&public_to_json(&public.to_vec())).unwrap_or_default();
    write_atomic(&out.join("public.json"), pj.as_bytes())?;
    println!(
        "proved {} with halo2 in {took} ({} bytes); wrote {}/proof.json and public.json",
        id.name(),
        proof.proof.len() / 2,
        out.display()
    );
    Ok(())
}

/// `zkcredit verify --system halo2`: exit 0 valid, 1 invalid, 2 bad input.
pub fn verify(
    proof: &Path,
    public: &Path,
    vk: &Path,
    insecure_dev_keys: bool,
) -> Result<(), CliError> {
    let file = VkFile::read(vk).map_err(|e| CliError::Input {
        path: vk.display().to_string(),
        message: e.to_string(),
    })?;
    if is_dev(&file) {
        if !insecure_dev_keys {
            return Err(CliError::Usage(format!(
                "{} is made from the INSECURE development powers of tau (anyone can forge proofs it accepts): pass --insecure-dev-keys to accept it anyway",
                vk.display()
            )));
        }
        eprintln!("warning: INSECURE development verifying key (--insecure-dev-keys): anyone can forge proofs it accepts");
    }
    eprintln!(
        "halo2 verifying key {} (sha256 {})",
        file.circuit,
        file.digest()
    );
    let p: Halo2Proof = serde_json::from_str(&read_text(proof)?).map_err(|e| CliError::Input {
        path: proof.display().to_string(),
        message: e.to_string(),
    })?;
    let inputs = parse_public(&read_text(public)?)?;
    let t = Instant::now();
    match verify_eligibility(&file, &p, &inputs) {
        Ok(()) => {}
        Err(e @ Halo2Error::InvalidProof) => return Err(CliError::InvalidHalo2(e)),
        Err(e) => {
            return Err(CliError::Input {
                path: proof.display().to_string(),
                message: e.to_string(),
            })
        }
    }
    println!(
        "proof is VALID ({:.2} ms, halo2)",
        t.elapsed().as_secs_f64() * 1e3
    );
    if inputs.len() == PUBLIC_INPUT_NAMES.len() {
        for (n, v) in PUBLIC_INPUT_NAMES.iter().zip(&inputs) {
            println!("  {n:>13} = {}", fr_to_dec(v));
        }
    }
    Ok(())
}
