//! GLV multi-scalar multiplication for the prover's MSMs (issue 14, the GLV lever;
//! `benches/LEVERS.md`).
//!
//! BN254 has the endomorphism φ(x, y) = (ωx, y) (ω a cube root of unity in Fq) on G1 and on
//! G2, acting on the prime-order subgroup as multiplication by λ (`GLVConfig::LAMBDA`, one
//! per group). A scalar splits as k = k1 + λ·k2 with |k1|, |k2| < 2^128 ([`Decomposer`]),
//! and an MSM of n bases with 254-bit scalars becomes one of 2n signed bases `±P, ±φ(P)`
//! (written per proof, [`msm`]) with 128-bit scalars: half the windows, each twice as
//! long. Measured on this machine (`benches/LEVERS.md`), whole proofs gain 10–16 % at
//! 4,700–6,500 constraints and 4–6 % from 31,700 to 118,000, where the batch-affine bucket
//! additions, which GLV does not reduce, are most of the cost. The price is memory: each
//! proof writes its 2n signed bases; the 16-slot prover peaked at 369 MiB in the benchmark
//! (301–313 MiB without GLV; a first version that also kept φ of every base per key peaked
//! at 433 MiB). So the prover uses GLV up to [`GLV_MAX_BASES`] bases per query: every
//! circuit up to the default 16 slots, where it was measured.
//!
//! The MSM itself is `taceo-ark-algebra`'s (the prover's), whose window count follows the
//! scalar field's width: it runs on [`HalfWidth<C>`], the curve `C` with a 128-bit scalar
//! field, on the same points and coordinates. The tests check every GLV MSM against the
//! plain one.

use ark_bn254::Fr;
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{AffineRepr, CurveConfig};
use ark_ff::{BigInt, Field, Fp128, MontBackend, MontConfig, PrimeField};
use rayon::prelude::*;
use ruint::aliases::{U256, U512};
use std::marker::PhantomData;

/// The largest MSM (in bases) that runs with GLV; larger ones run the plain MSM.
pub const GLV_MAX_BASES: usize = 1 << 17;

/// The field of 128-bit scalars: the largest prime below 2^128. Only its width is used (it
/// sets the MSM's window count); no arithmetic is done in it.
#[derive(MontConfig)]
#[modulus = "340282366920938463463374607431768211297"]
#[generator = "3"]
pub struct HalfScalarConfig;

/// Scalars of at most 128 bits.
pub type HalfScalar = Fp128<MontBackend<HalfScalarConfig, 2>>;

/// The curve `C` with 128-bit scalars: the same base field, equation and points (for
/// curves whose point at infinity is `(0, 0)`, as BN254's G1 and G2).
pub struct HalfWidth<C>(PhantomData<C>);

impl<C: SWCurveConfig<ZeroFlag = ()>> CurveConfig for HalfWidth<C> {
    type BaseField = C::BaseField;
    type ScalarField = HalfScalar;
    const COFACTOR: &'static [u64] = &[1];
    const COFACTOR_INV: HalfScalar = HalfScalar::ONE;
}

impl<C: SWCurveConfig<ZeroFlag = ()>> SWCurveConfig for HalfWidth<C> {
    type ZeroFlag = ();
    const COEFF_A: C::BaseField = C::COEFF_A;
    const COEFF_B: C::BaseField = C::COEFF_B;
    const GENERATOR: Affine<Self> = Affine::new_unchecked(C::GENERATOR.x, C::GENERATOR.y);
}

fn to_u256(b: BigInt<4>) -> U256 {
    U256::from_limbs(b.0)
}

/// `k = k1 + λ·k2` in fixed-width integers: arkworks' `GLVConfig::scalar_decomposition`
/// (the same lattice basis N) with its two divisions by r replaced by a product with
/// `round(|N_ij|·2^256 / r)` and a shift, and the signed arithmetic done modulo 2^256 (every
/// true value is below 2^255 in magnitude). The rounding may be off by one, which moves the
/// halves' size a little but never their sum: k1 + λ·k2 ≡ k for any β, as the rows of N are
/// in the lattice's kernel.
#[derive(Clone, Copy, Debug)]
pub struct Decomposer {
    /// `N11, N12, N21, N22`, signed, as wrapping 256-bit integers.
    n: [U256; 4],
    /// `round(|N22|·2^256 / r)` and `round(|N12|·2^256 / r)`, and whether `β1 = round(k·N22/r)`
    /// and `β2 = round(−k·N12/r)` are negated.
    g: [(U256, bool); 2],
}

/// One half of a decomposed scalar: whether it is non-negative, and its magnitude.
pub type SignedHalf = (bool, BigInt<2>);

impl Decomposer {
    /// The decomposition of `C`'s λ.
    pub fn new<C: GLVConfig<ScalarField = Fr>>() -> Self {
        let signed = |(plus, v): (bool, BigInt<4>)| {
            let v = to_u256(v);
            if plus {
                v
            } else {
                v.wrapping_neg()
            }
        };
        let c = C::SCALAR_DECOMP_COEFFS;
        let r = U512::from(to_u256(Fr::MODULUS));
        let recip = |v: BigInt<4>| -> U256 {
            let num: U512 = U512::from(to_u256(v)) << 256usize;
            let q: U512 = (num + (r >> 1usize)) / r;
            q.wrapping_to::<U256>()
        };
        Self {
            n: c.map(signed),
            g: [(recip(c[3].1), !c[3].0), (recip(c[1].1), c[1].0)],
        }
    }

    /// `(k1, k2)` with `k = k1 + λ·k2`, or `None` if a half does not fit in 128 bits (for
    /// BN254's basis every half has at most 128 bits; tested).
    pub fn split(&self, k: &Fr) -> Option<(SignedHalf, SignedHalf)> {
        let k = to_u256(k.into_bigint());
        let beta = |(g, negate): (U256, bool)| {
            let wide: U512 = k.widening_mul(g);
            let rounded: U512 = (wide + (U512::from(1u8) << 255usize)) >> 256usize;
            let b = rounded.wrapping_to::<U256>();
            if negate {
                b.wrapping_neg()
            } else {
                b
            }
        };
        let (b1, b2) = (beta(self.g[0]), beta(self.g[1]));
        let [n11, n12, n21, n22] = self.n;
        let k1 = k
            .wrapping_sub(b1.wrapping_mul(n11))
            .wrapping_sub(b2.wrapping_mul(n21));
        let k2 = b1
            .wrapping_mul(n12)
            .wrapping_add(b2.wrapping_mul(n22))
            .wrapping_neg();
        let half = |v: U256| -> Option<SignedHalf> {
            let plus = !v.bit(255);
            let abs = if plus { v } else { v.wrapping_neg() };
            let [l0, l1, l2, l3] = abs.into_limbs();
            (l2 == 0 && l3 == 0).then_some((plus, BigInt([l0, l1])))
        };
        Some((half(k1)?, half(k2)?))
    }
}

/// A scalar vector decomposed for one group: per scalar, the signs of its two halves, and
/// the halves in MSM order (`k1` then `k2`).
#[derive(Debug)]
pub struct Decomposed {
    signs: Vec<(bool, bool)>,
    halves: Vec<BigInt<2>>,
}

impl Decomposed {
    /// Decomposes `scalars` with `dec` (in parallel); `None` if any half exceeds 128 bits.
    pub fn new(dec: &Decomposer, scalars: &[Fr]) -> Option<Self> {
        let split: Vec<_> = scalars
            .par_iter()
            .map(|k| dec.split(k))
            .collect::<Option<_>>()?;
        let signs = split.iter().map(|((s1, _), (s2, _))| (*s1, *s2)).collect();
        let halves = split
            .into_iter()
            .flat_map(|((_, k1), (_, k2))| [k1, k2])
            .collect();
        Some(Self { signs, halves })
    }
}

/// `Σ k_(from+i)·P_i` over the first `min(bases, scalars − from)` bases, for scalars
/// decomposed with `C`'s [`Decomposer`] (`from`: the scalars before it are not this
/// query's, as the public wires before the private ones). Per proof it writes the MSM's
/// 2n bases `±P_i, ±φ(P_i)` (φ is one multiplication of x) and runs taceo-ark-algebra's
/// MSM on them as points of [`HalfWidth<C>`]; nothing is kept per key.
pub fn msm<C: GLVConfig<ScalarField = Fr, ZeroFlag = ()>>(
    bases: &[Affine<C>],
    scalars: &Decomposed,
    from: usize,
) -> Projective<C> {
    let signs = scalars.signs.get(from..).unwrap_or_default();
    let halves = scalars.halves.get(2 * from..).unwrap_or_default();
    let n = bases.len().min(signs.len());
    let half = |p: Affine<C>, plus: bool| {
        if p.is_zero() {
            Affine::<HalfWidth<C>>::identity()
        } else if plus {
            Affine::<HalfWidth<C>>::new_unchecked(p.x, p.y)
        } else {
            Affine::<HalfWidth<C>>::new_unchecked(p.x, -p.y)
        }
    };
    let signed: Vec<Affine<HalfWidth<C>>> = bases[..n]
        .par_iter()
        .zip(&signs[..n])
        .flat_map_iter(|(p, (s1, s2))| [half(*p, *s1), half(C::endomorphism_affine(p), *s2)])
        .collect();
    let sum = taceo_ark_algebra::msm::msm_bigint(&signed, &halves[..2 * n]);
    Projective::new_unchecked(sum.x, sum.y, sum.z)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{g1, g2};
    use ark_ec::{CurveGroup, PrimeGroup};
    use ark_ff::{One, UniformRand, Zero};
    use ark_std::rand::{rngs::StdRng, SeedableRng};

    fn edge_scalars<C: GLVConfig<ScalarField = Fr>>() -> Vec<Fr> {
        vec![
            Fr::zero(),
            Fr::one(),
            -Fr::one(),
            C::LAMBDA,
            -C::LAMBDA,
            C::LAMBDA + Fr::one(),
            Fr::from(2u64).pow([127u64]),
            Fr::from(2u64).pow([128u64]),
            Fr::from(2u64).pow([253u64]),
            -Fr::from(2u64).pow([128u64]),
        ]
    }

    fn check_split<C: GLVConfig<ScalarField = Fr>>(seed: u64) {
        let dec = Decomposer::new::<C>();
        let mut rng = StdRng::seed_from_u64(seed);
        let signed = |(plus, v): SignedHalf| {
            let v = Fr::from_bigint(BigInt([v.0[0], v.0[1], 0, 0])).expect("below r");
            if plus {
                v
            } else {
                -v
            }
        };
        let mut widest = 0;
        let scalars = edge_scalars::<C>()
            .into_iter()
            .chain((0..20_000).map(|_| Fr::rand(&mut rng)));
        for k in scalars {
            let (h1, h2) = dec.split(&k).expect("halves of at most 128 bits");
            widest = widest.max(ark_ff::BigInteger::num_bits(&h1.1));
            widest = widest.max(ark_ff::BigInteger::num_bits(&h2.1));
            assert_eq!(signed(h1) + C::LAMBDA * signed(h2), k, "k = {k}");
        }
        // The rounding error bound gives |k1|, |k2| ≤ 2^126.1 for BN254's basis.
        assert!(widest <= 127, "{widest}");
    }

    #[test]
    fn decomposition_sums_back_with_halves_of_at_most_128_bits() {
        check_split::<g1::Config>(1);
        check_split::<g2::Config>(2);
    }

    #[test]
    fn endomorphism_is_multiplication_by_lambda() {
        let p = g1::G1Affine::generator();
        assert_eq!(
            g1::Config::endomorphism_affine(&p),
            (p * g1::Config::LAMBDA).into_affine()
        );
        let q = g2::G2Affine::generator();
        assert_eq!(
            g2::Config::endomorphism_affine(&q),
            (q * g2::Config::LAMBDA).into_affine()
        );
    }

    fn check_msm<C: GLVConfig<ScalarField = Fr, ZeroFlag = ()>>(seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let dec = Decomposer::new::<C>();
        for n in [0usize, 1, 2, 31, 32, 33, 1000, 5000] {
            let mut bases: Vec<Affine<C>> = (0..n)
                .map(|_| (Projective::<C>::generator() * Fr::rand(&mut rng)).into_affine())
                .collect();
            let mut scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            // Zero, one, minus one and λ scalars, and bases at infinity, as the keys have.
            for (i, k) in edge_scalars::<C>().into_iter().enumerate().take(n) {
                scalars[i] = k;
            }
            if n > 3 {
                bases[n / 2] = Affine::identity();
                bases[n - 1] = bases[0];
                scalars[n - 1] = -scalars[0];
            }
            let plain: Projective<C> = taceo_ark_algebra::msm::msm_unchecked(&bases, &scalars);
            let d = Decomposed::new(&dec, &scalars).expect("decomposes");
            assert_eq!(
                msm(&bases, &d, 0).into_affine(),
                plain.into_affine(),
                "n = {n}"
            );
            // Fewer scalars than bases: the MSM stops at the shorter, as the plain one does.
            if n > 1 {
                let d = Decomposed::new(&dec, &scalars[..n - 1]).expect("decomposes");
                let plain: Projective<C> =
                    taceo_ark_algebra::msm::msm_unchecked(&bases, &scalars[..n - 1]);
                assert_eq!(
                    msm(&bases, &d, 0).into_affine(),
                    plain.into_affine(),
                    "n = {n} − 1"
                );
                // A suffix of the scalars (the private wires after the public ones).
                let plain: Projective<C> =
                    taceo_ark_algebra::msm::msm_unchecked(&bases, &scalars[2..]);
                let d = Decomposed::new(&dec, &scalars).expect("decomposes");
                assert_eq!(
                    msm(&bases, &d, 2).into_affine(),
                    plain.into_affine(),
                    "n = {n}, from 2"
                );
            }
        }
    }

    #[test]
    fn glv_msm_equals_the_plain_msm_in_g1_and_g2() {
        check_msm::<g1::Config>(3);
        check_msm::<g2::Config>(4);
    }
}
