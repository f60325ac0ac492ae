//! Groth16 prove and verify per circuit and size: `prove/<circuit>`, `verify/<circuit>`.

use ark_std::rand::{rngs::StdRng, SeedableRng};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use zkcredit_circuits::eligibility::{EligibilityCircuit, EligibilityParams};
use zkcredit_prover::circuits::CircuitId;
use zkcredit_testkit::scenario::{eligible_applicant, Layout};
use zkcredit_verifier::Verifier;

fn bench_eligibility(c: &mut Criterion) {
    let mut prove = c.benchmark_group("prove/eligibility");
    prove.sample_size(10);
    let mut cases = Vec::new();
    for slots in [4usize, 8, 16] {
        let params = EligibilityParams { slots, depth: 32 };
        let layout = Layout::for_slots(slots);
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

fn bench_fraud_only(c: &mut Criterion) {
    use ark_ff::UniformRand;
    use zkcredit_circuits::imt::IndexedMerkleTree;
    use zkcredit_circuits::statements::{subject_commitment, FraudOnlyCircuit, Subject};
    use zkcredit_circuits::Fr;
    let mut prove = c.benchmark_group("prove/fraud_only");
    prove.sample_size(20);
    let mut cases = Vec::new();
    for depth in [20usize, 32] {
        let rows: Vec<(Fr, [Fr; 3])> = (1..=1000u64)
            .map(|k| (Fr::from(k * 1_000_003), [Fr::from(1u64); 3]))
            .collect();
        let tree = IndexedMerkleTree::from_rows(depth, &rows).unwrap();
        let mut rng = StdRng::seed_from_u64(depth as u64);
        let s = Subject {
            key: Fr::from(5_000_001u64),
            blinding: Fr::rand(&mut rng),
        };
        let (_, w) = tree.witness(&s.key).unwrap();
        let public = [tree.root(), subject_commitment(&s.key, &s.blinding)];
        let prover = CircuitId::FraudOnly { depth }
            .insecure_dev_prover()
            .unwrap();
        let circuit = FraudOnlyCircuit {
            depth,
            public: Some(public),
            witness: Some((s, w)),
        };
        prove.bench_with_input(
            BenchmarkId::from_parameter(format!("d{depth}")),
            &(),
            |b, _| {
                b.iter(|| {
                    prover
                        .prove(circuit.clone(), &mut rand::rngs::OsRng)
                        .unwrap()
                })
            },
        );
        let proof = prover.prove(circuit, &mut rand::rngs::OsRng).unwrap();
        cases.push((depth, Verifier::new(&prover.pk().vk), proof, public));
    }
    prove.finish();
    let mut verify = c.benchmark_group("verify/fraud_only");
    for (depth, v, proof, public) in &cases {
        verify.bench_with_input(
            BenchmarkId::from_parameter(format!("d{depth}")),
            &(),
            |b, _| b.iter(|| v.verify_raw(proof, public).unwrap()),
        );
    }
    verify.finish();
}

criterion_group!(benches, bench_fraud_only, bench_eligibility);
criterion_main!(benches);
