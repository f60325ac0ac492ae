//! Binary encodings (arkworks compressed, checked) and the verifying-key digest.

use crate::VerifyError;
use ark_bn254::Bn254;
use ark_groth16::{Proof, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use sha2::{Digest, Sha256};

/// Compressed verifying key bytes.
pub fn vk_to_bytes(vk: &VerifyingKey<Bn254>) -> Vec<u8> {
    let mut out = Vec::new();
    vk.serialize_compressed(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}

/// Checked decoding (points on curve and in subgroup; no trailing bytes).
pub fn vk_from_bytes(bytes: &[u8]) -> Result<VerifyingKey<Bn254>, VerifyError> {
    let mut r = bytes;
    let vk = VerifyingKey::<Bn254>::deserialize_with_mode(&mut r, Compress::Yes, Validate::Yes)
        .map_err(|e| VerifyError::Decode(format!("verifying key: {e}")))?;
    if !r.is_empty() {
        return Err(VerifyError::Decode(format!(
            "verifying key: {} trailing bytes",
            r.len()
        )));
    }
    Ok(vk)
}

/// Compressed proof bytes (128 bytes on BN254).
pub fn proof_to_bytes(p: &Proof<Bn254>) -> Vec<u8> {
    let mut out = Vec::new();
    p.serialize_compressed(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}

/// Checked proof decoding.
pub fn proof_from_bytes(bytes: &[u8]) -> Result<Proof<Bn254>, VerifyError> {
    let mut r = bytes;
    let p = Proof::<Bn254>::deserialize_with_mode(&mut r, Compress::Yes, Validate::Yes)
        .map_err(|e| VerifyError::Decode(format!("proof: {e}")))?;
    if !r.is_empty() {
        return Err(VerifyError::Decode(format!(
            "proof: {} trailing bytes",
            r.len()
        )));
    }
    Ok(p)
}

/// `sha256(compressed vk)` as lowercase hex: the pinned identity of a verifying key.
pub fn vk_digest(vk: &VerifyingKey<Bn254>) -> String {
    hex::encode(Sha256::digest(vk_to_bytes(vk)))
}

/// Reads a file with a typed error.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, VerifyError> {
    std::fs::read(path).map_err(|e| VerifyError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}
