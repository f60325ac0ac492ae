//! Range checks and bounded comparisons (spec §3.6), R1CS side.
//!
//! Naming (gnark convention): `enforce_*` adds constraints that must hold; `is_*`
//! returns a [`Boolean`] that is itself fully constrained to the right answer.
//!
//! Preconditions are stated per function: comparisons of `k`-bit values require both
//! sides to be *already* known to fit in `k` bits (range-checked where they enter the
//! circuit, spec §6 "range checks"), so that the difference cannot wrap.

use super::to_bits_le;
use crate::Fr;
use ark_ff::{AdditiveGroup as _, Field as _};
use ark_r1cs_std::fields::fp::{AllocatedFp, FpVar};
use ark_r1cs_std::prelude::*;
use ark_relations::gr1cs::SynthesisError;

/// Allocates `bits` little-endian Booleans holding the canonical bits of `x`'s value
/// (each constrained Boolean: 1 constraint per bit). The value is *not* yet tied to `x`.
pub fn witness_bits(x: &FpVar<Fr>, bits: usize) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    let cs = x.cs();
    let value = x.value().ok();
    let native = value.map(|v| to_bits_le(&v, bits));
    (0..bits)
        .map(|i| {
            Boolean::new_witness(cs.clone(), || {
                native
                    .as_ref()
                    .map(|b| b[i])
                    .ok_or(SynthesisError::AssignmentMissing)
            })
        })
        .collect()
}

/// Enforces `x == Σ bits[i]·2^i`. With `bits.len() < 254` the decomposition is unique,
/// so this is a range check `x < 2^bits.len()`. 1 constraint.
pub fn enforce_bits_compose(x: &FpVar<Fr>, bits: &[Boolean<Fr>]) -> Result<(), SynthesisError> {
    assert!(bits.len() < 254, "range checks are below the field size");
    let mut coeffs = Vec::with_capacity(bits.len());
    let mut vars = Vec::with_capacity(bits.len());
    let mut constant = Fr::from(0u64);
    let mut power = Fr::from(1u64);
    for b in bits {
        match b {
            Boolean::Constant(true) => constant += power,
            Boolean::Constant(false) => {}
            Boolean::Var(_) => {
                coeffs.push(power);
                vars.push(AllocatedFp::from(b.clone()));
            }
        }
        power.double_in_place();
    }
    let sum = match AllocatedFp::linear_combination(coeffs, &vars) {
        Some(v) => FpVar::Var(v) + constant,
        None => FpVar::Constant(constant),
    };
    sum.enforce_equal(x)
}

/// Enforces `x < 2^bits` and returns the little-endian bits. `bits + 1` constraints.
pub fn enforce_bits(x: &FpVar<Fr>, bits: usize) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    if let FpVar::Constant(c) = x {
        // A constant is checked natively; a failing constant makes the system unsatisfiable.
        if !super::fits_in_bits(c, bits) {
            return Err(SynthesisError::Unsatisfiable);
        }
        return Ok(to_bits_le(c, bits)
            .into_iter()
            .map(Boolean::constant)
            .collect());
    }
    let b = witness_bits(x, bits)?;
    enforce_bits_compose(x, &b)?;
    Ok(b)
}

/// Enforces `a <= b`. Precondition: `a, b < 2^bits`. `bits + 1` constraints.
pub fn enforce_le(a: &FpVar<Fr>, b: &FpVar<Fr>, bits: usize) -> Result<(), SynthesisError> {
    enforce_bits(&(b - a), bits).map(|_| ())
}

/// Enforces `a < b`. Precondition: `a, b < 2^bits`. `bits + 1` constraints.
pub fn enforce_lt(a: &FpVar<Fr>, b: &FpVar<Fr>, bits: usize) -> Result<(), SynthesisError> {
    enforce_bits(&(b - a - Fr::from(1u64)), bits).map(|_| ())
}

/// Enforces `a <= b` when `cond` holds, nothing otherwise. Precondition: `a, b < 2^bits`.
/// `bits + 2` constraints.
pub fn enforce_le_if(
    cond: &Boolean<Fr>,
    a: &FpVar<Fr>,
    b: &FpVar<Fr>,
    bits: usize,
) -> Result<(), SynthesisError> {
    let d = FpVar::from(cond.clone()) * (b - a);
    enforce_bits(&d, bits).map(|_| ())
}

/// Enforces `a < b` when `cond` holds. Precondition: `a, b < 2^bits`. `bits + 2` constraints.
pub fn enforce_lt_if(
    cond: &Boolean<Fr>,
    a: &FpVar<Fr>,
    b: &FpVar<Fr>,
    bits: usize,
) -> Result<(), SynthesisError> {
    let d = FpVar::from(cond.clone()) * (b - a - Fr::from(1u64));
    enforce_bits(&d, bits).map(|_| ())
}

/// Returns the constrained Boolean `a <= b`. Precondition: `a, b < 2^bits`.
/// Decomposes `b − a + 2^bits ∈ (0, 2^(bits+1))` and returns its top bit.
/// `bits + 2` constraints.
pub fn is_le(a: &FpVar<Fr>, b: &FpVar<Fr>, bits: usize) -> Result<Boolean<Fr>, SynthesisError> {
    let shifted = b - a + Fr::from(2u64).pow([bits as u64]);
    let mut d = enforce_bits(&shifted, bits + 1)?;
    Ok(d.pop().expect("bits + 1 >= 1"))
}

/// Returns the constrained Boolean `a >= b`. Precondition: `a, b < 2^bits`.
pub fn is_ge(a: &FpVar<Fr>, b: &FpVar<Fr>, bits: usize) -> Result<Boolean<Fr>, SynthesisError> {
    is_le(b, a, bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmp::{fits_in_bits, le};
    use ark_ff::{One, UniformRand};
    use ark_relations::gr1cs::ConstraintSystem;
    use ark_std::rand::{rngs::StdRng, Rng, SeedableRng};

    fn w(cs: &ark_relations::gr1cs::ConstraintSystemRef<Fr>, x: Fr) -> FpVar<Fr> {
        FpVar::new_witness(cs.clone(), || Ok(x)).unwrap()
    }

    #[test]
    fn range_check_gadget_equals_native() {
        let mut rng = StdRng::seed_from_u64(10);
        for _ in 0..200 {
            let bits = rng.gen_range(1..=80usize);
            let x = match rng.gen_range(0..4) {
                0 => Fr::from(rng.gen::<u64>() >> (64 - bits.min(64))),
                1 => Fr::from(2u64).pow([bits as u64]) - Fr::one(),
                2 => Fr::from(2u64).pow([bits as u64]),
                _ => Fr::rand(&mut rng),
            };
            let cs = ConstraintSystem::<Fr>::new_ref();
            enforce_bits(&w(&cs, x), bits).unwrap();
            assert_eq!(
                cs.is_satisfied().unwrap(),
                fits_in_bits(&x, bits),
                "x={x} bits={bits}"
            );
            assert_eq!(cs.num_constraints(), bits + 1);
        }
    }

    #[test]
    fn comparisons_gadget_equal_native() {
        let mut rng = StdRng::seed_from_u64(11);
        for _ in 0..300 {
            let a = Fr::from(rng.gen_range(0..50u64));
            let b = Fr::from(rng.gen_range(0..50u64));
            let cs = ConstraintSystem::<Fr>::new_ref();
            let (va, vb) = (w(&cs, a), w(&cs, b));
            let soft = is_le(&va, &vb, 64).unwrap();
            assert_eq!(soft.value().unwrap(), le(&a, &b, 64));
            let soft_ge = is_ge(&va, &vb, 64).unwrap();
            assert_eq!(soft_ge.value().unwrap(), le(&b, &a, 64));
            assert!(cs.is_satisfied().unwrap());

            let cs = ConstraintSystem::<Fr>::new_ref();
            enforce_le(&w(&cs, a), &w(&cs, b), 64).unwrap();
            assert_eq!(cs.is_satisfied().unwrap(), le(&a, &b, 64));
            let cs = ConstraintSystem::<Fr>::new_ref();
            enforce_lt(&w(&cs, a), &w(&cs, b), 64).unwrap();
            assert_eq!(cs.is_satisfied().unwrap(), le(&a, &b, 64) && a != b);
            for cond in [false, true] {
                let cs = ConstraintSystem::<Fr>::new_ref();
                let c = Boolean::new_witness(cs.clone(), || Ok(cond)).unwrap();
                enforce_le_if(&c, &w(&cs, a), &w(&cs, b), 64).unwrap();
                assert_eq!(cs.is_satisfied().unwrap(), !cond || le(&a, &b, 64));
            }
        }
    }

    #[test]
    fn is_le_result_cannot_be_flipped() {
        // The Boolean returned by is_le is forced: a prover who flips the top bit (and
        // adjusts nothing else) breaks the composition constraint.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let a = w(&cs, Fr::from(7u64));
        let b = w(&cs, Fr::from(5u64));
        let shifted = &b - &a + Fr::from(2u64).pow([64]);
        let mut bits = witness_bits(&shifted, 65).unwrap();
        bits[64] = Boolean::new_witness(cs.clone(), || Ok(true)).unwrap();
        enforce_bits_compose(&shifted, &bits).unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }

    /// Regression guard for the classic soundness bug: a non-canonical decomposition.
    /// The value `x + r` has a valid 255-bit decomposition that aliases `x`; a 248-bit range
    /// check must accept no bit vector for a value ≥ 2^248, whatever the prover supplies.
    #[test]
    fn non_canonical_bit_decomposition_is_rejected() {
        use ark_ff::{BigInteger, PrimeField};
        // x = r − 1 (i.e. −1): in range? no. Try the aliases a cheating prover could supply.
        let x = -Fr::one();
        let cs = ConstraintSystem::<Fr>::new_ref();
        let vx = w(&cs, x);
        // bits of x + r = 2r − 1 (255 bits) truncated to 248: not equal to x mod r.
        let mut alias = Fr::MODULUS;
        alias.add_with_carry(&x.into_bigint());
        let alias_bits = alias.to_bits_le();
        let bits: Vec<Boolean<Fr>> = (0..248)
            .map(|i| Boolean::new_witness(cs.clone(), || Ok(alias_bits[i])).unwrap())
            .collect();
        enforce_bits_compose(&vx, &bits).unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }

    #[test]
    fn constant_inputs_are_checked_natively() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let _ = cs;
        assert!(enforce_bits(&FpVar::Constant(Fr::from(5u64)), 3).is_ok());
        assert!(enforce_bits(&FpVar::Constant(Fr::from(8u64)), 3).is_err());
    }
}
