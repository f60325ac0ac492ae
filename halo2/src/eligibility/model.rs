//! The default-probability model (SPEC §6.9) as halo2 rows: twin of
//! [`zkcredit_circuits::model::ModelTerms::admits`] and `FactorAccumulator`, the same blocks
//! as the R1CS gadget `zkcredit_circuits::model::constraints`.

use crate::field::to_halo2;
use crate::gadgets::poseidon::hash;
use crate::gadgets::{Cell, Rows};
use crate::{HFr, Halo2Error};
use halo2_base::QuantumCell::{Constant, Existing};
use zkcredit_circuits::model::{
    fr_from_i64, ModelTerms, COEFF_BITS, DIFF_BITS, FACTORS, TAG_MODEL,
};
use zkcredit_circuits::tags::VALUE_BITS;

/// [`ModelTerms`] as cells (signed values in the field encoding of [`fr_from_i64`]).
pub struct ModelCells {
    id: Cell,
    scale_bits: Cell,
    intercept: Cell,
    coefficients: [Cell; FACTORS],
    /// The threshold `t`.
    pub max_logit: Cell,
}

impl ModelCells {
    /// Assigns the terms (no constraints; see [`Self::enforce_bounds`]).
    pub fn assign(rows: &mut Rows<'_>, t: &ModelTerms) -> Self {
        let id = rows.witness(to_halo2(&t.id));
        let scale_bits = rows.witness(HFr::from(t.scale_bits as u64));
        let intercept = rows.witness(to_halo2(&fr_from_i64(t.intercept)));
        let coefficients = t
            .coefficients
            .map(|b| rows.witness(to_halo2(&fr_from_i64(b))));
        let max_logit = rows.witness(to_halo2(&fr_from_i64(t.max_logit)));
        Self {
            id,
            scale_bits,
            intercept,
            coefficients,
            max_logit,
        }
    }

    /// §6.9 bounds: the intercept, every coefficient and the threshold are in
    /// `[−2^52, 2^52)` (`v + 2^52 < 2^53`).
    pub fn enforce_bounds(&self, rows: &mut Rows<'_>) {
        let offset = HFr::from(1u64 << COEFF_BITS);
        let signed = std::iter::once(self.intercept)
            .chain(self.coefficients)
            .chain(std::iter::once(self.max_logit));
        for v in signed {
            let shifted = rows.add(v, Constant(offset));
            rows.enforce_bits(shifted, COEFF_BITS + 1);
        }
    }

    /// `model_hash = H(TAG_MODEL, id, scale_bits, b0, b1..b5)`.
    pub fn hash(&self, rows: &mut Rows<'_>) -> Result<Cell, Halo2Error> {
        let mut inputs = vec![
            rows.constant(HFr::from(TAG_MODEL)),
            self.id,
            self.scale_bits,
            self.intercept,
        ];
        inputs.extend(self.coefficients);
        hash(rows, &inputs)
    }

    /// §6.9 `b0 + Σ bi·xi ≤ t`: enforces `t − z ∈ [0, 2^128)`. Preconditions as on the
    /// R1CS side: bounded terms, factors below `2^72`.
    pub fn enforce_admits(&self, rows: &mut Rows<'_>, factors: &[Cell; FACTORS]) {
        let mut xs = vec![Existing(self.intercept)];
        let mut bs = vec![Constant(HFr::from(1u64))];
        for (b, x) in self.coefficients.iter().zip(factors) {
            xs.push(Existing(*b));
            bs.push(Existing(*x));
        }
        let z = rows.inner_product(xs, bs);
        let d = rows.sub(self.max_logit, z);
        rows.enforce_bits(d, DIFF_BITS);
    }
}

/// The running factors over the slots (SPEC §6.9).
pub struct Factors {
    /// `max v2` over lender slots so far.
    pub worst_arrears: Cell,
    bureau_found: Cell,
    bureau_at: Cell,
    /// The freshest bureau record's score.
    pub bureau_score: Cell,
    /// `now − issued_at` of the KYC record.
    pub kyc_age: Cell,
}

impl Factors {
    /// No slot seen yet: every factor 0.
    pub fn new(rows: &mut Rows<'_>) -> Self {
        let zero = rows.constant(HFr::from(0u64));
        Self {
            worst_arrears: zero,
            bureau_found: zero,
            bureau_at: zero,
            bureau_score: zero,
            kyc_age: zero,
        }
    }

    /// The KYC record's age (precondition `issued_at ≤ now`, both u64).
    pub fn kyc(&mut self, rows: &mut Rows<'_>, now: Cell, issued_at: Cell) {
        self.kyc_age = rows.sub(now, issued_at);
    }

    /// A lender slot when `is_lender`: `worst = max(worst, v2)`.
    pub fn lender(&mut self, rows: &mut Rows<'_>, is_lender: Cell, v2: Cell) {
        let not_worse = rows.is_le(v2, self.worst_arrears, VALUE_BITS);
        let worse = rows.not(not_worse);
        let take = rows.and(is_lender, worse);
        self.worst_arrears = rows.select(v2, self.worst_arrears, take);
    }

    /// A bureau record when `has`: the freshest wins, the first on a tie.
    pub fn bureau(&mut self, rows: &mut Rows<'_>, has: Cell, score: Cell, issued_at: Cell) {
        let not_later = rows.is_le(issued_at, self.bureau_at, VALUE_BITS);
        let later = rows.not(not_later);
        let first = rows.not(self.bureau_found);
        let either = rows.or(first, later);
        let take = rows.and(has, either);
        self.bureau_at = rows.select(issued_at, self.bureau_at, take);
        self.bureau_score = rows.select(score, self.bureau_score, take);
        self.bureau_found = rows.or(self.bureau_found, has);
    }
}
