//! Range checks and bounded comparisons (SPEC §3.6), halo2 side; twins of
//! [`zkcredit_circuits::cmp`] and of the R1CS gadgets in `zkcredit_circuits::cmp::constraints`.
//!
//! A range check decomposes a cell into limbs of the range chip's lookup table (one lookup
//! per limb, the last limb shifted into the table's range when the width is not a multiple
//! of the limb size). Comparisons of `k`-bit values require both sides to be already known
//! to fit in `k` bits, as on the R1CS side, so the difference cannot wrap.

use super::{Cell, Rows};
use crate::field::to_ark;
use crate::HFr;
use halo2_base::gates::RangeInstructions;
use halo2_base::QuantumCell::Constant;
use zkcredit_circuits::cmp::fits_in_bits;

impl Rows<'_> {
    /// Enforces `x < 2^bits` (`1 ≤ bits ≤ 252`).
    pub fn enforce_bits(&mut self, x: Cell, bits: usize) {
        self.check(fits_in_bits(&to_ark(x.value()), bits));
        self.range.range_check(self.ctx, x, bits);
    }

    /// Enforces `a ≤ b`. Precondition: `a, b < 2^bits`.
    pub fn enforce_le(&mut self, a: Cell, b: Cell, bits: usize) {
        let d = self.sub(b, a);
        self.enforce_bits(d, bits);
    }

    /// Enforces `a < b`. Precondition: `a, b < 2^bits`.
    pub fn enforce_lt(&mut self, a: Cell, b: Cell, bits: usize) {
        let d = self.sub(b, a);
        let d = self.sub(d, Constant(HFr::from(1u64)));
        self.enforce_bits(d, bits);
    }

    /// Enforces `a ≤ b` when the Boolean `cond` is 1. Precondition: `a, b < 2^bits`.
    pub fn enforce_le_if(&mut self, cond: Cell, a: Cell, b: Cell, bits: usize) {
        let d = self.sub(b, a);
        let d = self.mul(cond, d);
        self.enforce_bits(d, bits);
    }

    /// Enforces `a < b` when the Boolean `cond` is 1. Precondition: `a, b < 2^bits`.
    pub fn enforce_lt_if(&mut self, cond: Cell, a: Cell, b: Cell, bits: usize) {
        let d = self.sub(b, a);
        let d = self.sub(d, Constant(HFr::from(1u64)));
        let d = self.mul(cond, d);
        self.enforce_bits(d, bits);
    }

    /// The constrained Boolean `a ≤ b`. Precondition: `a, b < 2^bits`.
    ///
    /// Witnesses the answer `c` and range-checks `c·(b − a) + (1 − c)·(a − b − 1)`, which
    /// is below `2^bits` exactly when `c` is the right answer (a wrong `c` makes it a
    /// negative number, i.e. a field element above `p − 2^bits`). The range check is a
    /// constraint the witness cannot choose to break, so it is written under the current
    /// rule but never reported as that rule's violation.
    pub fn is_le(&mut self, a: Cell, b: Cell, bits: usize) -> Cell {
        let holds = zkcredit_circuits::cmp::le(&to_ark(a.value()), &to_ark(b.value()), bits);
        self.le_claimed(a, b, bits, holds)
    }

    /// [`Self::is_le`] with the answer the prover claims.
    fn le_claimed(&mut self, a: Cell, b: Cell, bits: usize, claim: bool) -> Cell {
        let c = self.witness_bit(claim);
        let ba = self.sub(b, a);
        let ab1 = self.sub(a, b);
        let ab1 = self.sub(ab1, Constant(HFr::from(1u64)));
        // c·(b − a) + (1 − c)·(a − b − 1) = c·((b − a) − (a − b − 1)) + (a − b − 1)
        let diff = self.sub(ba, ab1);
        let d = self.mul_add(c, diff, ab1);
        self.range.range_check(self.ctx, d, bits);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::to_halo2;
    use crate::gadgets::testing::mock;
    use zkcredit_circuits::eligibility::Rule;
    use zkcredit_circuits::Fr;

    fn two_pow(bits: u32) -> Fr {
        use ark_ff::Field;
        Fr::from(2u64).pow([bits as u64])
    }

    #[test]
    fn range_checks_accept_the_range_and_refuse_beyond_it() {
        for bits in [1usize, 8, 9, 64, 72, 248] {
            let top = two_pow(bits as u32) - Fr::from(1u64);
            for (v, ok) in [
                (Fr::from(0u64), true),
                (top, true),
                (top + Fr::from(1u64), false),
                (-Fr::from(1u64), false),
            ] {
                let (sat, violated) = mock(|rows| {
                    rows.rule(Rule::ValueRanges);
                    let x = rows.witness(to_halo2(&v));
                    rows.enforce_bits(x, bits);
                });
                assert_eq!(sat, ok, "{bits} bits, value ok = {ok}");
                assert_eq!(violated, (!ok).then_some(Rule::ValueRanges));
            }
        }
    }

    #[test]
    fn comparisons_match_the_native_twin() {
        let bits = 64;
        let vals = [0u64, 1, 2, 1 << 40, u64::MAX - 1, u64::MAX];
        for &a in &vals {
            for &b in &vals {
                let (fa, fb) = (Fr::from(a), Fr::from(b));
                let (sat, _) = mock(|rows| {
                    let x = rows.witness(to_halo2(&fa));
                    let y = rows.witness(to_halo2(&fb));
                    let c = rows.is_le(x, y, bits);
                    let want = rows.constant(HFr::from((a <= b) as u64));
                    rows.enforce_equal(c, want);
                });
                assert!(sat, "is_le({a}, {b})");
                let (sat, violated) = mock(|rows| {
                    let x = rows.witness(to_halo2(&fa));
                    let y = rows.witness(to_halo2(&fb));
                    rows.enforce_lt(x, y, bits);
                });
                assert_eq!(sat, a < b, "enforce_lt({a}, {b})");
                assert_eq!(violated.is_none(), a < b);
                let (sat, _) = mock(|rows| {
                    let x = rows.witness(to_halo2(&fa));
                    let y = rows.witness(to_halo2(&fb));
                    rows.enforce_le(x, y, bits);
                });
                assert_eq!(sat, a <= b, "enforce_le({a}, {b})");
                for cond in [false, true] {
                    let (sat, _) = mock(|rows| {
                        let c = rows.witness_bit(cond);
                        let x = rows.witness(to_halo2(&fa));
                        let y = rows.witness(to_halo2(&fb));
                        rows.enforce_lt_if(c, x, y, bits);
                    });
                    assert_eq!(sat, !cond || a < b, "enforce_lt_if({cond}, {a}, {b})");
                }
            }
        }
    }

    #[test]
    fn a_wrong_answer_to_is_le_is_refused() {
        for (a, b) in [(5u64, 3u64), (3, 5), (4, 4)] {
            for claim in [false, true] {
                let (sat, _) = mock(|rows| {
                    let x = rows.witness(HFr::from(a));
                    let y = rows.witness(HFr::from(b));
                    rows.le_claimed(x, y, 64, claim);
                });
                assert_eq!(sat, claim == (a <= b), "is_le({a}, {b}) claimed {claim}");
            }
        }
    }
}
