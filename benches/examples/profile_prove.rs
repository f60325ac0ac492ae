//! Splits one eligibility proof (16 slots × depth 32) into synthesis and the rest.
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode,
};
use ark_std::rand::{rngs::StdRng, SeedableRng};
use std::time::Instant;
use zkcredit_circuits::eligibility::{EligibilityCircuit, EligibilityParams};
use zkcredit_circuits::scenario::{eligible_applicant, Layout};

fn main() {
    let params = EligibilityParams::default();
    let mut rng = StdRng::seed_from_u64(1);
    let (_, _, w) =
        eligible_applicant(params, Layout::default(), &mut rng, 100, 1_790_000_000).unwrap();
    let public = w.check(&params).unwrap();
    for _ in 0..3 {
        let t = Instant::now();
        let cs = ConstraintSystem::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Prove {
            construct_matrices: false,
            generate_lc_assignments: true,
        });
        EligibilityCircuit::with_public(params, w.clone(), public)
            .generate_constraints(cs.clone())
            .unwrap();
        let synth = t.elapsed();
        cs.finalize();
        println!(
            "synthesis {:?}, finalize {:?}, witness vars {}",
            synth,
            t.elapsed() - synth,
            cs.num_witness_variables()
        );
    }
    let pk = zkcredit_prover::circuits::CircuitId::Eligibility(params)
        .insecure_dev_setup()
        .unwrap();
    for _ in 0..3 {
        let t = Instant::now();
        zkcredit_prover::prove_circuit(
            &pk,
            EligibilityCircuit::with_public(params, w.clone(), public),
            &mut rand::rngs::OsRng,
        )
        .unwrap();
        println!("full prove {:?}", t.elapsed());
    }
}
