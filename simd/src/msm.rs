//! Multi-scalar multiplications in G1 and G2 whose every group addition runs in the lanes
//! ([`crate::g1`], [`crate::g2`]): the prover's five MSMs (issue 14).
//!
//! **The method.** Signed windows, as the prover's other MSMs use them: the caller gives each
//! scalar as `W` digits of `c` bits (`k = Σ_j d_j·2^(c·j)`, `|d_j| ≤ 2^(c−1)`), and window
//! `j`'s sum is `Σ_b (b + 1)·S_b` over its buckets `S_b = Σ_{|d_ij| = b + 1} ±P_i`. What is
//! ours is how the buckets are summed: instead of adding points one by one into buckets
//! (where a busy bucket stalls a batch), each bucket's points are **paired in the bases'
//! order** (the first layer, formed straight from the digits, so the table of bases is
//! read nearly in order) and every bucket's run is then summed **pairwise in layers**:
//! each layer adds disjoint pairs, so all of its additions are independent and share one
//! inversion per chunk, eight at a time in the lanes; a run of `m` points takes `⌈log₂ m⌉`
//! layers, and a repeated digit (a wire holding a bit) costs nothing more than a spread one.
//! The points stay in the lanes' form (`x·2^260 mod q`, five 52-bit limbs per `Fq`) from
//! the table of signed bases to the bucket sums. The buckets are then reduced on a grid as
//! `prover/src/bucket.rs` reduces them (`b = q·m + r` weighs `m·q + r + 1`: the row and
//! column sums, again as runs in the lanes, then two short running sums), and the windows
//! are combined by doubling.
//!
//! **Exceptions.** A pair sharing `x` (`P + P` or `P + (−P)`) has no chord; it makes its
//! chunk's product of denominators zero, which the inversion reports, and that chunk is then
//! added with arkworks' complete formulas, normalised with one inversion (a sum at infinity
//! leaves its run). Bases at infinity are skipped. A proving key's bases make such pairs only
//! by accident or by construction of a hostile key; for bases on the curve the result is the
//! same group element either way. (Off the curve, addition is not associative and no MSM's
//! result means anything; the key's loader validates points it did not write itself.)

use crate::error::SimdError;
use crate::limbs::{self, Base};
use ark_bn254::{g1, g2, Fq, Fq2};
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{AdditiveGroup, AffineRepr, CurveGroup};
use ark_ff::{BigInt, Field};
use rayon::prelude::*;
use std::sync::OnceLock;

/// The most additions one inversion resolves in a layer (few in the tests, so that a layer
/// has many chunks and a chunk with a vertical chord sits among chunks without).
const CHUNK: usize = if cfg!(test) { 48 } else { 2048 };

/// A group whose chord additions run in the lanes: BN254's G1 and G2.
pub(crate) trait LaneCurve: SWCurveConfig {
    /// A point in the lanes' form.
    type Pt: Copy + Default + Send + Sync;
    /// `P` and `−P` in the lanes' form; `None` at infinity.
    fn signed(p: &Affine<Self>) -> Option<(Self::Pt, Self::Pt)>;
    /// The affine point of limbs below `2q`.
    fn affine(p: &Self::Pt) -> Result<Affine<Self>, SimdError>;
    /// `src[a] + src[b]` for every pair, in the lanes (one inversion).
    fn add_pairs(src: &[Self::Pt], adds: &[(u32, u32)]) -> Result<Vec<Self::Pt>, SimdError>;
}

impl LaneCurve for g1::Config {
    type Pt = crate::g1::Pt;
    fn signed(p: &Affine<Self>) -> Option<(Self::Pt, Self::Pt)> {
        let (x, y) = p.xy()?;
        let x = to_lanes(x);
        Some(([x, to_lanes(y)], [x, to_lanes(-y)]))
    }
    fn affine(p: &Self::Pt) -> Result<Affine<Self>, SimdError> {
        Ok(Affine::new_unchecked(to_field(&p[0])?, to_field(&p[1])?))
    }
    fn add_pairs(src: &[Self::Pt], adds: &[(u32, u32)]) -> Result<Vec<Self::Pt>, SimdError> {
        crate::g1::add_pairs(src, adds)
    }
}

impl LaneCurve for g2::Config {
    type Pt = crate::g2::Pt;
    fn signed(p: &Affine<Self>) -> Option<(Self::Pt, Self::Pt)> {
        let (x, y) = p.xy()?;
        let (x0, x1) = (to_lanes(x.c0), to_lanes(x.c1));
        let ny = -y;
        Some((
            [x0, x1, to_lanes(y.c0), to_lanes(y.c1)],
            [x0, x1, to_lanes(ny.c0), to_lanes(ny.c1)],
        ))
    }
    fn affine(p: &Self::Pt) -> Result<Affine<Self>, SimdError> {
        let x = Fq2::new(to_field(&p[0])?, to_field(&p[1])?);
        let y = Fq2::new(to_field(&p[2])?, to_field(&p[3])?);
        Ok(Affine::new_unchecked(x, y))
    }
    fn add_pairs(src: &[Self::Pt], adds: &[(u32, u32)]) -> Result<Vec<Self::Pt>, SimdError> {
        crate::g2::add_pairs(src, adds)
    }
}

/// `Σ k_i·P_i` in G1 over the first `min(bases, digits)` bases, each scalar given by its `W`
/// signed digits of `window` bits (`k = Σ_j d_j·2^(window·j)`, every `|d_j| ≤
/// 2^(window−1)`), the windows summed in parallel. `Ok(None)` without the lanes (the
/// caller then runs its own MSM); [`SimdError::Shape`] for a window outside `2..=15` (a
/// digit of 2^15 does not fit an `i16`), a
/// digit out of range or more than `2^31` bases.
pub fn g1_msm<const W: usize>(
    bases: &[Affine<g1::Config>],
    digits: &[[i16; W]],
    window: u32,
) -> Result<Option<Projective<g1::Config>>, SimdError> {
    msm(bases, digits, window)
}

/// [`g1_msm`] in G2 (coordinates in `Fq2`).
pub fn g2_msm<const W: usize>(
    bases: &[Affine<g2::Config>],
    digits: &[[i16; W]],
    window: u32,
) -> Result<Option<Projective<g2::Config>>, SimdError> {
    msm(bases, digits, window)
}

fn msm<C: LaneCurve, const W: usize>(
    bases: &[Affine<C>],
    digits: &[[i16; W]],
    window: u32,
) -> Result<Option<Projective<C>>, SimdError> {
    if !crate::available() {
        return Ok(None);
    }
    if !(2..=15).contains(&window) {
        return Err(SimdError::Shape(format!("a window of {window} bits")));
    }
    let n = bases.len().min(digits.len());
    if n >= 1 << 31 {
        return Err(SimdError::Shape(format!("{n} bases")));
    }
    let (bases, digits) = (&bases[..n], &digits[..n]);
    let table = signed_table(bases);
    let sums = (0..W)
        .into_par_iter()
        .map(|j| window_sum(&table, bases, digits, j, 1 << (window - 1)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut total = Projective::<C>::ZERO;
    for s in sums.iter().rev() {
        for _ in 0..window {
            total.double_in_place();
        }
        total += s;
    }
    Ok(Some(total))
}

/// `P_i` at `i` and `−P_i` at `n + i`, in the lanes' form (the entries of bases at infinity
/// are never read).
fn signed_table<C: LaneCurve>(bases: &[Affine<C>]) -> Vec<C::Pt> {
    let n = bases.len();
    let mut table = vec![C::Pt::default(); 2 * n];
    let (plus, minus) = table.split_at_mut(n);
    plus.par_iter_mut()
        .zip(minus.par_iter_mut())
        .zip(bases.par_iter())
        .for_each(|((p, m), b)| {
            if let Some((bp, bm)) = C::signed(b) {
                (*p, *m) = (bp, bm);
            }
        });
    table
}

/// `x·2^260 mod q` in limbs: arkworks holds `x·2^256`, so this is arkworks' form of `16·x`.
fn to_lanes(x: Fq) -> [u64; 5] {
    let mut t = x;
    for _ in 0..4 {
        t.double_in_place();
    }
    limbs::split(t.0 .0)
}

/// The inverse of [`to_lanes`] for limbs below `2q`.
fn to_field(l: &[u64; 5]) -> Result<Fq, SimdError> {
    static INV16: OnceLock<Fq> = OnceLock::new();
    let inv16 = *INV16.get_or_init(|| Fq::from(16u64).inverse().unwrap_or_default());
    let v = limbs::below::<Base>(*l).ok_or(SimdError::Bound("a coordinate at or above 2q"))?;
    Ok(Fq::new_unchecked(BigInt(v)) * inv16)
}

/// Window `j`: the first layer straight from the digits (each bucket's points paired in the
/// bases' order, so that the table is read nearly in order), its sums written bucket by
/// bucket; then every bucket's run summed in layers, and the buckets reduced.
fn window_sum<C: LaneCurve, const W: usize>(
    table: &[C::Pt],
    bases: &[Affine<C>],
    digits: &[[i16; W]],
    j: usize,
    buckets: usize,
) -> Result<Projective<C>, SimdError> {
    const NONE: u32 = u32::MAX;
    let n = bases.len();
    let digit = |i: usize| -> Option<(usize, u32)> {
        let d = digits[i][j];
        (d != 0 && !bases[i].is_zero()).then(|| {
            let signed = if d > 0 { i } else { n + i };
            (usize::from(d.unsigned_abs()) - 1, signed as u32)
        })
    };
    // Each bucket's share of the layer's output: half its points, rounded up.
    let mut count = vec![0u32; buckets];
    for i in 0..n {
        if let Some((b, _)) = digit(i) {
            match count.get_mut(b) {
                Some(c) => *c += 1,
                None => {
                    return Err(SimdError::Shape(format!(
                        "digit magnitude {} in window {j} exceeds {buckets}",
                        b + 1
                    )))
                }
            }
        }
    }
    let mut starts = Vec::with_capacity(buckets + 1);
    starts.push(0u32);
    for c in &count {
        starts.push(starts[starts.len() - 1] + c.div_ceil(2));
    }
    let mut out = vec![C::Pt::default(); starts[buckets] as usize];
    let mut next = starts.clone();
    let mut pending = vec![NONE; buckets];
    let (mut adds, mut add_at) = (Vec::with_capacity(out.len()), Vec::with_capacity(out.len()));
    for i in 0..n {
        if let Some((b, s)) = digit(i) {
            if pending[b] == NONE {
                pending[b] = s;
            } else {
                adds.push((pending[b], s));
                add_at.push(next[b] as usize);
                next[b] += 1;
                pending[b] = NONE;
            }
        }
    }
    for (b, p) in pending.iter().enumerate() {
        if *p != NONE {
            out[next[b] as usize] = table[*p as usize];
        }
    }
    let at_infinity = add_into::<C>(table, &adds, &add_at, &mut out)?;
    let (idx, starts) =
        runs_without_infinity(&at_infinity, starts[1..].iter().map(|&e| e as usize));
    let sums = sum_runs::<C>(&out, idx, starts)?;
    reduce::<C>(&sums)
}

/// `Σ_b (b + 1)·S_b` over the bucket sums (their count a power of two): with `b = q·m + r`
/// on a grid of `k` rows of `m`, `m·Σ_q q·R_q + Σ_r (r + 1)·C_r` over the row sums `R_q`
/// and column sums `C_r` (summed as runs in the lanes), then two running sums.
fn reduce<C: LaneCurve>(sums: &[Option<C::Pt>]) -> Result<Projective<C>, SimdError> {
    let buckets = sums.len();
    let m = 1usize << (buckets.trailing_zeros() / 2);
    let k = buckets / m;
    let mut points = Vec::new();
    let mut at = vec![u32::MAX; buckets];
    for (b, s) in sums.iter().enumerate() {
        if let Some(p) = s {
            at[b] = points.len() as u32;
            points.push(*p);
        }
    }
    let mut idx = Vec::with_capacity(2 * points.len());
    let mut starts = vec![0u32];
    let lines = (0..k)
        .map(|q| (q * m..(q + 1) * m).collect::<Vec<_>>())
        .chain((0..m).map(|r| (0..k).map(|q| q * m + r).collect()));
    for line in lines {
        idx.extend(line.into_iter().map(|b| at[b]).filter(|&a| a != u32::MAX));
        starts.push(idx.len() as u32);
    }
    let lines = sum_runs::<C>(&points, idx, starts)?;
    let affine = |p: &Option<C::Pt>| -> Result<Projective<C>, SimdError> {
        Ok(match p {
            Some(p) => C::affine(p)?.into_group(),
            None => Projective::<C>::ZERO,
        })
    };
    let (rows, columns) = lines.split_at(k);
    // Σ_q q·R_q (the running sum without the lowest row), times m.
    let mut by_row = running_sum(&rows[1..], &affine)?;
    for _ in 0..m.trailing_zeros() {
        by_row.double_in_place();
    }
    Ok(by_row + running_sum(columns, &affine)?)
}

/// `Σ_i (i + 1)·p_i` from the top down.
fn running_sum<C: LaneCurve>(
    points: &[Option<C::Pt>],
    affine: &impl Fn(&Option<C::Pt>) -> Result<Projective<C>, SimdError>,
) -> Result<Projective<C>, SimdError> {
    let (mut running, mut total) = (Projective::<C>::ZERO, Projective::<C>::ZERO);
    for p in points.iter().rev() {
        running += affine(p)?;
        total += running;
    }
    Ok(total)
}

/// The sum of every run `idx[starts[r]..starts[r + 1]]` (indices into `src`), pairwise in
/// layers; `None` for a run that is empty or sums to infinity.
fn sum_runs<C: LaneCurve>(
    src: &[C::Pt],
    idx: Vec<u32>,
    starts: Vec<u32>,
) -> Result<Vec<Option<C::Pt>>, SimdError> {
    let longest = |s: &[u32]| s.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    if longest(&starts) <= 1 {
        return Ok(starts
            .windows(2)
            .map(|w| (w[1] > w[0]).then(|| src[idx[w[0] as usize] as usize]))
            .collect());
    }
    let (mut points, mut idx, mut starts) = layer::<C>(src, &idx, &starts)?;
    while longest(&starts) > 1 {
        (points, idx, starts) = layer::<C>(&points, &idx, &starts)?;
    }
    Ok(starts
        .windows(2)
        .map(|w| (w[1] > w[0]).then(|| points[idx[w[0] as usize] as usize]))
        .collect())
}

/// One layer: every run's consecutive pairs added (an odd last point carried), as new runs
/// over the returned points, without the sums at infinity.
#[allow(clippy::type_complexity)]
fn layer<C: LaneCurve>(
    src: &[C::Pt],
    idx: &[u32],
    starts: &[u32],
) -> Result<(Vec<C::Pt>, Vec<u32>, Vec<u32>), SimdError> {
    let mut out = Vec::with_capacity(idx.len().div_ceil(2) + starts.len());
    let (mut adds, mut add_at) = (Vec::new(), Vec::new());
    let mut ends = Vec::with_capacity(starts.len());
    for w in starts.windows(2) {
        for pair in idx[w[0] as usize..w[1] as usize].chunks(2) {
            if let [a, b] = pair {
                add_at.push(out.len());
                adds.push((*a, *b));
                out.push(C::Pt::default());
            } else {
                out.push(src[pair[0] as usize]);
            }
        }
        ends.push(out.len());
    }
    let at_infinity = add_into::<C>(src, &adds, &add_at, &mut out)?;
    let (next, next_starts) = runs_without_infinity(&at_infinity, ends.into_iter());
    Ok((out, next, next_starts))
}

/// `out[add_at[t]] = src[a] + src[b]` for every `adds[t] = (a, b)`, a chunk at a time in the
/// lanes; a chunk with a pair sharing `x` is added with arkworks' complete formulas. Which
/// entries of `out` are at infinity.
fn add_into<C: LaneCurve>(
    src: &[C::Pt],
    adds: &[(u32, u32)],
    add_at: &[usize],
    out: &mut [C::Pt],
) -> Result<Vec<bool>, SimdError> {
    let mut at_infinity = vec![false; out.len()];
    for (chunk, at) in adds.chunks(CHUNK).zip(add_at.chunks(CHUNK)) {
        match C::add_pairs(src, chunk) {
            Ok(sums) => {
                for (s, &i) in sums.into_iter().zip(at) {
                    out[i] = s;
                }
            }
            Err(SimdError::VerticalChord) => {
                let sums = chunk
                    .iter()
                    .map(|&(a, b)| Ok(C::affine(&src[a as usize])? + C::affine(&src[b as usize])?))
                    .collect::<Result<Vec<Projective<C>>, SimdError>>()?;
                for (sum, &i) in Projective::normalize_batch(&sums).iter().zip(at) {
                    match C::signed(sum) {
                        Some((s, _)) => out[i] = s,
                        None => at_infinity[i] = true,
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(at_infinity)
}

/// The runs ending at `ends` (consecutive, from 0) as indices and starts, without the
/// entries at infinity.
fn runs_without_infinity(
    at_infinity: &[bool],
    ends: impl Iterator<Item = usize>,
) -> (Vec<u32>, Vec<u32>) {
    let mut idx = Vec::with_capacity(at_infinity.len());
    let mut starts = vec![0u32];
    let mut from = 0;
    for end in ends {
        idx.extend((from..end).filter(|&i| !at_infinity[i]).map(|i| i as u32));
        starts.push(idx.len() as u32);
        from = end;
    }
    (idx, starts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine};
    use ark_ec::VariableBaseMSM;
    use ark_ff::{PrimeField, UniformRand};
    use ark_std::rand::{rngs::StdRng, Rng, SeedableRng};

    /// The signed base-`2^c` digits of `k` (the prover's recoding, for any width).
    fn digits<const W: usize>(k: &Fr, c: usize) -> [i16; W] {
        let limbs = k.into_bigint().0;
        let mut out = [0i16; W];
        let mut carry = 0u64;
        for (j, d) in out.iter_mut().enumerate() {
            let (word, bit) = ((j * c) / 64, (j * c) % 64);
            let mut raw = limbs.get(word).copied().unwrap_or(0) >> bit;
            if bit + c > 64 {
                raw |= limbs.get(word + 1).copied().unwrap_or(0) << (64 - bit);
            }
            let coef = (raw & ((1 << c) - 1)) + carry;
            carry = u64::from(coef > 1 << (c - 1));
            *d = (coef as i64 - ((carry as i64) << c)) as i16;
        }
        assert_eq!(carry, 0);
        out
    }

    fn check<const W: usize, C: LaneCurve<ScalarField = Fr>>(
        bases: &[Affine<C>],
        scalars: &[Fr],
        c: usize,
    ) {
        let d: Vec<[i16; W]> = scalars.iter().map(|k| digits::<W>(k, c)).collect();
        let want = Projective::<C>::msm(bases, scalars).expect("same lengths");
        let got = msm(bases, &d, c as u32).expect("no error").expect("lanes");
        assert_eq!(
            got.into_affine(),
            want.into_affine(),
            "{} bases",
            bases.len()
        );
    }

    /// Scalars of every kind a witness holds: zero, one, −1, small values (many equal
    /// digits, so long runs), powers of two and full-width random ones.
    fn scalars(n: usize, rng: &mut StdRng) -> Vec<Fr> {
        (0..n)
            .map(|i| match i % 7 {
                0 => Fr::from(0u64),
                1 => Fr::from(1u64),
                2 => -Fr::from(1u64),
                3 => Fr::from(rng.gen_range(2u64..40)),
                4 => Fr::from(1u64 << rng.gen_range(0..64)),
                _ => Fr::rand(rng),
            })
            .collect()
    }

    #[test]
    fn the_lanes_msm_equals_arkworks() {
        if !crate::available() {
            eprintln!("NOTE: no AVX-512 IFMA here (or ZKCREDIT_SIMD=off): not exercised");
            assert_eq!(g1_msm::<20>(&[], &[], 13), Ok(None));
            return;
        }
        let mut rng = StdRng::seed_from_u64(14);
        for n in [0usize, 1, 2, 9, 100, 2_500] {
            let bases: Vec<G1Affine> = (0..n).map(|_| G1Affine::rand(&mut rng)).collect();
            let ks = scalars(n, &mut rng);
            // 13-bit windows (a 64 × 64 grid), 10-bit ones (32 rows of 16), and the extremes:
            // 2 bits (2 buckets) and 15 (128 × 128).
            check::<20, _>(&bases, &ks, 13);
            check::<26, _>(&bases, &ks, 10);
            if n <= 100 {
                check::<130, _>(&bases, &ks, 2);
                check::<18, _>(&bases, &ks, 15);
            }
        }
    }

    /// The same in G2 (coordinates in `Fq2`), with a repeated base and its negation (the
    /// complete formulas' path), a base at infinity and 11-bit windows (a 32 × 32 grid).
    #[test]
    fn the_lanes_msm_equals_arkworks_in_g2() {
        if !crate::available() {
            eprintln!("NOTE: no AVX-512 IFMA here (or ZKCREDIT_SIMD=off): not exercised");
            assert_eq!(g2_msm::<20>(&[], &[], 13), Ok(None));
            return;
        }
        let mut rng = StdRng::seed_from_u64(16);
        for n in [1usize, 9, 700] {
            let mut bases: Vec<G2Affine> = (0..n).map(|_| G2Affine::rand(&mut rng)).collect();
            if n > 100 {
                for i in (0..n).step_by(5) {
                    bases[i] = bases[0];
                }
                for i in (1..n).step_by(11) {
                    bases[i] = -bases[0];
                }
                bases[2] = G2Affine::zero();
            }
            let ks = scalars(n, &mut rng);
            check::<20, _>(&bases, &ks, 13);
            check::<24, _>(&bases, &ks, 11);
            check::<20, _>(&bases, &vec![Fr::from(1u64); n], 13);
        }
    }

    /// Bases that make chords without a slope: one point many times (`P + P` in a layer),
    /// `P` beside `−P` in one bucket (a sum at infinity that leaves its run), bases at
    /// infinity, and every scalar one (a single run of every base).
    #[test]
    fn doublings_cancellations_and_infinity_take_the_complete_formulas() {
        if !crate::available() {
            eprintln!("NOTE: no AVX-512 IFMA here (or ZKCREDIT_SIMD=off): not exercised");
            return;
        }
        let mut rng = StdRng::seed_from_u64(15);
        let p = G1Affine::rand(&mut rng);
        let mut bases: Vec<G1Affine> = (0..600).map(|_| G1Affine::rand(&mut rng)).collect();
        for i in (0..600).step_by(3) {
            bases[i] = p;
        }
        for i in (1..600).step_by(10) {
            bases[i] = -p;
        }
        for i in (2..600).step_by(50) {
            bases[i] = G1Affine::zero();
        }
        let ones = vec![Fr::from(1u64); 600];
        check::<20, _>(&bases, &ones, 13);
        check::<20, _>(&bases, &scalars(600, &mut rng), 13);
        // Exactly cancelling: P and −P once each, every scalar one.
        check::<20, _>(&[p, -p], &[Fr::from(1u64), Fr::from(1u64)], 13);
        check::<20, _>(&[p, p, p, p], &[Fr::from(1u64); 4], 13);
    }

    #[test]
    fn a_digit_or_a_window_out_of_range_is_refused() {
        if !crate::available() {
            eprintln!("NOTE: no AVX-512 IFMA here (or ZKCREDIT_SIMD=off): not exercised");
            return;
        }
        let p = [G1Affine::generator()];
        assert!(matches!(
            g1_msm(&p, &[[4097i16]], 13),
            Err(SimdError::Shape(_))
        ));
        assert!(matches!(
            g1_msm(&p, &[[-4097i16]], 13),
            Err(SimdError::Shape(_))
        ));
        assert!(matches!(
            g1_msm(&p, &[[1i16]], 16),
            Err(SimdError::Shape(_))
        ));
        let want = G1Projective::from(p[0]) * Fr::from(4096u64);
        assert_eq!(g1_msm(&p, &[[4096i16]], 13), Ok(Some(want)));
        // −2^(c−1), which the recoding never gives, is in range all the same.
        assert_eq!(g1_msm(&p, &[[-4096i16]], 13), Ok(Some(-want)));
    }
}
