//! Pinned constraint counts (spec §6.8). Asserted by the tests, read by the benchmarks and
//! the README. A change here is a deliberate cost change.

/// One in-circuit Poseidon hash, by arity (index = arity).
pub const POSEIDON: [usize; 8] = [0, 213, 240, 261, 297, 321, 354, 381];
/// One enabled IMT lookup at depth 32 (value commitment and its conditional opening, leaf
/// hash, path, both ordering checks, outputs).
pub const IMT_LOOKUP_D32: usize = 5_995;
/// Fraud-only statement at depth 32 (one lookup plus the subject commitment).
pub const FRAUD_ONLY_D32: usize = 6_505;
/// Fraud-only statement at depth 20 (the ceremony test's circuit, docs/CEREMONY.md).
pub const FRAUD_ONLY_D20: usize = 4_657;
/// The eligibility circuit at the default 16 slots × depth 32.
pub const ELIGIBILITY_S16_D32: usize = 118_242;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eligibility::{EligibilityCircuit, EligibilityParams};
    use crate::imt::constraints::{lookup, LookupWitnessVar};
    use crate::statements::FraudOnlyCircuit;
    use crate::Fr;
    use ark_r1cs_std::{alloc::AllocVar, fields::fp::FpVar, prelude::Boolean};
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, SynthesisMode};

    fn count<C: ConstraintSynthesizer<Fr>>(c: C) -> usize {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_mode(SynthesisMode::Setup);
        c.generate_constraints(cs.clone()).unwrap();
        cs.num_constraints()
    }

    #[test]
    fn pinned_constraint_counts() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_mode(SynthesisMode::Setup);
        let root = FpVar::new_input(cs.clone(), || Ok(Fr::from(0u64))).unwrap();
        let x = FpVar::new_witness(cs.clone(), || Ok(Fr::from(0u64))).unwrap();
        let w = LookupWitnessVar::alloc(cs.clone(), None, 32).unwrap();
        lookup(&Boolean::TRUE, &root, &x, &w).unwrap();
        let lookup_cost = cs.num_constraints();
        let fraud = count(FraudOnlyCircuit {
            depth: 32,
            public: None,
            witness: None,
        });
        let fraud_d20 = count(FraudOnlyCircuit {
            depth: 20,
            public: None,
            witness: None,
        });
        assert_eq!(fraud_d20, FRAUD_ONLY_D20, "fraud-only at depth 20");
        let elig = count(EligibilityCircuit::for_setup(EligibilityParams::default()));
        println!("imt lookup d32 = {lookup_cost}, fraud-only d32 = {fraud}, eligibility s16 d32 = {elig}");
        assert_eq!(lookup_cost, IMT_LOOKUP_D32, "IMT lookup at depth 32");
        assert_eq!(fraud, FRAUD_ONLY_D32, "fraud-only at depth 32");
        assert_eq!(
            elig, ELIGIBILITY_S16_D32,
            "eligibility at 16 slots × depth 32"
        );
    }
}
