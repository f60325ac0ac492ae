//! Stock arkworks prover vs the cached-matrices `Prover` on the eligibility circuit
//! (16 slots × depth 32): `cargo run --release -p zkcredit-benches --example profile_prove`.
use ark_std::rand::{rngs::StdRng, SeedableRng};
use std::time::Instant;
use zkcredit_circuits::eligibility::{EligibilityCircuit, EligibilityParams};
use zkcredit_prover::fast::Prover;
use zkcredit_testkit::scenario::{eligible_applicant, Layout};

fn main() {
    let params = EligibilityParams::default();
    let mut rng = StdRng::seed_from_u64(1);
    let (_, _, w) =
        eligible_applicant(params, Layout::default(), &mut rng, 100, 1_790_000_000).unwrap();
    let public = w.check(&params).unwrap();
    let pk = zkcredit_prover::circuits::CircuitId::Eligibility(params)
        .insecure_dev_setup()
        .unwrap();
    let v = zkcredit_verifier::Verifier::new(&pk.vk);
    let t = Instant::now();
    let fast = Prover::new(pk.clone(), EligibilityCircuit::for_setup(params)).unwrap();
    println!("matrices derived once in {:?}", t.elapsed());
    let (mut stock, mut cached) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let t = Instant::now();
        let p = zkcredit_prover::prove_circuit(
            &pk,
            EligibilityCircuit::with_public(params, w.clone(), public),
            &mut rand::rngs::OsRng,
        )
        .unwrap();
        stock.push(t.elapsed().as_secs_f64());
        v.verify(&p, &public).unwrap();
        let t = Instant::now();
        let p = fast
            .prove(
                EligibilityCircuit::with_public(params, w.clone(), public),
                &mut rand::rngs::OsRng,
            )
            .unwrap();
        cached.push(t.elapsed().as_secs_f64());
        v.verify(&p, &public).unwrap();
    }
    stock.sort_by(f64::total_cmp);
    cached.sort_by(f64::total_cmp);
    println!(
        "stock arkworks prover: median {:.3} s, min {:.3} s",
        stock[2], stock[0]
    );
    println!(
        "cached-matrices prover: median {:.3} s, min {:.3} s",
        cached[2], cached[0]
    );
}
