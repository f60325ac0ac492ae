//! The R1CS-to-QAP witness map snarkjs keys assume (SPEC §10.2).
//!
//! arkworks' default (libsnark's) map computes the coefficients of
//! `h = (A·B − C) / Z` over the evaluation domain `H` of size `n` (so a key's `h_query` has
//! `n − 1` points). snarkjs instead evaluates `A·B − C` on the coset `ω₂ₙ·H` of `H` inside the
//! domain of size `2n`, where `Z(x) = xⁿ − 1` is the constant `−2`; a zkey's `hExps` are the
//! matching Lagrange-style bases (so a circom key's `h_query` has `n` points and already
//! absorbs `Z`). A [`CircomReduction`] key and witness map therefore go together; the prover
//! picks the map from the length of the key's `h_query` ([`crate::fast::Qap::of_key`]).

use ark_ff::{Field, PrimeField};
use ark_groth16::r1cs_to_qap::{evaluate_constraint, LibsnarkReduction, R1CSToQAP};
use ark_poly::EvaluationDomain;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

/// snarkjs's witness map (and, for keys generated in tests, its `h` bases).
#[derive(Clone, Copy, Debug, Default)]
pub struct CircomReduction;

/// Multiplies coefficient `k` of `v` by `g^k`: evaluating the polynomial afterwards on `H`
/// evaluates it on the coset `g·H`.
fn shift_to_coset<F: Field>(v: &mut [F], g: F) {
    let mut p = F::one();
    for c in v.iter_mut() {
        *c *= p;
        p *= g;
    }
}

impl R1CSToQAP for CircomReduction {
    fn instance_map_with_evaluation<F: PrimeField, D: EvaluationDomain<F>>(
        cs: ConstraintSystemRef<F>,
        t: &F,
    ) -> Result<(Vec<F>, Vec<F>, Vec<F>, F, usize, usize), SynthesisError> {
        // The A, B, C polynomials at τ are the same in both conventions.
        LibsnarkReduction::instance_map_with_evaluation::<F, D>(cs, t)
    }

    fn witness_map_from_matrices<F: PrimeField, D: EvaluationDomain<F>>(
        matrices: &[Vec<Vec<(F, usize)>>],
        num_inputs: usize,
        num_constraints: usize,
        full_assignment: &[F],
    ) -> Result<Vec<F>, SynthesisError> {
        let (a_rows, b_rows) = match matrices {
            [a, b, ..] => (a, b),
            _ => return Err(SynthesisError::Unsatisfiable),
        };
        let domain =
            D::new(num_constraints + num_inputs).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let n = domain.size();
        let mut a = vec![F::zero(); n];
        let mut b = vec![F::zero(); n];
        let mut c = vec![F::zero(); n];
        for i in 0..num_constraints {
            a[i] = evaluate_constraint(&a_rows[i], full_assignment);
            b[i] = evaluate_constraint(&b_rows[i], full_assignment);
            c[i] = a[i] * b[i];
        }
        // The input-consistency rows: A = x_j, B = 0 (as the key's A query encodes them).
        a[num_constraints..num_constraints + num_inputs]
            .copy_from_slice(&full_assignment[..num_inputs]);
        let g = D::new(2 * n)
            .ok_or(SynthesisError::PolynomialDegreeTooLarge)?
            .element(1);
        for v in [&mut a, &mut b, &mut c] {
            domain.ifft_in_place(v);
            shift_to_coset(v, g);
            domain.fft_in_place(v);
        }
        for ((ab, bi), ci) in a.iter_mut().zip(&b).zip(&c) {
            *ab = *ab * bi - ci;
        }
        Ok(a)
    }

    fn h_query_scalars<F: PrimeField, D: EvaluationDomain<F>>(
        max_power: usize,
        t: F,
        _zt: F,
        delta_inverse: F,
    ) -> Result<Vec<F>, SynthesisError> {
        // τ⁰ … τ^(2n−2) over δ, interpolated on the domain of size 2n; the odd entries are
        // the bases whose combination with the coset evaluations gives h(τ)·Z(τ)/δ.
        let mut s: Vec<F> = std::iter::successors(Some(delta_inverse), |p| Some(*p * t))
            .take(2 * max_power + 1)
            .collect();
        let big = D::new(s.len()).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        s.resize(big.size(), F::zero());
        big.ifft_in_place(&mut s);
        Ok(s.into_iter().skip(1).step_by(2).collect())
    }
}
