//! Field elements as five 52-bit limbs (radix 2^52, 260 bits), the form the eight-lane
//! arithmetic works in, and the constants of BN254's scalar field `r` and base field `q` in
//! that form ([`Modulus`]).
//!
//! Montgomery form here is `x·2^260` (arkworks' is `x·2^256`). Poseidon's lanes convert
//! canonical integers in and out (`R2`, one multiplication); G1's `chord_additions` reads and
//! writes arkworks' Montgomery form itself (`K_IN`, `K_OUT`), which the tests check is
//! `x·2^256`; the MSMs take arkworks' form of `16·x` as the lanes' form of `x` and keep it.

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

/// A prime below 2^254 the lanes compute modulo: its limbs and Montgomery factor.
pub trait Modulus {
    /// The prime in 52-bit limbs.
    const P: [u64; 5];
    /// `−P⁻¹ mod 2^52`.
    const N0P: u64;
    /// `2^264 mod P`: multiplying arkworks' Montgomery form (`x·2^256`) by it gives the
    /// lanes' (`x·2^260`).
    const K_IN: [u64; 5];
    /// `2^256 mod P`: multiplying the lanes' form by it gives arkworks'.
    const K_OUT: [u64; 5];
    /// `2^260 mod P`: one in the lanes' Montgomery form.
    const ONE: [u64; 5];
}

/// BN254's scalar field `r` (Poseidon's field).
pub struct Scalar;

impl Modulus for Scalar {
    const P: [u64; 5] = P;
    const N0P: u64 = N0P;
    const K_IN: [u64; 5] = [
        0x31f8c9ffffab6,
        0xac31329faef6e,
        0x9e2a3495d7570,
        0xe357276f48b70,
        0xd791464ef86,
    ];
    const K_OUT: [u64; 5] = [
        0x6341c4ffffffb,
        0x959f60cd29ac9,
        0x879462e36fc76,
        0xdf2f666ea36f7,
        0xe0a77c19a07,
    ];
    const ONE: [u64; 5] = ONE;
}

/// BN254's base field `q` (G1's coordinates, and each component of G2's).
pub struct Base;

impl Modulus for Base {
    const P: [u64; 5] = [
        0x8c16d87cfd47,
        0x916871ca8d3c2,
        0x181585d97816a,
        0xa029b85045b68,
        0x30644e72e131,
    ];
    const N0P: u64 = 0x20782e4866389;
    const K_IN: [u64; 5] = [
        0xb0f2afaec667a,
        0xed9626b0fffbd,
        0x9e2a0fcad825a,
        0xe357276f48b70,
        0xd791464ef86,
    ];
    const K_OUT: [u64; 5] = [
        0xd438dc58f0d9d,
        0x28f5c70b3dd35,
        0x879462c0a78eb,
        0xdf2f666ea36f7,
        0xe0a77c19a07,
    ];
    const ONE: [u64; 5] = [
        0x20880f6fce4b4,
        0x49baa989a8455,
        0x18f014a498908,
        0x724f85a9201d8,
        0x1f16424e1bb7,
    ];
}

/// `k·P` in limbs arranged so that subtracting any normalised value below `k·P − 2^208`
/// limb by limb never goes below zero: each lower limb borrows `2^52` from the one above.
pub const fn borrowed(p: [u64; 5], k: u64) -> [u64; 5] {
    let mut wide = [0u64; 5];
    let mut carry = 0u64;
    let mut i = 0;
    while i < 5 {
        let v = p[i] * k + carry;
        wide[i] = v & MASK;
        carry = v >> BITS;
        i += 1;
    }
    wide[4] += carry << BITS;
    [
        wide[0] + (1 << BITS),
        wide[1] + (1 << BITS) - 1,
        wide[2] + (1 << BITS) - 1,
        wide[3] + (1 << BITS) - 1,
        wide[4] - 1,
    ]
}

/// The 256-bit integer of limbs whose value is below `2·M::P` (normalised), reduced once
/// below `P`; `None` from `2·P` up.
pub fn below<M: Modulus>(l: [u64; 5]) -> Option<[u64; 4]> {
    if l[4] >> 48 != 0 || l.iter().any(|x| x >> BITS != 0) {
        return None;
    }
    let p = ark_ff::BigInt::<4>(join(M::P));
    let mut v = ark_ff::BigInt::<4>(join(l));
    if v >= p {
        let borrow = v.sub_with_borrow(&p);
        if borrow || v >= p {
            return None;
        }
    }
    Some(v.0)
}

/// The value of five normalised limbs (up to 260 bits), for the tests' bound checks.
#[cfg(test)]
pub fn wide(l: [u64; 5]) -> ark_ff::BigInt<5> {
    let low = join([l[0], l[1], l[2], l[3], l[4] & ((1 << 48) - 1)]);
    ark_ff::BigInt([low[0], low[1], low[2], low[3], l[4] >> 48])
}

/// `k·p` for a 256-bit `p`, for the tests.
#[cfg(test)]
pub fn times(p: [u64; 4], k: u64) -> ark_ff::BigInt<5> {
    let mut one = ark_ff::BigInt::<5>([0; 5]);
    one.0[..4].copy_from_slice(&p);
    let mut acc = ark_ff::BigInt::<5>([0; 5]);
    for _ in 0..k {
        acc.add_with_carry(&one);
    }
    acc
}

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
    Fr::from_bigint(ark_ff::BigInt::<4>(below::<Scalar>(l)?))
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
        assert_eq!(Scalar::K_IN, canonical(&two_to(264)));
        assert_eq!(Scalar::K_OUT, canonical(&two_to(256)));
        use ark_bn254::Fq;
        let q_pow = |k: u64| split(Fq::from(2u64).pow([k]).into_bigint().0);
        assert_eq!(Base::P, split(Fq::MODULUS.0));
        assert_eq!(Base::P[0].wrapping_mul(Base::N0P) & MASK, MASK);
        assert_eq!(Base::K_IN, q_pow(264));
        assert_eq!(Base::K_OUT, q_pow(256));
        assert_eq!(Base::ONE, q_pow(260));
    }

    /// `borrowed(P, k)` is `k·P` with every lower limb at least `2^52 − 1` (`2^52` for the
    /// lowest), so any normalised limb can be taken from it.
    #[test]
    fn borrowed_multiples_keep_their_value_and_their_limbs_high() {
        for k in [1u64, 4, 8, 16, 32] {
            let b = borrowed(Base::P, k);
            // The borrowed limbs are not normalised: sum them term by term.
            let mut value = ark_ff::BigInt::<5>([0; 5]);
            for (i, limb) in b.iter().enumerate() {
                let mut term = ark_ff::BigInt::<5>([*limb, 0, 0, 0, 0]);
                term <<= 52 * i as u32;
                value.add_with_carry(&term);
            }
            assert_eq!(value, times(join(Base::P), k), "k = {k}");
            assert!(
                b[0] >= 1 << BITS && b[1..4].iter().all(|l| *l >= MASK),
                "k = {k}"
            );
        }
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
