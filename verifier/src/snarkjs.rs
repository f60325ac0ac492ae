//! snarkjs JSON layouts (spec §3.7): `proof.json`, `public.json`, `verification_key.json`.
//!
//! Coordinates are decimal strings of affine coordinates; G2 coordinates are `[c0, c1]`
//! (real part first, as snarkjs writes them); the point at infinity is `["0","1","0"]`.
//! Decoding is strict: coordinates `< q`, points on the curve and in the subgroup,
//! `protocol == "groth16"`, `curve == "bn128"`, unknown fields rejected.

use crate::VerifyError;
use ark_bn254::{Bn254, Fq, Fq12, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::{pairing::Pairing, AffineRepr};
use ark_ff::{PrimeField, Zero};
use ark_groth16::{Proof, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use zkcredit_circuits::field::{fr_from_dec, fr_to_dec};

/// snarkjs `proof.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProofJson {
    /// A ∈ G1, `[x, y, "1"]`.
    pub pi_a: Vec<String>,
    /// B ∈ G2, `[[x.c0, x.c1], [y.c0, y.c1], ["1", "0"]]`.
    pub pi_b: Vec<Vec<String>>,
    /// C ∈ G1.
    pub pi_c: Vec<String>,
    /// Always `"groth16"`.
    pub protocol: String,
    /// Always `"bn128"`.
    pub curve: String,
}

/// snarkjs `verification_key.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyingKeyJson {
    /// Always `"groth16"`.
    pub protocol: String,
    /// Always `"bn128"`.
    pub curve: String,
    /// Number of public inputs.
    #[serde(rename = "nPublic")]
    pub n_public: usize,
    /// α ∈ G1.
    pub vk_alpha_1: Vec<String>,
    /// β ∈ G2.
    pub vk_beta_2: Vec<Vec<String>>,
    /// γ ∈ G2.
    pub vk_gamma_2: Vec<Vec<String>>,
    /// δ ∈ G2.
    pub vk_delta_2: Vec<Vec<String>>,
    /// e(α, β) ∈ GT (informational; recomputed, never trusted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vk_alphabeta_12: Option<serde_json::Value>,
    /// IC points (γ⁻¹-scaled input commitments), `nPublic + 1` of them.
    #[serde(rename = "IC")]
    pub ic: Vec<Vec<String>>,
}

fn fq_to_dec(x: &Fq) -> String {
    x.into_bigint().to_string()
}

/// Strict decimal → base-field element (`< q`, digits only, no leading zeros).
fn fq_from_dec(s: &str, field: &str) -> Result<Fq, VerifyError> {
    let bad = |reason: &str| VerifyError::BadField {
        field: field.to_string(),
        reason: reason.to_string(),
    };
    if s.is_empty() || s.len() > 78 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a decimal integer"));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(bad("leading zero"));
    }
    let big = <Fq as PrimeField>::BigInt::from_str(s).map_err(|_| bad("out of range"))?;
    Fq::from_bigint(big).ok_or_else(|| bad("coordinate not below the base-field modulus q"))
}

/// G1 → `[x, y, "1"]` (identity → `["0", "1", "0"]`).
pub fn g1_to_json(p: &G1Affine) -> Vec<String> {
    match p.xy() {
        Some((x, y)) => vec![fq_to_dec(&x), fq_to_dec(&y), "1".into()],
        None => vec!["0".into(), "1".into(), "0".into()],
    }
}

/// G2 → `[[x.c0, x.c1], [y.c0, y.c1], ["1", "0"]]`.
pub fn g2_to_json(p: &G2Affine) -> Vec<Vec<String>> {
    match p.xy() {
        Some((x, y)) => vec![
            vec![fq_to_dec(&x.c0), fq_to_dec(&x.c1)],
            vec![fq_to_dec(&y.c0), fq_to_dec(&y.c1)],
            vec!["1".into(), "0".into()],
        ],
        None => vec![
            vec!["0".into(), "0".into()],
            vec!["1".into(), "0".into()],
            vec!["0".into(), "0".into()],
        ],
    }
}

fn point_err(field: &str, reason: &str) -> VerifyError {
    VerifyError::BadPoint {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Strict `[x, y, z]` → G1: `z == "1"` (affine, on curve, in subgroup) or the identity.
pub fn g1_from_json(v: &[String], field: &str) -> Result<G1Affine, VerifyError> {
    if v.len() != 3 {
        return Err(point_err(field, "expected [x, y, z]"));
    }
    let x = fq_from_dec(&v[0], &format!("{field}[0]"))?;
    let y = fq_from_dec(&v[1], &format!("{field}[1]"))?;
    match v[2].as_str() {
        "0" if x.is_zero() && y == ark_ff::One::one() => Ok(G1Affine::zero()),
        "1" => {
            let p = G1Affine::new_unchecked(x, y);
            if !p.is_on_curve() {
                return Err(point_err(field, "not on the curve"));
            }
            if !p.is_in_correct_subgroup_assuming_on_curve() {
                return Err(point_err(field, "not in the prime-order subgroup"));
            }
            Ok(p)
        }
        _ => Err(point_err(
            field,
            "z must be \"1\" (affine) or the identity [\"0\",\"1\",\"0\"]",
        )),
    }
}

fn fq2_from_json(v: &[String], field: &str) -> Result<Fq2, VerifyError> {
    if v.len() != 2 {
        return Err(point_err(field, "expected [c0, c1]"));
    }
    Ok(Fq2::new(
        fq_from_dec(&v[0], &format!("{field}[0]"))?,
        fq_from_dec(&v[1], &format!("{field}[1]"))?,
    ))
}

/// Strict G2 decoding (affine with z = [1, 0], on curve, in subgroup; or the identity).
pub fn g2_from_json(v: &[Vec<String>], field: &str) -> Result<G2Affine, VerifyError> {
    if v.len() != 3 {
        return Err(point_err(field, "expected [x, y, z]"));
    }
    let x = fq2_from_json(&v[0], &format!("{field}[0]"))?;
    let y = fq2_from_json(&v[1], &format!("{field}[1]"))?;
    let z = fq2_from_json(&v[2], &format!("{field}[2]"))?;
    if z.is_zero() {
        if x.is_zero() && y == ark_ff::One::one() {
            return Ok(G2Affine::zero());
        }
        return Err(point_err(field, "malformed point at infinity"));
    }
    if z != ark_ff::One::one() {
        return Err(point_err(field, "z must be [\"1\", \"0\"] (affine)"));
    }
    let p = G2Affine::new_unchecked(x, y);
    if !p.is_on_curve() {
        return Err(point_err(field, "not on the curve"));
    }
    if !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(point_err(field, "not in the prime-order subgroup"));
    }
    Ok(p)
}

fn check_header(protocol: &str, curve: &str) -> Result<(), VerifyError> {
    if protocol != "groth16" {
        return Err(VerifyError::Malformed(format!(
            "protocol `{protocol}` is not groth16"
        )));
    }
    if curve != "bn128" {
        return Err(VerifyError::Malformed(format!(
            "curve `{curve}` is not bn128"
        )));
    }
    Ok(())
}

impl ProofJson {
    /// From an arkworks proof.
    pub fn from_proof(p: &Proof<Bn254>) -> Self {
        Self {
            pi_a: g1_to_json(&p.a),
            pi_b: g2_to_json(&p.b),
            pi_c: g1_to_json(&p.c),
            protocol: "groth16".into(),
            curve: "bn128".into(),
        }
    }

    /// To an arkworks proof, with every check.
    pub fn to_proof(&self) -> Result<Proof<Bn254>, VerifyError> {
        check_header(&self.protocol, &self.curve)?;
        Ok(Proof {
            a: g1_from_json(&self.pi_a, "pi_a")?,
            b: g2_from_json(&self.pi_b, "pi_b")?,
            c: g1_from_json(&self.pi_c, "pi_c")?,
        })
    }
}

fn fq12_to_json(x: &Fq12) -> serde_json::Value {
    let fq6 = |c: &ark_bn254::Fq6| {
        vec![
            vec![fq_to_dec(&c.c0.c0), fq_to_dec(&c.c0.c1)],
            vec![fq_to_dec(&c.c1.c0), fq_to_dec(&c.c1.c1)],
            vec![fq_to_dec(&c.c2.c0), fq_to_dec(&c.c2.c1)],
        ]
    };
    serde_json::json!([fq6(&x.c0), fq6(&x.c1)])
}

impl VerifyingKeyJson {
    /// From an arkworks verifying key.
    pub fn from_vk(vk: &VerifyingKey<Bn254>) -> Self {
        let ab = Bn254::pairing(vk.alpha_g1, vk.beta_g2).0;
        Self {
            protocol: "groth16".into(),
            curve: "bn128".into(),
            n_public: vk.gamma_abc_g1.len() - 1,
            vk_alpha_1: g1_to_json(&vk.alpha_g1),
            vk_beta_2: g2_to_json(&vk.beta_g2),
            vk_gamma_2: g2_to_json(&vk.gamma_g2),
            vk_delta_2: g2_to_json(&vk.delta_g2),
            vk_alphabeta_12: Some(fq12_to_json(&ab)),
            ic: vk.gamma_abc_g1.iter().map(g1_to_json).collect(),
        }
    }

    /// To an arkworks verifying key, with every check.
    pub fn to_vk(&self) -> Result<VerifyingKey<Bn254>, VerifyError> {
        check_header(&self.protocol, &self.curve)?;
        if self.ic.len() != self.n_public + 1 {
            return Err(VerifyError::Malformed(format!(
                "IC has {} points, nPublic = {} needs {}",
                self.ic.len(),
                self.n_public,
                self.n_public + 1
            )));
        }
        Ok(VerifyingKey {
            alpha_g1: g1_from_json(&self.vk_alpha_1, "vk_alpha_1")?,
            beta_g2: g2_from_json(&self.vk_beta_2, "vk_beta_2")?,
            gamma_g2: g2_from_json(&self.vk_gamma_2, "vk_gamma_2")?,
            delta_g2: g2_from_json(&self.vk_delta_2, "vk_delta_2")?,
            gamma_abc_g1: self
                .ic
                .iter()
                .enumerate()
                .map(|(i, p)| g1_from_json(p, &format!("IC[{i}]")))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `public.json`: decimal strings.
pub fn public_to_json(xs: &[Fr]) -> Vec<String> {
    xs.iter().map(fr_to_dec).collect()
}

/// Strict `public.json` decoding (each `< r`).
pub fn public_from_json(v: &[String]) -> Result<Vec<Fr>, VerifyError> {
    v.iter()
        .enumerate()
        .map(|(i, s)| {
            fr_from_dec(s).map_err(|e| VerifyError::BadField {
                field: format!("public[{i}]"),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Parses `proof.json` text.
pub fn parse_proof(text: &str) -> Result<Proof<Bn254>, VerifyError> {
    let j: ProofJson = serde_json::from_str(text)
        .map_err(|e| VerifyError::Malformed(format!("proof.json: {e}")))?;
    j.to_proof()
}

/// Parses `verification_key.json` text.
pub fn parse_vk(text: &str) -> Result<VerifyingKey<Bn254>, VerifyError> {
    let j: VerifyingKeyJson = serde_json::from_str(text)
        .map_err(|e| VerifyError::Malformed(format!("verification_key.json: {e}")))?;
    j.to_vk()
}

/// Parses `public.json` text.
pub fn parse_public(text: &str) -> Result<Vec<Fr>, VerifyError> {
    let j: Vec<String> = serde_json::from_str(text)
        .map_err(|e| VerifyError::Malformed(format!("public.json: {e}")))?;
    public_from_json(&j)
}
