//! Batch verification with real proofs: valid batches pass; any invalid proof (tampered input,
//! wrong proof, wrong input count) is identified and never lets the batch pass.

use ark_ff::{One, UniformRand};
use ark_std::rand::{rngs::StdRng, SeedableRng};
use zkcredit_circuits::imt::IndexedMerkleTree;
use zkcredit_circuits::statements::{subject_commitment, FraudOnlyCircuit, Subject};
use zkcredit_circuits::Fr;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_verifier::Verifier;

type Item = (ark_groth16::Proof<ark_bn254::Bn254>, Vec<Fr>);

fn proofs(n: usize) -> (Verifier, Vec<Item>) {
    let depth = 8;
    let pk = CircuitId::FraudOnly { depth }.insecure_dev_setup().unwrap();
    let rows: Vec<(Fr, [Fr; 3])> = (1..=50u64)
        .map(|k| (Fr::from(k * 1000), [Fr::one(); 3]))
        .collect();
    let tree = IndexedMerkleTree::from_rows(depth, &rows).unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let items = (0..n)
        .map(|i| {
            let s = Subject {
                key: Fr::from(1000 * i as u64 + 500),
                blinding: Fr::rand(&mut rng),
            };
            let (_, w) = tree.witness(&s.key).unwrap();
            let public = [tree.root(), subject_commitment(&s.key, &s.blinding)];
            let c = FraudOnlyCircuit {
                depth,
                public: Some(public),
                witness: Some((s, w)),
            };
            (
                zkcredit_prover::prove_circuit(&pk, c, &mut rand::rngs::OsRng).unwrap(),
                public.to_vec(),
            )
        })
        .collect();
    (Verifier::new(&pk.vk), items)
}

#[test]
fn valid_batches_pass() {
    let (v, items) = proofs(17);
    for n in [0, 1, 2, 17] {
        v.verify_batch(&items[..n]).unwrap();
    }
}

#[test]
fn every_invalid_proof_is_identified() {
    let (v, items) = proofs(16);
    // One tampered input.
    let mut bad = items.clone();
    bad[5].1[1] += Fr::one();
    let e = v.verify_batch(&bad).unwrap_err();
    assert_eq!(e.invalid, vec![5]);
    assert_eq!(e.total, 16);
    // Two proofs swapped between statements, plus a short input vector.
    let mut bad = items.clone();
    let p3 = bad[3].0.clone();
    bad[3].0 = bad[9].0.clone();
    bad[9].0 = p3;
    bad[12].1.pop();
    let e = v.verify_batch(&bad).unwrap_err();
    assert_eq!(e.invalid, vec![3, 9, 12]);
    // Two invalid proofs whose errors could cancel in a fixed (non-random) combination:
    // the same tampering with opposite signs on two proofs.
    let mut bad = items.clone();
    bad[0].1[0] += Fr::one();
    bad[1].1[0] -= Fr::one();
    assert_eq!(v.verify_batch(&bad).unwrap_err().invalid, vec![0, 1]);
}

/// The cached-matrices prover does not re-check constraints: an unsatisfying assignment must
/// still never yield a verifying proof (regression guard for skipping the satisfiability check).
#[test]
fn cached_matrices_prover_never_proves_a_false_statement() {
    let depth = 8;
    let prover = CircuitId::FraudOnly { depth }
        .insecure_dev_prover()
        .unwrap();
    let rows: Vec<(Fr, [Fr; 3])> = (1..=20u64)
        .map(|k| (Fr::from(k * 10), [Fr::one(); 3]))
        .collect();
    let tree = IndexedMerkleTree::from_rows(depth, &rows).unwrap();
    let s = Subject {
        key: Fr::from(50u64),
        blinding: Fr::from(1u64),
    }; // on the list
    let (present, w) = tree.witness(&s.key).unwrap();
    assert!(present);
    let public = [tree.root(), subject_commitment(&s.key, &s.blinding)];
    let c = FraudOnlyCircuit {
        depth,
        public: Some(public),
        witness: Some((s, w)),
    };
    let proof = prover.prove(c, &mut rand::rngs::OsRng).unwrap();
    assert!(Verifier::new(&prover.pk().vk)
        .verify_raw(&proof, &public)
        .is_err());
}
