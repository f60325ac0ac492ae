//! BN254 G2 chord additions in eight lanes, over `Fq2 = Fq[u]/(u² + 1)`: the G2 MSM's layers
//! ([`crate::msm`]), the same formulas as G1's (`crate::g1`) with every coordinate in `Fq2`.
//!
//! A product in `Fq2` is two sums of two lane products, each with one reduction
//! (`c0 = a0·b0 + a1·(kq − b1)`, `c1 = a0·b1 + a1·b0`; [`crate::field::mul2`]).
//!
//! **Bounds** (per component; `R = 2^260 ≈ 84.6·q`; a reduced sum of two products is below
//! `(a·b + c·d)/R + q`). Inputs below `1.12q`. `x − bx`, `y − by` below `5.12q` (`+ 4q`).
//! The running products and the inverses stay below `1.2q` (`(1.2·5.12 + 1.2·8)/84.6 + 1 <
//! 1.19`, with `8q − d1`); each `1/d = inv·before` below `1.08q` (`(1.2·1.2 + 1.2·4)/84.6 +
//! 1`); `l` below `1.31q`; `l²` below `1.09q`; `x3 = l² + 4q − bx + 4q − x` below `9.1q`;
//! `bx − x3` (`+ 16q`) below `17.12q`; `l·(bx − x3)` (with `32q − t1`) below `1.77q`; `y3`
//! below `5.77q`. The outputs are multiplied by one (below `9.1/84.6 + 1 <
//! 1.11q`), ready to be added again. Every subtrahend is below its multiple minus `2^208`,
//! as `limbs::borrowed` requires.

use crate::error::SimdError;
#[cfg(target_arch = "x86_64")]
use crate::g1::{check_pairs, from_raw, raw};
#[cfg(target_arch = "x86_64")]
use crate::LANES;
use ark_bn254::Fq2;

/// A G2 point in the lanes' form: `[x.c0, x.c1, y.c0, y.c1]`, each `v·2^260 mod q` in five
/// 52-bit limbs (below `1.12q`).
pub(crate) type Pt = [[u64; 5]; 4];

/// `src[a] + src[b]` for every `(a, b)` of `adds`, every point in the lanes' form, with one
/// inversion per call; as [`crate::g1::add_pairs`], over `Fq2`.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub(crate) fn add_pairs(src: &[Pt], adds: &[(u32, u32)]) -> Result<Vec<Pt>, SimdError> {
    if !check_pairs(src.len(), adds)? {
        return Ok(Vec::new());
    }
    // SAFETY: `crate::available()` detected `avx512f` and `avx512ifma` above, the only
    // features `lanes::add_in_lanes_form` and what it calls are compiled for; they read
    // only their arguments and return a new vector. (`check_pairs` only turns a
    // bad index into an error instead of a panic.)
    unsafe { lanes::add_in_lanes_form(src, adds, &invert_eight) }
}

/// Without the lanes' architecture: always an error (the MSM checks first).
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn add_pairs(_: &[Pt], _: &[(u32, u32)]) -> Result<Vec<Pt>, SimdError> {
    Err(SimdError::Shape(
        "no eight-lane arithmetic on this architecture".into(),
    ))
}

/// The inverses of eight `Fq2` values (`[c0, c1]` in arkworks' form in and out), with one
/// inversion; an error if one is zero.
#[cfg(target_arch = "x86_64")]
fn invert_eight(t: &[[[u64; 5]; LANES]; 2]) -> Result<[[[u64; 5]; LANES]; 2], SimdError> {
    use ark_ff::Field;
    let t: Vec<Fq2> = (0..LANES)
        .map(|k| Ok(Fq2::new(from_raw(t[0][k])?, from_raw(t[1][k])?)))
        .collect::<Result<_, SimdError>>()?;
    let mut prefix = [Fq2::ONE; LANES];
    let mut acc = Fq2::ONE;
    for (p, x) in prefix.iter_mut().zip(&t) {
        *p = acc;
        acc *= x;
    }
    let mut inv = acc.inverse().ok_or(SimdError::VerticalChord)?;
    let mut res = [[[0u64; 5]; LANES]; 2];
    for k in (0..LANES).rev() {
        let v = inv * prefix[k];
        res[0][k] = raw(&v.c0);
        res[1][k] = raw(&v.c1);
        inv *= t[k];
    }
    Ok(res)
}

#[cfg(target_arch = "x86_64")]
mod lanes {
    use super::Pt;
    use crate::error::SimdError;
    use crate::field::{load, mul, mul2, splat, store, sub, V};
    use crate::limbs::{borrowed, Base as B, Modulus};
    use crate::LANES;

    type Inverse<'a> =
        &'a dyn Fn(&[[[u64; 5]; LANES]; 2]) -> Result<[[[u64; 5]; LANES]; 2], SimdError>;

    /// Eight `Fq2` elements.
    type E = [V; 2];

    const Q4: [u64; 5] = borrowed(B::P, 4);
    const Q8: [u64; 5] = borrowed(B::P, 8);
    const Q16: [u64; 5] = borrowed(B::P, 16);
    const Q32: [u64; 5] = borrowed(B::P, 32);

    /// `a − b` (as `a + kq − b`, `k` given by `c`).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn esub(a: &E, b: &E, c: &[u64; 5]) -> E {
        [sub(&a[0], &b[0], c), sub(&a[1], &b[1], c)]
    }

    /// `a·b`, with `b.c1` negated as `c − b.c1` (`c` a borrowed multiple above it).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn emul(a: &E, b: &E, c: &[u64; 5]) -> E {
        let nb1 = sub(&splat(&[0; 5]), &b[1], c);
        [
            mul2::<B>(&a[0], &b[0], &a[1], &nb1),
            mul2::<B>(&a[0], &b[1], &a[1], &b[0]),
        ]
    }

    /// `src[b] + src[a]` for every `(a, b)` of `adds` (indices checked by the caller), in
    /// the lanes' form, the sums multiplied by one (below `1.11q`).
    #[target_feature(enable = "avx512f,avx512ifma")]
    #[allow(clippy::needless_range_loop)] // lane k of eight arrays at once
    pub(super) fn add_in_lanes_form(
        src: &[Pt],
        adds: &[(u32, u32)],
        invert: Inverse<'_>,
    ) -> Result<Vec<Pt>, SimdError> {
        let one = splat(&B::ONE);
        let k_in = splat(&B::K_IN);
        let k_out = splat(&B::K_OUT);
        let rows = adds.len().div_ceil(LANES);
        // [x, y, bx, by] per row: the second point onto the first.
        let mut points: Vec<[E; 4]> = Vec::with_capacity(rows);
        let mut t = [[[0u64; 5]; LANES]; 8];
        for j in 0..rows {
            let row = &adds[j * LANES..adds.len().min((j + 1) * LANES)];
            for k in 0..LANES {
                let (a, b) = row.get(k).copied().unwrap_or(adds[0]);
                let (p, q) = (&src[b as usize], &src[a as usize]);
                for f in 0..4 {
                    t[f][k] = p[f];
                    t[4 + f][k] = q[f];
                }
            }
            let e = |f: usize| [load(&t[f]), load(&t[f + 1])];
            points.push([e(0), e(2), e(4), e(6)]);
        }
        // The denominators, and the products before each.
        let mut acc = [one, splat(&[0; 5])];
        let mut before = Vec::with_capacity(rows);
        let mut dens = Vec::with_capacity(rows);
        for [x, _, bx, _] in &points {
            let d = esub(x, bx, &Q4);
            before.push(acc);
            acc = emul(&acc, &d, &Q8);
            dens.push(d);
        }
        let out = invert(&[
            store(&mul::<B>(&acc[0], &k_out)),
            store(&mul::<B>(&acc[1], &k_out)),
        ])?;
        let mut inv = [
            mul::<B>(&load(&out[0]), &k_in),
            mul::<B>(&load(&out[1]), &k_in),
        ];
        let mut sums = vec![[[0u64; 5]; 4]; rows * LANES];
        for j in (0..rows).rev() {
            let [x, y, bx, by] = &points[j];
            let d_inv = emul(&inv, &before[j], &Q4);
            inv = emul(&inv, &dens[j], &Q8);
            let l = emul(&esub(y, by, &Q4), &d_inv, &Q4);
            let x3 = esub(&esub(&emul(&l, &l, &Q4), bx, &Q4), x, &Q4);
            let y3 = esub(&emul(&l, &esub(bx, &x3, &Q16), &Q32), by, &Q4);
            let c = [
                store(&mul::<B>(&x3[0], &one)),
                store(&mul::<B>(&x3[1], &one)),
                store(&mul::<B>(&y3[0], &one)),
                store(&mul::<B>(&y3[1], &one)),
            ];
            for k in 0..LANES {
                sums[j * LANES + k] = [c[0][k], c[1][k], c[2][k], c[3][k]];
            }
        }
        sums.truncate(adds.len());
        Ok(sums)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limbs::{self, Base, Modulus};
    use crate::msm::LaneCurve;
    use ark_bn254::{g2, G2Affine, G2Projective};
    use ark_ec::{AffineRepr, CurveGroup};
    use ark_ff::UniformRand;

    /// Pairs of random points in every row shape (1, a partial row, full rows, rows and a
    /// partial one), against arkworks' addition; and a pair sharing `x` is refused.
    #[test]
    fn g2_pairs_in_lanes_equal_arkworks() {
        if !crate::available() {
            eprintln!("NOTE: no AVX-512 IFMA here (or ZKCREDIT_SIMD=off): not exercised");
            return;
        }
        let mut rng = ark_std::test_rng();
        for n in [1usize, 5, 8, 9, 17, 130] {
            let points: Vec<G2Affine> = (0..2 * n)
                .map(|_| G2Projective::rand(&mut rng).into_affine())
                .collect();
            let src: Vec<Pt> = points
                .iter()
                .map(|p| g2::Config::signed(p).expect("finite").0)
                .collect();
            let adds: Vec<(u32, u32)> = (0..n as u32).map(|i| (2 * i, 2 * i + 1)).collect();
            let sums = add_pairs(&src, &adds).expect("no vertical chord");
            assert_eq!(sums.len(), n);
            for (i, s) in sums.iter().enumerate() {
                // Below 1.11q, so that the sums can be added again.
                for c in s {
                    let v = limbs::wide(*c);
                    let (low, top) = ([v.0[0], v.0[1], v.0[2], v.0[3]], v.0[4]);
                    assert!(
                        top == 0
                            && limbs::times(low, 100) < limbs::times(limbs::join(Base::P), 111),
                        "n {n}, pair {i}: a coordinate at or above 1.11q"
                    );
                }
                let want = (points[2 * i] + points[2 * i + 1]).into_affine();
                assert_eq!(
                    g2::Config::affine(s).expect("bounded"),
                    want,
                    "n {n}, pair {i}"
                );
            }
        }
        let p = G2Affine::generator();
        let (plus, minus) = g2::Config::signed(&p).expect("finite");
        assert_eq!(
            add_pairs(&[plus, minus], &[(0, 1)]),
            Err(SimdError::VerticalChord)
        );
        assert!(matches!(
            add_pairs(&[plus], &[(0, 1)]),
            Err(SimdError::Shape(_))
        ));
    }
}
