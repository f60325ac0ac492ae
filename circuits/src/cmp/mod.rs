//! Range checks and bounded comparisons (spec §3.6), native side.
//!
//! Every comparison in zkcredit is *bounded*: both sides are known to fit in `k` bits
//! and the difference is range-checked in `k` bits (≈ k constraints), never a
//! whole-field comparison (≈ 1,900 constraints).

pub mod constraints;

use crate::Fr;
use ark_ff::{BigInteger, PrimeField};

/// `true` iff the canonical integer of `x` is `< 2^bits`.
pub fn fits_in_bits(x: &Fr, bits: usize) -> bool {
    let b = x.into_bigint();
    b.num_bits() as usize <= bits
}

/// Little-endian bits of the canonical integer of `x`, `bits` of them (higher bits dropped).
pub fn to_bits_le(x: &Fr, bits: usize) -> Vec<bool> {
    let b = x.into_bigint().to_bits_le();
    (0..bits)
        .map(|i| b.get(i).copied().unwrap_or(false))
        .collect()
}

/// Native twin of [`constraints::enforce_le`]: `a <= b` with both `< 2^bits`.
pub fn le(a: &Fr, b: &Fr, bits: usize) -> bool {
    fits_in_bits(a, bits) && fits_in_bits(b, bits) && a.into_bigint() <= b.into_bigint()
}
