//! Subject keys and holder secrets (spec §3.4–§3.5), native only.

use crate::poseidon::hash_n;
use crate::tags::{SUBJECT_CHUNK_BYTES, TAG_SUBJECT};
use crate::{CircuitError, Fr};
use ark_ff::{BigInteger, PrimeField};

/// Normalises a real-world identifier: ASCII letters upper-cased, digits kept, spaces,
/// dashes, dots and slashes dropped; anything else is rejected. 1..=62 bytes.
pub fn normalise_id(id: &str) -> Result<Vec<u8>, CircuitError> {
    let mut out = Vec::with_capacity(id.len());
    for c in id.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' => out.push(c.to_ascii_uppercase() as u8),
            ' ' | '-' | '.' | '/' => {}
            _ => {
                return Err(CircuitError::Shape(format!(
                    "identifier contains unsupported character {c:?}"
                )))
            }
        }
    }
    if out.is_empty() || out.len() > 2 * SUBJECT_CHUNK_BYTES {
        return Err(CircuitError::Shape(format!(
            "normalised identifier must be 1..={} bytes",
            2 * SUBJECT_CHUNK_BYTES
        )));
    }
    Ok(out)
}

/// `key = H(TAG_SUBJECT, pepper, chunk0, chunk1)` truncated to 248 bits, never 0
/// (spec §3.4). Chunks are 31-byte big-endian slices of the normalised identifier.
pub fn derive_subject_key(pepper: &Fr, id: &str) -> Result<Fr, CircuitError> {
    let bytes = normalise_id(id)?;
    let (a, b) = bytes.split_at(bytes.len().min(SUBJECT_CHUNK_BYTES));
    let c0 = Fr::from_be_bytes_mod_order(a);
    let c1 = Fr::from_be_bytes_mod_order(b);
    let h = hash_n([Fr::from(TAG_SUBJECT), *pepper, c0, c1]);
    Ok(truncate_248(&h))
}

/// Keeps the low 248 bits; maps 0 to 1 (probability 2^-248).
pub fn truncate_248(h: &Fr) -> Fr {
    let mut bytes = h.into_bigint().to_bytes_le();
    bytes[31] = 0;
    let k = Fr::from_le_bytes_mod_order(&bytes);
    if k == Fr::from(0u64) {
        Fr::from(1u64)
    } else {
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imt::check_key;

    #[test]
    fn keys_are_in_range_and_normalised() {
        let pepper = Fr::from(987654321u64);
        let k1 = derive_subject_key(&pepper, "ab-123 456").unwrap();
        let k2 = derive_subject_key(&pepper, "AB123456").unwrap();
        assert_eq!(k1, k2);
        check_key(&k1).unwrap();
        assert_ne!(k1, derive_subject_key(&Fr::from(1u64), "AB123456").unwrap());
        assert!(derive_subject_key(&pepper, "").is_err());
        assert!(derive_subject_key(&pepper, "é").is_err());
        assert!(derive_subject_key(&pepper, &"A".repeat(63)).is_err());
        let long = derive_subject_key(&pepper, &"A".repeat(62)).unwrap();
        check_key(&long).unwrap();
    }
}
