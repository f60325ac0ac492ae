//! Field elements as five 52-bit limbs (radix 2^52, 260 bits), the form the eight-lane
//! arithmetic works in, and the constants of BN254's scalar field `r` in that form.
//!
//! Montgomery form here is `x·2^260 mod r` (arkworks' is `x·2^256`); the lanes convert
//! canonical integers in and out themselves (`R2`, one multiplication), so nothing depends
//! on arkworks' internal representation.

use ark_bn254::Fr;
use ark_ff::{BigInteger, Field, PrimeField};

/// Bits per limb.
pub const BITS: u32 = 52;
/// `2^52 − 1`.
pub const MASK: u64 = (1 << BITS) - 1;

/// `r` in 52-bit limbs, least significant first.
pub const P: [u64; 5] = [
    0x1f593f0000001,
    0x4879b9709143e,
    0x181585d2833e8,
    0xa029b85045b68,
    0x30644e72e131,
];
/// `−r⁻¹ mod 2^52`: the Montgomery reduction's factor.
pub const N0P: u64 = 0x1f593efffffff;
/// `2^520 mod r`: multiplying by it takes a canonical integer into Montgomery form.
pub const R2: [u64; 5] = [
    0xb852d16da6f5,
    0xc621620cddce3,
    0xaf1b95343ffb6,
    0xc3c15e103e7c2,
    0x281528fa122,
];
/// `2^260 mod r`: one in Montgomery form; multiplying by it reduces a value's bound.
pub const ONE: [u64; 5] = [
    0xb6b753fffffac,
    0x380f271055b9d,
    0x18f016ecef7c8,
    0x724f85a9201d8,
    0x1f16424e1bb7,
];

/// Five 52-bit limbs of a 256-bit integer, least significant first.
pub fn split(x: [u64; 4]) -> [u64; 5] {
    [
        x[0] & MASK,
        ((x[0] >> 52) | (x[1] << 12)) & MASK,
        ((x[1] >> 40) | (x[2] << 24)) & MASK,
        ((x[2] >> 28) | (x[3] << 36)) & MASK,
        x[3] >> 16,
    ]
}

/// The 256-bit integer of five normalised limbs (each below 2^52, the value below 2^256).
pub fn join(l: [u64; 5]) -> [u64; 4] {
    [
        l[0] | (l[1] << 52),
        (l[1] >> 12) | (l[2] << 40),
        (l[2] >> 24) | (l[3] << 28),
        (l[3] >> 36) | (l[4] << 16),
    ]
}

/// `x` canonical, in limbs.
pub fn canonical(x: &Fr) -> [u64; 5] {
    split(x.into_bigint().0)
}

/// `x·2^260 mod r` in limbs: a constant in the lanes' Montgomery form.
pub fn montgomery(x: &Fr) -> [u64; 5] {
    canonical(&(*x * two_to(260)))
}

/// `2^k mod r` as a field element.
pub fn two_to(k: u64) -> Fr {
    Fr::from(2u64).pow([k])
}

/// The field element of a limb value `v < 2r` (the lanes' last step leaves `v ≤ r`). `None`
/// from `2r` up, which the bounds of the lanes' arithmetic exclude.
pub fn element(l: [u64; 5]) -> Option<Fr> {
    if l[4] >> 48 != 0 || l.iter().any(|x| x >> BITS != 0) {
        return None;
    }
    let mut v = ark_ff::BigInt::<4>(join(l));
    if v >= Fr::MODULUS {
        let borrow = v.sub_with_borrow(&Fr::MODULUS);
        if borrow || v >= Fr::MODULUS {
            return None;
        }
    }
    Fr::from_bigint(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::UniformRand;

    #[test]
    fn the_constants_are_those_of_r() {
        assert_eq!(P, split(Fr::MODULUS.0));
        assert_eq!(R2, canonical(&two_to(520)));
        assert_eq!(ONE, canonical(&two_to(260)));
        // r·(−r⁻¹) ≡ −1 (mod 2^52)
        assert_eq!(P[0].wrapping_mul(N0P) & MASK, MASK);
    }

    #[test]
    fn split_and_join_are_inverse() {
        let mut rng = ark_std::test_rng();
        for _ in 0..1000 {
            let x = Fr::rand(&mut rng).into_bigint().0;
            assert_eq!(join(split(x)), x);
        }
        assert_eq!(join(split([u64::MAX; 4])), [u64::MAX; 4]);
    }

    #[test]
    fn element_takes_r_to_zero_and_refuses_above() {
        let r = split(Fr::MODULUS.0);
        assert_eq!(element(r), Some(Fr::from(0u64)));
        let mut above = r;
        above[0] += 1;
        assert_eq!(element(above), Some(Fr::from(1u64)));
        let mut two_r = Fr::MODULUS;
        assert!(!two_r.mul2());
        let twice = split(two_r.0);
        assert_eq!(element(twice), None);
        let mut r_minus_1 = r;
        r_minus_1[0] -= 1;
        assert_eq!(element(r_minus_1), Some(-Fr::from(1u64)));
    }
}
