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

/// What the per-MSM examples measure on: one development key of `id`, a full assignment,
/// and the witness map's `h` (arkworks' map, as the development keys need).
pub struct MsmCase {
    /// The development proving key.
    pub pk: ark_groth16::ProvingKey<ark_bn254::Bn254>,
    /// The full assignment (the constant one first).
    pub full: Vec<Fr>,
    /// Public inputs including the constant one: the private wires start there in `full`.
    pub num_inputs: usize,
    /// Constraints of the circuit.
    pub num_constraints: usize,
    /// The quotient's coefficients for `full`.
    pub h: Vec<Fr>,
}

impl MsmCase {
    /// The case of circuit `id` with assignment `full`.
    pub fn new(id: &CircuitId, full: Vec<Fr>) -> Self {
        use taceo_groth16::R1CSToQAP as _;
        let pk = id.insecure_dev_setup().expect("setup");
        let r = id.r1cs().expect("r1cs");
        let (num_inputs, num_constraints) = (r.num_inputs, r.num_constraints);
        let matrices = r.into_constraint_matrices().expect("matrices");
        let h = taceo_groth16::LibSnarkReduction::witness_map_from_matrices::<ark_bn254::Bn254>(
            &matrices, &full,
        )
        .expect("witness map");
        Self {
            pk,
            full,
            num_inputs,
            num_constraints,
            h,
        }
    }

    /// The wires after the constant one (A's and B's scalars) and the private wires (L's).
    pub fn wires(&self) -> (&[Fr], &[Fr]) {
        (&self.full[1..], &self.full[self.num_inputs..])
    }
}

/// Milliseconds since `t`.
pub fn ms(t: std::time::Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// The median of `v` (sorted in place); `v` must not be empty.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
