//! BN254 G1 chord additions in eight lanes: the inner step of a batch-affine MSM. For each
//! pending `(x, y) + (bx, by)` with `x ≠ bx`: `l = (y − by)/(x − bx)`, `x3 = l² − bx − x`,
//! `y3 = l·(bx − x3) − by`, every denominator inverted with one field inversion
//! (Montgomery's trick, each lane over its share of the batch, then the eight lanes' products
//! inverted together).
//!
//! Two entries: [`chord_additions`] takes and gives coordinates in arkworks' own Montgomery
//! form (`x·2^256 mod q`; one lane multiplication by `2^264 mod q` takes it to the lanes'
//! `x·2^260`, one by `2^256 mod q` back, so no scalar multiplication is spent on
//! conversions); `add_pairs` (the MSM's layers, `crate::msm`) keeps points in the lanes'
//! form throughout, its sums multiplied by one so that they can be added again.
//!
//! **Bounds** (`R = 2^260 ≈ 84.6·q`; a product is below `a·b/R + q`): inputs below `1.12q`
//! (converted ones below `1.02q`); `x − bx` and `y − by` (computed as `a + 4q − b`) below
//! `5.12q`; the inversion's products and `l` below `1.1q`; `x3 = l² + 4q − bx + 4q − x`
//! below `9.1q`; `bx − x3` (as `bx + 16q − x3`) below `17.12q`; `y3` (as `l·(bx − x3) + 4q
//! − by`) below `5.3q`; the outputs leave the lanes below `1.12q` (converted, then reduced
//! once) or below `1.11q` (multiplied by one). Every
//! subtrahend is below its multiple of `q` minus `2^208`, as `limbs::borrowed`
//! requires.

use crate::error::SimdError;
#[cfg(target_arch = "x86_64")]
use crate::limbs::{self, Base};
#[cfg(target_arch = "x86_64")]
use crate::LANES;
use ark_bn254::Fq;

/// Resolves a batch of chord additions: `pending[i] = [x, y, bx, by]` (with `x ≠ bx`), the
/// sums into `out[i] = [x3, y3]`. `Ok(false)` when the processor has no AVX-512 IFMA (or
/// `ZKCREDIT_SIMD=off`): the caller then adds in scalar. [`SimdError::VerticalChord`] if
/// some `x = bx` (nothing is written then), [`SimdError::Shape`] if the slices' lengths
/// differ; [`SimdError::Bound`] would be a bug in the bounds below, and may leave `out`
/// partly written.
pub fn chord_additions(pending: &[[Fq; 4]], out: &mut [[Fq; 2]]) -> Result<bool, SimdError> {
    if pending.len() != out.len() {
        return Err(SimdError::Shape(format!(
            "{} pending additions, {} outputs",
            pending.len(),
            out.len()
        )));
    }
    if !crate::available() {
        return Ok(false);
    }
    if pending.is_empty() {
        return Ok(true);
    }
    run(pending, out)?;
    Ok(true)
}

#[cfg(not(target_arch = "x86_64"))]
fn run(_: &[[Fq; 4]], _: &mut [[Fq; 2]]) -> Result<(), SimdError> {
    Err(SimdError::Shape(
        "no eight-lane arithmetic on this architecture".into(),
    ))
}

/// arkworks' Montgomery form of `x` in 52-bit limbs. (`Fp.0` is that form, below `q`,
/// public in arkworks 0.6, which the workspace pins; `Fp::new_unchecked` is its documented
/// inverse.)
#[cfg(target_arch = "x86_64")]
pub(crate) fn raw(x: &Fq) -> [u64; 5] {
    limbs::split(x.0 .0)
}

#[cfg(target_arch = "x86_64")]
pub(crate) fn from_raw(l: [u64; 5]) -> Result<Fq, SimdError> {
    let v = limbs::below::<Base>(l).ok_or(SimdError::Bound("a coordinate at or above 2q"))?;
    Ok(Fq::new_unchecked(ark_ff::BigInt(v)))
}

/// A G1 point in the lanes' form: `[x, y]`, each `v·2^260 mod q` in five 52-bit limbs (not
/// necessarily below `q`; [`add_pairs`] keeps them below `1.12q`).
pub(crate) type Pt = [[u64; 5]; 2];

/// Whether `add_pairs` (G1's or G2's) has work: an error without the lanes or for a pair
/// outside `points` (an error, not a panic), `false` for no pairs.
#[cfg(target_arch = "x86_64")]
pub(crate) fn check_pairs(points: usize, adds: &[(u32, u32)]) -> Result<bool, SimdError> {
    if !crate::available() {
        return Err(SimdError::Shape("no eight-lane arithmetic here".into()));
    }
    if let Some(&(a, b)) = adds
        .iter()
        .find(|&&(a, b)| a as usize >= points || b as usize >= points)
    {
        return Err(SimdError::Shape(format!(
            "pair ({a}, {b}) outside {points} points"
        )));
    }
    Ok(!adds.is_empty())
}

/// `src[a] + src[b]` for every `(a, b)` of `adds` (indices into `src`), every point in the
/// lanes' form, with one inversion: the G1 MSM's layers ([`crate::msm`]). The sums come out
/// below `1.11q`, ready to be added again. [`SimdError::VerticalChord`] if some pair
/// shares `x` (a doubling or `P + (−P)`: the caller adds that chunk another way), an error
/// too without the lanes.
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

/// One row of eight additions: the four coordinates of each lane in arkworks' form.
#[cfg(target_arch = "x86_64")]
type Row = [[[u64; 5]; LANES]; 4];

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn run(pending: &[[Fq; 4]], out: &mut [[Fq; 2]]) -> Result<(), SimdError> {
    let n = pending.len();
    // Row j, lane k: addition 8j + k; the last row's missing lanes repeat addition 0, whose
    // result is not written.
    let rows: Vec<Row> = (0..n.div_ceil(LANES))
        .map(|j| {
            std::array::from_fn(|f| {
                std::array::from_fn(|k| {
                    raw(&pending[if j * LANES + k < n { j * LANES + k } else { 0 }][f])
                })
            })
        })
        .collect();
    // SAFETY: `chord_additions` calls this only after `crate::available()` detected
    // `avx512f` and `avx512ifma`, the only features `lanes::add` and what it calls are
    // compiled for; they read and write only their arguments.
    let sums = unsafe { lanes::add(&rows, &invert_eight)? };
    for (o, (x3, y3)) in out
        .iter_mut()
        .zip(sums.iter().flat_map(|[xs, ys]| xs.iter().zip(ys.iter())))
    {
        *o = [from_raw(*x3)?, from_raw(*y3)?];
    }
    Ok(())
}

/// The inverses of eight values (arkworks' form in and out), with one inversion; an error
/// if one is zero.
#[cfg(target_arch = "x86_64")]
fn invert_eight(t: &[[u64; 5]; LANES]) -> Result<[[u64; 5]; LANES], SimdError> {
    use ark_ff::Field;
    let t: Vec<Fq> = t.iter().map(|l| from_raw(*l)).collect::<Result<_, _>>()?;
    let mut prefix = [Fq::from(1u64); LANES];
    let mut acc = Fq::from(1u64);
    for (p, x) in prefix.iter_mut().zip(&t) {
        *p = acc;
        acc *= x;
    }
    let mut inv = acc.inverse().ok_or(SimdError::VerticalChord)?;
    let mut res = [[0u64; 5]; LANES];
    for k in (0..LANES).rev() {
        res[k] = raw(&(inv * prefix[k]));
        inv *= t[k];
    }
    Ok(res)
}

#[cfg(target_arch = "x86_64")]
mod lanes {
    use super::{Pt, Row};
    use crate::error::SimdError;
    use crate::field::{load, mul, splat, store, sub, V};
    use crate::limbs::{borrowed, Base as B, Modulus};
    use crate::LANES;

    type Inverse<'a> = &'a dyn Fn(&[[u64; 5]; LANES]) -> Result<[[u64; 5]; LANES], SimdError>;

    /// The sums of every row's eight additions (`[x3, y3]` per lane, arkworks' form).
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn add(
        rows: &[Row],
        invert: Inverse<'_>,
    ) -> Result<Vec<[[[u64; 5]; LANES]; 2]>, SimdError> {
        let k_in = splat(&B::K_IN);
        let k_out = splat(&B::K_OUT);
        // The coordinates in the lanes' form.
        let points: Vec<[V; 4]> = rows
            .iter()
            .map(|r| std::array::from_fn(|f| mul::<B>(&load(&r[f]), &k_in)))
            .collect();
        Ok(chords(&points, invert)?
            .iter()
            .map(|[x3, y3]| [store(&mul::<B>(x3, &k_out)), store(&mul::<B>(y3, &k_out))])
            .collect())
    }

    /// `src[b] + src[a]` for every `(a, b)` of `adds`, all in the lanes' form (coordinates
    /// below `1.12q`), the sums reduced below `1.11q` (a multiplication by one), so that they
    /// can be added again.
    #[target_feature(enable = "avx512f,avx512ifma")]
    #[allow(clippy::needless_range_loop)] // lane k of four arrays at once
    pub(super) fn add_in_lanes_form(
        src: &[Pt],
        adds: &[(u32, u32)],
        invert: Inverse<'_>,
    ) -> Result<Vec<Pt>, SimdError> {
        let one = splat(&B::ONE);
        // Row j, lane k: addition 8j + k; the last row's missing lanes repeat addition 0.
        let rows = adds.len().div_ceil(LANES);
        let mut points: Vec<[V; 4]> = Vec::with_capacity(rows);
        let mut t = [[[0u64; 5]; LANES]; 4];
        for j in 0..rows {
            let row = &adds[j * LANES..adds.len().min((j + 1) * LANES)];
            for k in 0..LANES {
                let (a, b) = row.get(k).copied().unwrap_or(adds[0]);
                // [x, y, bx, by]: the second point onto the first.
                let (p, q) = (&src[b as usize], &src[a as usize]);
                t[0][k] = p[0];
                t[1][k] = p[1];
                t[2][k] = q[0];
                t[3][k] = q[1];
            }
            points.push([load(&t[0]), load(&t[1]), load(&t[2]), load(&t[3])]);
        }
        let mut out = Vec::with_capacity(points.len() * LANES);
        for [x3, y3] in chords(&points, invert)? {
            let (xs, ys) = (store(&mul::<B>(&x3, &one)), store(&mul::<B>(&y3, &one)));
            out.extend(xs.into_iter().zip(ys).map(|(x, y)| [x, y]));
        }
        out.truncate(adds.len());
        Ok(out)
    }

    /// The chord additions of `points` (`[x, y, bx, by]` per lane, the lanes' form, every
    /// coordinate below `1.12q`), with one inversion: `[x3, y3]` per row, unreduced (below
    /// `9.1q` and `5.3q`).
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn chords(points: &[[V; 4]], invert: Inverse<'_>) -> Result<Vec<[V; 2]>, SimdError> {
        const Q4: [u64; 5] = borrowed(B::P, 4);
        const Q16: [u64; 5] = borrowed(B::P, 16);
        let k_in = splat(&B::K_IN);
        let k_out = splat(&B::K_OUT);
        // The denominators, and the products before each.
        let mut acc = splat(&B::ONE);
        let mut before = Vec::with_capacity(points.len());
        let mut dens = Vec::with_capacity(points.len());
        for [x, _, bx, _] in points {
            let d = sub(x, bx, &Q4);
            before.push(acc);
            acc = mul::<B>(&acc, &d);
            dens.push(d);
        }
        let inv = invert(&store(&mul::<B>(&acc, &k_out)))?;
        let mut inv = mul::<B>(&load(&inv), &k_in);
        let mut sums = vec![[splat(&[0; 5]); 2]; points.len()];
        for j in (0..points.len()).rev() {
            let [x, y, bx, by] = &points[j];
            let d_inv = mul::<B>(&inv, &before[j]);
            inv = mul::<B>(&inv, &dens[j]);
            let l = mul::<B>(&sub(y, by, &Q4), &d_inv);
            let x3 = sub(&sub(&mul::<B>(&l, &l), bx, &Q4), x, &Q4);
            let y3 = sub(&mul::<B>(&l, &sub(bx, &x3, &Q16)), by, &Q4);
            sums[j] = [x3, y3];
        }
        Ok(sums)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{G1Affine, G1Projective};
    use ark_ec::{AffineRepr, CurveGroup};
    use ark_ff::{Field, UniformRand};

    fn points(n: usize, rng: &mut impl ark_std::rand::Rng) -> Vec<G1Affine> {
        let g = G1Projective::rand(rng);
        // Multiples of one point and random ones, so that coordinates vary widely.
        (0..n)
            .map(|i| {
                if i % 3 == 0 {
                    (g * ark_bn254::Fr::from(i as u64 + 2)).into_affine()
                } else {
                    G1Projective::rand(rng).into_affine()
                }
            })
            .collect()
    }

    /// Every batch size around the lanes (1, a partial row, a full row, several rows and a
    /// partial one, a whole MSM batch) against arkworks' addition.
    #[test]
    fn chord_additions_equal_arkworks() {
        if !crate::available() {
            eprintln!("NOTE: no AVX-512 IFMA here (or ZKCREDIT_SIMD=off): not exercised");
            let mut out = [[Fq::from(0u64); 2]; 1];
            let one = G1Affine::generator();
            let (x, y) = one.xy().unwrap();
            assert_eq!(chord_additions(&[[x, y, x, y]], &mut out), Ok(false));
            return;
        }
        let mut rng = ark_std::test_rng();
        // φ(x, y) = (ω·x, y), ω a cube root of one: a chord with y = by, so l = 0.
        let omega = (-Fq::from(1u64) + (-Fq::from(3u64)).sqrt().unwrap()) / Fq::from(2u64);
        assert_eq!(omega * omega * omega, Fq::from(1u64));
        for n in [1usize, 5, 8, 9, 16, 63, 512, 515] {
            let a = points(n, &mut rng);
            let mut b = points(n, &mut rng);
            for i in (0..n).step_by(7) {
                let (x, y) = a[i].xy().unwrap();
                b[i] = G1Affine::new_unchecked(omega * x, y);
                assert!(b[i].is_on_curve());
            }
            let pending: Vec<[Fq; 4]> = a
                .iter()
                .zip(&b)
                .map(|(p, q)| {
                    let (x, y) = p.xy().unwrap();
                    let (bx, by) = q.xy().unwrap();
                    [x, y, bx, by]
                })
                .collect();
            let mut out = vec![[Fq::from(0u64); 2]; n];
            assert_eq!(chord_additions(&pending, &mut out), Ok(true));
            for i in 0..n {
                let want = (a[i] + b[i]).into_affine();
                let (x, y) = want.xy().unwrap();
                assert_eq!(out[i], [x, y], "n {n}, addition {i}");
            }
        }
    }

    /// `P + (−P)`'s chord has no slope: refused, nothing written; mismatched lengths refused.
    #[test]
    fn a_vertical_chord_and_a_wrong_length_are_refused() {
        if !crate::available() {
            eprintln!("NOTE: no AVX-512 IFMA here (or ZKCREDIT_SIMD=off): not exercised");
            return;
        }
        let p = G1Affine::generator();
        let (x, y) = p.xy().unwrap();
        let q = (p + p).into_affine();
        let (qx, qy) = q.xy().unwrap();
        let mut out = vec![[Fq::from(7u64); 2]; 2];
        assert_eq!(
            chord_additions(&[[qx, qy, x, y], [x, y, x, -y]], &mut out),
            Err(SimdError::VerticalChord)
        );
        assert_eq!(out, vec![[Fq::from(7u64); 2]; 2]);
        assert!(matches!(
            chord_additions(&[[qx, qy, x, y]], &mut out),
            Err(SimdError::Shape(_))
        ));
        // The vertical chord as addition 0 (the one the last row's padding repeats) and in
        // a later row of a longer batch.
        let ok = [qx, qy, x, y];
        for at in [0usize, 13] {
            let mut pending = vec![ok; 20];
            pending[at] = [x, y, x, -y];
            let mut out = vec![[Fq::from(7u64); 2]; 20];
            assert_eq!(
                chord_additions(&pending, &mut out),
                Err(SimdError::VerticalChord)
            );
            assert_eq!(out, vec![[Fq::from(7u64); 2]; 20]);
        }
    }
}
