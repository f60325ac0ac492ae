//! circomlib's Poseidon (SPEC §3.2) as halo2 rows: the optimised permutation of
//! `zkcredit_circuits::poseidon` (constants moved out of the partial rounds, sparse
//! partial-round matrices), with the very constants the native hash derives, so the gadget
//! and [`zkcredit_circuits::poseidon::hash`] agree bit for bit (tested for every arity).
//!
//! Per round: the S-box `x⁵` is three multiplications; a round's constants are folded into
//! the next mixing as one constant term of each output's inner product (the mixing is
//! linear, so `A·(y + c) = A·y + A·c` with `A·c` computed natively once).

use super::{Cell, Rows};
use crate::field::to_halo2;
use crate::{HFr, Halo2Error};
use halo2_base::QuantumCell::{self, Constant, Existing};
use zkcredit_circuits::poseidon::{optimized, Optimized};
use zkcredit_circuits::Fr;

fn sbox(rows: &mut Rows<'_>, x: Cell) -> Cell {
    let x2 = rows.mul(x, x);
    let x4 = rows.mul(x2, x2);
    rows.mul(x4, x)
}

/// `out = A·(y + c)` for a `t × t` row-major `a`, `c` optional (zeros).
fn mix(rows: &mut Rows<'_>, a: &[Fr], y: &[Cell], c: Option<&[Fr]>) -> Vec<Cell> {
    let t = y.len();
    a.chunks_exact(t)
        .map(|row| {
            let k: Fr = c.map_or(Fr::from(0u64), |c| {
                row.iter().zip(c).map(|(m, c)| *m * c).sum()
            });
            let mut xs: Vec<QuantumCell<HFr>> = y.iter().map(|c| Existing(*c)).collect();
            let mut ms: Vec<QuantumCell<HFr>> = row.iter().map(|m| Constant(to_halo2(m))).collect();
            xs.push(Constant(HFr::from(1u64)));
            ms.push(Constant(to_halo2(&k)));
            rows.inner_product(xs, ms)
        })
        .collect()
}

fn permute(rows: &mut Rows<'_>, o: &Optimized, mut s: Vec<Cell>) -> Vec<Cell> {
    let t = s.len();
    let mut full = o.full().chunks_exact(t);
    for r in 0..o.half() {
        let y: Vec<Cell> = s.iter().map(|x| sbox(rows, *x)).collect();
        let m = if r + 1 == o.half() {
            o.pre_sparse()
        } else {
            o.mds()
        };
        s = mix(rows, m, &y, full.next());
    }
    for (c, sp) in o
        .partial_constants()
        .iter()
        .zip(o.sparse().chunks_exact(2 * t - 1))
        .take(o.partial())
    {
        let x5 = sbox(rows, s[0]);
        let x0 = rows.add(x5, Constant(to_halo2(c)));
        let (row, col) = sp.split_at(t);
        let mut xs: Vec<QuantumCell<HFr>> = vec![Existing(x0)];
        xs.extend(s[1..].iter().map(|c| Existing(*c)));
        let ms: Vec<QuantumCell<HFr>> = row.iter().map(|m| Constant(to_halo2(m))).collect();
        let s0 = rows.inner_product(xs, ms);
        for (x, v) in s[1..].iter_mut().zip(col) {
            *x = rows.mul_add(x0, Constant(to_halo2(v)), *x);
        }
        s[0] = s0;
    }
    for _ in 0..o.half() {
        let y: Vec<Cell> = s.iter().map(|x| sbox(rows, *x)).collect();
        s = mix(rows, o.mds(), &y, full.next());
    }
    s
}

/// `H(inputs…)`: circomlib Poseidon of `inputs.len()` cells (1..=12).
pub fn hash(rows: &mut Rows<'_>, inputs: &[Cell]) -> Result<Cell, Halo2Error> {
    let o = optimized(inputs.len())?.ok_or_else(|| {
        Halo2Error::Shape(format!("no optimised Poseidon for arity {}", inputs.len()))
    })?;
    let first = o.first();
    let mut s = Vec::with_capacity(inputs.len() + 1);
    s.push(rows.constant(to_halo2(&first[0])));
    for (x, c) in inputs.iter().zip(&first[1..]) {
        s.push(rows.add(*x, Constant(to_halo2(c))));
    }
    Ok(permute(rows, o, s)[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::to_ark;
    use crate::gadgets::testing::mock;
    use ark_ff::UniformRand;
    use zkcredit_circuits::poseidon::MAX_ARITY;

    #[test]
    fn every_arity_matches_the_native_hash() {
        let mut rng = ark_std::test_rng();
        for n in 1..=MAX_ARITY {
            let xs: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            let want = zkcredit_circuits::poseidon::hash(&xs).unwrap();
            let (sat, violated) = mock(|rows| {
                let cells: Vec<Cell> = xs.iter().map(|x| rows.witness(to_halo2(x))).collect();
                let h = hash(rows, &cells).unwrap();
                assert_eq!(to_ark(h.value()), want, "arity {n}");
                let expected = rows.constant(to_halo2(&want));
                rows.enforce_equal(h, expected);
            });
            assert!(sat && violated.is_none(), "arity {n}");
        }
    }

    #[test]
    fn circomlib_known_answer() {
        // circomlib Poseidon([1, 2]) (the circomlibjs test vector).
        let want = zkcredit_circuits::field::fr_from_dec(
            "7853200120776062878684798364095072458815029376092732009249414926327459813530",
        )
        .unwrap();
        let (sat, _) = mock(|rows| {
            let a = rows.witness(HFr::from(1u64));
            let b = rows.witness(HFr::from(2u64));
            let h = hash(rows, &[a, b]).unwrap();
            assert_eq!(to_ark(h.value()), want);
            let expected = rows.constant(to_halo2(&want));
            rows.enforce_equal(h, expected);
        });
        assert!(sat);
    }

    #[test]
    fn a_wrong_output_is_refused() {
        let (sat, violated) = mock(|rows| {
            let a = rows.witness(HFr::from(1u64));
            let h = hash(rows, &[a]).unwrap();
            let wrong = rows.witness(*h.value() + HFr::from(1u64));
            rows.enforce_equal(h, wrong);
        });
        assert!(!sat);
        assert!(violated.is_some());
    }
}
