// A copy of `taceo-ark-algebra` 0.1.1's `src/msm.rs` (MIT OR Apache-2.0; its own header
// follows) for issue 14's GLV measurement only, with one change: `msm_bigint_bits` takes the
// scalars' bit length instead of the field's (254), so half-width GLV scalars run half the
// windows. The crate's tests are left out. Not used by the prover.
#![allow(dead_code, missing_docs, clippy::all)]
// Portions of this file are derived from gnark-crypto's batch-affine MSM:
// https://github.com/Consensys/gnark-crypto/blob/0a975d747c416958f20ad4e785bcf102449a81c9/ecc/bn254/multiexp_affine.go
//
// Copyright 2020-2026 Consensys Software Inc.
// Licensed under the Apache License, Version 2.0; see the repository's LICENSE-APACHE file.
// Ported to Rust, generalized over arkworks curves, and otherwise modified by TACEO.

//! # MSM
//!
//! Variable-base multi-scalar multiplication.
//!
//! The structure is the usual signed-digit bucket method, with one Rayon task per window. Two
//! things differ from [`ark_ec::VariableBaseMSM`]:
//!
//! * **Scheduling.** Arkworks additionally splits each MSM according to the total Rayon pool
//!   size, which performs poorly when several MSMs run concurrently (a Groth16 prover runs
//!   five). We only parallelize over windows.
//! * **Bucket accumulation.** For the window sizes that large MSMs use, buckets are kept in
//!   *affine* coordinates and additions are deferred into a batch that is resolved with a single
//!   Montgomery batch inversion, as gnark-crypto does (see section 5.3 of
//!   <https://ia.cr/2022/1396>). That trades the multiplications of an extended-Jacobian mixed
//!   addition for three multiplications, a square and an amortized inversion. Small windows keep
//!   using arkworks' extended-Jacobian buckets, where the batching overhead would not pay off.
//!
//! Digits are stored window-major so that each window task streams its digits contiguously
//! instead of striding through the whole array.
//!
//! While the bucket method itself works for any group, the batch-affine bucket accumulation is
//! specialized to short-Weierstrass geometry: the batched addition is the SW chord formula
//! (see `BucketAccumulator::execute_batch`), digit signs are applied through the SW negation
//! `(x, y) -> (x, -y)`, the chord's exceptional cases (doubling and `P + (-P)`) are detected by
//! comparing coordinates, and the point at infinity, which has no affine coordinates, marks an
//! empty bucket. This is also why everything is generic over [`SWCurveConfig`] rather than
//! [`ark_ec::CurveGroup`]: the accumulator constructs points from the coordinates it computes,
//! and [`ark_ec::AffineRepr`] exposes no such constructor. Curves that arkworks models in
//! another form (e.g. twisted Edwards) would need their own window sum built on their own
//! addition formulas.
//!
//! Generic code that only knows a [`Pairing`](ark_ec::pairing::Pairing) can name the configs
//! with an equality bound:
//!
//! ```
//! use ark_ec::pairing::Pairing;
//! use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
//!
//! fn msm_g1<P, C>(bases: &[P::G1Affine], scalars: &[P::ScalarField]) -> P::G1
//! where
//!     P: Pairing<G1 = Projective<C>, G1Affine = Affine<C>>,
//!     C: SWCurveConfig<ScalarField = P::ScalarField>,
//! {
//!     taceo_ark_algebra::msm::msm_unchecked(bases, scalars)
//! }
//! # let _ = msm_g1::<ark_bn254::Bn254, _>(&[], &[]);
//! ```

use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{AffineRepr, VariableBaseMSM};
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField};
use rayon::prelude::*;

/// Window sizes at least this large use the batch-affine bucket accumulation. Below it, the
/// buckets are few enough that batches conflict constantly and the extended-Jacobian
/// accumulation wins.
const MIN_WINDOW_FOR_BATCH_AFFINE: usize = 10;

/// Upper bound on the number of additions resolved by a single batch inversion.
const MAX_BATCH_SIZE: usize = 512;

/// Number of conflicting points held back before they are pushed into the fallback buckets.
const QUEUE_CAPACITY: usize = 32;

/// Arkworks' extended-Jacobian bucket representation of the curve.
type BucketOf<P> = <Projective<P> as VariableBaseMSM>::Bucket;
type BigIntOf<P> = <<P as ark_ec::CurveConfig>::ScalarField as PrimeField>::BigInt;

/// Computes an inner product between the [`PrimeField`] elements in `scalars`
/// and the corresponding group elements in `bases`.
///
/// If the elements have different length, it will chop the slices to the
/// shortest length between `scalars.len()` and `bases.len()`.
///
/// Reference: [`ark_ec::VariableBaseMSM::msm_unchecked`]
pub fn msm_unchecked<P: SWCurveConfig>(
    bases: &[Affine<P>],
    scalars: &[P::ScalarField],
) -> Projective<P> {
    let size = bases.len().min(scalars.len());
    let bigints = scalars[..size]
        .par_iter()
        .map(|scalar| scalar.into_bigint())
        .collect::<Vec<_>>();
    msm_bigint(&bases[..size], &bigints)
}

/// Computes an MSM over scalars that are already in their integer representation.
///
/// If the elements have different length, it will chop the slices to the
/// shortest length between `scalars.len()` and `bases.len()`.
pub fn msm_bigint<P: SWCurveConfig>(bases: &[Affine<P>], scalars: &[BigIntOf<P>]) -> Projective<P> {
    msm_bigint_bits(bases, scalars, P::ScalarField::MODULUS_BIT_SIZE as usize)
}

/// [`msm_bigint`] for scalars below `2^num_bits` (the one change of this copy).
pub fn msm_bigint_bits<P: SWCurveConfig>(
    bases: &[Affine<P>],
    scalars: &[BigIntOf<P>],
    num_bits: usize,
) -> Projective<P> {
    msm_windows(
        bases,
        scalars,
        num_bits,
        |bases, digits, window_size, num_buckets| {
            if window_size >= MIN_WINDOW_FOR_BATCH_AFFINE {
                batch_affine_window_sum(bases, digits, num_buckets)
            } else {
                extended_jacobian_window_sum(bases, digits, num_buckets)
            }
        },
    )
}

/// Splits the scalars into signed digits and sums one window per Rayon task, combining the window
/// sums from the highest window down.
fn msm_windows<P: SWCurveConfig>(
    bases: &[Affine<P>],
    scalars: &[BigIntOf<P>],
    num_bits: usize,
    window_sum: impl Fn(&[Affine<P>], &[u32], usize, usize) -> Projective<P> + Send + Sync,
) -> Projective<P> {
    let size = bases.len().min(scalars.len());
    if size == 0 {
        return Projective::ZERO;
    }
    let bases = &bases[..size];
    let scalars = &scalars[..size];

    let window_size = if size < 32 {
        3
    } else {
        ln_without_floats(size) + 2
    };
    let num_windows = num_bits.div_ceil(window_size);

    let digits = window_major_digits::<P>(scalars, window_size, num_bits, num_windows);

    let window_sums: Vec<Projective<P>> = (0..num_windows)
        .into_par_iter()
        .map(|window| {
            // Recentering keeps every digit in `[-2^(window_size - 1), 2^(window_size - 1)]`,
            // except in the last window, which absorbs the final carry and can reach
            // `2^window_size`.
            let num_buckets = if window + 1 == num_windows {
                1usize << window_size
            } else {
                1usize << (window_size - 1)
            };
            window_sum(
                bases,
                &digits[window * size..(window + 1) * size],
                window_size,
                num_buckets,
            )
        })
        .collect();

    // Combine the window sums from the highest window down; only the lowest window needs no
    // doublings.
    let lowest = *window_sums.first().expect("at least one window");
    lowest
        + window_sums[1..]
            .iter()
            .rev()
            .fold(Projective::ZERO, |mut total, sum_i| {
                total += sum_i;
                for _ in 0..window_size {
                    total.double_in_place();
                }
                total
            })
}

/// Encodes the signed digits of every scalar into a window-major array: the digits of window `w`
/// occupy `digits[w * scalars.len()..(w + 1) * scalars.len()]`.
///
/// A digit is `0` if it does not contribute, and `(|digit| << 1) | is_negative` otherwise, so the
/// bucket index of a non-zero digit is `(encoded >> 1) - 1`.
fn window_major_digits<P: SWCurveConfig>(
    scalars: &[BigIntOf<P>],
    window_size: usize,
    num_bits: usize,
    num_windows: usize,
) -> Vec<u32> {
    let size = scalars.len();
    let mut digits = vec![0u32; size * num_windows];

    // The signed-digit recoding carries from the low windows to the high ones, so the digits of
    // one scalar have to be produced in order. We therefore parallelize over ranges of scalars
    // and hand each task the matching range of every window, which are all disjoint.
    let task_size = size.div_ceil(rayon::current_num_threads()).max(1);
    let num_tasks = size.div_ceil(task_size);
    let mut tasks: Vec<Vec<&mut [u32]>> = (0..num_tasks)
        .map(|_| Vec::with_capacity(num_windows))
        .collect();
    for window in digits.chunks_mut(size) {
        for (task, chunk) in window.chunks_mut(task_size).enumerate() {
            tasks[task].push(chunk);
        }
    }

    tasks
        .into_par_iter()
        .zip(scalars.par_chunks(task_size))
        .for_each(|(mut windows, scalars)| {
            for (index, scalar) in scalars.iter().enumerate() {
                for (window, digit) in make_digits(scalar, window_size, num_bits).enumerate() {
                    windows[window][index] = encode_digit(digit);
                }
            }
        });

    digits
}

#[inline]
fn encode_digit(digit: i64) -> u32 {
    if digit == 0 {
        0
    } else if digit > 0 {
        (digit as u32) << 1
    } else {
        (((-digit) as u32) << 1) | 1
    }
}

/// The sum of one window, with buckets in affine coordinates.
fn batch_affine_window_sum<P: SWCurveConfig>(
    bases: &[Affine<P>],
    digits: &[u32],
    num_buckets: usize,
) -> Projective<P> {
    let mut accumulator = BucketAccumulator::new(num_buckets);
    for (digit, base) in digits.iter().zip(bases) {
        if *digit == 0 {
            continue;
        }
        let Some((x, y)) = base.xy() else {
            continue;
        };
        let bucket = ((*digit >> 1) as usize) - 1;
        let y = if *digit & 1 == 1 { -y } else { y };
        accumulator.add(bucket, x, y);
    }
    accumulator.finish()
}

/// The sum of one window, with buckets in arkworks' extended Jacobian representation.
fn extended_jacobian_window_sum<P: SWCurveConfig>(
    bases: &[Affine<P>],
    digits: &[u32],
    num_buckets: usize,
) -> Projective<P> {
    let mut buckets = vec![Projective::<P>::ZERO_BUCKET; num_buckets];
    for (digit, base) in digits.iter().zip(bases) {
        if *digit == 0 {
            continue;
        }
        let bucket = ((*digit >> 1) as usize) - 1;
        if *digit & 1 == 1 {
            buckets[bucket] -= *base;
        } else {
            buckets[bucket] += *base;
        }
    }

    let mut running_sum = Projective::<P>::ZERO_BUCKET;
    let mut total = Projective::ZERO;
    for bucket in buckets.iter().rev() {
        running_sum += bucket;
        total += &running_sum;
    }
    total
}

/// Buckets in affine coordinates, plus the machinery that lets a whole batch of additions share
/// one field inversion. The batched addition is the short-Weierstrass chord formula; see the
/// module docs for how the accumulator relies on the SW geometry.
struct BucketAccumulator<P: SWCurveConfig> {
    /// The affine buckets. The point at infinity marks an empty bucket.
    buckets: Vec<Affine<P>>,
    /// Additions that could not be batched: doublings, and points that conflicted with the
    /// pending batch for too long. Empty until the first such addition, since for uniformly
    /// distributed digits it is rarely needed at all.
    fallback: Vec<BucketOf<P>>,
    /// Whether a bucket is already referenced by the pending batch. All buckets in a batch have
    /// to be distinct, otherwise the additions would not be independent.
    pending: Vec<bool>,
    batch_buckets: Vec<usize>,
    /// The pending additions. The bucket coordinates are captured at enqueue time; `pending`
    /// guarantees the bucket cannot change until the batch executes.
    batch_points: Vec<BatchAdd<P::BaseField>>,
    queue: Vec<(usize, P::BaseField, P::BaseField)>,
    /// `x - bucket_x` of each pending addition, in step with `batch_points`.
    denominators: Vec<P::BaseField>,
    inverses: Vec<P::BaseField>,
    batch_size: usize,
}

/// A batched addition of the point `(x, y)` onto the bucket at `(bucket_x, bucket_y)`.
struct BatchAdd<F> {
    x: F,
    y: F,
    bucket_x: F,
    bucket_y: F,
}

impl<P: SWCurveConfig> BucketAccumulator<P> {
    fn new(num_buckets: usize) -> Self {
        // Keep the batch small relative to the number of buckets so that conflicts stay rare for
        // uniformly distributed digits.
        let batch_size = MAX_BATCH_SIZE.min(num_buckets / 8).max(1);
        Self {
            buckets: vec![Affine::zero(); num_buckets],
            fallback: Vec::new(),
            pending: vec![false; num_buckets],
            batch_buckets: Vec::with_capacity(batch_size),
            batch_points: Vec::with_capacity(batch_size),
            queue: Vec::with_capacity(QUEUE_CAPACITY),
            denominators: Vec::with_capacity(batch_size),
            inverses: Vec::with_capacity(batch_size),
            batch_size,
        }
    }

    /// Adds the point `(x, y)` to bucket `bucket`. The sign of the digit is expected to be baked
    /// into `y` already, so this is a plain addition.
    fn add(&mut self, bucket: usize, x: P::BaseField, y: P::BaseField) {
        if self.pending[bucket] {
            self.queue.push((bucket, x, y));
            if self.queue.len() >= QUEUE_CAPACITY {
                self.flush_queue();
            }
            return;
        }
        self.add_to_batch(bucket, x, y);
        if self.batch_buckets.len() >= self.batch_size {
            self.execute_batch();
            self.take_from_queue();
        }
    }

    /// The extended-Jacobian fallback bucket, allocating the array on first use.
    fn fallback_bucket(&mut self, bucket: usize) -> &mut BucketOf<P> {
        if self.fallback.is_empty() {
            self.fallback = vec![Projective::<P>::ZERO_BUCKET; self.buckets.len()];
        }
        &mut self.fallback[bucket]
    }

    /// Handles the cases the batched affine addition cannot express, and otherwise appends to the
    /// pending batch.
    fn add_to_batch(&mut self, bucket: usize, x: P::BaseField, y: P::BaseField) {
        let Some((bucket_x, bucket_y)) = self.buckets[bucket].xy() else {
            self.buckets[bucket] = Affine::new_unchecked(x, y);
            return;
        };
        if bucket_x == x {
            if bucket_y == y {
                // Doubling. Rare enough that the extended Jacobian fallback is fine, and it keeps
                // the special case out of the batched formula.
                *self.fallback_bucket(bucket) += Affine::new_unchecked(x, y);
            } else {
                // The point is the negation of the bucket, so the bucket becomes empty.
                self.buckets[bucket] = Affine::zero();
            }
            return;
        }
        self.pending[bucket] = true;
        self.batch_buckets.push(bucket);
        self.batch_points.push(BatchAdd {
            x,
            y,
            bucket_x,
            bucket_y,
        });
        self.denominators.push(x - bucket_x);
    }

    /// Resolves the pending batch with a single inversion, then applies the affine addition
    /// `l = (y2 - y1) / (x2 - x1)`, `x3 = l^2 - x1 - x2`, `y3 = l * (x1 - x3) - y1` to each entry.
    fn execute_batch(&mut self) {
        let Self {
            buckets,
            pending,
            batch_buckets,
            batch_points,
            denominators,
            inverses,
            ..
        } = self;
        if batch_buckets.is_empty() {
            return;
        }
        batch_inverse(denominators, inverses);

        for ((bucket, point), inverse) in batch_buckets
            .iter()
            .zip(batch_points.iter())
            .zip(inverses.iter())
        {
            let mut lambda = point.y - point.bucket_y;
            lambda *= *inverse;

            let mut x = lambda.square();
            x -= point.bucket_x;
            x -= point.x;

            let mut y = point.bucket_x - x;
            y *= lambda;
            y -= point.bucket_y;

            buckets[*bucket] = Affine::new_unchecked(x, y);
            pending[*bucket] = false;
        }

        batch_buckets.clear();
        batch_points.clear();
        denominators.clear();
    }

    /// Moves points off the top of the queue into the batch, while they do not conflict with it.
    fn take_from_queue(&mut self) {
        while let Some(&(bucket, x, y)) = self.queue.last() {
            if self.pending[bucket] || self.batch_buckets.len() >= self.batch_size {
                return;
            }
            self.queue.pop();
            self.add_to_batch(bucket, x, y);
        }
    }

    fn flush_queue(&mut self) {
        while let Some((bucket, x, y)) = self.queue.pop() {
            *self.fallback_bucket(bucket) += Affine::new_unchecked(x, y);
        }
    }

    /// `total = sum_i (i + 1) * bucket_i`, traversing the buckets from the highest index down.
    fn finish(mut self) -> Projective<P> {
        self.execute_batch();
        self.flush_queue();

        let mut running_sum = Projective::<P>::ZERO_BUCKET;
        let mut total = Projective::ZERO;
        if self.fallback.is_empty() {
            for affine in self.buckets.iter().rev() {
                if !affine.is_zero() {
                    running_sum += *affine;
                }
                total += &running_sum;
            }
        } else {
            for (fallback, affine) in self.fallback.iter().zip(self.buckets.iter()).rev() {
                running_sum += fallback;
                if !affine.is_zero() {
                    running_sum += *affine;
                }
                total += &running_sum;
            }
        }
        total
    }
}

/// Inverts every element of `values` with a single field inversion, writing the results to `out`.
///
/// # Panics
///
/// Panics if any element is zero.
fn batch_inverse<F: Field>(values: &[F], out: &mut Vec<F>) {
    out.clear();
    let mut accumulator = F::ONE;
    for value in values {
        out.push(accumulator);
        accumulator *= *value;
    }
    let mut accumulator = accumulator
        .inverse()
        .expect("batched denominators are non-zero");
    for index in (0..values.len()).rev() {
        out[index] *= accumulator;
        accumulator *= values[index];
    }
}

/// The result of this function is only approximately `ln(a)`
/// [`Explanation of usage`]
///
/// [`Explanation of usage`]: https://github.com/scipr-lab/zexe/issues/79#issue-556220473
fn ln_without_floats(a: usize) -> usize {
    // log2(a) * ln(2)
    (ark_std::log2(a) * 69 / 100) as usize
}

// From: https://github.com/arkworks-rs/gemini/blob/main/src/kzg/msm/variable_base.rs#L20
fn make_digits(a: &impl BigInteger, w: usize, num_bits: usize) -> impl Iterator<Item = i64> + '_ {
    let scalar = a.as_ref();
    let radix: u64 = 1 << w;
    let window_mask: u64 = radix - 1;

    let mut carry = 0u64;
    let num_bits = if num_bits == 0 {
        a.num_bits() as usize
    } else {
        num_bits
    };
    let digits_count = num_bits.div_ceil(w);

    (0..digits_count).map(move |i| {
        // Construct a buffer of bits of the scalar, starting at `bit_offset`.
        let bit_offset = i * w;
        let u64_idx = bit_offset / 64;
        let bit_idx = bit_offset % 64;
        // Read the bits from the scalar
        let bit_buf = if bit_idx < 64 - w || u64_idx == scalar.len() - 1 {
            // This window's bits are contained in a single u64,
            // or it's the last u64 anyway.
            scalar[u64_idx] >> bit_idx
        } else {
            // Combine the current u64's bits with the bits from the next u64
            (scalar[u64_idx] >> bit_idx) | (scalar[1 + u64_idx] << (64 - bit_idx))
        };

        // Read the actual coefficient value from the window
        let coef = carry + (bit_buf & window_mask); // coef = [0, 2^r)

        // Recenter coefficients from [0,2^w) to [-2^w/2, 2^w/2)
        carry = (coef + radix / 2) >> w;
        let mut digit = (coef as i64) - (carry << w) as i64;

        if i == digits_count - 1 {
            digit += (carry << w) as i64;
        }
        digit
    })
}
