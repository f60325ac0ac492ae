//! The published model file (spec §6.9): JSON with a name, a version, the fixed-point
//! scale, the intercept and one coefficient per factor, as a statistician publishes them
//! (decimal numbers). Loading validates every bound and refuses, never wraps: a
//! coefficient beyond the circuit's bound, a non-finite number, an unknown factor, or a
//! non-zero coefficient that the scale rounds to zero.

use super::{
    logit, model_id, sigmoid, Factor, Factors, ModelTerms, COEFF_BITS, COEFF_BOUND, FACTORS,
    MAX_SCALE_BITS,
};
use crate::CircuitError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest model file read (bytes).
pub const MAX_MODEL_FILE_BYTES: usize = 64 * 1024;

/// A published default-probability model (the JSON file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringModel {
    /// The model's name, e.g. "Defi Score Basic".
    pub name: String,
    /// Its version.
    pub version: String,
    /// Fixed-point scale `2^scale_bits` (0..=48).
    pub scale_bits: u8,
    /// `β0`.
    pub intercept: f64,
    /// `βi` by factor name ([`Factor::name`]); factors not listed have coefficient 0. A
    /// name given twice is refused.
    #[serde(deserialize_with = "unique_keys")]
    pub coefficients: BTreeMap<String, f64>,
}

/// A JSON object as a map, refusing a key given twice (serde's maps keep the last silently).
fn unique_keys<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = BTreeMap<String, f64>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object of coefficients by factor name")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = m.next_entry::<String, f64>()? {
                if out.insert(k.clone(), v).is_some() {
                    return Err(serde::de::Error::custom(format!(
                        "coefficient `{k}` given twice"
                    )));
                }
            }
            Ok(out)
        }
    }
    d.deserialize_map(Visitor)
}

fn model_error(msg: impl Into<String>) -> CircuitError {
    CircuitError::Model(msg.into())
}

impl ScoringModel {
    /// Parses and validates a model file.
    pub fn from_json(text: &str) -> Result<Self, CircuitError> {
        if text.len() > MAX_MODEL_FILE_BYTES {
            return Err(model_error(format!(
                "model file of {} bytes is over the {MAX_MODEL_FILE_BYTES}-byte limit",
                text.len()
            )));
        }
        let m: ScoringModel = serde_json::from_str(text)
            .map_err(|e| model_error(format!("not a model file: {e}")))?;
        m.quantize()?;
        Ok(m)
    }

    /// `βi` in [`Factor::ALL`] order.
    pub fn betas(&self) -> Result<[f64; FACTORS], CircuitError> {
        let mut out = [0.0; FACTORS];
        for (name, beta) in &self.coefficients {
            let f = Factor::from_name(name).ok_or_else(|| {
                let known: Vec<_> = Factor::ALL.iter().map(|f| f.name()).collect();
                model_error(format!(
                    "unknown factor `{name}` (the circuit computes: {})",
                    known.join(", ")
                ))
            })?;
            out[f.index()] = *beta;
        }
        Ok(out)
    }

    /// The identity hashed into the model hash: [`model_id`] of name and version.
    pub fn id(&self) -> crate::Fr {
        model_id(&self.name, &self.version)
    }

    fn fixed(&self, what: &str, beta: f64) -> Result<i64, CircuitError> {
        if !beta.is_finite() {
            return Err(model_error(format!(
                "{what} = {beta} is not a finite number"
            )));
        }
        // Exact: multiplying by a power of two only changes the exponent. Ties round away
        // from zero (`f64::round`, SPEC §6.9).
        let scaled = (beta * 2f64.powi(self.scale_bits as i32)).round();
        if scaled < -(COEFF_BOUND as f64) || scaled >= COEFF_BOUND as f64 {
            return Err(model_error(format!(
                "{what} = {beta} is {scaled:e} at scale 2^{}: outside the circuit's bound \
                 [-2^{COEFF_BITS}, 2^{COEFF_BITS}) (lower scale_bits or the coefficient)",
                self.scale_bits
            )));
        }
        if scaled == 0.0 && beta != 0.0 {
            return Err(model_error(format!(
                "{what} = {beta} rounds to 0 at scale 2^{}: raise scale_bits",
                self.scale_bits
            )));
        }
        Ok(scaled as i64)
    }

    /// The fixed-point terms with threshold 0 (the policy sets it: [`Self::terms`]).
    fn quantize(&self) -> Result<ModelTerms, CircuitError> {
        if self.scale_bits > MAX_SCALE_BITS {
            return Err(model_error(format!(
                "scale_bits = {} is above {MAX_SCALE_BITS}",
                self.scale_bits
            )));
        }
        if self.name.trim().is_empty() || self.name.len() > 200 || self.version.len() > 64 {
            return Err(model_error(
                "name must be 1..=200 bytes and version at most 64",
            ));
        }
        // The id digests `name ‖ 0x00 ‖ version`: a NUL inside either would make two
        // (name, version) pairs share an id.
        if self.name.contains('\0') || self.version.contains('\0') {
            return Err(model_error(
                "name and version may not contain NUL characters",
            ));
        }
        let betas = self.betas()?;
        let mut coefficients = [0i64; FACTORS];
        for (i, f) in Factor::ALL.iter().enumerate() {
            coefficients[i] = self.fixed(f.name(), betas[i])?;
        }
        Ok(ModelTerms {
            id: self.id(),
            scale_bits: self.scale_bits,
            intercept: self.fixed("intercept", self.intercept)?,
            coefficients,
            max_logit: 0,
        })
    }

    /// The terms a policy carries for "default probability at most `p_max`":
    /// `t = floor(logit(p_max)·2^k)`.
    pub fn terms(&self, p_max: f64) -> Result<ModelTerms, CircuitError> {
        if !(p_max > 0.0 && p_max < 1.0) {
            return Err(model_error(format!(
                "the maximum default probability must be in (0, 1), not {p_max}"
            )));
        }
        let mut t = self.quantize()?;
        let scaled = (logit(p_max) * 2f64.powi(self.scale_bits as i32)).floor();
        if scaled < -(COEFF_BOUND as f64) || scaled >= COEFF_BOUND as f64 {
            return Err(model_error(format!(
                "logit({p_max}) at scale 2^{} is outside [-2^{COEFF_BITS}, 2^{COEFF_BITS})",
                self.scale_bits
            )));
        }
        t.max_logit = scaled as i64;
        t.validate()?;
        Ok(t)
    }

    /// `z = β0 + Σ βi·xi` in double precision (the reference the fixed point approximates).
    pub fn linear_f64(&self, x: &Factors) -> Result<f64, CircuitError> {
        let betas = self.betas()?;
        Ok(self.intercept
            + betas
                .iter()
                .zip(x.0.iter())
                .map(|(b, xi)| b * *xi as f64)
                .sum::<f64>())
    }

    /// The default probability in double precision.
    pub fn probability_f64(&self, x: &Factors) -> Result<f64, CircuitError> {
        self.linear_f64(x).map(sigmoid)
    }

    /// A bound on `|z_fixed − z_f64|` for `x` (in units of `z`): each quantised term is off
    /// by at most half a unit of `2^-k` times its factor, plus the f64 rounding of the
    /// reference (relative `2^-50` of the sum of magnitudes, generous).
    pub fn quantization_bound(&self, x: &Factors) -> Result<f64, CircuitError> {
        let betas = self.betas()?;
        let ulp = 2f64.powi(-(self.scale_bits as i32));
        let magnitude: f64 = self.intercept.abs()
            + betas
                .iter()
                .zip(x.0.iter())
                .map(|(b, xi)| (b * *xi as f64).abs())
                .sum::<f64>();
        let quant: f64 = 0.5 * ulp * (1.0 + x.0.iter().map(|xi| *xi as f64).sum::<f64>());
        Ok(quant + magnitude * 2f64.powi(-50))
    }
}
