//! BN254 field arithmetic (the scalar field `r` for Poseidon, the base field `q` for G1 and,
//! component by component, G2) in eight lanes with AVX-512 IFMA, generic over the modulus
//! ([`crate::limbs::Modulus`]).
//!
//! An element is five 52-bit limbs, one `__m512i` per limb holding that limb of all eight
//! lanes; every function here is compiled for `avx512f` and `avx512ifma` and is only reached
//! through [`crate::Poseidon8::hash`], [`crate::g1::chord_additions`], [`crate::g1_msm`] and
//! [`crate::g2_msm`], once those were detected.
//!
//! **Montgomery multiplication** (`R = 2^260`): the 10-limb product by 25 `vpmadd52luq` /
//! `vpmadd52huq` pairs into 64-bit accumulators, then five word-by-word reduction steps
//! `m = t_i·(−r⁻¹) mod 2^52; t += m·r·2^(52i)`, then carries. The accumulators never
//! overflow: a limb receives at most `2·5·T + 10` additions below `2^52` (`T ≤ 13` products
//! in a dot product) plus a carry, below `2^60`.
//!
//! **Bounds instead of reductions.** The result of `mont(a, b)` is `(a·b + m·r)/R` with
//! `m < R`, so it is below `a·b/R + r`, and `R > 84·r`: nothing is ever reduced below `r`
//! until the last step. A multiplication needs normalised limbs (each below `2^52`, which
//! IFMA requires: it reads only those bits) and operands whose bound `a·b/R + r` is below
//! `2^260` (≈ 84.6·r), so that its result fits five limbs again; a sum likewise must stay
//! below `2^260`. The permutation's bounds (`poseidon.rs`) keep every value below 36.5·r.
//! Sums are limb-wise and then normalised (carries propagated).
#![allow(clippy::needless_range_loop)]

use crate::limbs::{Modulus, MASK};
use std::arch::x86_64::*;

/// Eight field elements: limb `i` of all eight lanes in `v[i]`.
pub type V = [__m512i; 5];

/// The same limbs in every lane.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub fn splat(c: &[u64; 5]) -> V {
    std::array::from_fn(|i| _mm512_set1_epi64(c[i] as i64))
}

/// Lane `k` of the result holds `lanes[k]` (normalised limbs).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub fn load(lanes: &[[u64; 5]; 8]) -> V {
    std::array::from_fn(|i| {
        let l = |k: usize| lanes[k][i] as i64;
        _mm512_set_epi64(l(7), l(6), l(5), l(4), l(3), l(2), l(1), l(0))
    })
}

/// The limbs of each lane.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub fn store(v: &V) -> [[u64; 5]; 8] {
    let mut out = [[0u64; 5]; 8];
    for (i, limb) in v.iter().enumerate() {
        let lo = _mm512_extracti64x4_epi64::<0>(*limb);
        let hi = _mm512_extracti64x4_epi64::<1>(*limb);
        out[0][i] = _mm256_extract_epi64::<0>(lo) as u64;
        out[1][i] = _mm256_extract_epi64::<1>(lo) as u64;
        out[2][i] = _mm256_extract_epi64::<2>(lo) as u64;
        out[3][i] = _mm256_extract_epi64::<3>(lo) as u64;
        out[4][i] = _mm256_extract_epi64::<0>(hi) as u64;
        out[5][i] = _mm256_extract_epi64::<1>(hi) as u64;
        out[6][i] = _mm256_extract_epi64::<2>(hi) as u64;
        out[7][i] = _mm256_extract_epi64::<3>(hi) as u64;
    }
    out
}

/// Propagates carries so that limbs 0..4 are below `2^52` (the value is unchanged).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub fn normalize(mut v: V) -> V {
    let mask = _mm512_set1_epi64(MASK as i64);
    for k in 0..4 {
        v[k + 1] = _mm512_add_epi64(v[k + 1], _mm512_srli_epi64::<52>(v[k]));
        v[k] = _mm512_and_si512(v[k], mask);
    }
    v
}

/// `a + b`, normalised.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub fn add(a: &V, b: &V) -> V {
    normalize(std::array::from_fn(|i| _mm512_add_epi64(a[i], b[i])))
}

/// `t += a·b` (the unreduced 10-limb product).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn accumulate(t: &mut [__m512i; 10], a: &V, b: &V) {
    for i in 0..5 {
        for j in 0..5 {
            t[i + j] = _mm512_madd52lo_epu64(t[i + j], a[i], b[j]);
            t[i + j + 1] = _mm512_madd52hi_epu64(t[i + j + 1], a[i], b[j]);
        }
    }
}

/// `t / R mod P` (Montgomery reduction), normalised.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn reduce<M: Modulus>(mut t: [__m512i; 10]) -> V {
    let zero = _mm512_setzero_si512();
    let n0p = _mm512_set1_epi64(M::N0P as i64);
    let p = splat(&M::P);
    for i in 0..5 {
        // t_i + m·r_0 ≡ 0 (mod 2^52); IFMA reads only t_i's low 52 bits, which is all m needs.
        let m = _mm512_madd52lo_epu64(zero, t[i], n0p);
        for j in 0..5 {
            t[i + j] = _mm512_madd52lo_epu64(t[i + j], m, p[j]);
            t[i + j + 1] = _mm512_madd52hi_epu64(t[i + j + 1], m, p[j]);
        }
        t[i + 1] = _mm512_add_epi64(t[i + 1], _mm512_srli_epi64::<52>(t[i]));
    }
    normalize([t[5], t[6], t[7], t[8], t[9]])
}

/// `a·b / R mod P` (below `a·b/R + P`).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub fn mul<M: Modulus>(a: &V, b: &V) -> V {
    let mut t = [_mm512_setzero_si512(); 10];
    accumulate(&mut t, a, b);
    reduce::<M>(t)
}

/// `(a·b + c·d) / R mod P` with one reduction (below `(a·b + c·d)/R + P`): a component of
/// an `Fq2` product.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub fn mul2<M: Modulus>(a: &V, b: &V, c: &V, d: &V) -> V {
    let mut t = [_mm512_setzero_si512(); 10];
    accumulate(&mut t, a, b);
    accumulate(&mut t, c, d);
    reduce::<M>(t)
}

/// `a + c − b` with `c` a multiple of `P` in [`crate::limbs::borrowed`] form (each limb of
/// `c` at least the matching limb of `b`), normalised: `a − b` modulo `P`, below `a + c`.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub fn sub(a: &V, b: &V, c: &[u64; 5]) -> V {
    normalize(std::array::from_fn(|i| {
        _mm512_sub_epi64(_mm512_add_epi64(a[i], _mm512_set1_epi64(c[i] as i64)), b[i])
    }))
}

/// `Σ c_j·s_j / R mod P` with one reduction (below `Σ c_j·s_j / R + P`).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub fn dot<M: Modulus>(c: &[[u64; 5]], s: &[V]) -> V {
    let mut t = [_mm512_setzero_si512(); 10];
    for (c, s) in c.iter().zip(s) {
        accumulate(&mut t, &splat(c), s);
    }
    reduce::<M>(t)
}

/// `x^5` (below `1.2·r` for `x < 12·r`; below `2.9·r` for `x < 36.5·r`).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub fn pow5<M: Modulus>(x: &V) -> V {
    let x2 = mul::<M>(x, x);
    let x4 = mul::<M>(&x2, &x2);
    mul::<M>(x, &x4)
}

#[cfg(test)]
mod tests {
    //! The lanes' multiplication and dot product against arkworks, on values up to the
    //! bounds the permutation relies on (non-canonical, up to 80·r).
    use super::*;
    use crate::limbs::{self, Scalar, BITS};
    use ark_bn254::Fr;
    use ark_ff::{Field, PrimeField, UniformRand};

    /// `x + k·r` in five 52-bit limbs (`x < r`, `k ≤ 80`: below 2^260).
    fn lifted(x: &Fr, k: u64) -> [u64; 5] {
        let mut wide = [0u64; 5];
        let mut carry = 0u128;
        let xb = x.into_bigint().0;
        let rb = Fr::MODULUS.0;
        for i in 0..5 {
            let v = xb.get(i).copied().unwrap_or(0) as u128
                + (rb.get(i).copied().unwrap_or(0) as u128) * k as u128
                + carry;
            wide[i] = v as u64;
            carry = v >> 64;
        }
        let bits = |lo: u32| -> u64 {
            let (w, b) = ((lo / 64) as usize, lo % 64);
            let mut v = wide[w] >> b;
            if b > 64 - BITS && w + 1 < 5 {
                v |= wide[w + 1] << (64 - b);
            }
            v & limbs::MASK
        };
        std::array::from_fn(|i| bits(52 * i as u32))
    }

    /// The value of five limbs (each below 2^52) modulo r.
    fn value(l: [u64; 5]) -> Fr {
        let mut bytes = Vec::with_capacity(40);
        let mut acc = 0u128;
        let mut have = 0;
        for limb in l {
            acc |= (limb as u128) << have;
            have += 52;
            while have >= 8 {
                bytes.push(acc as u8);
                acc >>= 8;
                have -= 8;
            }
        }
        bytes.push(acc as u8);
        Fr::from_le_bytes_mod_order(&bytes)
    }

    fn below(l: [u64; 5], bound_r: u64) -> bool {
        l.iter().all(|x| x >> BITS == 0) && limbs::wide(l) < limbs::times(Fr::MODULUS.0, bound_r)
    }

    #[test]
    #[allow(unsafe_code)]
    fn mul_and_dot_equal_arkworks_up_to_the_bounds() {
        if !crate::available() {
            eprintln!(
                "NOTE: no AVX-512 IFMA here (or ZKCREDIT_SIMD=off): the lanes' arithmetic is \
                 not exercised on this machine; the scalar permutation is used instead"
            );
            return;
        }
        let mut rng = ark_std::test_rng();
        let inv_r = limbs::two_to(260).inverse().unwrap();
        for round in 0..200u64 {
            let xs: [Fr; 8] = std::array::from_fn(|_| Fr::rand(&mut rng));
            let ys: [Fr; 8] = std::array::from_fn(|_| Fr::rand(&mut rng));
            // edge values in the first lanes: 0, 1, r − 1
            let mut xs = xs;
            xs[0] = Fr::from(0u64);
            xs[1] = Fr::from(1u64);
            xs[2] = -Fr::from(1u64);
            // a < (ka + 1)·r and b < (kb + 1)·r, (ka + 1)·(kb + 1) up to 1,476: beyond the
            // permutation's largest product, 36.5·r squared (≈ 1,332).
            let (ka, kb) = (round % 41, (round * 7) % 41);
            let a: [[u64; 5]; 8] = std::array::from_fn(|k| lifted(&xs[k], ka));
            let b: [[u64; 5]; 8] = std::array::from_fn(|k| lifted(&ys[k], kb));
            // SAFETY: `available()` detected avx512f and avx512ifma above.
            let (prod, sum) = unsafe { run(&a, &b) };
            for k in 0..8 {
                assert_eq!(
                    value(prod[k]),
                    xs[k] * ys[k] * inv_r,
                    "mul, lane {k}, round {round}"
                );
                let bound = 1 + ((ka + 1) * (kb + 1)).div_ceil(84);
                assert!(below(prod[k], bound), "mul bound, lane {k}, round {round}");
                let want = (xs[k] * ys[k] + xs[k] * xs[k] + ys[k]) * inv_r;
                assert_eq!(value(sum[k]), want, "dot, lane {k}, round {round}");
            }
        }
    }

    /// The largest dot product the permutation takes: 13 state elements at the bound's
    /// 36·r + x against 13 constants below r, one reduction (the accumulators' worst load).
    #[test]
    #[allow(unsafe_code)]
    fn a_dot_product_of_thirteen_at_the_bound_equals_arkworks() {
        if !crate::available() {
            eprintln!("NOTE: no AVX-512 IFMA here (or ZKCREDIT_SIMD=off): not exercised");
            return;
        }
        let mut rng = ark_std::test_rng();
        let inv_r = limbs::two_to(260).inverse().unwrap();
        for _ in 0..50 {
            let xs: [[Fr; 8]; 13] =
                std::array::from_fn(|_| std::array::from_fn(|_| Fr::rand(&mut rng)));
            let mut cs: [Fr; 13] = std::array::from_fn(|_| Fr::rand(&mut rng));
            cs[0] = -Fr::from(1u64);
            let state: [[[u64; 5]; 8]; 13] =
                std::array::from_fn(|j| std::array::from_fn(|k| lifted(&xs[j][k], 36)));
            let consts: Vec<[u64; 5]> = cs.iter().map(limbs::canonical).collect();
            // SAFETY: `available()` detected avx512f and avx512ifma above.
            let got = unsafe { run_dot(&consts, &state) };
            for k in 0..8 {
                let want = cs.iter().zip(&xs).map(|(c, x)| *c * x[k]).sum::<Fr>() * inv_r;
                assert_eq!(value(got[k]), want, "lane {k}");
                assert!(below(got[k], 7), "bound, lane {k}");
            }
        }
    }

    /// `mul2` (a component of an `Fq2` product) on operands well past the G2 chord's largest,
    /// `1.31·r × 49·r` (`g2.rs`): `(a·b + c·d)/R`, below its bound.
    #[test]
    #[allow(unsafe_code)]
    fn mul2_equals_arkworks_past_the_g2_bounds() {
        if !crate::available() {
            eprintln!("NOTE: no AVX-512 IFMA here (or ZKCREDIT_SIMD=off): not exercised");
            return;
        }
        let mut rng = ark_std::test_rng();
        let inv_r = limbs::two_to(260).inverse().unwrap();
        for round in 0..100u64 {
            let v: [[Fr; 8]; 4] =
                std::array::from_fn(|_| std::array::from_fn(|_| Fr::rand(&mut rng)));
            // a, c below 2·r; b, d below 50·r.
            let ks = [1, 49, round % 2, (round * 3) % 50];
            let l: [[[u64; 5]; 8]; 4] =
                std::array::from_fn(|f| std::array::from_fn(|k| lifted(&v[f][k], ks[f])));
            // SAFETY: `available()` detected avx512f and avx512ifma above.
            let got = unsafe { run_mul2(&l) };
            for k in 0..8 {
                let want = (v[0][k] * v[1][k] + v[2][k] * v[3][k]) * inv_r;
                assert_eq!(value(got[k]), want, "lane {k}, round {round}");
                // (2·50 + 2·50)/84.6 + 1 < 4
                assert!(below(got[k], 4), "bound, lane {k}, round {round}");
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn run_mul2(l: &[[[u64; 5]; 8]; 4]) -> [[u64; 5]; 8] {
        let [a, b, c, d] = l.each_ref().map(|x| load(x));
        store(&mul2::<Scalar>(&a, &b, &c, &d))
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn run_dot(c: &[[u64; 5]], s: &[[[u64; 5]; 8]; 13]) -> [[u64; 5]; 8] {
        let v: Vec<V> = s.iter().map(|x| load(x)).collect();
        store(&dot::<Scalar>(c, &v))
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn run(a: &[[u64; 5]; 8], b: &[[u64; 5]; 8]) -> ([[u64; 5]; 8], [[u64; 5]; 8]) {
        let (va, vb) = (load(a), load(b));
        let prod = store(&mul::<Scalar>(&va, &vb));
        // Σ of three products with one reduction: a·b + a·a + b·1 (1 as a plain limb value).
        let mut t = [_mm512_setzero_si512(); 10];
        accumulate(&mut t, &va, &vb);
        accumulate(&mut t, &va, &va);
        accumulate(&mut t, &vb, &splat(&[1, 0, 0, 0, 0]));
        (prod, store(&reduce::<Scalar>(t)))
    }
}
