//! The optimised form of circomlib's Poseidon permutation (spec §3.2), bit-identical to the
//! textbook form ([`super::hash_reference`]) and derived from the same constants when a
//! width is first used — the transformation of the Poseidon paper's appendix B, which
//! circomlib's `poseidon_opt` and `poseidon_constants_opt` implement:
//!
//! 1. **Constants after the S-box.** `s += c_{r+1}` before round `r + 1` equals
//!    `s += M⁻¹·c_{r+1}` after round `r`'s S-boxes, before its mixing. In a partial round
//!    the S-box touches `s[0]` only, so every other element of that constant is moved one
//!    round earlier (through `M⁻¹`), from the last partial round back to the last full
//!    round: each partial round then adds one scalar.
//! 2. **Sparse partial rounds.** A mixing matrix `A = [[a, w], [v, Â]]` factors as
//!    `A = A''·A'` with `A' = diag(1, Â)` and `A'' = [[a, w·Â⁻¹], [v, I]]`. `A'` leaves
//!    `s[0]` alone, so it commutes with a partial round's S-box and scalar constant and moves
//!    into the round before, whose matrix becomes `A'·M`. From the last partial round back,
//!    every partial round keeps only a sparse `A''` — `2t − 1` products instead of `t²` —
//!    and the last full round of the first half mixes with `P = A'₀·M`.
//!
//! Dot products use arkworks' `sum_of_products`, which reduces once per product sum.

use super::Params;
use crate::Fr;
use ark_ff::{Field, One, Zero};

/// One width's constants in the optimised form (read by the halo2 circuit's Poseidon, which
/// runs the same optimised permutation as rows).
pub struct Optimized {
    half: usize,
    partial: usize,
    /// Added to the state before the first round (`t`).
    first: Vec<Fr>,
    /// Per full round in order (both halves), the constants added after its S-boxes,
    /// before its mixing (`t` each; zeros for the very last round).
    full: Vec<Fr>,
    /// Per partial round, the scalar added to `s[0]` after its S-box.
    partial_c: Vec<Fr>,
    /// `M`, row-major.
    m: Vec<Fr>,
    /// `P = A'₀·M`, row-major: the last full round of the first half.
    p: Vec<Fr>,
    /// Per partial round: the first row of `A''` (`t`) then its first column below the
    /// diagonal (`t − 1`).
    sparse: Vec<Fr>,
}

type Matrix = Vec<Vec<Fr>>;

/// `A⁻¹` by Gauss–Jordan elimination; `None` when `A` is singular.
fn invert(a: &Matrix) -> Option<Matrix> {
    let n = a.len();
    let mut m: Matrix = a.to_vec();
    let mut inv: Matrix = (0..n)
        .map(|i| (0..n).map(|j| Fr::from((i == j) as u64)).collect())
        .collect();
    for col in 0..n {
        let pivot = (col..n).find(|&r| !m[r][col].is_zero())?;
        m.swap(col, pivot);
        inv.swap(col, pivot);
        let k = m[col][col].inverse()?;
        for j in 0..n {
            m[col][j] *= k;
            inv[col][j] *= k;
        }
        for r in 0..n {
            if r != col && !m[r][col].is_zero() {
                let f = m[r][col];
                for j in 0..n {
                    let (mc, ic) = (m[col][j], inv[col][j]);
                    m[r][j] -= f * mc;
                    inv[r][j] -= f * ic;
                }
            }
        }
    }
    Some(inv)
}

fn mat_vec(a: &Matrix, v: &[Fr]) -> Vec<Fr> {
    a.iter()
        .map(|row| row.iter().zip(v).map(|(x, y)| *x * y).sum())
        .collect()
}

fn mat_mul(a: &Matrix, b: &Matrix) -> Matrix {
    let n = b.first().map_or(0, Vec::len);
    a.iter()
        .map(|row| {
            (0..n)
                .map(|j| row.iter().zip(b).map(|(x, brow)| *x * brow[j]).sum())
                .collect()
        })
        .collect()
}

impl Optimized {
    /// Full rounds in each half.
    pub fn half(&self) -> usize {
        self.half
    }
    /// Partial rounds.
    pub fn partial(&self) -> usize {
        self.partial
    }
    /// Added to the state before the first round (`t` constants).
    pub fn first(&self) -> &[Fr] {
        &self.first
    }
    /// Per full round in order (both halves), the `t` constants added after its S-boxes.
    pub fn full(&self) -> &[Fr] {
        &self.full
    }
    /// Per partial round, the scalar added to `s[0]` after its S-box.
    pub fn partial_constants(&self) -> &[Fr] {
        &self.partial_c
    }
    /// The MDS matrix `M`, row-major.
    pub fn mds(&self) -> &[Fr] {
        &self.m
    }
    /// `P = A'₀·M`, row-major: the mixing of the first half's last full round.
    pub fn pre_sparse(&self) -> &[Fr] {
        &self.p
    }
    /// Per partial round `2t − 1` values: the first row of its sparse matrix, then its first
    /// column below the diagonal.
    pub fn sparse(&self) -> &[Fr] {
        &self.sparse
    }

    /// Derives the optimised constants of `p` (`None` if a matrix is singular, which an
    /// MDS matrix and its square submatrices never are).
    pub(super) fn derive(p: &Params) -> Option<Self> {
        let t = p.width;
        let half = p.full_rounds / 2;
        let rp = p.partial_rounds;
        let rounds = p.full_rounds + rp;
        let m_inv = invert(&p.mds)?;
        // after[r]: what round r − 1 adds after its S-boxes (after[0]: before round 0).
        let mut after: Matrix = (0..=rounds)
            .map(|r| match r {
                0 => p.ark[0].clone(),
                r if r < rounds => mat_vec(&m_inv, &p.ark[r]),
                _ => vec![Fr::zero(); t],
            })
            .collect();
        // 1. Partial round r adds after[r + 1]; all but its first element moves one round
        //    earlier, through M⁻¹.
        for r in (half..half + rp).rev() {
            let mut rest = after[r + 1].clone();
            rest[0] = Fr::zero();
            let moved = mat_vec(&m_inv, &rest);
            for (x, y) in after[r].iter_mut().zip(moved) {
                *x += y;
            }
            after[r + 1][1..].iter_mut().for_each(|x| *x = Fr::zero());
        }
        // 2. From the last partial round back: factor its matrix, keep the sparse part,
        //    move diag(1, Â) into the round before.
        let mut acc = p.mds.clone();
        let mut sparse = vec![Vec::new(); rp];
        for r in (0..rp).rev() {
            let hat: Matrix = acc[1..].iter().map(|row| row[1..].to_vec()).collect();
            let hat_inv = invert(&hat)?;
            let w = &acc[0][1..];
            let w_prime: Vec<Fr> = (0..t - 1)
                .map(|j| w.iter().zip(&hat_inv).map(|(x, row)| *x * row[j]).sum())
                .collect();
            let mut s = vec![acc[0][0]];
            s.extend(w_prime);
            s.extend(acc[1..].iter().map(|row| row[0]));
            sparse[r] = s;
            let mut prime: Matrix = vec![vec![Fr::zero(); t]; t];
            prime[0][0] = Fr::one();
            for (i, row) in hat.iter().enumerate() {
                prime[i + 1][1..].clone_from_slice(row);
            }
            acc = mat_mul(&prime, &p.mds);
        }
        let full = (0..half)
            .chain(half + rp..rounds)
            .flat_map(|r| after[r + 1].clone())
            .collect();
        Some(Self {
            half,
            partial: rp,
            first: after[0].clone(),
            full,
            partial_c: (half..half + rp).map(|r| after[r + 1][0]).collect(),
            m: p.mds.concat(),
            p: acc.concat(),
            sparse: sparse.concat(),
        })
    }

    /// The permutation of a width-`T` state (`T` must be this width).
    #[inline]
    pub(super) fn permute<const T: usize>(&self, s: &mut [Fr; T]) {
        for (x, c) in s.iter_mut().zip(&self.first) {
            *x += c;
        }
        let mut full = self.full.chunks_exact(T);
        for r in 0..self.half {
            s.iter_mut().for_each(sbox);
            add(s, full.next());
            mix(if r + 1 == self.half { &self.p } else { &self.m }, s);
        }
        for (c, sp) in self
            .partial_c
            .iter()
            .zip(self.sparse.chunks_exact(2 * T - 1))
            .take(self.partial)
        {
            sbox(&mut s[0]);
            s[0] += c;
            let (row, col) = sp.split_at(T);
            let s0 = match <&[Fr; T]>::try_from(row) {
                Ok(row) => Fr::sum_of_products(row, s),
                Err(_) => row.iter().zip(s.iter()).map(|(a, b)| *a * b).sum(),
            };
            let x0 = s[0];
            for (x, v) in s[1..].iter_mut().zip(col) {
                *x += *v * x0;
            }
            s[0] = s0;
        }
        for _ in 0..self.half {
            s.iter_mut().for_each(sbox);
            add(s, full.next());
            mix(&self.m, s);
        }
    }
}

#[inline]
fn sbox(x: &mut Fr) {
    let x2 = x.square();
    let x4 = x2.square();
    *x *= x4;
}

#[inline]
fn add<const T: usize>(s: &mut [Fr; T], c: Option<&[Fr]>) {
    if let Some(c) = c {
        for (x, y) in s.iter_mut().zip(c) {
            *x += y;
        }
    }
}

/// `s ← A·s`, `A` row-major `T × T`.
#[inline]
fn mix<const T: usize>(a: &[Fr], s: &mut [Fr; T]) {
    let mut out = [Fr::zero(); T];
    for (o, row) in out.iter_mut().zip(a.chunks_exact(T)) {
        if let Ok(row) = <&[Fr; T]>::try_from(row) {
            *o = Fr::sum_of_products(row, s);
        }
    }
    *s = out;
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::UniformRand;

    #[test]
    fn inverse_times_matrix_is_the_identity() {
        let mut rng = ark_std::test_rng();
        for n in 1..=6 {
            let a: Matrix = (0..n)
                .map(|_| (0..n).map(|_| Fr::rand(&mut rng)).collect())
                .collect();
            let inv = invert(&a).unwrap();
            let id = mat_mul(&a, &inv);
            for (i, row) in id.iter().enumerate() {
                for (j, x) in row.iter().enumerate() {
                    assert_eq!(*x, Fr::from((i == j) as u64), "n={n} ({i},{j})");
                }
            }
        }
        let singular = vec![vec![Fr::one(), Fr::one()], vec![Fr::one(), Fr::one()]];
        assert!(invert(&singular).is_none());
    }
}
