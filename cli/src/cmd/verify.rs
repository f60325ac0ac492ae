//! `zkcredit verify`: a proof and its public signals against a verifying key (snarkjs layouts).

use super::{read_text, CliError};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;
use zkcredit_circuits::eligibility::PUBLIC_INPUT_NAMES;
use zkcredit_circuits::field::fr_to_dec;
use zkcredit_verifier::snarkjs::{parse_proof, parse_public, parse_vk};
use zkcredit_verifier::{Verifier, VerifyError};

/// `zkcredit verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// proof.json
    #[arg(long)]
    proof: PathBuf,
    /// public.json
    #[arg(long)]
    public: PathBuf,
    /// verification_key.json
    #[arg(long)]
    vk: PathBuf,
    /// The circuit the key is for (recognises its development key; the default circuit's
    /// development key is always recognised).
    #[arg(long, default_value = "eligibility_s16_d32")]
    circuit: String,
    /// Accept an INSECURE development verifying key (anyone can forge proofs for it).
    #[arg(long)]
    insecure_dev_keys: bool,
    /// The proof system (`halo2`: `--vk` is a `<circuit>.halo2.vk.json`; SPEC §11).
    #[arg(long, value_enum, default_value = "groth16")]
    system: super::halo2::ProofSystem,
}

/// Runs `zkcredit verify`: exit 0 valid, 1 invalid, 2 bad input.
pub fn verify(a: VerifyArgs) -> Result<(), CliError> {
    if a.system == super::halo2::ProofSystem::Halo2 {
        return super::halo2::verify(&a.proof, &a.public, &a.vk, a.insecure_dev_keys);
    }
    let vk = parse_vk(&read_text(&a.vk)?)?;
    if super::check_vk(&a.circuit, &vk, a.insecure_dev_keys, "verify")? {
        eprintln!("warning: INSECURE development verifying key (--insecure-dev-keys): anyone can forge proofs it accepts");
    }
    let proof = parse_proof(&read_text(&a.proof)?)?;
    let public = parse_public(&read_text(&a.public)?)?;
    let t = Instant::now();
    Verifier::new(&vk)
        .verify_raw(&proof, &public)
        .map_err(|e| match e {
            VerifyError::InvalidProof => CliError::Invalid(e),
            other => CliError::Verify(other),
        })?;
    println!("proof is VALID ({:.2} ms)", t.elapsed().as_secs_f64() * 1e3);
    if public.len() == PUBLIC_INPUT_NAMES.len() {
        for (n, v) in PUBLIC_INPUT_NAMES.iter().zip(&public) {
            println!("  {n:>13} = {}", fr_to_dec(v));
        }
    }
    Ok(())
}
