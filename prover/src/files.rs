//! Key files (spec §10): verifying keys committed in `params/`, proving keys cached.
//!
//! For circuit `<id>` the params directory holds
//! - `<id>.vk.json` — snarkjs `verification_key.json` layout,
//! - `<id>.vk.bin` — arkworks compressed, decoded with full checks,
//! - `<id>.vk.sha256` — the pinned digest of `<id>.vk.bin`.
//!
//! Proving keys (tens of MB) are cached, not committed: `<cache>/<id>.pk` (arkworks
//! uncompressed) with `<id>.pk.sha256`. A cached key is loaded only if its digest matches
//! and its embedded verifying key equals the expected one.

use crate::ProverError;
use ark_bn254::Bn254;
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use zkcredit_verifier::keys::{vk_digest, vk_from_bytes, vk_to_bytes};
use zkcredit_verifier::snarkjs::VerifyingKeyJson;

fn io_err(path: &Path, e: impl std::fmt::Display) -> ProverError {
    ProverError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Writes a file atomically: temporary file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ProverError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    f.write_all(bytes).map_err(|e| io_err(&tmp, e))?;
    f.sync_all().map_err(|e| io_err(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
}

/// Reads a file with a typed error.
pub fn read(path: &Path) -> Result<Vec<u8>, ProverError> {
    std::fs::read(path).map_err(|e| io_err(path, e))
}

/// Paths of one circuit's verifying-key files.
#[derive(Clone, Debug)]
pub struct VkFiles {
    /// snarkjs JSON.
    pub json: PathBuf,
    /// Compressed binary.
    pub bin: PathBuf,
    /// Pinned digest.
    pub digest: PathBuf,
}

impl VkFiles {
    /// The files of `id` under `dir`.
    pub fn new(dir: &Path, id: &str) -> Self {
        Self {
            json: dir.join(format!("{id}.vk.json")),
            bin: dir.join(format!("{id}.vk.bin")),
            digest: dir.join(format!("{id}.vk.sha256")),
        }
    }

    /// Writes all three files.
    pub fn write(&self, vk: &VerifyingKey<Bn254>) -> Result<(), ProverError> {
        let json =
            serde_json::to_string_pretty(&VerifyingKeyJson::from_vk(vk)).expect("serialisable");
        write_atomic(&self.json, format!("{json}\n").as_bytes())?;
        write_atomic(&self.bin, &vk_to_bytes(vk))?;
        write_atomic(&self.digest, format!("{}\n", vk_digest(vk)).as_bytes())
    }

    /// Reads the binary key (fully checked) and verifies it against the pinned digest and
    /// the JSON file.
    pub fn read(&self) -> Result<VerifyingKey<Bn254>, ProverError> {
        let vk = vk_from_bytes(&read(&self.bin)?)?;
        let pinned = String::from_utf8_lossy(&read(&self.digest)?)
            .trim()
            .to_string();
        let got = vk_digest(&vk);
        if pinned != got {
            return Err(zkcredit_verifier::VerifyError::DigestMismatch {
                expected: pinned,
                got,
            }
            .into());
        }
        let json = String::from_utf8_lossy(&read(&self.json)?).to_string();
        let from_json = zkcredit_verifier::snarkjs::parse_vk(&json)?;
        if from_json != vk {
            return Err(ProverError::KeyMismatch {
                path: self.json.display().to_string(),
                reason: "JSON and binary verifying keys differ".into(),
            });
        }
        Ok(vk)
    }
}

/// Writes a proving key (uncompressed) and its digest.
pub fn write_pk(path: &Path, pk: &ProvingKey<Bn254>) -> Result<(), ProverError> {
    let mut bytes = Vec::with_capacity(pk.uncompressed_size());
    pk.serialize_uncompressed(&mut bytes)
        .expect("writing to a Vec cannot fail");
    let digest = hex::encode(Sha256::digest(&bytes));
    write_atomic(path, &bytes)?;
    write_atomic(&digest_path(path), format!("{digest}\n").as_bytes())
}

fn digest_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".sha256");
    PathBuf::from(p)
}

/// Loads a cached proving key: its digest must match its sidecar (the file is ours, written
/// by [`write_pk`]; the digest replaces the slow per-point subgroup checks), and its
/// verifying key must equal `expected_vk`.
pub fn read_pk(
    path: &Path,
    expected_vk: &VerifyingKey<Bn254>,
) -> Result<ProvingKey<Bn254>, ProverError> {
    let bytes = read(path)?;
    let want = String::from_utf8_lossy(&read(&digest_path(path))?)
        .trim()
        .to_string();
    let got = hex::encode(Sha256::digest(&bytes));
    if want != got {
        return Err(ProverError::KeyMismatch {
            path: path.display().to_string(),
            reason: "digest mismatch (corrupt or partial file)".into(),
        });
    }
    let pk = ProvingKey::<Bn254>::deserialize_with_mode(&bytes[..], Compress::No, Validate::No)
        .map_err(|e| ProverError::KeyMismatch {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    if &pk.vk != expected_vk {
        return Err(ProverError::KeyMismatch {
            path: path.display().to_string(),
            reason: "its verifying key differs from the one in params/".into(),
        });
    }
    Ok(pk)
}

/// The proving-key cache path of `id` under `cache_dir`.
pub fn pk_path(cache_dir: &Path, id: &str) -> PathBuf {
    cache_dir.join(format!("{id}.pk"))
}
