//! The model gadget (spec §6.9), twin of [`super::ModelTerms::admits`] and
//! [`super::FactorAccumulator`].

use super::{ModelTerms, COEFF_BITS, DIFF_BITS, FACTORS, TAG_MODEL};
use crate::cmp::constraints::{enforce_bits, is_le};
use crate::poseidon::constraints::hash_var;
use crate::tags::VALUE_BITS;
use crate::Fr;
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::prelude::*;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

/// [`ModelTerms`] as private witnesses (signed values in the field encoding of
/// [`super::fr_from_i64`]).
#[derive(Clone)]
pub struct ModelTermsVar {
    /// [`ModelTerms::id`].
    pub id: FpVar<Fr>,
    /// [`ModelTerms::scale_bits`].
    pub scale_bits: FpVar<Fr>,
    /// [`ModelTerms::intercept`].
    pub intercept: FpVar<Fr>,
    /// [`ModelTerms::coefficients`].
    pub coefficients: [FpVar<Fr>; FACTORS],
    /// [`ModelTerms::max_logit`].
    pub max_logit: FpVar<Fr>,
}

impl ModelTermsVar {
    /// Allocates the terms (`terms = None` in setup mode). No constraints: the caller
    /// enforces [`Self::enforce_bounds`].
    pub fn new_witness(
        cs: ConstraintSystemRef<Fr>,
        terms: Option<&ModelTerms>,
    ) -> Result<Self, SynthesisError> {
        let wit = |f: &dyn Fn(&ModelTerms) -> Fr| {
            FpVar::new_witness(cs.clone(), || {
                terms.map(f).ok_or(SynthesisError::AssignmentMissing)
            })
        };
        let id = wit(&|t| t.id)?;
        let scale_bits = wit(&|t| Fr::from(t.scale_bits as u64))?;
        let intercept = wit(&|t| super::fr_from_i64(t.intercept))?;
        let mut coefficients = Vec::with_capacity(FACTORS);
        for i in 0..FACTORS {
            coefficients.push(wit(&|t| super::fr_from_i64(t.coefficients[i]))?);
        }
        let max_logit = wit(&|t| super::fr_from_i64(t.max_logit))?;
        Ok(Self {
            id,
            scale_bits,
            intercept,
            coefficients: coefficients
                .try_into()
                .map_err(|_| SynthesisError::Unsatisfiable)?,
            max_logit,
        })
    }

    /// §6.9 bounds: the intercept, every coefficient and the threshold are in
    /// `[−2^52, 2^52)` (`v + 2^52 < 2^53`). `5 + 2` range checks of 53 bits.
    pub fn enforce_bounds(&self) -> Result<(), SynthesisError> {
        let offset = Fr::from(1u64 << COEFF_BITS);
        let signed = std::iter::once(&self.intercept)
            .chain(self.coefficients.iter())
            .chain(std::iter::once(&self.max_logit));
        for v in signed {
            enforce_bits(&(v + offset), COEFF_BITS + 1)?;
        }
        Ok(())
    }

    /// `model_hash = H(TAG_MODEL, id, scale_bits, b0, b1..b5)` (spec §6.9).
    pub fn hash(&self) -> Result<FpVar<Fr>, SynthesisError> {
        let mut inputs = vec![
            FpVar::constant(Fr::from(TAG_MODEL)),
            self.id.clone(),
            self.scale_bits.clone(),
            self.intercept.clone(),
        ];
        inputs.extend(self.coefficients.iter().cloned());
        hash_var(&inputs)
    }
}

/// The running factors over the slots (spec §6.9), twin of [`super::FactorAccumulator`].
/// The lender sums (`Σ v0`, `Σ v1`) are the eligibility circuit's own (§6.4).
#[derive(Clone)]
pub struct FactorsVar {
    /// `max v2` over lender slots so far.
    pub worst_arrears: FpVar<Fr>,
    /// Some bureau slot so far has the subject.
    pub bureau_found: Boolean<Fr>,
    /// `issued_at` of the freshest such record so far.
    pub bureau_at: FpVar<Fr>,
    /// Its score.
    pub bureau_score: FpVar<Fr>,
    /// `now − issued_at` of the KYC record.
    pub kyc_age: FpVar<Fr>,
}

impl Default for FactorsVar {
    fn default() -> Self {
        Self::new()
    }
}

impl FactorsVar {
    /// No slot seen yet: every factor 0.
    pub fn new() -> Self {
        Self {
            worst_arrears: FpVar::zero(),
            bureau_found: Boolean::FALSE,
            bureau_at: FpVar::zero(),
            bureau_score: FpVar::zero(),
            kyc_age: FpVar::zero(),
        }
    }

    /// The KYC record's age `now − issued_at`. Precondition: `issued_at ≤ now`, both u64
    /// (§6.2 `KycAge` enforces it), so the difference is a u64. No constraint.
    pub fn kyc(&mut self, now: &FpVar<Fr>, issued_at: &FpVar<Fr>) {
        self.kyc_age = now - issued_at;
    }

    /// A slot that is a lender when `is_lender`: `worst = max(worst, v2)`. Precondition:
    /// `v2` is a range-checked u64. 68 constraints.
    pub fn lender(
        &mut self,
        is_lender: &Boolean<Fr>,
        v2: &FpVar<Fr>,
    ) -> Result<(), SynthesisError> {
        let worse = !is_le(v2, &self.worst_arrears, VALUE_BITS)?;
        let take = is_lender & &worse;
        self.worst_arrears = take.select(v2, &self.worst_arrears)?;
        Ok(())
    }

    /// A slot whose record is a bureau's when `has` (a bureau slot with the subject
    /// present): the freshest record wins, the first on a tie. Preconditions: `score` and
    /// `issued_at` are range-checked u64. 71 constraints.
    pub fn bureau(
        &mut self,
        has: &Boolean<Fr>,
        score: &FpVar<Fr>,
        issued_at: &FpVar<Fr>,
    ) -> Result<(), SynthesisError> {
        let later = !is_le(issued_at, &self.bureau_at, VALUE_BITS)?;
        let take = has & &(&!&self.bureau_found | &later);
        self.bureau_at = take.select(issued_at, &self.bureau_at)?;
        self.bureau_score = take.select(score, &self.bureau_score)?;
        self.bureau_found = &self.bureau_found | has;
        Ok(())
    }
}

/// §6.9 `b0 + Σ bi·xi ≤ t`: enforces `t − z ∈ [0, 2^128)`. Preconditions: the terms are
/// bounded ([`ModelTermsVar::enforce_bounds`]) and every factor is below `2^72`, so
/// `|t − z| < 2^128` and nothing wraps. `FACTORS + DIFF_BITS + 1` constraints.
pub fn enforce_admits(
    terms: &ModelTermsVar,
    factors: &[FpVar<Fr>; FACTORS],
) -> Result<(), SynthesisError> {
    let mut z = terms.intercept.clone();
    for (b, x) in terms.coefficients.iter().zip(factors.iter()) {
        z += b * x;
    }
    enforce_bits(&(&terms.max_logit - &z), DIFF_BITS).map(|_| ())
}
