//! Poseidon R1CS gadget (spec §3.2), twin of [`super::hash`].
//!
//! Cost: 3 constraints per S-box (x², x⁴, x⁵); S-boxes on constants are folded, so the
//! first full round's S-box on the zero capacity element is free, exactly as in circom.
//! Arity 2: 8·3·3 + 57·3 − 3 = 240 constraints, equal to circomlib's `Poseidon(2)`.
//! All linear layers (round constants, MDS) are linear combinations and cost nothing.

use super::params;
use crate::Fr;
use ark_r1cs_std::fields::fp::{AllocatedFp, FpVar};
use ark_r1cs_std::prelude::*;
use ark_relations::gr1cs::SynthesisError;

fn sbox(x: &FpVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
    let x2 = x.square()?;
    let x4 = x2.square()?;
    Ok(&x4 * x)
}

/// Mixes `state` with one MDS row: `Σ_j row[j]·state[j]`, as one linear combination.
fn mix_row(row: &[Fr], state: &[FpVar<Fr>]) -> FpVar<Fr> {
    let mut constant = Fr::from(0u64);
    let mut coeffs = Vec::with_capacity(state.len());
    let mut vars = Vec::with_capacity(state.len());
    for (m, s) in row.iter().zip(state) {
        match s {
            FpVar::Constant(c) => constant += *m * c,
            FpVar::Var(v) => {
                coeffs.push(*m);
                vars.push(v.clone());
            }
        }
    }
    match AllocatedFp::linear_combination(coeffs, &vars) {
        Some(v) if constant == Fr::from(0u64) => FpVar::Var(v),
        Some(v) => FpVar::Var(v.add_constant(constant)),
        None => FpVar::Constant(constant),
    }
}

/// In-circuit `H(inputs…)`; equals [`super::hash`] on the same values.
pub fn hash_var(inputs: &[FpVar<Fr>]) -> Result<FpVar<Fr>, SynthesisError> {
    let p = params(inputs.len()).map_err(|_| SynthesisError::Unsatisfiable)?;
    let mut state: Vec<FpVar<Fr>> = Vec::with_capacity(p.width);
    state.push(FpVar::Constant(Fr::from(0u64)));
    state.extend_from_slice(inputs);
    let half = p.full_rounds / 2;
    let rounds = p.full_rounds + p.partial_rounds;
    for r in 0..rounds {
        for (s, c) in state.iter_mut().zip(&p.ark[r]) {
            *s = &*s + *c;
        }
        if r < half || r >= half + p.partial_rounds {
            for s in state.iter_mut() {
                *s = sbox(s)?;
            }
        } else {
            state[0] = sbox(&state[0])?;
        }
        // Only state[0] is needed after the last round.
        if r + 1 == rounds {
            return Ok(mix_row(&p.mds[0], &state));
        }
        state = p.mds.iter().map(|row| mix_row(row, &state)).collect();
    }
    unreachable!("at least one round")
}

/// In-circuit `H(a, b)`.
pub fn hash2_var(a: &FpVar<Fr>, b: &FpVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
    hash_var(&[a.clone(), b.clone()])
}
