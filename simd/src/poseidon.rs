//! The optimised Poseidon permutation (spec §3.2) in eight lanes.
//!
//! The steps are those of `zkcredit_circuits::poseidon::Optimized::permute`, one for one:
//! the first constants, the first half's full rounds (the last of them mixing with
//! `P = A'₀·M`), the sparse partial rounds, the second half's full rounds. The permutation
//! is a fixed sequence of field operations, so the lanes give the scalar result exactly.
//!
//! **Bounds** (`R = 2^260 ≈ 84.6·r`; a product `mont(a, b)` is below `a·b/R + r`; widths up
//! to 13, at most 68 partial rounds):
//! - a state enters below `2.02r` (a canonical input taken into Montgomery form is below
//!   `1.02r`, plus a constant below `r`); a full round
//!   keeps it below `2.1r` (`x^5 < 1.1r`, plus a constant, then a mixing `< 13·2.1r·r/R + r`);
//! - in a partial round `s_0^5 + c < 2.2r` (for `s_0 < 12r`), each other element grows by at
//!   most `1.03r` (`+ v_i·s_0`), and the new `s_0` is a dot product below `6.2r`;
//! - halfway through the partial rounds every other element is multiplied by one (`2^260 mod
//!   r` in Montgomery form), which takes it from at most `36.4r` back below `1.5r`, so none
//!   ever exceeds `36.5r`: far below the `2^260` that five 52-bit limbs hold;
//! - the first full round after them takes `x < 36.5r` to `x^5 < 2.9r`, and the state is back
//!   below `2.1r` after its mixing; the output leaves Montgomery form below or equal to `r`.

use crate::error::SimdError;
use crate::limbs;
use crate::LANES;
use ark_bn254::Fr;

/// One Poseidon width's optimised constants, as [`Poseidon8::new`] takes them (the accessors
/// of `zkcredit_circuits::poseidon::Optimized`).
#[derive(Clone, Copy, Debug)]
pub struct Constants<'a> {
    /// State width `t` (2..=13).
    pub width: usize,
    /// Full rounds in each half.
    pub half: usize,
    /// Partial rounds.
    pub partial: usize,
    /// Added before the first round (`t`).
    pub first: &'a [Fr],
    /// Per full round, both halves in order, added after its S-boxes (`t` each).
    pub full: &'a [Fr],
    /// Per partial round, added to `s_0` after its S-box.
    pub partial_constants: &'a [Fr],
    /// `M`, row-major.
    pub mds: &'a [Fr],
    /// `P = A'₀·M`, row-major.
    pub pre_sparse: &'a [Fr],
    /// Per partial round `2t − 1`: the sparse matrix's first row, then its first column
    /// below the diagonal.
    pub sparse: &'a [Fr],
}

/// A Poseidon width's permutation in eight lanes, its constants in the lanes' form.
#[derive(Clone, Debug)]
pub struct Poseidon8 {
    width: usize,
    half: usize,
    partial: usize,
    first: Vec<[u64; 5]>,
    full: Vec<[u64; 5]>,
    partial_c: Vec<[u64; 5]>,
    mds: Vec<[u64; 5]>,
    pre_sparse: Vec<[u64; 5]>,
    sparse: Vec<[u64; 5]>,
}

/// Most partial rounds a width may have (circomlib's largest up to width 13 is 66; the
/// bounds above are computed for 68).
const MAX_PARTIAL: usize = 68;

impl Poseidon8 {
    /// Takes one width's optimised constants into the lanes' Montgomery form; refuses
    /// constants whose lengths do not fit the width and round counts.
    pub fn new(c: &Constants<'_>) -> Result<Self, SimdError> {
        let t = c.width;
        let shape = |what: &str, got: usize, want: usize| {
            if got == want {
                Ok(())
            } else {
                Err(SimdError::Shape(format!(
                    "{what}: {got} constants, {want} expected"
                )))
            }
        };
        if !(2..=13).contains(&t) || c.partial > MAX_PARTIAL || c.half == 0 {
            return Err(SimdError::Shape(format!(
                "width {t}, {} partial rounds, {} full rounds per half",
                c.partial, c.half
            )));
        }
        shape("first", c.first.len(), t)?;
        shape("full", c.full.len(), 2 * c.half * t)?;
        shape("partial", c.partial_constants.len(), c.partial)?;
        shape("mds", c.mds.len(), t * t)?;
        shape("pre_sparse", c.pre_sparse.len(), t * t)?;
        shape("sparse", c.sparse.len(), c.partial * (2 * t - 1))?;
        let m = |xs: &[Fr]| xs.iter().map(limbs::montgomery).collect::<Vec<_>>();
        Ok(Self {
            width: t,
            half: c.half,
            partial: c.partial,
            first: m(c.first),
            full: m(c.full),
            partial_c: m(c.partial_constants),
            mds: m(c.mds),
            pre_sparse: m(c.pre_sparse),
            sparse: m(c.sparse),
        })
    }

    /// The state width `t`.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Poseidon of eight inputs at once: lane `k` permutes `[0, inputs[k]…]` and answers its
    /// `s_0`. `Ok(None)` when this processor has no AVX-512 IFMA (or `ZKCREDIT_SIMD=off`):
    /// the caller then hashes with the scalar permutation. Each input must have `t − 1`
    /// elements.
    pub fn hash(&self, inputs: [&[Fr]; LANES]) -> Result<Option<[Fr; LANES]>, SimdError> {
        let arity = self.width - 1;
        if let Some(bad) = inputs.iter().find(|x| x.len() != arity) {
            return Err(SimdError::Shape(format!(
                "an input of {} elements to a hash of {arity}",
                bad.len()
            )));
        }
        if !crate::available() {
            return Ok(None);
        }
        let out = self.hash_lanes(&inputs)?;
        let mut res = [Fr::from(0u64); LANES];
        for (r, l) in res.iter_mut().zip(out) {
            *r = limbs::element(l).ok_or(SimdError::Bound("a Poseidon output above r"))?;
        }
        Ok(Some(res))
    }

    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    fn hash_lanes(&self, inputs: &[&[Fr]; LANES]) -> Result<[[u64; 5]; LANES], SimdError> {
        let mut canonical = [[[0u64; 5]; LANES]; 12];
        for (i, c) in canonical.iter_mut().enumerate().take(self.width - 1) {
            *c = std::array::from_fn(|k| limbs::canonical(&inputs[k][i]));
        }
        let canonical = &canonical[..self.width - 1];
        macro_rules! run {
            ($t:literal) => {{
                // SAFETY: `hash` calls this only after `crate::available()` detected `avx512f`
                // and `avx512ifma` on this processor, the only features `lanes::hash` and
                // everything it calls are compiled for; they touch no memory but their
                // arguments and results.
                unsafe { lanes::hash::<$t>(self, canonical) }
            }};
        }
        Ok(match self.width {
            2 => run!(2),
            3 => run!(3),
            4 => run!(4),
            5 => run!(5),
            6 => run!(6),
            7 => run!(7),
            8 => run!(8),
            9 => run!(9),
            10 => run!(10),
            11 => run!(11),
            12 => run!(12),
            13 => run!(13),
            w => return Err(SimdError::Shape(format!("width {w}"))),
        })
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn hash_lanes(&self, _inputs: &[&[Fr]; LANES]) -> Result<[[u64; 5]; LANES], SimdError> {
        Err(SimdError::Shape(
            "no eight-lane arithmetic on this architecture".into(),
        ))
    }
}

#[cfg(target_arch = "x86_64")]
mod lanes {
    use super::Poseidon8;
    use crate::field::{add, dot, load, mul, pow5, splat, store, V};
    use crate::limbs::{Scalar as S, ONE, R2};
    use crate::LANES;

    /// `s_0` of the permutation of `[0, inputs…]` in each lane, canonical limbs in and out
    /// (the output may equal `r`).
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn hash<const T: usize>(
        c: &Poseidon8,
        inputs: &[[[u64; 5]; LANES]],
    ) -> [[u64; 5]; LANES] {
        let r2 = splat(&R2);
        let zero = splat(&[0; 5]);
        let mut s: [V; T] = [zero; T];
        for (x, input) in s[1..].iter_mut().zip(inputs) {
            *x = mul::<S>(&load(input), &r2);
        }
        permute::<T>(c, &mut s);
        store(&mul::<S>(&s[0], &splat(&[1, 0, 0, 0, 0])))
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn add_constants(s: &mut [V], c: &[[u64; 5]]) {
        for (x, c) in s.iter_mut().zip(c) {
            *x = add(x, &splat(c));
        }
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn mix<const T: usize>(m: &[[u64; 5]], s: &mut [V; T]) {
        let old = *s;
        for (x, row) in s.iter_mut().zip(m.chunks_exact(T)) {
            *x = dot::<S>(row, &old);
        }
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn permute<const T: usize>(c: &Poseidon8, s: &mut [V; T]) {
        add_constants(s, &c.first);
        let mut full = c.full.chunks_exact(T);
        for r in 0..c.half {
            for x in s.iter_mut() {
                *x = pow5::<S>(x);
            }
            add_constants(s, full.next().unwrap_or(&[]));
            mix::<T>(
                if r + 1 == c.half {
                    &c.pre_sparse
                } else {
                    &c.mds
                },
                s,
            );
        }
        let one = splat(&ONE);
        for (r, (k, sp)) in c
            .partial_c
            .iter()
            .zip(c.sparse.chunks_exact(2 * T - 1))
            .enumerate()
        {
            s[0] = add(&pow5::<S>(&s[0]), &splat(k));
            let (row, col) = sp.split_at(T);
            let s0 = dot::<S>(row, s);
            let x0 = s[0];
            for (x, v) in s[1..].iter_mut().zip(col) {
                *x = add(x, &mul::<S>(&splat(v), &x0));
            }
            s[0] = s0;
            if r + 1 == c.partial / 2 {
                for x in s[1..].iter_mut() {
                    *x = mul::<S>(x, &one);
                }
            }
        }
        for _ in 0..c.half {
            for x in s.iter_mut() {
                *x = pow5::<S>(x);
            }
            add_constants(s, full.next().unwrap_or(&[]));
            mix::<T>(&c.mds, s);
        }
    }
}
