//! Groth16 prove and verify per circuit and size: `prove/<circuit>`, `verify/<circuit>`.

use ark_std::rand::{rngs::StdRng, SeedableRng};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use zkcredit_circuits::eligibility::{EligibilityCircuit, EligibilityParams};
use zkcredit_circuits::scenario::{eligible_applicant, Layout};
use zkcredit_prover::circuits::CircuitId;
use zkcredit_verifier::Verifier;

fn bench_eligibility(c: &mut Criterion) {
    let mut prove = c.benchmark_group("prove/eligibility");
    prove.sample_size(10);
    let mut cases = Vec::new();
    for slots in [4usize, 8, 16] {
        let params = EligibilityParams { slots, depth: 32 };
        let layout = if slots >= 8 {
            Layout::default()
        } else {
            Layout {
                fraud_lists: 1,
                lenders: 1,
                bureaus: 1,
            }
        };
        let mut rng = StdRng::seed_from_u64(slots as u64);
        let (_, _, w) = eligible_applicant(params, layout, &mut rng, 200, 1_790_000_000).unwrap();
        let public = w.check(&params).unwrap();
        let prover = CircuitId::Eligibility(params)
            .insecure_dev_prover()
            .unwrap();
        prove.bench_with_input(
            BenchmarkId::from_parameter(format!("s{slots}_d32")),
            &(),
            |b, _| {
                b.iter(|| {
                    let circuit = EligibilityCircuit::with_public(params, w.clone(), public);
                    prover.prove(circuit, &mut rand::rngs::OsRng).unwrap()
                })
            },
        );
        let proof = prover
            .prove(
                EligibilityCircuit::with_public(params, w, public),
                &mut rand::rngs::OsRng,
            )
            .unwrap();
        cases.push((slots, Verifier::new(&prover.pk().vk), proof, public));
    }
    prove.finish();
    let mut verify = c.benchmark_group("verify/eligibility");
    for (slots, v, proof, public) in &cases {
        verify.bench_with_input(
            BenchmarkId::from_parameter(format!("s{slots}_d32")),
            &(),
            |b, _| b.iter(|| v.verify(proof, public).unwrap()),
        );
    }
    verify.finish();
}

criterion_group!(benches, bench_eligibility);
criterion_main!(benches);
