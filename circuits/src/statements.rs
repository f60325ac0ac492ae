//! Single-statement circuits (spec §6.7): fraud-only, loans-only and score-only, built from
//! the same gadgets as the eligibility circuit. Useful for tests, benchmarks and the peer
//! comparison with circom (the fraud-only circuit at depth d is "one indexed-tree lookup").
//!
//! The subject is hidden behind `subject_commitment = H(TAG_SUBJECT_COMMIT, key, blinding)`
//! so that several single statements about one subject can be linked by the verifier
//! without revealing the key.

use crate::cmp::constraints::{enforce_bits, enforce_lt, is_ge, is_le};
use crate::eligibility::Rule;
use crate::imt::constraints::{lookup, LookupWitnessVar};
use crate::imt::{check_key, LookupWitness};
use crate::poseidon::constraints::hash_var;
use crate::poseidon::hash_n;
use crate::tags::{KEY_BITS, TAG_SUBJECT_COMMIT, VALUE_BITS};
use crate::{CircuitError, Fr};
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::prelude::*;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use serde::{Deserialize, Serialize};

/// `H(TAG_SUBJECT_COMMIT, key, blinding)`.
pub fn subject_commitment(key: &Fr, blinding: &Fr) -> Fr {
    hash_n([Fr::from(TAG_SUBJECT_COMMIT), *key, *blinding])
}

/// The subject's private part shared by the single statements.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Subject key.
    #[serde(with = "crate::field::serde_fr")]
    pub key: Fr,
    /// Commitment blinding.
    #[serde(with = "crate::field::serde_fr")]
    pub blinding: Fr,
}

impl std::fmt::Debug for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subject { <redacted> }")
    }
}

/// Allocates the subject, range-checks the key and binds it to the public commitment.
fn subject_var(
    cs: &ConstraintSystemRef<Fr>,
    s: Option<&Subject>,
    commitment: &FpVar<Fr>,
) -> Result<FpVar<Fr>, SynthesisError> {
    let m = || SynthesisError::AssignmentMissing;
    let key = FpVar::new_witness(cs.clone(), || s.map(|s| s.key).ok_or_else(m))?;
    let blinding = FpVar::new_witness(cs.clone(), || s.map(|s| s.blinding).ok_or_else(m))?;
    enforce_bits(&key, KEY_BITS)?;
    key.enforce_not_equal(&FpVar::zero())?;
    hash_var(&[
        FpVar::constant(Fr::from(TAG_SUBJECT_COMMIT)),
        key.clone(),
        blinding,
    ])?
    .enforce_equal(commitment)?;
    Ok(key)
}

fn input(cs: &ConstraintSystemRef<Fr>, v: Option<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
    FpVar::new_input(cs.clone(), || v.ok_or(SynthesisError::AssignmentMissing))
}

fn check_depth(w: &LookupWitness, depth: usize) -> Result<(), CircuitError> {
    if w.siblings.len() != crate::imt::path_len(depth) {
        return Err(CircuitError::Shape(format!(
            "path of {} siblings, circuit depth is {depth}",
            w.siblings.len()
        )));
    }
    Ok(())
}

/// Fraud-only: the subject is absent from one fraud list.
/// Public inputs: `[list_root, subject_commitment]`.
#[derive(Clone, Debug)]
pub struct FraudOnlyCircuit {
    /// Tree depth.
    pub depth: usize,
    /// Public inputs.
    pub public: Option<[Fr; 2]>,
    /// Subject and non-membership witness.
    pub witness: Option<(Subject, LookupWitness)>,
}

impl FraudOnlyCircuit {
    /// Natively evaluates the statement; returns the public inputs if it holds.
    pub fn check(
        depth: usize,
        root: Fr,
        s: &Subject,
        w: &LookupWitness,
    ) -> Result<[Fr; 2], CircuitError> {
        check_depth(w, depth)?;
        check_key(&s.key)?;
        match w.verify(&root, &s.key) {
            Some((false, _)) => Ok([root, subject_commitment(&s.key, &s.blinding)]),
            Some((true, _)) => Err(Rule::FraudList.violated("subject is on the list")),
            None => Err(Rule::Lookup.violated("invalid lookup witness")),
        }
    }
}

impl ConstraintSynthesizer<Fr> for FraudOnlyCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let root = input(&cs, self.public.map(|p| p[0]))?;
        let commitment = input(&cs, self.public.map(|p| p[1]))?;
        let key = subject_var(&cs, self.witness.as_ref().map(|w| &w.0), &commitment)?;
        let lw =
            LookupWitnessVar::alloc(cs.clone(), self.witness.as_ref().map(|w| &w.1), self.depth)?;
        // §6.3: absent.
        let r = lookup(&Boolean::TRUE, &root, &key, &lw)?;
        r.present.enforce_equal(&Boolean::FALSE)
    }
}

/// Loans-only: Σ active loans over `roots.len()` lenders `< max_active_loans`.
/// Public inputs: `[subject_commitment, max_active_loans, root_1, …, root_L]`.
#[derive(Clone, Debug)]
pub struct LoansOnlyCircuit {
    /// Tree depth.
    pub depth: usize,
    /// Number of lenders.
    pub lenders: usize,
    /// Public inputs.
    pub public: Option<Vec<Fr>>,
    /// Subject and one lookup witness per lender.
    pub witness: Option<(Subject, Vec<LookupWitness>)>,
}

impl ConstraintSynthesizer<Fr> for LoansOnlyCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let pi = |i: usize| self.public.as_ref().and_then(|p| p.get(i).copied());
        let commitment = input(&cs, pi(0))?;
        let max = input(&cs, pi(1))?;
        enforce_bits(&max, VALUE_BITS)?;
        let key = subject_var(&cs, self.witness.as_ref().map(|w| &w.0), &commitment)?;
        let mut sum = FpVar::zero();
        for l in 0..self.lenders {
            let root = input(&cs, pi(2 + l))?;
            let lw_native = self.witness.as_ref().and_then(|w| w.1.get(l));
            let lw = LookupWitnessVar::alloc(cs.clone(), lw_native, self.depth)?;
            let r = lookup(&Boolean::TRUE, &root, &key, &lw)?;
            // §6.4: every summed field is a u64.
            enforce_bits(&r.values[0], VALUE_BITS)?;
            sum += &r.values[0];
        }
        enforce_lt(&sum, &max, crate::eligibility::SUM_BITS)
    }
}

/// Score-only: present at one bureau with `score >= min_score` and
/// `issued_at + max_score_age >= now`.
/// Public inputs: `[bureau_root, subject_commitment, min_score, now, max_score_age]`.
#[derive(Clone, Debug)]
pub struct ScoreOnlyCircuit {
    /// Tree depth.
    pub depth: usize,
    /// Public inputs.
    pub public: Option<[Fr; 5]>,
    /// Subject and membership witness.
    pub witness: Option<(Subject, LookupWitness)>,
}

impl ConstraintSynthesizer<Fr> for ScoreOnlyCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let pi = |i: usize| self.public.map(|p| p[i]);
        let root = input(&cs, pi(0))?;
        let commitment = input(&cs, pi(1))?;
        let min_score = input(&cs, pi(2))?;
        let now = input(&cs, pi(3))?;
        let max_age = input(&cs, pi(4))?;
        for v in [&min_score, &now, &max_age] {
            enforce_bits(v, VALUE_BITS)?;
        }
        let key = subject_var(&cs, self.witness.as_ref().map(|w| &w.0), &commitment)?;
        let lw =
            LookupWitnessVar::alloc(cs.clone(), self.witness.as_ref().map(|w| &w.1), self.depth)?;
        let r = lookup(&Boolean::TRUE, &root, &key, &lw)?;
        // §6.5 for one bureau, as hard constraints.
        r.present.enforce_equal(&Boolean::TRUE)?;
        enforce_bits(&r.values[0], VALUE_BITS)?;
        enforce_bits(&r.values[1], VALUE_BITS)?;
        is_ge(&r.values[0], &min_score, VALUE_BITS)?.enforce_equal(&Boolean::TRUE)?;
        is_le(&now, &(&r.values[1] + &max_age), VALUE_BITS + 1)?.enforce_equal(&Boolean::TRUE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imt::IndexedMerkleTree;
    use ark_relations::gr1cs::ConstraintSystem;

    const D: usize = 12;

    fn sat<C: ConstraintSynthesizer<Fr>>(c: C) -> bool {
        let cs = ConstraintSystem::<Fr>::new_ref();
        c.generate_constraints(cs.clone()).unwrap();
        cs.is_satisfied().unwrap()
    }

    fn tree(rows: &[(u64, [u64; 3])]) -> IndexedMerkleTree {
        let rows: Vec<_> = rows
            .iter()
            .map(|(k, v)| (Fr::from(*k), v.map(Fr::from)))
            .collect();
        IndexedMerkleTree::from_rows(D, &rows).unwrap()
    }

    fn subject(k: u64) -> Subject {
        Subject {
            key: Fr::from(k),
            blinding: Fr::from(99u64),
        }
    }

    #[test]
    fn fraud_only() {
        let t = tree(&[(10, [1, 0, 0]), (30, [1, 0, 0])]);
        for (k, ok) in [(20u64, true), (30, false), (10, false), (40, true)] {
            let s = subject(k);
            let (_, w) = t.witness(&s.key).unwrap();
            let native = FraudOnlyCircuit::check(D, t.root(), &s, &w);
            assert_eq!(native.is_ok(), ok);
            let public = Some([t.root(), subject_commitment(&s.key, &s.blinding)]);
            assert_eq!(
                sat(FraudOnlyCircuit {
                    depth: D,
                    public,
                    witness: Some((s, w))
                }),
                ok,
                "key {k}"
            );
        }
        // wrong commitment
        let s = subject(20);
        let (_, w) = t.witness(&s.key).unwrap();
        let public = Some([t.root(), subject_commitment(&s.key, &Fr::from(1u64))]);
        assert!(!sat(FraudOnlyCircuit {
            depth: D,
            public,
            witness: Some((s, w))
        }));
    }

    #[test]
    fn loans_only() {
        let a = tree(&[(20, [1, 5, 0])]);
        let b = tree(&[(20, [1, 5, 0]), (21, [9, 9, 9])]);
        let s = subject(20);
        let ws = vec![a.witness(&s.key).unwrap().1, b.witness(&s.key).unwrap().1];
        for (max, ok) in [(3u64, true), (2, false)] {
            let public = Some(vec![
                subject_commitment(&s.key, &s.blinding),
                Fr::from(max),
                a.root(),
                b.root(),
            ]);
            let c = LoansOnlyCircuit {
                depth: D,
                lenders: 2,
                public,
                witness: Some((s.clone(), ws.clone())),
            };
            assert_eq!(sat(c), ok, "max {max}");
        }
    }

    #[test]
    fn score_only() {
        let now = 1_000_000u64;
        let t = tree(&[(20, [700, now - 100, 1])]);
        let s = subject(20);
        let (_, w) = t.witness(&s.key).unwrap();
        for (min, age, ok) in [(700u64, 100u64, true), (701, 100, false), (600, 99, false)] {
            let public = Some([
                t.root(),
                subject_commitment(&s.key, &s.blinding),
                Fr::from(min),
                Fr::from(now),
                Fr::from(age),
            ]);
            let c = ScoreOnlyCircuit {
                depth: D,
                public,
                witness: Some((s.clone(), w.clone())),
            };
            assert_eq!(sat(c), ok, "min {min} age {age}");
        }
    }
}
