//! The default-probability model in the statement (spec §6.9): a published logistic model
//! `p = exp(z) / (1 + exp(z))`, `z = β0 + Σ βi·xi`, evaluated on the borrower's own
//! committed records; the policy requires `p ≤ p_max`.
//!
//! `p` is monotone in `z`, so the circuit proves `z ≤ logit(p_max)` in signed fixed point:
//! with `k = scale_bits`, the coefficients are the integers `bi = round(βi·2^k)` and the
//! threshold is `t = floor(logit(p_max)·2^k)`; the statement is `b0 + Σ bi·xi ≤ t` over the
//! integers (the factors are integers). No exponential is evaluated in the circuit.
//!
//! | file | content |
//! |---|---|
//! | `mod.rs` | bounds, [`Factor`], [`Factors`], [`ModelTerms`] (what the policy carries) and its native evaluation |
//! | [`mod@file`] | [`file::ScoringModel`]: the published model file (JSON), its validation and quantisation |
//! | [`constraints`] | the gadget: the terms as witnesses, their hash, the factor accumulators, the bound |
//!
//! **Bounds** (spec §6.9). Coefficients and the threshold are integers in
//! `[−2^52, 2^52)` ([`COEFF_BOUND`]; exactly representable in an IEEE double, so JSON
//! readers in any language keep them). Factors are below `2^72` in the circuit (the lender
//! sums are 72-bit; the others u64), so `|z| < 2^52 + 5·2^52·2^72 < 2^127` and
//! `|t − z| < 2^128` ([`DIFF_BITS`]): far below `r/2 ≈ 2^253`, so no sum or product wraps
//! the field and `t − z ∈ [0, 2^128)` holds exactly when `z ≤ t`. Natively, after the
//! policy's limits the factors are below `2^64`, so `|z| < 2^119` fits an `i128`.

pub mod constraints;
pub mod file;

use crate::field::fr_to_u64;
use crate::poseidon::hash_n;
use crate::{CircuitError, Fr};
use ark_ff::{AdditiveGroup, PrimeField};
use serde::{Deserialize, Serialize};

/// Number of model factors (spec §6.9), in [`Factor::ALL`] order.
pub const FACTORS: usize = 5;
/// Bits of a coefficient's and the threshold's offset encoding: values in `[−2^52, 2^52)`.
pub const COEFF_BITS: usize = 52;
/// Coefficients and the threshold are in `[−COEFF_BOUND, COEFF_BOUND)`.
pub const COEFF_BOUND: i64 = 1 << COEFF_BITS;
/// Bits of `t − z` when `z ≤ t` (spec §6.9: `|t − z| < 2^128`).
pub const DIFF_BITS: usize = 128;
/// Largest `scale_bits` (the fixed-point scale is `2^scale_bits`).
pub const MAX_SCALE_BITS: u8 = 48;
/// Tag of the model hash (ASCII "zkc/modl").
pub const TAG_MODEL: u64 = 0x7a6b_632f_6d6f_646c;
/// Arity of the model hash `H(TAG_MODEL, id, scale_bits, b0, b1..b5)`.
pub const ARITY_MODEL: usize = 4 + FACTORS;

/// One explanatory factor, computed in the circuit from the borrower's committed records
/// across the whole registry (spec §6.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Factor {
    /// `Σ v0` over lender slots: active loans across all lenders.
    ActiveLoans,
    /// `Σ v1` over lender slots: outstanding amount (minor units) across all lenders.
    Outstanding,
    /// `max v2` over lender slots: the worst arrears (days) at any lender (0 if none).
    WorstArrearsDays,
    /// The score `v0` of the freshest bureau record (greatest `issued_at`; on a tie the
    /// first in slot order; 0 if no bureau has the subject).
    BureauScore,
    /// `now − issued_at` of the KYC record (seconds).
    KycAgeSeconds,
}

impl Factor {
    /// Every factor, in coefficient order.
    pub const ALL: [Factor; FACTORS] = [
        Factor::ActiveLoans,
        Factor::Outstanding,
        Factor::WorstArrearsDays,
        Factor::BureauScore,
        Factor::KycAgeSeconds,
    ];

    /// The factor's name in model files.
    pub const fn name(self) -> &'static str {
        match self {
            Factor::ActiveLoans => "active_loans",
            Factor::Outstanding => "outstanding",
            Factor::WorstArrearsDays => "worst_arrears_days",
            Factor::BureauScore => "bureau_score",
            Factor::KycAgeSeconds => "kyc_age_seconds",
        }
    }

    /// The factor named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Index in [`Factor::ALL`] (and in [`ModelTerms::coefficients`]).
    pub fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|f| *f == self)
            .expect("every factor is in ALL")
    }
}

/// The factor values of one borrower, in [`Factor::ALL`] order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Factors(pub [u128; FACTORS]);

impl Factors {
    /// The value of `f`.
    pub fn get(&self, f: Factor) -> u128 {
        self.0[f.index()]
    }
}

/// Running native computation of the factors over the slots, in slot order — the twin of
/// the gadget's accumulators ([`constraints::FactorsVar`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct FactorAccumulator {
    loans: u128,
    outstanding: u128,
    worst_arrears: u64,
    bureau: Option<(u64, u64)>,
    kyc_age: u64,
}

impl FactorAccumulator {
    /// The KYC record issued at `issued_at` (≤ `now`, checked by §6.2).
    pub fn kyc(&mut self, now: u64, issued_at: u64) {
        self.kyc_age = now.saturating_sub(issued_at);
    }

    /// A lender slot's record (zeros when absent).
    pub fn lender(&mut self, v0: u64, v1: u64, v2: u64) {
        self.loans += v0 as u128;
        self.outstanding += v1 as u128;
        self.worst_arrears = self.worst_arrears.max(v2);
    }

    /// A bureau slot's record, if the subject is present: score `v0` issued at `v1`.
    pub fn bureau(&mut self, score: u64, issued_at: u64) {
        match self.bureau {
            Some((_, at)) if issued_at <= at => {}
            _ => self.bureau = Some((score, issued_at)),
        }
    }

    /// The factors.
    pub fn factors(&self) -> Factors {
        Factors([
            self.loans,
            self.outstanding,
            self.worst_arrears as u128,
            self.bureau.map_or(0, |(s, _)| s as u128),
            self.kyc_age as u128,
        ])
    }
}

/// The model as the policy carries it (spec §6.9): fixed-point coefficients and the
/// lender's threshold. The default, [`ModelTerms::NONE`], is the null model (every
/// coefficient 0, threshold 0): `0 ≤ 0` admits everyone, so a policy without a model
/// needs no other circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, try_from = "RawTerms")]
pub struct ModelTerms {
    /// Identity of the published model: its name and version, digested
    /// ([`file::ScoringModel::id`]); 0 for the null model.
    #[serde(with = "crate::field::serde_fr")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub id: Fr,
    /// The fixed-point scale is `2^scale_bits` (≤ [`MAX_SCALE_BITS`]).
    pub scale_bits: u8,
    /// `b0 = round(β0·2^k)`.
    pub intercept: i64,
    /// `bi = round(βi·2^k)`, in [`Factor::ALL`] order.
    pub coefficients: [i64; FACTORS],
    /// The lender's threshold `t = floor(logit(p_max)·2^k)`: admitted iff `z ≤ t`.
    pub max_logit: i64,
}

/// [`ModelTerms`] as read, before its bounds are checked.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RawTerms {
    #[serde(with = "crate::field::serde_fr")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    id: Fr,
    scale_bits: u8,
    intercept: i64,
    coefficients: [i64; FACTORS],
    max_logit: i64,
}

impl TryFrom<RawTerms> for ModelTerms {
    type Error = CircuitError;
    fn try_from(r: RawTerms) -> Result<Self, CircuitError> {
        let t = ModelTerms {
            id: r.id,
            scale_bits: r.scale_bits,
            intercept: r.intercept,
            coefficients: r.coefficients,
            max_logit: r.max_logit,
        };
        t.validate()?;
        Ok(t)
    }
}

impl Default for ModelTerms {
    fn default() -> Self {
        Self::NONE
    }
}

/// `x` as a field element: `x` for `x ≥ 0`, `r − |x|` otherwise (spec §6.9 signed encoding).
pub fn fr_from_i64(x: i64) -> Fr {
    let m = Fr::from(x.unsigned_abs());
    if x < 0 {
        -m
    } else {
        m
    }
}

/// The signed integer a field element encodes, if it is in `[−2^63, 2^63)`.
pub fn fr_to_i64(x: &Fr) -> Option<i64> {
    if let Some(v) = fr_to_u64(x) {
        return i64::try_from(v).ok();
    }
    let neg = fr_to_u64(&-*x)?;
    0i64.checked_sub_unsigned(neg)
}

/// Whether `v` is in `[−2^52, 2^52)`.
pub fn in_bounds(v: i64) -> bool {
    (-COEFF_BOUND..COEFF_BOUND).contains(&v)
}

impl ModelTerms {
    /// The null model: admits everyone.
    pub const NONE: ModelTerms = ModelTerms {
        id: Fr::ZERO,
        scale_bits: 0,
        intercept: 0,
        coefficients: [0; FACTORS],
        max_logit: 0,
    };

    /// Whether this is the null model (no model required).
    pub fn is_none(&self) -> bool {
        *self == Self::NONE
    }

    /// Checks the terms as they are read (spec §6.9): [`Self::check_bounds`] and
    /// `scale_bits ≤ 48`.
    pub fn validate(&self) -> Result<(), CircuitError> {
        if self.scale_bits > MAX_SCALE_BITS {
            return Err(CircuitError::Model(format!(
                "scale_bits = {} is above {MAX_SCALE_BITS}",
                self.scale_bits
            )));
        }
        self.check_bounds()
    }

    /// The bounds the circuit enforces (spec §6.9), and only those — the native twin's
    /// check: every coefficient, the intercept and the threshold in `[−2^52, 2^52)`.
    /// (`scale_bits` only labels the model inside its hash; it is checked on reading.)
    pub fn check_bounds(&self) -> Result<(), CircuitError> {
        let named = std::iter::once(("intercept", self.intercept))
            .chain(std::iter::once(("max_logit", self.max_logit)))
            .chain(
                Factor::ALL
                    .iter()
                    .map(|f| f.name())
                    .zip(self.coefficients.iter().copied()),
            );
        for (name, v) in named {
            if !in_bounds(v) {
                return Err(CircuitError::Model(format!(
                    "{name} = {v} is outside [-2^{COEFF_BITS}, 2^{COEFF_BITS}): the circuit's \
                     bound on coefficients and the threshold"
                )));
            }
        }
        Ok(())
    }

    /// The values hashed, in order: `TAG_MODEL, id, scale_bits, b0, b1..b5` (signed values
    /// encoded by [`fr_from_i64`]).
    pub fn hash_inputs(&self) -> [Fr; ARITY_MODEL] {
        let mut v = [Fr::ZERO; ARITY_MODEL];
        v[0] = Fr::from(TAG_MODEL);
        v[1] = self.id;
        v[2] = Fr::from(self.scale_bits as u64);
        v[3] = fr_from_i64(self.intercept);
        for (i, b) in self.coefficients.iter().enumerate() {
            v[4 + i] = fr_from_i64(*b);
        }
        v
    }

    /// `model_hash = H(TAG_MODEL, id, scale_bits, b0, b1..b5)` (spec §6.9).
    pub fn hash(&self) -> Fr {
        hash_n(self.hash_inputs())
    }

    /// `z = b0 + Σ bi·xi` in fixed point (`2^scale_bits` units). Exact for factors below
    /// `2^64` (the policy's limits hold before the model is evaluated); `None` if it would
    /// not fit an `i128`.
    pub fn linear(&self, x: &Factors) -> Option<i128> {
        let mut z = self.intercept as i128;
        for (b, xi) in self.coefficients.iter().zip(x.0.iter()) {
            let xi = i128::try_from(*xi).ok()?;
            z = z.checked_add((*b as i128).checked_mul(xi)?)?;
        }
        Some(z)
    }

    /// Whether the model admits the factors: `z ≤ t` (the statement's check).
    pub fn admits(&self, x: &Factors) -> bool {
        self.linear(x).is_some_and(|z| z <= self.max_logit as i128)
    }

    /// `2^scale_bits` as a double.
    pub fn scale(&self) -> f64 {
        2f64.powi(self.scale_bits as i32)
    }

    /// The default probability the fixed-point model gives `x`: `σ(z / 2^k)` (for words;
    /// the statement compares integers).
    pub fn probability(&self, x: &Factors) -> Option<f64> {
        self.linear(x).map(|z| sigmoid(z as f64 / self.scale()))
    }

    /// The lender's `p_max` as the threshold gives it: `σ(t / 2^k)`.
    pub fn max_probability(&self) -> f64 {
        sigmoid(self.max_logit as f64 / self.scale())
    }
}

/// The logistic function `exp(z) / (1 + exp(z))`, computed without overflow.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `logit(p) = ln(p / (1 − p))`.
pub fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// The identity of a published model: the field element its name and version digest to
/// (spec §6.9): `sha3-256(name ‖ 0x00 ‖ version)`, top 3 bits cleared.
pub fn model_id(name: &str, version: &str) -> Fr {
    use sha3::{Digest, Sha3_256};
    let mut h = Sha3_256::new();
    h.update(name.as_bytes());
    h.update([0u8]);
    h.update(version.as_bytes());
    let mut d: [u8; 32] = h.finalize().into();
    d[0] &= 0x1f;
    Fr::from_be_bytes_mod_order(&d)
}

#[cfg(test)]
mod tests;
