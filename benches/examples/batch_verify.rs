//! Batch verification alone: `Verifier::verify_batch` on 256 distinct valid proofs of one
//! statement (re-randomised from one proof, as `zkcredit bench` makes them), timed REPS
//! times; prints each rep's proofs per second and the median. `zkcredit bench` measures the
//! same batch only twice per circuit, inside a run that also proves; this isolates it, so
//! that two builds can be alternated run by run.
//!
//! `cargo run --release -p zkcredit-benches --example batch_verify -- [fraud20|fraud32] [REPS]`
use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, Proof};
use std::time::Instant;
use zkcredit_benches::{fraud_only_instance, median};
use zkcredit_prover::fast::assignment;
use zkcredit_verifier::Verifier;

fn main() {
    let depth = match std::env::args().nth(1).as_deref() {
        Some("fraud20") => 20,
        _ => 32,
    };
    let reps: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
        .max(1);
    let (id, circuit) = fraud_only_instance(depth);
    let prover = id.insecure_dev_prover().expect("setup");
    let full = assignment(circuit.clone()).expect("assignment");
    let proof = prover
        .prove(circuit, &mut rand::rngs::OsRng)
        .expect("prove");
    let verifier = Verifier::new(&prover.pk().vk);
    let public: Vec<Fr> = full[1..=verifier.num_public_inputs()].to_vec();
    verifier.verify_raw(&proof, &public).expect("verifies");
    let pvk = ark_groth16::prepare_verifying_key(&prover.pk().vk);
    let items: Vec<(Proof<Bn254>, Vec<Fr>)> = (0..256)
        .map(|_| {
            let p = Groth16::<Bn254>::rerandomize_proof(&pvk.vk, &proof, &mut rand::rngs::OsRng);
            (p, public.clone())
        })
        .collect();
    let mut rates = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        verifier.verify_batch(&items).expect("a valid batch");
        rates.push(256.0 / t.elapsed().as_secs_f64());
    }
    let shown: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
    println!(
        "{}: batch of 256, {reps} reps, {} threads: {} proofs/s; median {:.0}",
        id.name(),
        rayon::current_num_threads(),
        shown.join(" "),
        median(&mut rates)
    );
}
