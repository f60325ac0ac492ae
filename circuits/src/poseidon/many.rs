//! Many independent hashes at once (spec §3.2): [`hash_many`] hashes a slice of inputs on
//! every core, eight at a time in AVX-512 IFMA lanes where the processor has them
//! (`zkcredit_simd`), one at a time with [`super::hash`] otherwise. Both give the same
//! outputs (tests: random and edge inputs of every arity, both paths).

use super::{optimized, Optimized, MAX_ARITY};
use crate::Fr;
use rayon::prelude::*;
use std::sync::OnceLock;
use zkcredit_simd::{Constants, Poseidon8, LANES};

/// Inputs per parallel task (a multiple of the lanes).
const BLOCK: usize = 64 * LANES;

static LANES8: [OnceLock<Option<Poseidon8>>; MAX_ARITY] = [const { OnceLock::new() }; MAX_ARITY];

/// The eight-lane permutation of `arity` inputs, built once from the optimised constants;
/// `None` where the processor has no AVX-512 IFMA.
pub(super) fn lanes(arity: usize) -> Option<&'static Poseidon8> {
    if !zkcredit_simd::available() || arity == 0 || arity > MAX_ARITY {
        return None;
    }
    LANES8[arity - 1]
        .get_or_init(|| {
            let o: &Optimized = optimized(arity).ok().flatten()?;
            Poseidon8::new(&Constants {
                width: arity + 1,
                half: o.half(),
                partial: o.partial(),
                first: o.first(),
                full: o.full(),
                partial_constants: o.partial_constants(),
                mds: o.mds(),
                pre_sparse: o.pre_sparse(),
                sparse: o.sparse(),
            })
            .ok()
        })
        .as_ref()
}

/// `H(x)` for every `x` of `inputs`, in order, on every core (eight lanes at a time where
/// the processor allows).
pub fn hash_many<const N: usize>(inputs: &[[Fr; N]]) -> Vec<Fr> {
    let mut out = vec![Fr::from(0u64); inputs.len()];
    out.par_chunks_mut(BLOCK)
        .zip(inputs.par_chunks(BLOCK))
        .for_each(|(o, i)| hash_block(i, o, true));
    out
}

/// [`hash_many`] on this thread, lanes or not: the twin tests and the benchmarks drive both
/// paths on one machine.
pub fn hash_many_on_thread<const N: usize>(inputs: &[[Fr; N]], use_lanes: bool) -> Vec<Fr> {
    let mut out = vec![Fr::from(0u64); inputs.len()];
    hash_block(inputs, &mut out, use_lanes);
    out
}

fn hash_block<const N: usize>(inputs: &[[Fr; N]], out: &mut [Fr], use_lanes: bool) {
    const { assert!(N >= 1 && N <= MAX_ARITY) };
    let lanes = if use_lanes { lanes(N) } else { None };
    let mut done = 0;
    if let Some(l) = lanes {
        for (i, o) in inputs.chunks_exact(LANES).zip(out.chunks_exact_mut(LANES)) {
            // An error would be a bug (the width is N + 1 by construction, and the bounds
            // keep every output at most r); the scalar form below then takes over from the
            // first chunk the lanes did not hash, so the outputs stay right. The tests call
            // the lanes directly, without this fallback.
            match l.hash(std::array::from_fn(|k| &i[k][..])) {
                Ok(Some(h)) => o.copy_from_slice(&h),
                Ok(None) => break,
                Err(e) => {
                    debug_assert!(false, "poseidon lanes: {e}");
                    break;
                }
            }
            done += LANES;
        }
    }
    for (i, o) in inputs[done..].iter().zip(&mut out[done..]) {
        *o = super::hash_n(*i);
    }
}
