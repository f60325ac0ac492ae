// Derived from taceo-ark-algebra 0.1.1's `msm.rs` (MIT OR Apache-2.0), itself derived from
// gnark-crypto's batch-affine MSM
// (https://github.com/Consensys/gnark-crypto/blob/0a975d747c416958f20ad4e785bcf102449a81c9/ecc/bn254/multiexp_affine.go,
// Copyright 2020-2026 Consensys Software Inc., Apache-2.0). The accumulator is private to
// that crate; the fixed-base MSM ([`crate::fixed`]) needs it for its single wide window.

//! Batch-affine buckets: bucket sums kept in affine coordinates, with each batch of
//! additions sharing one field inversion (Montgomery's trick). An affine chord addition then
//! costs three multiplications, a square and a share of the inversion, against about eleven
//! multiplications for a mixed projective addition. A batch holds each bucket at most once;
//! a point for a bucket already in the batch waits in a short queue, and when the queue
//! fills it falls back to a projective bucket, as do doublings.

use ark_bn254::Fq;
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{AdditiveGroup, Field};

/// The most additions one inversion resolves.
const MAX_BATCH: usize = 512;

/// Points held back (their bucket already in the batch) before they fall back.
const QUEUE: usize = 32;

/// arkworks' extended-Jacobian bucket.
type Fallback<C> = <Projective<C> as VariableBaseMSM>::Bucket;

/// A pending addition of `(x, y)` onto the bucket at `(bx, by)`.
struct Pending<F> {
    bucket: usize,
    x: F,
    y: F,
    bx: F,
    by: F,
}

/// Buckets `0..n` (bucket `b` weighs `b + 1`), summed in affine coordinates.
pub(crate) struct Buckets<C: SWCurveConfig> {
    /// The affine sums; the point at infinity marks an empty bucket.
    sums: Vec<Affine<C>>,
    /// Projective sums of what could not be batched; empty until first needed.
    fallback: Vec<Fallback<C>>,
    /// Whether the bucket is in the pending batch.
    in_batch: Vec<bool>,
    batch: Vec<Pending<C::BaseField>>,
    /// `x − bx` of each pending addition, then scratch for the inverses.
    denominators: Vec<C::BaseField>,
    inverses: Vec<C::BaseField>,
    queue: Vec<(usize, C::BaseField, C::BaseField)>,
    batch_size: usize,
}

impl<C: SWCurveConfig> Buckets<C> {
    /// `n` empty buckets.
    pub(crate) fn new(n: usize) -> Self {
        // A batch small against the bucket count keeps conflicts rare for spread digits.
        let batch_size = MAX_BATCH.min(n / 8).max(1);
        Self {
            sums: vec![Affine::zero(); n],
            fallback: Vec::new(),
            in_batch: vec![false; n],
            batch: Vec::with_capacity(batch_size),
            denominators: Vec::with_capacity(batch_size),
            inverses: Vec::with_capacity(batch_size),
            queue: Vec::with_capacity(QUEUE),
            batch_size,
        }
    }

    /// Adds the affine point `(x, y)` to bucket `b`.
    pub(crate) fn add(&mut self, b: usize, x: C::BaseField, y: C::BaseField) {
        if self.in_batch[b] {
            self.queue.push((b, x, y));
            if self.queue.len() >= QUEUE {
                self.flush_queue();
            }
            return;
        }
        self.enqueue(b, x, y);
        if self.batch.len() >= self.batch_size {
            self.execute();
            self.take_from_queue();
        }
    }

    fn fallback(&mut self, b: usize) -> &mut Fallback<C> {
        if self.fallback.is_empty() {
            self.fallback = vec![Projective::<C>::ZERO_BUCKET; self.sums.len()];
        }
        &mut self.fallback[b]
    }

    /// The chord's exceptions (empty bucket, doubling, `P + (−P)`) directly; otherwise into
    /// the batch.
    fn enqueue(&mut self, b: usize, x: C::BaseField, y: C::BaseField) {
        let Some((bx, by)) = self.sums[b].xy() else {
            self.sums[b] = Affine::new_unchecked(x, y);
            return;
        };
        if bx == x {
            if by == y {
                *self.fallback(b) += Affine::new_unchecked(x, y);
            } else {
                self.sums[b] = Affine::zero();
            }
            return;
        }
        self.in_batch[b] = true;
        self.batch.push(Pending {
            bucket: b,
            x,
            y,
            bx,
            by,
        });
        self.denominators.push(x - bx);
    }

    /// Resolves the batch with one inversion: `l = (y − by)/(x − bx)`, `x3 = l² − bx − x`,
    /// `y3 = l·(bx − x3) − by`.
    fn execute(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        if self.execute_in_lanes() {
            return;
        }
        batch_inverse(&self.denominators, &mut self.inverses);
        for (p, inv) in self.batch.iter().zip(&self.inverses) {
            let l = (p.y - p.by) * inv;
            let x3 = l.square() - p.bx - p.x;
            let y3 = l * (p.bx - x3) - p.by;
            self.sums[p.bucket] = Affine::new_unchecked(x3, y3);
            self.in_batch[p.bucket] = false;
        }
        self.batch.clear();
        self.denominators.clear();
    }

    /// On G1 (base field `Fq`) where the processor has AVX-512 IFMA: the batch's additions
    /// eight at a time in lanes (`zkcredit_simd::g1`, the same formulas and one inversion),
    /// the sums written as `execute` writes them. `false` (nothing changed) on G2, without
    /// the lanes, or if the lanes refused the batch, which `enqueue`'s exceptions exclude;
    /// `execute` then resolves it in scalar.
    fn execute_in_lanes(&mut self) -> bool {
        use std::any::Any;
        if !zkcredit_simd::available() {
            return false;
        }
        let Some(batch) = (&self.batch as &dyn Any).downcast_ref::<Vec<Pending<Fq>>>() else {
            return false;
        };
        let pending: Vec<[Fq; 4]> = batch.iter().map(|p| [p.x, p.y, p.bx, p.by]).collect();
        let mut sums = vec![[Fq::ZERO; 2]; pending.len()];
        if !matches!(
            zkcredit_simd::g1::chord_additions(&pending, &mut sums),
            Ok(true)
        ) {
            return false;
        }
        // The same type as the batch's field (the downcast above): one cast back, not one per
        // coordinate.
        let Ok(sums) = (Box::new(sums) as Box<dyn Any>).downcast::<Vec<[C::BaseField; 2]>>() else {
            return false;
        };
        for (p, [x3, y3]) in self.batch.iter().zip(*sums) {
            self.sums[p.bucket] = Affine::new_unchecked(x3, y3);
            self.in_batch[p.bucket] = false;
        }
        self.batch.clear();
        self.denominators.clear();
        true
    }

    /// Moves queued points into the batch while their buckets are free.
    fn take_from_queue(&mut self) {
        while let Some(&(b, x, y)) = self.queue.last() {
            if self.in_batch[b] || self.batch.len() >= self.batch_size {
                return;
            }
            self.queue.pop();
            self.enqueue(b, x, y);
        }
    }

    fn flush_queue(&mut self) {
        while let Some((b, x, y)) = self.queue.pop() {
            *self.fallback(b) += Affine::new_unchecked(x, y);
        }
    }

    /// `Σ_b (b + 1)·bucket_b`.
    ///
    /// The running sum from the top bucket down costs two projective additions per bucket.
    /// With `n = k·m` buckets (both powers of two, [`GRID`]), bucket `b = q·m + r` weighs
    /// `m·q + (r + 1)`, so the total is `m·Σ_q q·R_q + Σ_r (r + 1)·C_r` over the grid's row
    /// sums `R_q` and column sums `C_r`. Those take two affine additions per bucket, each layer
    /// of them sharing one inversion ([`sum_runs`]), and the two weighted sums are running sums
    /// over `k` and `m` points only. What fell back to projective buckets is first made affine
    /// (one inversion) and added to the affine buckets in one more layer. (Fallbacks are not
    /// rare: a batch of 512 among 4,096 buckets meets busy buckets often enough that the
    /// queue of 32 overflows — a small repeated digit, a wire holding a bit, keeps one bucket
    /// busy. Counted once on fraud-only depth 32's A query: 6,208 of 111,430 additions, 5.6 %,
    /// fell back.)
    pub(crate) fn finish(mut self) -> Projective<C> {
        self.execute();
        self.flush_queue();
        if !self.fallback.is_empty() {
            let fallback: Vec<Projective<C>> =
                self.fallback.iter().map(|f| Projective::from(*f)).collect();
            let pairs = self
                .sums
                .iter()
                .zip(Projective::normalize_batch(&fallback))
                .flat_map(|(s, f)| [*s, f])
                .collect();
            self.sums = sum_runs(pairs, 2);
        }
        let n = self.sums.len();
        if n < 2 * GRID || !n.is_multiple_of(GRID) || !(n / GRID).is_power_of_two() {
            return running_sum(self.sums.iter().map(|a| Fallback::<C>::from(*a)));
        }
        let (m, k) = (GRID, n / GRID);
        let mut columns = Vec::with_capacity(n);
        for r in 0..m {
            columns.extend((0..k).map(|q| self.sums[q * m + r]));
        }
        let rows = sum_runs(std::mem::take(&mut self.sums), m);
        let columns = sum_runs(columns, k);
        // Σ_q q·R_q: the running sum without its lowest row.
        let mut by_row = running_sum(rows.iter().skip(1).map(|a| Fallback::<C>::from(*a)));
        for _ in 0..m.trailing_zeros() {
            by_row.double_in_place();
        }
        by_row + running_sum(columns.iter().map(|a| Fallback::<C>::from(*a)))
    }
}

/// The grid's row length in [`Buckets::finish`].
const GRID: usize = 64;

/// `Σ_i (i + 1)·p_i` by the running sum from the top down.
fn running_sum<C: SWCurveConfig>(
    points: impl DoubleEndedIterator<Item = Fallback<C>>,
) -> Projective<C> {
    let mut running = Projective::<C>::ZERO_BUCKET;
    let mut total = Projective::<C>::ZERO;
    for p in points.rev() {
        running += &p;
        total += &running;
    }
    total
}

/// The sum of each run of `width` consecutive points (`width` a power of two dividing the
/// length), pairwise in layers; each layer's chord additions share one inversion. The
/// chord's exceptions (a point at infinity, `P + P`, `P + (−P)`) are added directly.
fn sum_runs<C: SWCurveConfig>(mut points: Vec<Affine<C>>, mut width: usize) -> Vec<Affine<C>> {
    debug_assert!(width.is_power_of_two() && points.len().is_multiple_of(width));
    let (mut denominators, mut inverses, mut chords) = (Vec::new(), Vec::new(), Vec::new());
    while width > 1 {
        let mut out = vec![Affine::<C>::zero(); points.len() / 2];
        denominators.clear();
        chords.clear();
        for (i, pair) in points.chunks_exact(2).enumerate() {
            match (pair[0].xy(), pair[1].xy()) {
                (None, _) => out[i] = pair[1],
                (_, None) => out[i] = pair[0],
                (Some((x1, _)), Some((x2, _))) if x1 == x2 => {
                    out[i] = (pair[0] + pair[1]).into_affine();
                }
                (Some((x1, _)), Some((x2, _))) => {
                    chords.push(i);
                    denominators.push(x2 - x1);
                }
            }
        }
        batch_inverse(&denominators, &mut inverses);
        for (&i, inv) in chords.iter().zip(&inverses) {
            let (p, q) = (points[2 * i], points[2 * i + 1]);
            let (x1, y1) = p.xy().unwrap_or_default();
            let (x2, y2) = q.xy().unwrap_or_default();
            let l = (y2 - y1) * inv;
            let x3 = l.square() - x1 - x2;
            out[i] = Affine::new_unchecked(x3, l * (x1 - x3) - y1);
        }
        points = out;
        width /= 2;
    }
    points
}

/// Every element of `values` inverted with one inversion, into `out`. The denominators are
/// never zero, whatever the points (even off the curve, from a crafted key): `x ≠ bx` is
/// checked before a point enters a batch. A zero product would give zeros, not a panic.
fn batch_inverse<F: Field>(values: &[F], out: &mut Vec<F>) {
    out.clear();
    let mut acc = F::ONE;
    for v in values {
        out.push(acc);
        acc *= v;
    }
    let mut acc = acc.inverse().unwrap_or(F::ZERO);
    for (o, v) in out.iter_mut().zip(values).rev() {
        *o *= acc;
        acc *= v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{g1, g2, Fr};
    use ark_ec::PrimeGroup;
    use ark_ff::UniformRand;
    use ark_std::rand::{rngs::StdRng, Rng, SeedableRng};

    /// Random points into random buckets (some left empty, some given `P` twice or `P` and
    /// `−P`), against `Σ (b + 1)·P` computed directly.
    fn check<C: SWCurveConfig<ScalarField = Fr>>(seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        for (n, adds) in [
            (4096, 20_000),
            (4096, 300),
            (128, 2_000),
            (100, 500),
            (64, 500),
            (1, 10),
        ] {
            let mut buckets = Buckets::<C>::new(n);
            let mut expected = Projective::<C>::ZERO;
            let g = Projective::<C>::generator();
            for i in 0..adds {
                // Only the lower half of the buckets is used when few points are added.
                let b = rng.gen_range(0..n.div_ceil(if adds < 1000 { 2 } else { 1 }));
                let p = (g * Fr::rand(&mut rng)).into_affine();
                let twice = i % 97 == 0;
                let negated = i % 89 == 0;
                let mut add = |p: Affine<C>| {
                    let (x, y) = p.xy().expect("not infinity");
                    buckets.add(b, x, y);
                    expected += p * Fr::from((b + 1) as u64);
                };
                add(p);
                if twice {
                    add(p);
                }
                if negated {
                    add(-p);
                }
            }
            if adds >= 1000 {
                // Doublings went to the projective buckets, which `finish` must fold in.
                assert!(!buckets.fallback.is_empty(), "n = {n}");
            }
            assert_eq!(
                buckets.finish().into_affine(),
                expected.into_affine(),
                "n = {n}"
            );
        }
    }

    #[test]
    fn the_grid_reduction_equals_the_weighted_sum_of_the_buckets() {
        check::<g1::Config>(9);
        check::<g2::Config>(10);
    }

    #[test]
    fn runs_sum_pairwise_through_every_exception() {
        let g = ark_bn254::G1Projective::generator();
        let p = (g * Fr::from(5u64)).into_affine();
        let q = (g * Fr::from(7u64)).into_affine();
        let zero = g1::G1Affine::zero();
        // Runs of 4: [p, p, q, -q] (a doubling, a cancellation), [0, q, 0, 0], [p, q, p, q].
        let points = vec![p, p, q, -q, zero, q, zero, zero, p, q, p, q];
        let sums = sum_runs(points, 4);
        assert_eq!(
            sums,
            vec![
                (p + p).into_affine(),
                q,
                ((p + q) * Fr::from(2u64)).into_affine()
            ]
        );
    }
}
