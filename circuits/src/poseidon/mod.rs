//! Poseidon over BN254 with circomlib's parameters (spec §3.2), native side.
//!
//! x^5 S-box, 8 full rounds, circomlib's partial-round counts, state `[0, inputs…]`,
//! output `state[0]` — bit for bit what circomlib's `Poseidon(n)` template and
//! circomlibjs compute. Round constants and MDS matrices are circomlib's, taken from
//! `light-poseidon`'s generated tables (which are themselves checked against
//! circomlib) and cached once per width.
//!
//! [`hash`] runs the optimised permutation (`optimized.rs`: constants moved out of the
//! partial rounds, sparse partial-round matrices), derived from those constants once per
//! width; [`hash_reference`] is the textbook form, kept as its twin in the tests and as the
//! benchmarks' baseline. [`hash_many`] hashes many inputs at once, eight at a time in
//! AVX-512 IFMA lanes where the processor has them (`many.rs`, `zkcredit_simd`).

pub mod constraints;
mod many;
mod optimized;

pub use many::{hash_many, hash_many_on_thread};
pub use optimized::Optimized;

use crate::{CircuitError, Fr};
use ark_ff::Field;
use std::sync::OnceLock;

/// Largest supported arity (circomlib goes to 16; light-poseidon's tables to 12).
pub const MAX_ARITY: usize = 12;

/// Parameters of one Poseidon width `t = arity + 1`.
#[derive(Clone)]
pub struct Params {
    /// State width.
    pub width: usize,
    /// Full rounds (8).
    pub full_rounds: usize,
    /// Partial rounds (circomlib's count for this width).
    pub partial_rounds: usize,
    /// Round constants, one row of `width` per round.
    pub ark: Vec<Vec<Fr>>,
    /// MDS matrix, `mds[i][j]`: `new_state[i] = Σ_j mds[i][j]·state[j]`.
    pub mds: Vec<Vec<Fr>>,
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Params")
            .field("width", &self.width)
            .field("full_rounds", &self.full_rounds)
            .field("partial_rounds", &self.partial_rounds)
            .finish_non_exhaustive()
    }
}

static PARAMS: [OnceLock<Params>; MAX_ARITY] = [const { OnceLock::new() }; MAX_ARITY];

/// The cached parameters for `arity` inputs (1..=12).
pub fn params(arity: usize) -> Result<&'static Params, CircuitError> {
    if arity == 0 || arity > MAX_ARITY {
        return Err(CircuitError::Arity(arity));
    }
    Ok(PARAMS[arity - 1].get_or_init(|| {
        let t = arity + 1;
        let p = light_poseidon::parameters::bn254_x5::get_poseidon_parameters::<Fr>(t as u8)
            .expect("light-poseidon ships tables for widths 2..=13");
        Params {
            width: t,
            full_rounds: p.full_rounds,
            partial_rounds: p.partial_rounds,
            ark: p.ark.chunks(t).map(|c| c.to_vec()).collect(),
            mds: p.mds,
        }
    }))
}

#[inline]
fn sbox(x: &mut Fr) {
    let x2 = x.square();
    let x4 = x2.square();
    *x *= x4;
}

static OPTIMIZED: [OnceLock<Option<optimized::Optimized>>; MAX_ARITY] =
    [const { OnceLock::new() }; MAX_ARITY];

/// Runs the optimised permutation of width `T` on `[0, inputs…]`.
fn hash_width<const T: usize>(o: &optimized::Optimized, inputs: &[Fr]) -> Fr {
    let mut s = [Fr::from(0u64); T];
    s[1..].copy_from_slice(inputs);
    o.permute(&mut s);
    s[0]
}

/// The optimised constants of `arity` (1..=12); `None` only if a width's matrices were
/// singular, which circomlib's never are (then [`hash`] falls back to the textbook form).
pub fn optimized(arity: usize) -> Result<Option<&'static Optimized>, CircuitError> {
    let p = params(arity)?;
    Ok(OPTIMIZED[arity - 1]
        .get_or_init(|| optimized::Optimized::derive(p))
        .as_ref())
}

/// `H(inputs…)`: circomlib Poseidon of `inputs.len()` inputs (1..=12).
pub fn hash(inputs: &[Fr]) -> Result<Fr, CircuitError> {
    let n = inputs.len();
    let Some(o) = optimized(n)? else {
        return hash_reference(inputs);
    };
    Ok(match n {
        1 => hash_width::<2>(o, inputs),
        2 => hash_width::<3>(o, inputs),
        3 => hash_width::<4>(o, inputs),
        4 => hash_width::<5>(o, inputs),
        5 => hash_width::<6>(o, inputs),
        6 => hash_width::<7>(o, inputs),
        7 => hash_width::<8>(o, inputs),
        8 => hash_width::<9>(o, inputs),
        9 => hash_width::<10>(o, inputs),
        10 => hash_width::<11>(o, inputs),
        11 => hash_width::<12>(o, inputs),
        _ => hash_width::<13>(o, inputs),
    })
}

/// `H(inputs…)` in the textbook form (every round's constants, dense mixing): the
/// definition [`hash`] is checked against, and the benchmarks' baseline.
pub fn hash_reference(inputs: &[Fr]) -> Result<Fr, CircuitError> {
    let p = params(inputs.len())?;
    let t = p.width;
    let mut state = Vec::with_capacity(t);
    state.push(Fr::from(0u64));
    state.extend_from_slice(inputs);
    let half = p.full_rounds / 2;
    let rounds = p.full_rounds + p.partial_rounds;
    let mut next = vec![Fr::from(0u64); t];
    for r in 0..rounds {
        for (s, c) in state.iter_mut().zip(&p.ark[r]) {
            *s += c;
        }
        if r < half || r >= half + p.partial_rounds {
            state.iter_mut().for_each(sbox);
        } else {
            sbox(&mut state[0]);
        }
        for (i, n) in next.iter_mut().enumerate() {
            let row = &p.mds[i];
            let mut acc = Fr::from(0u64);
            for (m, s) in row.iter().zip(&state) {
                acc += *m * s;
            }
            *n = acc;
        }
        std::mem::swap(&mut state, &mut next);
    }
    Ok(state[0])
}

/// `H(a, b)`: the Merkle two-to-one hash.
pub fn hash2(a: Fr, b: Fr) -> Fr {
    hash(&[a, b]).expect("arity 2 is supported")
}

/// Hash of a fixed-size array (arity checked at compile time by the caller's array size).
pub fn hash_n<const N: usize>(inputs: [Fr; N]) -> Fr {
    const { assert!(N >= 1 && N <= MAX_ARITY) };
    hash(&inputs).expect("arity checked at compile time")
}

#[cfg(test)]
mod tests;
