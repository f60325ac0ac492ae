//! Fixed-base MSMs from precomputed window tables (issue 14, the fixed-base lever;
//! `benches/LEVERS.md`).
//!
//! A Groth16 prover multiplies the same proving-key bases by new scalars in every proof. The
//! bucket method spends, per window, one bucket reduction (≈ 2 · 2^(c−1) group additions) and
//! c doublings; with `W` windows of `c` bits that is `W` reductions. Storing, per base `P`, the
//! points `2^(c·j)·P` for every window `j` ([`Table`], built once per key) turns the MSM into a
//! *single* window over `W·n` points: the bucket additions stay (`W·n`), the `W` reductions
//! become one, and the doublings vanish. With one reduction to pay, the window can be wider
//! than the windowed MSM can afford (13 bits here against 10–11), so there are fewer points
//! to add as well. The price is memory (`W` = 20 points per base) and the table's
//! construction (`(W − 1)·c` = 247 doublings per base), so the prover builds tables only on request
//! ([`crate::fast::Prover::with_fixed_base_tables`]) and only for keys of at most
//! [`FIXED_MAX_BASES`] bases per query.
//!
//! Buckets are kept in affine coordinates and each batch of additions shares one inversion
//! (`prover/src/bucket.rs`), as `taceo-ark-algebra`'s windowed MSM does; its accumulator is private
//! to that crate.

use crate::bucket::Buckets;
use ark_bn254::Fr;
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{AdditiveGroup, PrimeField};
use rayon::prelude::*;

/// The window width in bits.
pub const WINDOW: usize = 13;

/// Windows per scalar: `20 · 13 = 260` bits, so that the signed recoding of any scalar below
/// 2^256 ends without a carry and every digit lies in `[−2^12 + 1, 2^12]`.
pub const WINDOWS: usize = 20;

/// Buckets: one per digit magnitude `1..=2^(WINDOW−1)`.
const BUCKETS: usize = 1 << (WINDOW - 1);

/// The largest query (in bases) the prover builds a table for: 20 points per base of 64
/// bytes (G1) or 128 (G2), so a query of this size takes 20 MiB in G1 and 40 MiB in G2.
pub const FIXED_MAX_BASES: usize = 1 << 14;

/// The signed base-2^13 digits of `k`: `k = Σ_j d_j·2^(13·j)` with `d_j ∈ [−2^12 + 1, 2^12]`.
pub fn digits(k: &Fr) -> [i16; WINDOWS] {
    let limbs = k.into_bigint().0;
    let mut out = [0i16; WINDOWS];
    let mut carry = 0u64;
    for (j, d) in out.iter_mut().enumerate() {
        let (word, bit) = ((j * WINDOW) / 64, (j * WINDOW) % 64);
        let mut raw = limbs.get(word).copied().unwrap_or(0) >> bit;
        if bit + WINDOW > 64 {
            raw |= limbs.get(word + 1).copied().unwrap_or(0) << (64 - bit);
        }
        // coef ∈ [0, 2^13]; above half the radix it becomes negative and carries one.
        let coef = (raw & ((1 << WINDOW) - 1)) + carry;
        carry = u64::from(coef > (BUCKETS as u64));
        // |digit| ≤ 2^12 fits an i16 either way.
        *d = (coef as i64 - ((carry as i64) << WINDOW)) as i16;
    }
    out
}

/// A query's precomputed bases: `2^(13·j)·P_i` at `i·WINDOWS + j`.
#[derive(Clone)]
pub struct Table<C: SWCurveConfig> {
    points: Vec<Affine<C>>,
}

impl<C: SWCurveConfig> std::fmt::Debug for Table<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("bases", &(self.points.len() / WINDOWS))
            .finish_non_exhaustive()
    }
}

impl<C: SWCurveConfig<ScalarField = Fr>> Table<C> {
    /// The table of `bases` (in parallel; 247 doublings per base), written in place.
    pub fn new(bases: &[Affine<C>]) -> Self {
        const CHUNK: usize = 256;
        let mut points = vec![Affine::<C>::zero(); bases.len() * WINDOWS];
        points
            .par_chunks_mut(CHUNK * WINDOWS)
            .zip(bases.par_chunks(CHUNK))
            .for_each(|(out, chunk)| {
                let mut row = Vec::with_capacity(chunk.len() * WINDOWS);
                for p in chunk {
                    let mut q = p.into_group();
                    row.push(q);
                    for _ in 1..WINDOWS {
                        for _ in 0..WINDOW {
                            q.double_in_place();
                        }
                        row.push(q);
                    }
                }
                out.copy_from_slice(&Projective::normalize_batch(&row));
            });
        Self { points }
    }

    /// How many bases the table holds.
    pub fn len(&self) -> usize {
        self.points.len() / WINDOWS
    }

    /// Whether the table holds no base.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// `Σ k_i·P_i` over the first `min(len, scalars)` bases, the scalars given by their
    /// [`digits`] ([`all_digits`]), split into `parts` ranges summed in parallel (each part
    /// pays one bucket reduction).
    pub fn msm(&self, scalars: &[[i16; WINDOWS]], parts: usize) -> Projective<C> {
        let n = self.len().min(scalars.len());
        let per = n.div_ceil(parts.max(1)).max(1);
        scalars[..n]
            .par_chunks(per)
            .zip(self.points.par_chunks(per * WINDOWS))
            .map(|(ks, points)| sum(points, ks))
            .reduce(|| Projective::ZERO, |a, b| a + b)
    }
}

/// The [`digits`] of every scalar (in parallel), as [`Table::msm`] takes them: one
/// recoding serves every query over the same scalars.
pub fn all_digits(scalars: &[Fr]) -> Vec<[i16; WINDOWS]> {
    scalars.par_iter().map(digits).collect()
}

/// One part: every non-zero digit's point, signed, into its bucket.
fn sum<C: SWCurveConfig>(points: &[Affine<C>], scalars: &[[i16; WINDOWS]]) -> Projective<C> {
    let mut buckets = Buckets::<C>::new(BUCKETS);
    for (ds, row) in scalars.iter().zip(points.chunks_exact(WINDOWS)) {
        for (&d, p) in ds.iter().zip(row) {
            if d == 0 {
                continue;
            }
            let Some((x, y)) = p.xy() else {
                continue;
            };
            let y = if d < 0 { -y } else { y };
            buckets.add(usize::from(d.unsigned_abs()) - 1, x, y);
        }
    }
    buckets.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{g1, g2};
    use ark_ec::PrimeGroup;
    use ark_ff::{BigInteger, Field, One, UniformRand, Zero};
    use ark_std::rand::{rngs::StdRng, SeedableRng};

    fn edge_scalars() -> Vec<Fr> {
        let two = Fr::from(2u64);
        vec![
            Fr::zero(),
            Fr::one(),
            -Fr::one(),
            Fr::from(4096u64),
            Fr::from(4097u64),
            Fr::from(8191u64),
            Fr::from(8192u64),
            two.pow([13u64 * 19]) - Fr::one(),
            two.pow([253u64]),
            -two.pow([128u64]),
            // Every digit at the recentring edge: 0x1000 repeated.
            (0..19).fold(Fr::zero(), |acc, j| {
                acc + Fr::from(4096u64) * two.pow([13u64 * j])
            }),
        ]
    }

    #[test]
    fn digits_sum_back_and_stay_within_half_the_radix() {
        let mut rng = StdRng::seed_from_u64(5);
        let scalars = edge_scalars()
            .into_iter()
            .chain((0..20_000).map(|_| Fr::rand(&mut rng)));
        for k in scalars {
            let ds = digits(&k);
            let back = ds.iter().rev().fold(Fr::zero(), |acc, d| {
                acc * Fr::from(1u64 << WINDOW) + Fr::from(i64::from(*d))
            });
            assert_eq!(back, k, "k = {k}");
            assert!(
                ds.iter().all(|d| d.unsigned_abs() as usize <= BUCKETS),
                "{ds:?}"
            );
        }
        // The largest scalar's top digit is small: the recoding ends without a carry.
        let top = digits(&-Fr::one())[WINDOWS - 1];
        assert!((0..=128).contains(&top), "{top}");
        assert_eq!((-Fr::one()).into_bigint().num_bits(), 254);
    }

    fn check_msm<C: SWCurveConfig<ScalarField = Fr>>(seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        for n in [0usize, 1, 2, 33, 1000, 3000] {
            let mut bases: Vec<Affine<C>> = (0..n)
                .map(|_| (Projective::<C>::generator() * Fr::rand(&mut rng)).into_affine())
                .collect();
            let mut scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            for (i, k) in edge_scalars().into_iter().enumerate().take(n) {
                scalars[i] = k;
            }
            if n > 3 {
                // A base at infinity, a repeated base with the negated scalar (a bucket that
                // empties), and a repeated base with the same scalar (a doubling).
                bases[n / 2] = Affine::identity();
                bases[n - 1] = bases[0];
                scalars[n - 1] = -scalars[0];
                bases[n - 2] = bases[1];
                scalars[n - 2] = scalars[1];
            }
            let table = Table::new(&bases);
            assert_eq!(table.len(), n);
            for parts in [1, 2, 3] {
                let plain: Projective<C> = taceo_ark_algebra::msm::msm_unchecked(&bases, &scalars);
                assert_eq!(
                    table.msm(&all_digits(&scalars), parts).into_affine(),
                    plain.into_affine(),
                    "n = {n}, parts = {parts}"
                );
                // More scalars than bases: the extra ones are ignored, as the plain MSM does.
                let longer: Vec<Fr> = scalars.iter().copied().chain([Fr::one(); 3]).collect();
                assert_eq!(
                    table.msm(&all_digits(&longer), parts).into_affine(),
                    plain.into_affine(),
                    "n = {n} + 3, parts = {parts}"
                );
                // Fewer scalars than bases: the MSM stops at the shorter.
                if n > 1 {
                    let plain: Projective<C> =
                        taceo_ark_algebra::msm::msm_unchecked(&bases, &scalars[..n - 1]);
                    assert_eq!(
                        table
                            .msm(&all_digits(&scalars[..n - 1]), parts)
                            .into_affine(),
                        plain.into_affine(),
                        "n = {n} − 1, parts = {parts}"
                    );
                }
            }
        }
    }

    #[test]
    fn fixed_base_msm_equals_the_plain_msm_in_g1_and_g2() {
        check_msm::<g1::Config>(6);
        check_msm::<g2::Config>(7);
    }

    #[test]
    fn many_equal_digits_go_through_the_queue_and_the_fallback() {
        // Every scalar the same: every addition lands in the same 20 buckets, so batches
        // conflict and points queue and fall back to the projective buckets.
        let mut rng = StdRng::seed_from_u64(8);
        let bases: Vec<g1::G1Affine> = (0..500)
            .map(|_| (ark_bn254::G1Projective::generator() * Fr::rand(&mut rng)).into_affine())
            .collect();
        let k = Fr::rand(&mut rng);
        let scalars = vec![k; 500];
        let plain: ark_bn254::G1Projective =
            taceo_ark_algebra::msm::msm_unchecked(&bases, &scalars);
        assert_eq!(
            Table::new(&bases)
                .msm(&all_digits(&scalars), 1)
                .into_affine(),
            plain.into_affine()
        );
    }
}
