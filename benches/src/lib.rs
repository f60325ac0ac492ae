//! Criterion benchmarks live in `benches/benches/`: `cargo bench -p zkcredit-benches`.
//! Groups: `poseidon/<arity>`, `imt/insert`, `imt/witness`, `prove/<circuit>`,
//! `verify/<circuit>`. The one-table figures come from `zkcredit bench`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use ark_bn254::Fr;
use ark_ff::UniformRand;
use ark_std::rand::{rngs::StdRng, SeedableRng};
use zkcredit_circuits::eligibility::{EligibilityCircuit, EligibilityParams};
use zkcredit_circuits::imt::IndexedMerkleTree;
use zkcredit_circuits::statements::{subject_commitment, FraudOnlyCircuit, Subject};
use zkcredit_prover::circuits::CircuitId;
use zkcredit_testkit::scenario::{eligible_applicant, Layout};

/// The fraud-only statement of the prover examples: a non-member of a 1,000-row list in a
/// tree of `depth`, with its circuit id.
pub fn fraud_only_instance(depth: usize) -> (CircuitId, FraudOnlyCircuit) {
    let rows: Vec<(Fr, [Fr; 3])> = (1..=1000u64)
        .map(|k| (Fr::from(k * 1_000_003), [Fr::from(1u64); 3]))
        .collect();
    let tree = IndexedMerkleTree::from_rows(depth, &rows).expect("tree");
    let mut rng = StdRng::seed_from_u64(depth as u64);
    let s = Subject {
        key: Fr::from(5_000_001u64),
        blinding: Fr::rand(&mut rng),
    };
    let (_, w) = tree.witness(&s.key).expect("witness");
    let public = [tree.root(), subject_commitment(&s.key, &s.blinding)];
    let c = FraudOnlyCircuit {
        depth,
        public: Some(public),
        witness: Some((s, w)),
    };
    (CircuitId::FraudOnly { depth }, c)
}

/// The eligibility statement of the prover examples: an eligible applicant under the
/// default parameters (16 slots × depth 32), with its circuit id.
pub fn eligibility_instance() -> (CircuitId, EligibilityCircuit) {
    eligibility_instance_slots(EligibilityParams::default().slots)
}

/// [`eligibility_instance`] with `slots` registry slots (depth 32; the layout of
/// [`Layout::for_slots`]).
pub fn eligibility_instance_slots(slots: usize) -> (CircuitId, EligibilityCircuit) {
    let params = EligibilityParams {
        slots,
        ..EligibilityParams::default()
    };
    let mut rng = StdRng::seed_from_u64(1);
    let (_, _, w) = eligible_applicant(
        params,
        Layout::for_slots(slots),
        &mut rng,
        100,
        1_790_000_000,
    )
    .expect("applicant");
    let public = w.check(&params).expect("eligible");
    (
        CircuitId::Eligibility(params),
        EligibilityCircuit::with_public(params, w, public),
    )
}
