//! Field-element encodings (spec §3.7): decimal strings, strictly canonical (`< r`).

use crate::{CircuitError, Fr};
use ark_ff::PrimeField;
use std::str::FromStr;

/// Parses a decimal string into `Fr`, rejecting anything that is not a canonical
/// representative (no sign, no leading `+`, no whitespace, value `< r`).
pub fn fr_from_dec(s: &str) -> Result<Fr, CircuitError> {
    let err = |reason| CircuitError::InvalidField {
        value: s.chars().take(90).collect(),
        reason,
    };
    if s.is_empty() {
        return Err(err("empty"));
    }
    if s.len() > 78 {
        return Err(err("too long"));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("not a decimal integer"));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(err("leading zero"));
    }
    let big = num_from_dec(s).ok_or_else(|| err("not below the field modulus r"))?;
    Fr::from_bigint(big).ok_or_else(|| err("not below the field modulus r"))
}

fn num_from_dec(s: &str) -> Option<<Fr as PrimeField>::BigInt> {
    // Parse as 256-bit; BigInt::from_str in ark-ff reduces nothing, it fails on overflow.
    <Fr as PrimeField>::BigInt::from_str(s).ok()
}

/// Formats `Fr` as its canonical decimal string.
pub fn fr_to_dec(x: &Fr) -> String {
    x.into_bigint().to_string()
}

/// 32-byte big-endian encoding (EVM word).
pub fn fr_to_be_bytes(x: &Fr) -> [u8; 32] {
    let limbs = x.into_bigint().0;
    let mut out = [0u8; 32];
    for (i, l) in limbs.iter().enumerate() {
        out[24 - 8 * i..32 - 8 * i].copy_from_slice(&l.to_be_bytes());
    }
    out
}

/// Parses a 32-byte big-endian word, rejecting values `>= r`.
pub fn fr_from_be_bytes(b: &[u8; 32]) -> Result<Fr, CircuitError> {
    let mut le = *b;
    le.reverse();
    let mut limbs = [0u64; 4];
    for (i, l) in limbs.iter_mut().enumerate() {
        *l = u64::from_le_bytes(le[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    }
    // `ok_or_else`: the hex is formatted only for the error (an eager `ok_or` formatted it on
    // every read, 8 % of a 10^6-row publication's CPU).
    Fr::from_bigint(ark_ff::BigInt::new(limbs)).ok_or_else(|| CircuitError::InvalidField {
        value: hex_prefix(b),
        reason: "not below the field modulus r",
    })
}

fn hex_prefix(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Returns `Some(v)` if `x < 2^64`.
pub fn fr_to_u64(x: &Fr) -> Option<u64> {
    let b = x.into_bigint();
    if b.0[1] == 0 && b.0[2] == 0 && b.0[3] == 0 {
        Some(b.0[0])
    } else {
        None
    }
}

/// Serde adapter: `Fr` as a decimal string.
pub mod serde_fr {
    use super::*;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    /// Serialize as decimal string.
    pub fn serialize<S: Serializer>(x: &Fr, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fr_to_dec(x))
    }

    /// Deserialize from a canonical decimal string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Fr, D::Error> {
        let s = String::deserialize(d)?;
        fr_from_dec(&s).map_err(D::Error::custom)
    }
}

/// Serde adapter: `Vec<Fr>` as decimal strings.
pub mod serde_fr_vec {
    use super::*;
    use serde::{de::Error, ser::SerializeSeq, Deserialize, Deserializer, Serializer};

    /// Serialize as a list of decimal strings.
    pub fn serialize<S: Serializer>(xs: &[Fr], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(xs.len()))?;
        for x in xs {
            seq.serialize_element(&fr_to_dec(x))?;
        }
        seq.end()
    }

    /// Deserialize from a list of canonical decimal strings.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Fr>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| fr_from_dec(s).map_err(D::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{BigInteger, Field, One, Zero};

    #[test]
    fn decimal_roundtrip_and_rejections() {
        let r_minus_1 = -Fr::one();
        assert_eq!(fr_from_dec(&fr_to_dec(&r_minus_1)).unwrap(), r_minus_1);
        assert_eq!(fr_from_dec("0").unwrap(), Fr::zero());
        let r = "21888242871839275222246405745257275088548364400416034343698204186575808495617";
        assert!(
            fr_from_dec(r).is_err(),
            "r itself must be rejected, not reduced"
        );
        assert!(fr_from_dec("-1").is_err());
        assert!(fr_from_dec("01").is_err());
        assert!(fr_from_dec(" 1").is_err());
        assert!(fr_from_dec("").is_err());
        assert!(fr_from_dec(&"9".repeat(100)).is_err());
        assert!(fr_from_dec(&"9".repeat(78)).is_err());
    }

    #[test]
    fn be_bytes_roundtrip_and_rejects_r() {
        let x = Fr::from(12345u64).pow([77u64]);
        assert_eq!(fr_from_be_bytes(&fr_to_be_bytes(&x)).unwrap(), x);
        assert!(fr_from_be_bytes(&[0xff; 32]).is_err());
        // r itself is refused, r − 1 is read back.
        let mut r = fr_to_be_bytes(&-Fr::one());
        assert_eq!(fr_from_be_bytes(&r).unwrap(), -Fr::one());
        r[31] += 1;
        assert!(matches!(
            fr_from_be_bytes(&r),
            Err(CircuitError::InvalidField { value, .. }) if value.starts_with("30644e72")
        ));
        // The limb-by-limb encoding is arkworks' big-endian bytes, zero-padded, and byte
        // order is numeric order.
        for x in [
            Fr::zero(),
            Fr::one(),
            -Fr::one(),
            Fr::from(u64::MAX),
            x,
            x.square(),
        ] {
            let v = x.into_bigint().to_bytes_be();
            let mut want = [0u8; 32];
            want[32 - v.len()..].copy_from_slice(&v);
            assert_eq!(fr_to_be_bytes(&x), want);
        }
        assert!(fr_to_be_bytes(&Fr::from(1u128 << 70)) > fr_to_be_bytes(&Fr::from(u64::MAX)));
        assert!(fr_to_be_bytes(&Fr::from(1u64 << 40)) > fr_to_be_bytes(&Fr::from(u32::MAX)));
        assert_eq!(fr_to_u64(&Fr::from(u64::MAX)), Some(u64::MAX));
        assert_eq!(fr_to_u64(&(Fr::from(u64::MAX) + Fr::one())), None);
    }
}

/// Serde adapter: `[Fr; 3]` as three decimal strings.
pub mod serde_fr_vec3 {
    use super::*;
    use serde::{de::Error, Deserializer, Serializer};

    /// Serialize as a list of three decimal strings.
    pub fn serialize<S: Serializer>(xs: &[Fr; 3], s: S) -> Result<S::Ok, S::Error> {
        super::serde_fr_vec::serialize(xs, s)
    }

    /// Deserialize from exactly three canonical decimal strings.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[Fr; 3], D::Error> {
        let v = super::serde_fr_vec::deserialize(d)?;
        v.try_into()
            .map_err(|v: Vec<Fr>| D::Error::custom(format!("expected 3 values, got {}", v.len())))
    }
}
