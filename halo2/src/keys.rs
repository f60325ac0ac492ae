//! Key files of the halo2 statements (SPEC §11.3).
//!
//! - The **verifying-key file** (`<circuit>.halo2.vk.json`) is self-contained: the layout
//!   (`BaseCircuitParams`), the halo2 verifying key and the three SRS points verification
//!   reads (`G1`, `G2`, `τ·G2`), so a verifier needs neither the powers of tau nor the
//!   circuit's keygen. Its sha256 is the key's digest, logged and pinned like a Groth16
//!   key's. Unlike a Groth16 key it is **derivable**: anyone with the public powers-of-tau
//!   file and this code can regenerate it and compare ([`keygen`](crate::proof::keygen)).
//! - The **proving-key cache** (`<cache>/halo2/<circuit>.<srs digest>.pk`): the layout, the
//!   break points and the proving key, written after key generation; used only while its
//!   verifying key is the one derived afresh from the code and the SRS.

use crate::proof::Keys;
use crate::Halo2Error;
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::circuit::BaseCircuitParams;
use halo2_base::gates::flex_gate::MultiPhaseThreadBreakPoints;
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine, G2Affine};
use halo2_base::halo2_proofs::halo2curves::group::prime::PrimeCurveAffine;
use halo2_base::halo2_proofs::plonk::{ProvingKey, VerifyingKey};
use halo2_base::halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_base::halo2_proofs::{SerdeCurveAffine, SerdeFormat};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The proof-system name in files and in the verifier's API.
pub const SYSTEM: &str = "halo2-kzg";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VkJson {
    system: String,
    circuit: String,
    k: u32,
    config: BaseCircuitParams,
    g1: String,
    g2: String,
    s_g2: String,
    vk: String,
}

/// A verifying key with what verification needs of the SRS.
pub struct VkFile {
    /// The circuit, e.g. `eligibility_s16_d32`.
    pub circuit: String,
    /// The layout.
    pub config: BaseCircuitParams,
    /// The halo2 verifying key.
    pub vk: VerifyingKey<G1Affine>,
    /// `KZG` parameters for verification (one G1 point, `G2`, `τ·G2`).
    pub params: ParamsKZG<Bn256>,
}

fn bad(detail: impl Into<String>) -> Halo2Error {
    Halo2Error::Srs {
        what: "verifying-key file",
        detail: detail.into(),
    }
}

fn point_hex<P: SerdeCurveAffine>(p: &P) -> String {
    let mut b = Vec::new();
    // writing into a Vec cannot fail
    let _ = p.write(&mut b, SerdeFormat::RawBytes);
    hex::encode(b)
}

fn point_from_hex<P: SerdeCurveAffine>(s: &str, what: &str) -> Result<P, Halo2Error> {
    let b = hex::decode(s).map_err(|_| bad(format!("{what} is not hex")))?;
    P::read(&mut b.as_slice(), SerdeFormat::RawBytes)
        .map_err(|_| bad(format!("{what} is not a curve point")))
}

/// Bounds on a layout read from a file, checked before halo2 configures a circuit from it
/// (which asserts, and allocates per column).
fn check_config(c: &BaseCircuitParams, k: u32) -> Result<(), Halo2Error> {
    let phases_ok = |v: &[usize], max: usize| v.len() <= 3 && v.iter().all(|&n| n <= max);
    let lookup_ok = match c.lookup_bits {
        Some(b) => {
            (1..k as usize).contains(&b) && c.num_lookup_advice_per_phase.iter().any(|&n| n > 0)
        }
        None => c.num_lookup_advice_per_phase.iter().all(|&n| n == 0),
    };
    if !phases_ok(&c.num_advice_per_phase, 256)
        || c.num_advice_per_phase.first().is_none_or(|&n| n == 0)
        || !phases_ok(&c.num_lookup_advice_per_phase, 64)
        || c.num_fixed > 64
        || c.num_instance_columns != 1
        || !lookup_ok
    {
        return Err(bad("the layout is out of bounds"));
    }
    Ok(())
}

impl VkFile {
    /// The file of `keys` made with `params` for `circuit`.
    pub fn new(circuit: &str, keys: &Keys, params: &ParamsKZG<Bn256>) -> Result<Self, Halo2Error> {
        let g = params
            .get_g()
            .first()
            .copied()
            .ok_or_else(|| bad("empty SRS"))?;
        Ok(Self {
            circuit: circuit.to_string(),
            config: keys.config.clone(),
            vk: keys.vk().clone(),
            params: crate::srs::verifier_params(params.k(), g, params.g2(), params.s_g2())?,
        })
    }

    /// The JSON text of the file.
    pub fn to_json(&self) -> String {
        let g = self.params.get_g().first().copied().unwrap_or_default();
        let j = VkJson {
            system: SYSTEM.into(),
            circuit: self.circuit.clone(),
            k: self.params.k(),
            config: self.config.clone(),
            g1: point_hex(&g),
            g2: point_hex(&self.params.g2()),
            s_g2: point_hex(&self.params.s_g2()),
            vk: hex::encode(self.vk.to_bytes(SerdeFormat::RawBytes)),
        };
        serde_json::to_string_pretty(&j).unwrap_or_default() + "\n"
    }

    /// Reads a file's text (every point checked on its curve, the key against the layout).
    pub fn from_json(text: &str) -> Result<Self, Halo2Error> {
        let j: VkJson = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if j.system != SYSTEM {
            return Err(bad(format!("system {:?}, expected {SYSTEM:?}", j.system)));
        }
        // The name is printed and written into the generated verifier's comments.
        let name_ok = !j.circuit.is_empty()
            && j.circuit.len() <= 64
            && j.circuit
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !name_ok {
            return Err(bad("the circuit name must be 1..=64 of [A-Za-z0-9_]"));
        }
        if j.config.k != j.k as usize || !(1..=28).contains(&j.k) {
            return Err(bad("the layout's k and the file's k differ"));
        }
        let g: G1Affine = point_from_hex(&j.g1, "g1")?;
        let g2: G2Affine = point_from_hex(&j.g2, "g2")?;
        let s_g2: G2Affine = point_from_hex(&j.s_g2, "s_g2")?;
        // The verifier uses g1 for the claimed evaluations and pairs with g2: anything but
        // the generators (the first powers of every .ptau) would unbind the evaluations or
        // hide a known τ behind a rescaled τ·G2.
        if g != G1Affine::generator() || g2 != G2Affine::generator() {
            return Err(bad("g1 and g2 must be the generators"));
        }
        if s_g2 == g2 || bool::from(s_g2.is_identity()) {
            return Err(bad("τ·G2 is G2 or the identity: τ would be known"));
        }
        check_config(&j.config, j.k)?;
        let vk_bytes = hex::decode(&j.vk).map_err(|_| bad("vk is not hex"))?;
        let vk = VerifyingKey::<G1Affine>::read::<_, BaseCircuitBuilder<Fr>>(
            &mut vk_bytes.as_slice(),
            SerdeFormat::RawBytes,
            j.config.clone(),
        )
        .map_err(|e| bad(format!("vk: {e}")))?;
        if vk.get_domain().k() != j.k {
            return Err(bad("the key's domain and the file's k differ"));
        }
        Ok(Self {
            circuit: j.circuit,
            config: j.config,
            vk,
            params: crate::srs::verifier_params(j.k, g, g2, s_g2)?,
        })
    }

    /// Reads the file at `path`.
    pub fn read(path: &Path) -> Result<Self, Halo2Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Halo2Error::Io {
            what: format!("verifying key {}", path.display()),
            source: e,
        })?;
        Self::from_json(&text)
    }

    /// The key's digest: sha256 of [`Self::to_json`].
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.to_json().as_bytes()))
    }
}

#[derive(Serialize, Deserialize)]
struct PkHeader {
    config: BaseCircuitParams,
    break_points: MultiPhaseThreadBreakPoints,
}

/// Writes `keys` to `path` (a temporary file renamed into place).
pub fn write_pk(path: &Path, keys: &Keys) -> Result<(), Halo2Error> {
    let io = |e: std::io::Error| Halo2Error::Io {
        what: format!("proving key {}", path.display()),
        source: e,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let header = serde_json::to_vec(&PkHeader {
        config: keys.config.clone(),
        break_points: keys.break_points.clone(),
    })
    .map_err(|e| io(std::io::Error::other(e)))?;
    let tmp = path.with_extension("tmp");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
        use std::io::Write;
        w.write_all(&(header.len() as u64).to_le_bytes())
            .map_err(io)?;
        w.write_all(&header).map_err(io)?;
        keys.pk
            .write(&mut w, SerdeFormat::RawBytesUnchecked)
            .map_err(io)?;
        w.flush().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

/// Reads keys written by [`write_pk`] (the cache is the prover's own directory, so its
/// points are read unchecked, as the Groth16 proving-key cache is).
pub fn read_pk(path: &Path) -> Result<Keys, Halo2Error> {
    use std::io::Read;
    let io = |e: std::io::Error| Halo2Error::Io {
        what: format!("proving key {}", path.display()),
        source: e,
    };
    let mut r = std::io::BufReader::new(std::fs::File::open(path).map_err(io)?);
    let mut len = [0u8; 8];
    r.read_exact(&mut len).map_err(io)?;
    let len = u64::from_le_bytes(len);
    if len > 1 << 24 {
        return Err(io(std::io::Error::other("header too long")));
    }
    let mut header = vec![0u8; len as usize];
    r.read_exact(&mut header).map_err(io)?;
    let h: PkHeader = serde_json::from_slice(&header).map_err(|e| io(std::io::Error::other(e)))?;
    let pk = ProvingKey::<G1Affine>::read::<_, BaseCircuitBuilder<Fr>>(
        &mut r,
        SerdeFormat::RawBytesUnchecked,
        h.config.clone(),
    )
    .map_err(io)?;
    Ok(Keys {
        config: h.config,
        break_points: h.break_points,
        pk,
    })
}
