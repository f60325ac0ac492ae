//! The universal structured reference string, read from a phase-1 powers-of-tau file (the
//! `.ptau` format of snarkjs, the file a Groth16 ceremony starts from; SPEC §11.2).
//!
//! Read: the header (section 1: field size, modulus, power), `τ^i·G1` (section 2) and
//! `τ^i·G2` (section 3), points in little-endian Montgomery form. Checked before use:
//! the modulus is BN254's; every point is on its curve (G2 in its subgroup; G1 has
//! cofactor 1); the first powers are the generators; and every G1 power the circuit uses is
//! the previous one times the same `τ` as in G2 — one pairing equation on a random linear
//! combination of all of them, `e(Σ rᵢ·τ^{i+1}G1, G2) = e(Σ rᵢ·τ^i G1, τ·G2)`, which a file
//! with any inconsistent power fails except with probability ≈ 1/r; `τ = 1` is refused.
//! These checks say the file is *a* powers of tau, not that nobody knows its `τ`: that rests
//! on where the file came from (a public ceremony's file, compared by its sha256). Nothing
//! here knows or makes a secret: production keys come only from a file.

use crate::Halo2Error;
use ark_bn254::{Bn254, Fq, Fq2, G1Affine as AG1, G2Affine as AG2};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{BigInt, BigInteger, PrimeField, UniformRand};
use ark_std::Zero;
use halo2_base::halo2_proofs::halo2curves::bn256::{
    Bn256, Fq as HFq, Fq2 as HFq2, G1Affine, G2Affine,
};
use halo2_base::halo2_proofs::halo2curves::CurveAffine;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_base::halo2_proofs::SerdeFormat;
use std::io::Read;
use std::path::Path;

fn bad(what: &'static str, detail: impl Into<String>) -> Halo2Error {
    Halo2Error::Srs {
        what,
        detail: detail.into(),
    }
}

/// The sections of a `.ptau` file this reader uses.
struct Sections<'a> {
    power: u32,
    tau_g1: &'a [u8],
    tau_g2: &'a [u8],
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn sections(b: &[u8]) -> Result<Sections<'_>, Halo2Error> {
    if b.get(..4) != Some(b"ptau") {
        return Err(bad("header", "not a .ptau file (no `ptau` magic)"));
    }
    let n = u32_at(b, 8).ok_or_else(|| bad("header", "truncated"))?;
    let mut at = 12usize;
    let (mut header, mut g1, mut g2) = (None, None, None);
    for _ in 0..n {
        let kind = u32_at(b, at).ok_or_else(|| bad("section table", "truncated"))?;
        let size = u64_at(b, at + 4).ok_or_else(|| bad("section table", "truncated"))?;
        let start = at + 12;
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| start.checked_add(s))
            .filter(|&e| e <= b.len())
            .ok_or_else(|| bad("section table", format!("section {kind} runs past the end")))?;
        let body = &b[start..end];
        match kind {
            1 => header = Some(body),
            2 => g1 = Some(body),
            3 => g2 = Some(body),
            _ => {}
        }
        at = end;
    }
    let header = header.ok_or_else(|| bad("header", "no section 1"))?;
    let n8 = u32_at(header, 0).ok_or_else(|| bad("header", "truncated"))?;
    if n8 != 32 {
        return Err(bad(
            "header",
            format!("field of {n8} bytes, BN254's has 32"),
        ));
    }
    let q = header
        .get(4..36)
        .ok_or_else(|| bad("header", "truncated"))?;
    let bn254_q = Fq::MODULUS.to_bytes_le();
    if q != bn254_q.as_slice() {
        return Err(bad("header", "the base field is not BN254's"));
    }
    let power = u32_at(header, 36).ok_or_else(|| bad("header", "truncated"))?;
    if power > 28 {
        return Err(bad(
            "header",
            format!("power {power} is above BN254's 2^28 domain"),
        ));
    }
    Ok(Sections {
        power,
        tau_g1: g1.ok_or_else(|| bad("tauG1", "no section 2"))?,
        tau_g2: g2.ok_or_else(|| bad("tauG2", "no section 3"))?,
    })
}

/// An element of Fq from 32 little-endian Montgomery-form bytes.
fn fq_mont(b: &[u8]) -> Result<Fq, Halo2Error> {
    let mut limbs = [0u64; 4];
    for (l, c) in limbs.iter_mut().zip(b.chunks_exact(8)) {
        *l = u64::from_le_bytes(c.try_into().map_err(|_| bad("point", "truncated"))?);
    }
    let big = BigInt::new(limbs);
    if big >= Fq::MODULUS {
        return Err(bad("point", "a coordinate is not below the modulus"));
    }
    Ok(Fq::new_unchecked(big))
}

fn g1_at(s: &[u8], i: usize) -> Result<AG1, Halo2Error> {
    let b = s
        .get(i * 64..(i + 1) * 64)
        .ok_or_else(|| bad("tauG1", format!("power {i} is missing")))?;
    let p = AG1::new_unchecked(fq_mont(&b[..32])?, fq_mont(&b[32..])?);
    if !p.is_on_curve() || p.is_zero() {
        return Err(bad("tauG1", format!("power {i} is not a point of G1")));
    }
    Ok(p)
}

fn g2_at(s: &[u8], i: usize) -> Result<AG2, Halo2Error> {
    let b = s
        .get(i * 128..(i + 1) * 128)
        .ok_or_else(|| bad("tauG2", format!("power {i} is missing")))?;
    let x = Fq2::new(fq_mont(&b[..32])?, fq_mont(&b[32..64])?);
    let y = Fq2::new(fq_mont(&b[64..96])?, fq_mont(&b[96..])?);
    let p = AG2::new_unchecked(x, y);
    if !p.is_on_curve() || !p.is_in_correct_subgroup_assuming_on_curve() || p.is_zero() {
        return Err(bad("tauG2", format!("power {i} is not a point of G2")));
    }
    Ok(p)
}

fn hfq(x: &Fq) -> HFq {
    let mut b = [0u8; 32];
    b.copy_from_slice(&x.into_bigint().to_bytes_le());
    HFq::from_bytes(&b).unwrap_or(HFq::zero())
}

fn to_h_g1(p: &AG1) -> Result<G1Affine, Halo2Error> {
    Option::from(G1Affine::from_xy(hfq(&p.x), hfq(&p.y)))
        .ok_or_else(|| bad("tauG1", "a point does not convert"))
}

fn to_h_g2(p: &AG2) -> Result<G2Affine, Halo2Error> {
    let x = HFq2 {
        c0: hfq(&p.x.c0),
        c1: hfq(&p.x.c1),
    };
    let y = HFq2 {
        c0: hfq(&p.y.c0),
        c1: hfq(&p.y.c1),
    };
    Option::from(G2Affine::from_xy(x, y)).ok_or_else(|| bad("tauG2", "a point does not convert"))
}

/// The checked powers of `τ` for circuits of up to `2^k` rows.
pub struct Powers {
    /// `τ^i·G1`, `i < 2^k`.
    pub g1: Vec<AG1>,
    /// `G2` and `τ·G2`.
    pub g2: [AG2; 2],
    /// The file's power (its largest `k`).
    pub file_power: u32,
}

/// Reads and checks the first `2^k` powers of a `.ptau` file's bytes.
pub fn read_powers(bytes: &[u8], k: u32) -> Result<Powers, Halo2Error> {
    let s = sections(bytes)?;
    if k > s.power {
        return Err(Halo2Error::SrsTooSmall {
            needed: k,
            available: s.power,
        });
    }
    let n = 1usize << k;
    let g1 = (0..n)
        .map(|i| g1_at(s.tau_g1, i))
        .collect::<Result<Vec<_>, _>>()?;
    let g2 = [g2_at(s.tau_g2, 0)?, g2_at(s.tau_g2, 1)?];
    if g1[0] != AG1::generator() || g2[0] != AG2::generator() {
        return Err(Halo2Error::SrsInconsistent(
            "the first powers are not the generators".into(),
        ));
    }
    // τ = 1 passes the power check with every power equal to the generator: refuse it.
    if g2[1] == g2[0] {
        return Err(Halo2Error::SrsInconsistent(
            "τ·G2 = G2: τ = 1 is known".into(),
        ));
    }
    check_powers(&g1, &g2)?;
    Ok(Powers {
        g1,
        g2,
        file_power: s.power,
    })
}

/// `e(Σ rᵢ·g1[i+1], G2) = e(Σ rᵢ·g1[i], τ·G2)` for random `rᵢ`.
fn check_powers(g1: &[AG1], g2: &[AG2; 2]) -> Result<(), Halo2Error> {
    if g1.len() < 2 {
        return Ok(());
    }
    let mut rng = rand::rngs::OsRng;
    let r: Vec<ark_bn254::Fr> = (0..g1.len() - 1)
        .map(|_| ark_bn254::Fr::rand(&mut rng))
        .collect();
    let hi = ark_bn254::G1Projective::msm(&g1[1..], &r)
        .map_err(|_| Halo2Error::SrsInconsistent("length mismatch".into()))?
        .into_affine();
    let lo = ark_bn254::G1Projective::msm(&g1[..g1.len() - 1], &r)
        .map_err(|_| Halo2Error::SrsInconsistent("length mismatch".into()))?
        .into_affine();
    let ok = Bn254::multi_pairing([hi, -lo], [g2[0], g2[1]]).is_zero();
    if !ok {
        return Err(Halo2Error::SrsInconsistent(
            "the G1 powers are not successive powers of the G2 secret".into(),
        ));
    }
    Ok(())
}

/// The KZG parameters for circuits of `2^k` rows from checked powers.
pub fn params(p: &Powers) -> Result<ParamsKZG<Bn256>, Halo2Error> {
    let k = p.g1.len().trailing_zeros();
    let g: Vec<G1Affine> = p.g1.iter().map(to_h_g1).collect::<Result<_, _>>()?;
    let (g2, s_g2) = (to_h_g2(&p.g2[0])?, to_h_g2(&p.g2[1])?);
    // `ParamsKZG` is built by `from_parts` on an instance: make the one-point instance from
    // the same generator and τ·G2 (no secret is involved), then the real one from it.
    let mut seed = Vec::new();
    let io = |e: std::io::Error| Halo2Error::Io {
        what: "KZG parameters".into(),
        source: e,
    };
    seed.extend_from_slice(&0u32.to_le_bytes());
    use halo2_base::halo2_proofs::SerdeCurveAffine;
    for pt in [g[0], g[0]] {
        pt.write(&mut seed, SerdeFormat::RawBytes).map_err(io)?;
    }
    g2.write(&mut seed, SerdeFormat::RawBytes).map_err(io)?;
    s_g2.write(&mut seed, SerdeFormat::RawBytes).map_err(io)?;
    let one =
        ParamsKZG::<Bn256>::read_custom(&mut seed.as_slice(), SerdeFormat::RawBytes).map_err(io)?;
    Ok(one.from_parts(k, g, None, g2, s_g2))
}

/// Reads, checks and converts the powers of tau of `path` for circuits of `2^k` rows.
pub fn load(path: &Path, k: u32) -> Result<ParamsKZG<Bn256>, Halo2Error> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| Halo2Error::Io {
            what: format!("powers of tau {}", path.display()),
            source: e,
        })?;
    params(&read_powers(&bytes, k)?)
}

/// The published seed of the **insecure** development powers of tau: anyone can compute
/// its `τ` and forge proofs for keys made from it (development, tests and benchmarks only;
/// the CLI refuses it without `--insecure-dev-keys`).
pub const DEV_SEED: &str = "zkcredit insecure development powers of tau v1";

/// The `τ` of [`DEV_SEED`].
pub fn dev_tau() -> ark_bn254::Fr {
    use sha2::{Digest, Sha256};
    ark_bn254::Fr::from_le_bytes_mod_order(&Sha256::digest(DEV_SEED.as_bytes()))
}

/// Writes a `.ptau` file (sections 1–3, snarkjs's layout) for a **known** `τ`: the
/// insecure development file ([`dev_tau`]) and tests. Never a production SRS.
#[doc(hidden)]
pub fn insecure_test_ptau(power: u32, tau: ark_bn254::Fr) -> Vec<u8> {
    use ark_ec::scalar_mul::BatchMulPreprocessing;
    let n = 1usize << power;
    let mont = |x: &Fq, out: &mut Vec<u8>| {
        for l in x.0 .0 {
            out.extend_from_slice(&l.to_le_bytes());
        }
    };
    let mut powers = Vec::with_capacity(2 * n - 1);
    let mut t = ark_bn254::Fr::from(1u64);
    for _ in 0..(2 * n - 1) {
        powers.push(t);
        t *= tau;
    }
    let g1_table = BatchMulPreprocessing::new(
        ark_bn254::G1Projective::from(AG1::generator()),
        powers.len(),
    );
    let mut g1 = Vec::with_capacity(powers.len() * 64);
    for p in g1_table.batch_mul(&powers) {
        mont(&p.x, &mut g1);
        mont(&p.y, &mut g1);
    }
    let g2_table = BatchMulPreprocessing::new(ark_bn254::G2Projective::from(AG2::generator()), n);
    let mut g2 = Vec::with_capacity(n * 128);
    for p in g2_table.batch_mul(&powers[..n]) {
        for c in [p.x.c0, p.x.c1, p.y.c0, p.y.c1] {
            mont(&c, &mut g2);
        }
    }
    let mut header = Vec::new();
    header.extend_from_slice(&32u32.to_le_bytes());
    header.extend_from_slice(&Fq::MODULUS.to_bytes_le());
    header.extend_from_slice(&power.to_le_bytes());
    header.extend_from_slice(&power.to_le_bytes());
    let mut out = b"ptau".to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&3u32.to_le_bytes());
    for (kind, body) in [(1u32, header), (2, g1), (3, g2)] {
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(&body);
    }
    out
}

/// The parameters a verifier needs (`G1`, `G2`, `τ·G2` and the size): verification reads
/// nothing else of the SRS (SHPLONK does not commit to instances).
pub fn verifier_params(
    k: u32,
    g: G1Affine,
    g2: G2Affine,
    s_g2: G2Affine,
) -> Result<ParamsKZG<Bn256>, Halo2Error> {
    let one = one_point_params(g, g2, s_g2)?;
    Ok(one.from_parts(k, vec![g], Some(vec![g]), g2, s_g2))
}

fn one_point_params(
    g: G1Affine,
    g2: G2Affine,
    s_g2: G2Affine,
) -> Result<ParamsKZG<Bn256>, Halo2Error> {
    use halo2_base::halo2_proofs::SerdeCurveAffine;
    let io = |e: std::io::Error| Halo2Error::Io {
        what: "KZG parameters".into(),
        source: e,
    };
    let mut seed = Vec::new();
    seed.extend_from_slice(&0u32.to_le_bytes());
    for pt in [g, g] {
        pt.write(&mut seed, SerdeFormat::RawBytes).map_err(io)?;
    }
    g2.write(&mut seed, SerdeFormat::RawBytes).map_err(io)?;
    s_g2.write(&mut seed, SerdeFormat::RawBytes).map_err(io)?;
    ParamsKZG::<Bn256>::read_custom(&mut seed.as_slice(), SerdeFormat::RawBytes).map_err(io)
}

/// [`load`] through a cache: the converted parameters (with the Lagrange-basis points, whose
/// computation from the file is an FFT over curve points, about a minute at `2^17`) are kept
/// in `cache` under the sha256 of the file and `k`, and read back on later calls. Returns
/// the parameters and the file's short digest (16 hex digits).
pub fn load_cached(
    path: &Path,
    k: u32,
    cache: &Path,
) -> Result<(ParamsKZG<Bn256>, String), Halo2Error> {
    use sha2::{Digest, Sha256};
    let io = |what: String| {
        move |e: std::io::Error| Halo2Error::Io {
            what: what.clone(),
            source: e,
        }
    };
    let bytes = std::fs::read(path).map_err(io(format!("powers of tau {}", path.display())))?;
    let digest = hex::encode(&Sha256::digest(&bytes)[..8]);
    let file = cache.join(format!("srs-{digest}-k{k}.bin"));
    if let Ok(f) = std::fs::File::open(&file) {
        let mut r = std::io::BufReader::new(f);
        if let Ok(p) = ParamsKZG::<Bn256>::read_custom(&mut r, SerdeFormat::RawBytes) {
            use halo2_base::halo2_proofs::poly::commitment::Params;
            if p.k() == k {
                return Ok((p, digest));
            }
        }
    }
    let params = params(&read_powers(&bytes, k)?)?;
    std::fs::create_dir_all(cache).map_err(io(format!("cache {}", cache.display())))?;
    let tmp = file.with_extension("tmp");
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(&tmp).map_err(io(format!("{}", tmp.display())))?,
    );
    params
        .write_custom(&mut w, SerdeFormat::RawBytes)
        .and_then(|_| std::io::Write::flush(&mut w))
        .map_err(io(format!("{}", tmp.display())))?;
    drop(w);
    std::fs::rename(&tmp, &file).map_err(io(format!("{}", file.display())))?;
    Ok((params, digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tau() -> ark_bn254::Fr {
        ark_bn254::Fr::from(0x5eed_u64)
    }

    /// Replaces G1 power `i` of a file written by [`insecure_test_ptau`] with `p`.
    fn with_g1(mut file: Vec<u8>, i: usize, p: AG1) -> Vec<u8> {
        let at = 80 + i * 64;
        let mut b = Vec::new();
        for c in [p.x, p.y] {
            for l in c.0 .0 {
                b.extend_from_slice(&l.to_le_bytes());
            }
        }
        file[at..at + 64].copy_from_slice(&b);
        file
    }

    #[test]
    fn consistent_powers_are_read_and_convert() {
        let file = insecure_test_ptau(6, tau());
        let p = read_powers(&file, 5).unwrap();
        assert_eq!(p.g1.len(), 32);
        assert_eq!(p.file_power, 6);
        assert_eq!(
            p.g1[3],
            (AG1::generator() * tau() * tau() * tau()).into_affine()
        );
        let kzg = params(&p).unwrap();
        use halo2_base::halo2_proofs::poly::commitment::Params;
        assert_eq!(kzg.k(), 5);
    }

    #[test]
    fn a_power_of_another_secret_is_refused() {
        let file = insecure_test_ptau(5, tau());
        for i in [1usize, 7, 31] {
            let p = read_powers(&file, 5).unwrap().g1[i];
            let doubled = (p + p).into_affine();
            assert!(
                matches!(
                    read_powers(&with_g1(file.clone(), i, doubled), 5),
                    Err(Halo2Error::SrsInconsistent(_))
                ),
                "power {i}"
            );
        }
        // Beyond the powers the circuit uses, a damaged power does not matter.
        let p = read_powers(&file, 5).unwrap().g1[1];
        assert!(read_powers(&with_g1(file.clone(), 40, p), 5).is_ok());
        // The first power must be the generator.
        let two = (AG1::generator() + AG1::generator()).into_affine();
        assert!(matches!(
            read_powers(&with_g1(file, 0, two), 5),
            Err(Halo2Error::SrsInconsistent(_))
        ));
    }

    #[test]
    fn tau_one_is_refused() {
        // Regression (review): every power equal to the generator passes the power check.
        let file = insecure_test_ptau(3, ark_bn254::Fr::from(1u64));
        assert!(matches!(
            read_powers(&file, 3),
            Err(Halo2Error::SrsInconsistent(_))
        ));
    }

    #[test]
    fn another_field_or_a_damaged_table_is_refused() {
        let mut file = insecure_test_ptau(3, tau());
        file[12 + 12 + 4] ^= 1; // the modulus
        assert!(matches!(
            read_powers(&file, 3),
            Err(Halo2Error::Srs { what: "header", .. })
        ));
        let file = insecure_test_ptau(3, tau());
        // section 2's size made to run past the end
        let mut long = file.clone();
        long[72..80].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(read_powers(&long, 3), Err(Halo2Error::Srs { .. })));
        // an off-curve G1 power
        let mut off = file;
        off[80 + 2 * 64] ^= 1;
        assert!(matches!(
            read_powers(&off, 3),
            Err(Halo2Error::Srs { what: "tauG1", .. })
        ));
    }
}
