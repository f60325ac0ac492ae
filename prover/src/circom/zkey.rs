//! A strict reader of snarkjs's Groth16 `.zkey` (SPEC §10.2), for keys that come out of a
//! phase-2 ceremony.
//!
//! Written here rather than taken from `ark-circom` 0.6 or `taceo-circom-types` 0.3: both
//! index and allocate from lengths read out of the file (section ids, section lengths,
//! coefficient positions), so a truncated or corrupted file panics or aborts the process.
//! This reader is told the circuit first: every section must have exactly the size that
//! circuit implies, so nothing is allocated beyond the circuit's own size, and the key is
//! refused unless its constraint matrices are ours, coefficient for coefficient.
//!
//! Layout (all little-endian; points in Montgomery form, zeros for infinity):
//! 1 protocol (`1` = Groth16) · 2 header `n8q q n8r r nVars nPublic domainSize α₁ β₁ β₂ γ₂
//! δ₁ δ₂` · 3 IC (`nPublic + 1` G1) · 4 coefficients `n, (matrix, constraint, signal,
//! value·R²)ⁿ` of A and B, plus `A[nConstraints + i][i] = 1` for every instance variable ·
//! 5 A (`nVars` G1) · 6 B (`nVars` G1) · 7 B (`nVars` G2) · 8 C (`nVars − nPublic − 1` G1) ·
//! 9 H (`domainSize` G1) · 10 the contributions (read by `snarkjs zkey verify`, not here).

use super::binfile::{BinFile, Cursor};
use super::r1cs::canonical_row;
use crate::fast::R1cs;
use ark_bn254::{Bn254, Fq, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, Field, PrimeField};
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use rayon::prelude::*;

/// Why a zkey was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZkeyError {
    /// The bytes are not a well-formed Groth16 zkey over BN254.
    Format(String),
    /// A well-formed zkey for another constraint system.
    WrongCircuit(String),
}

const G1_LEN: usize = 64;
const G2_LEN: usize = 128;
const COEFF_LEN: usize = 12 + 32;
const HEADER_LEN: usize = 4 + 32 + 4 + 32 + 4 + 4 + 4 + 3 * G1_LEN + 3 * G2_LEN;

/// Room left for section 10 (each contribution is a few hundred bytes).
const MAX_CONTRIBUTIONS_LEN: u64 = 16 << 20;

/// The circuit's sizes as a zkey states them.
struct Shape {
    n_vars: usize,
    n_public: usize,
    domain: usize,
    coefficients: Vec<(u32, u32, u32, Fr)>,
}

fn shape(r: &R1cs) -> Result<Shape, ZkeyError> {
    let domain = GeneralEvaluationDomain::<Fr>::new(r.num_constraints + r.num_inputs)
        .map(|d| d.size())
        .ok_or_else(|| ZkeyError::WrongCircuit("the circuit exceeds the FFT domain".into()))?;
    let mut coefficients = Vec::new();
    for (m, matrix) in r.matrices[..2].iter().enumerate() {
        for (i, row) in matrix.iter().enumerate() {
            for (w, c) in canonical_row(row) {
                coefficients.push((m as u32, i as u32, w as u32, c));
            }
        }
    }
    for i in 0..r.num_inputs {
        coefficients.push((0, (r.num_constraints + i) as u32, i as u32, Fr::from(1u8)));
    }
    coefficients.sort_by_key(|(m, i, w, _)| (*m, *i, *w));
    Ok(Shape {
        n_vars: r.num_inputs + r.num_witness,
        n_public: r.num_inputs - 1,
        domain,
        coefficients,
    })
}

/// The largest zkey file this circuit can have (its sections plus room for the
/// contributions): read no file larger than this.
pub fn max_len(r: &R1cs) -> Result<u64, ZkeyError> {
    let s = shape(r)?;
    let core = 12
        + 10 * 12
        + 4
        + HEADER_LEN
        + (s.n_public + 1) * G1_LEN
        + 4
        + s.coefficients.len() * COEFF_LEN
        + s.n_vars * (2 * G1_LEN + G2_LEN)
        + (s.n_vars - s.n_public - 1) * G1_LEN
        + s.domain * G1_LEN;
    Ok(core as u64 + MAX_CONTRIBUTIONS_LEN)
}

fn points<T: Send>(
    c: Cursor<'_>,
    n: usize,
    len: usize,
    one: impl Fn(&mut Cursor<'_>) -> Result<T, String> + Sync,
) -> Result<Vec<T>, String> {
    let (base, bytes) = c.rest();
    if bytes.len() != n * len {
        return Err(format!("expected {n} points"));
    }
    bytes
        .par_chunks_exact(len)
        .enumerate()
        .map(|(i, ch)| one(&mut Cursor::at(ch, base + i * len)))
        .collect()
}

/// Reads `bytes` as the final zkey of circuit `r` out of a ceremony: a proving key whose
/// `h_query` follows snarkjs's convention ([`crate::fast::Qap::Circom`]), with at least one
/// contribution, and no known trapdoor (module docs).
pub fn read(bytes: &[u8], r: &R1cs) -> Result<ProvingKey<Bn254>, ZkeyError> {
    let (pk, contributions) = parse(bytes, r)?;
    check_key(&pk)?;
    let fmt = ZkeyError::Format;
    let Some(deltas) = contributions else {
        return Err(fmt(
            "it has no contributions section: not a ceremony's output".into(),
        ));
    };
    match deltas.last() {
        None => Err(fmt(
            "no one contributed to it (δ is still the initial one): import the final zkey, after the contributions and the beacon".into(),
        )),
        Some(d) if *d != pk.delta_g1 => Err(fmt(
            "its last contribution's δ is not the key's δ₁".into(),
        )),
        Some(_) => Ok(pk),
    }
}

/// Reads a zkey this project wrote itself ([`write()`]; no contributions section), with every
/// check of [`read`] but the contributions'. Never for a ceremony's output.
pub fn read_own(bytes: &[u8], r: &R1cs) -> Result<ProvingKey<Bn254>, ZkeyError> {
    let (pk, _) = parse(bytes, r)?;
    check_key(&pk)?;
    Ok(pk)
}

/// The checks of a key's shape that need no ceremony transcript (module docs).
fn check_key(pk: &ProvingKey<Bn254>) -> Result<(), ZkeyError> {
    use ark_ec::pairing::Pairing;
    use ark_ec::{CurveGroup, VariableBaseMSM};
    let fmt = |m: &str| Err(ZkeyError::Format(m.into()));
    let vk = &pk.vk;
    if vk.gamma_abc_g1.iter().any(|p| p.is_zero()) {
        return fmt("an input commitment (IC) point is the point at infinity");
    }
    if vk.delta_g2 == vk.gamma_g2 {
        return fmt("δ equals γ: anyone could forge proofs with this key");
    }
    if pk.delta_g1 == G1Affine::generator() || vk.delta_g2 == G2Affine::generator() {
        return fmt(
            "δ is the generator (no contribution): anyone could forge proofs with this key",
        );
    }
    // The G1 and G2 halves are multiples of two generators g, h (snarkjs: the standard ones;
    // arkworks' own setup: random ones), so compare them against each other:
    // e(x₁, y₂) = e(y₁, x₂) exactly when x₁/y₁ and x₂/y₂ are the same ratio.
    let same = |x1: G1Affine, y2: G2Affine, y1: G1Affine, x2: G2Affine| {
        Bn254::pairing(x1, y2) == Bn254::pairing(y1, x2)
    };
    if !same(pk.delta_g1, vk.beta_g2, pk.beta_g1, vk.delta_g2) {
        return fmt("its G1 and G2 halves disagree: δ₁/β₁ is not δ₂/β₂");
    }
    // Σ ρᵢ·B₁ᵢ against Σ ρᵢ·B₂ᵢ for random ρ: equal exactly when every B₁ᵢ matches B₂ᵢ,
    // except with probability 1/r.
    use ark_ff::UniformRand;
    let mut rng = rand::thread_rng();
    let rho: Vec<Fr> = (0..pk.b_g1_query.len())
        .map(|_| Fr::rand(&mut rng))
        .collect();
    let b1 = <ark_bn254::G1Projective as VariableBaseMSM>::msm(&pk.b_g1_query, &rho);
    let b2 = <ark_bn254::G2Projective as VariableBaseMSM>::msm(&pk.b_g2_query, &rho);
    match (b1, b2) {
        (Ok(b1), Ok(b2)) if same(b1.into_affine(), vk.delta_g2, pk.delta_g1, b2.into_affine()) => {
            Ok(())
        }
        (Ok(_), Ok(_)) => fmt("its B query in G1 is not its B query in G2"),
        _ => fmt("its B queries differ in length"),
    }
}

/// Parses `bytes` as a zkey of circuit `r`: the key, and the `δ_after` of each contribution
/// when the file has a contributions section.
#[allow(clippy::type_complexity)]
fn parse(bytes: &[u8], r: &R1cs) -> Result<(ProvingKey<Bn254>, Option<Vec<G1Affine>>), ZkeyError> {
    let s = shape(r)?;
    let f = BinFile::parse(bytes, b"zkey", 16).map_err(ZkeyError::Format)?;
    let fmt = ZkeyError::Format;
    let wrong = ZkeyError::WrongCircuit;
    if f.version != 1 {
        return Err(fmt(format!("version {} (snarkjs writes 1)", f.version)));
    }
    if let Some(id) = f.ids().find(|id| !(1..=10).contains(id)) {
        return Err(fmt(format!(
            "section {id} is not a Groth16 zkey section (1 to 10)"
        )));
    }
    let mut p = f.section_sized(1, 4).map_err(fmt)?;
    p.expect_u32(1, "protocol (1 is Groth16)").map_err(fmt)?;

    let mut h = f.section_sized(2, HEADER_LEN).map_err(fmt)?;
    h.expect_u32(32, "n8q").map_err(fmt)?;
    h.expect_modulus::<Fq>("base field").map_err(fmt)?;
    h.expect_u32(32, "n8r").map_err(fmt)?;
    h.expect_modulus::<Fr>("scalar field").map_err(fmt)?;
    for (want, what) in [
        (s.n_vars, "nVars (wires)"),
        (s.n_public, "nPublic"),
        (s.domain, "domainSize"),
    ] {
        h.expect_u32(want as u32, what).map_err(wrong)?;
    }
    let alpha_g1 = h.g1().map_err(fmt)?;
    let beta_g1 = h.g1().map_err(fmt)?;
    let beta_g2 = h.g2().map_err(fmt)?;
    let gamma_g2 = h.g2().map_err(fmt)?;
    let delta_g1 = h.g1().map_err(fmt)?;
    let delta_g2 = h.g2().map_err(fmt)?;
    h.finish("header").map_err(fmt)?;
    // A degenerate key (an identity among α, β, γ, δ) has a known trapdoor: refused.
    if [alpha_g1, beta_g1, delta_g1].iter().any(|p| p.is_zero())
        || [beta_g2, gamma_g2, delta_g2].iter().any(|p| p.is_zero())
    {
        return Err(fmt("α, β, γ or δ is the point at infinity".into()));
    }

    let mut c = f.section(4).map_err(fmt)?;
    let n = c.u32().map_err(fmt)? as usize;
    if n != s.coefficients.len() {
        return Err(wrong(format!(
            "it has {n} A/B coefficients, this circuit {}",
            s.coefficients.len()
        )));
    }
    let mut c = f.section_sized(4, 4 + n * COEFF_LEN).map_err(fmt)?;
    c.u32().map_err(fmt)?;
    let mut theirs = Vec::with_capacity(n);
    for _ in 0..n {
        let (m, i, w) = (
            c.u32().map_err(fmt)?,
            c.u32().map_err(fmt)?,
            c.u32().map_err(fmt)?,
        );
        theirs.push((m, i, w, c.zkey_coefficient().map_err(fmt)?));
    }
    theirs.sort_by_key(|(m, i, w, _)| (*m, *i, *w));
    if let Some((t, o)) = theirs.iter().zip(&s.coefficients).find(|(t, o)| t != o) {
        let at = |(m, i, w, _): &(u32, u32, u32, Fr)| {
            let m = match m {
                0 => "A".to_string(),
                1 => "B".to_string(),
                m => format!("matrix {m}"),
            };
            format!("{m} row {i} wire {w}")
        };
        return Err(wrong(format!(
            "its constraint matrices differ from this circuit's, first at {} (this circuit: {})",
            at(t),
            at(o)
        )));
    }

    let g1s = |id, n| -> Result<Vec<G1Affine>, ZkeyError> {
        points(
            f.section_sized(id, n * G1_LEN).map_err(fmt)?,
            n,
            G1_LEN,
            |c| c.g1(),
        )
        .map_err(fmt)
    };
    let ic = g1s(3, s.n_public + 1)?;
    let a_query = g1s(5, s.n_vars)?;
    let b_g1_query = g1s(6, s.n_vars)?;
    let b_g2_query: Vec<G2Affine> = points(
        f.section_sized(7, s.n_vars * G2_LEN).map_err(fmt)?,
        s.n_vars,
        G2_LEN,
        |c| c.g2(),
    )
    .map_err(fmt)?;
    let l_query = g1s(8, s.n_vars - s.n_public - 1)?;
    let h_query = g1s(9, s.domain)?;
    let contributions = if f.has_section(10) {
        Some(contributions(f.section(10).map_err(fmt)?).map_err(fmt)?)
    } else {
        None
    };
    let pk = ProvingKey {
        vk: VerifyingKey {
            alpha_g1,
            beta_g2,
            gamma_g2,
            delta_g2,
            gamma_abc_g1: ic,
        },
        beta_g1,
        delta_g1,
        a_query,
        b_g1_query,
        b_g2_query,
        h_query,
        l_query,
    };
    Ok((pk, contributions))
}

/// Section 10: the `δ_after` of every contribution, in order.
fn contributions(mut c: Cursor<'_>) -> Result<Vec<G1Affine>, String> {
    /// δ_after, g1_s, g1_sx, g2_spx, transcript, type, params length.
    const MIN_LEN: usize = 3 * G1_LEN + G2_LEN + 64 + 4 + 4;
    c.take(64)?; // the constraint system's hash
    let n = c.u32()? as usize;
    if n > c.rest().1.len() / MIN_LEN {
        return Err(format!(
            "{n} contributions do not fit in the contributions section"
        ));
    }
    let mut deltas = Vec::with_capacity(n);
    for _ in 0..n {
        deltas.push(c.g1()?);
        // The proof of knowledge of the contribution (checked by `snarkjs zkey verify`):
        // well-formed points here.
        let _g1_s = c.g1()?;
        let _g1_sx = c.g1()?;
        let _g2_spx = c.g2()?;
        c.take(64)?; // transcript
        c.u32()?; // type (0 contribution, 1 beacon)
        let params = c.u32()? as usize;
        c.take(params)?;
    }
    c.finish("contributions")?;
    Ok(deltas)
}

/// Writes `pk` (a key made for snarkjs's witness map, [`crate::fast::Qap::Circom`]) for
/// circuit `r` as a snarkjs zkey with sections 1–9 and no contributions section: what
/// `snarkjs groth16 prove` needs, so the peer benchmark proves with snarkjs on exactly our
/// constraint system and key. Not a ceremony artifact (`snarkjs zkey verify` needs the
/// transcript).
pub fn write(pk: &ProvingKey<Bn254>, r: &R1cs) -> Result<Vec<u8>, ZkeyError> {
    let s = shape(r)?;
    if pk.h_query.len() != s.domain || pk.a_query.len() != s.n_vars {
        return Err(ZkeyError::WrongCircuit(
            "the key's queries do not have this circuit's sizes (or it is not a snarkjs-map key)"
                .into(),
        ));
    }
    let fq_r = Fq::from(2u8).pow([256u64]);
    let fq =
        |out: &mut Vec<u8>, x: &Fq| out.extend_from_slice(&(*x * fq_r).into_bigint().to_bytes_le());
    let g1 = |out: &mut Vec<u8>, p: &G1Affine| match p.xy() {
        Some((x, y)) => {
            fq(out, &x);
            fq(out, &y);
        }
        None => out.extend_from_slice(&[0u8; G1_LEN]),
    };
    let g2 = |out: &mut Vec<u8>, p: &G2Affine| match p.xy() {
        Some((x, y)) => {
            for c in [x.c0, x.c1, y.c0, y.c1] {
                fq(out, &c);
            }
        }
        None => out.extend_from_slice(&[0u8; G2_LEN]),
    };
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(&32u32.to_le_bytes());
    header.extend_from_slice(&Fq::MODULUS.to_bytes_le());
    header.extend_from_slice(&32u32.to_le_bytes());
    header.extend_from_slice(&Fr::MODULUS.to_bytes_le());
    for v in [s.n_vars, s.n_public, s.domain] {
        header.extend_from_slice(&(v as u32).to_le_bytes());
    }
    g1(&mut header, &pk.vk.alpha_g1);
    g1(&mut header, &pk.beta_g1);
    g2(&mut header, &pk.vk.beta_g2);
    g2(&mut header, &pk.vk.gamma_g2);
    g1(&mut header, &pk.delta_g1);
    g2(&mut header, &pk.vk.delta_g2);
    let fr_r2 = Fr::from(2u8).pow([512u64]);
    let mut coeffs = Vec::with_capacity(4 + s.coefficients.len() * COEFF_LEN);
    coeffs.extend_from_slice(&(s.coefficients.len() as u32).to_le_bytes());
    for (m, i, w, v) in &s.coefficients {
        for x in [m, i, w] {
            coeffs.extend_from_slice(&x.to_le_bytes());
        }
        coeffs.extend_from_slice(&(*v * fr_r2).into_bigint().to_bytes_le());
    }
    let g1s = |ps: &[G1Affine]| {
        let mut out = Vec::with_capacity(ps.len() * G1_LEN);
        ps.iter().for_each(|p| g1(&mut out, p));
        out
    };
    let mut b2 = Vec::with_capacity(pk.b_g2_query.len() * G2_LEN);
    pk.b_g2_query.iter().for_each(|p| g2(&mut b2, p));
    Ok(super::binfile::write(
        b"zkey",
        1,
        &[
            (1, 1u32.to_le_bytes().to_vec()),
            (2, header),
            (3, g1s(&pk.vk.gamma_abc_g1)),
            (4, coeffs),
            (5, g1s(&pk.a_query)),
            (6, g1s(&pk.b_g1_query)),
            (7, b2),
            (8, g1s(&pk.l_query)),
            (9, g1s(&pk.h_query)),
        ],
    ))
}
