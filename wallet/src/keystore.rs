//! The wallet keystore (issue 4, wallet): the holder secret encrypted at rest with a
//! password. KDF argon2id (memory-hard), AEAD XChaCha20-Poly1305 with a random 24-byte
//! nonce; the header (format, KDF parameters, salt) is authenticated as associated data, so a
//! tampered parameter is detected like a tampered ciphertext. Decoding is strict and bounded:
//! a hostile file can neither panic the wallet nor make it allocate or compute without limit.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;
use zkcredit_circuits::field::{fr_from_be_bytes, fr_to_be_bytes};
use zkcredit_circuits::Fr;

/// Format identifier.
pub const FORMAT: &str = "zkcredit-keystore-v1";
/// Default argon2id memory (KiB): 64 MiB.
pub const DEFAULT_M_KIB: u32 = 64 * 1024;
/// Default argon2id passes.
pub const DEFAULT_T: u32 = 3;
/// Largest accepted memory parameter (KiB): 1 GiB.
pub const MAX_M_KIB: u32 = 1024 * 1024;
/// Largest accepted pass count.
pub const MAX_T: u32 = 16;
/// Largest accepted keystore file.
pub const MAX_FILE_BYTES: usize = 16 * 1024;

/// Keystore errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// The password does not open this keystore (or the file was tampered with).
    #[error("wrong password, or the keystore was modified")]
    WrongPassword,
    /// The file is not a keystore of this format.
    #[error("malformed keystore: {0}")]
    Malformed(String),
    /// KDF parameters outside the accepted bounds.
    #[error("keystore KDF parameters out of bounds: {0}")]
    Params(String),
}

/// The keystore file (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keystore {
    /// [`FORMAT`].
    pub format: String,
    /// argon2id memory in KiB.
    pub m_kib: u32,
    /// argon2id passes.
    pub t: u32,
    /// argon2id lanes.
    pub p: u32,
    /// 16-byte salt, hex.
    pub salt: String,
    /// 24-byte nonce, hex.
    pub nonce: String,
    /// Ciphertext with tag, hex.
    pub ciphertext: String,
}

fn header_ad(k: &Keystore) -> Vec<u8> {
    format!("{}|{}|{}|{}|{}", k.format, k.m_kib, k.t, k.p, k.salt).into_bytes()
}

fn key(
    password: &str,
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    if !(8..=MAX_M_KIB).contains(&m) || !(1..=MAX_T).contains(&t) || !(1..=4).contains(&p) {
        return Err(KeystoreError::Params(format!("m_kib {m}, t {t}, p {p}")));
    }
    let params =
        Params::new(m, t, p, Some(32)).map_err(|e| KeystoreError::Params(e.to_string()))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), salt, out.as_mut())
        .map_err(|e| KeystoreError::Params(e.to_string()))?;
    Ok(out)
}

impl Keystore {
    /// Encrypts `holder_secret` under `password` with argon2id(`m_kib`, `t`, 1).
    pub fn seal(
        holder_secret: &Fr,
        password: &str,
        m_kib: u32,
        t: u32,
    ) -> Result<Self, KeystoreError> {
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut k = Keystore {
            format: FORMAT.into(),
            m_kib,
            t,
            p: 1,
            salt: hex::encode(salt),
            nonce: hex::encode(nonce),
            ciphertext: String::new(),
        };
        let key = key(password, &salt, m_kib, t, 1)?;
        let aead = XChaCha20Poly1305::new(key.as_ref().into());
        let plain = Zeroizing::new(fr_to_be_bytes(holder_secret));
        let ad = header_ad(&k);
        let ct = aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_ref(),
                    aad: &ad,
                },
            )
            .map_err(|_| KeystoreError::Malformed("encryption failed".into()))?;
        k.ciphertext = hex::encode(ct);
        Ok(k)
    }

    /// Decrypts with `password`.
    pub fn open(&self, password: &str) -> Result<Fr, KeystoreError> {
        if self.format != FORMAT {
            return Err(KeystoreError::Malformed(format!(
                "format `{}` is not {FORMAT}",
                self.format.chars().take(40).collect::<String>()
            )));
        }
        let hexfield = |name: &str, v: &str, len: usize| -> Result<Vec<u8>, KeystoreError> {
            let b = hex::decode(v).map_err(|e| KeystoreError::Malformed(format!("{name}: {e}")))?;
            if b.len() != len {
                return Err(KeystoreError::Malformed(format!(
                    "{name}: {} bytes, expected {len}",
                    b.len()
                )));
            }
            Ok(b)
        };
        let salt = hexfield("salt", &self.salt, 16)?;
        let nonce = hexfield("nonce", &self.nonce, 24)?;
        let ct = hexfield("ciphertext", &self.ciphertext, 32 + 16)?;
        let key = key(password, &salt, self.m_kib, self.t, self.p)?;
        let aead = XChaCha20Poly1305::new(key.as_ref().into());
        let plain = Zeroizing::new(
            aead.decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ct,
                    aad: &header_ad(self),
                },
            )
            .map_err(|_| KeystoreError::WrongPassword)?,
        );
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| KeystoreError::Malformed("plaintext length".into()))?;
        fr_from_be_bytes(&bytes).map_err(|e| KeystoreError::Malformed(e.to_string()))
    }

    /// Parses a keystore file (bounded size, strict JSON).
    pub fn from_json(bytes: &[u8]) -> Result<Self, KeystoreError> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(KeystoreError::Malformed(format!(
                "{} bytes is too large for a keystore",
                bytes.len()
            )));
        }
        serde_json::from_slice(bytes).map_err(|e| KeystoreError::Malformed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Small KDF parameters keep the tests fast; the defaults are exercised once.
    const M: u32 = 64;
    const T: u32 = 1;

    #[test]
    fn roundtrip_wrong_password_and_tampering() {
        let secret = Fr::from(123456789u64);
        let k = Keystore::seal(&secret, "correct horse battery staple", M, T).unwrap();
        let text = serde_json::to_vec(&k).unwrap();
        let k2 = Keystore::from_json(&text).unwrap();
        assert_eq!(k2.open("correct horse battery staple").unwrap(), secret);
        assert_eq!(k2.open("wrong"), Err(KeystoreError::WrongPassword));
        // Tampered ciphertext, nonce or KDF parameter: detected.
        let mut t = k.clone();
        t.ciphertext.replace_range(
            0..2,
            if &t.ciphertext[0..2] == "00" {
                "01"
            } else {
                "00"
            },
        );
        assert_eq!(
            t.open("correct horse battery staple"),
            Err(KeystoreError::WrongPassword)
        );
        let mut t = k.clone();
        t.t = 2;
        assert_eq!(
            t.open("correct horse battery staple"),
            Err(KeystoreError::WrongPassword)
        );
        let mut t = k.clone();
        t.m_kib = MAX_M_KIB + 1;
        assert!(matches!(t.open("x"), Err(KeystoreError::Params(_))));
        let mut t = k;
        t.salt = "zz".into();
        assert!(matches!(t.open("x"), Err(KeystoreError::Malformed(_))));
        assert!(Keystore::from_json(&vec![b' '; MAX_FILE_BYTES + 1]).is_err());
    }

    #[test]
    fn default_parameters_work() {
        let k = Keystore::seal(&Fr::from(5u64), "pw", DEFAULT_M_KIB, DEFAULT_T).unwrap();
        assert_eq!(k.open("pw").unwrap(), Fr::from(5u64));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, .. ProptestConfig::default() })]

        /// Arbitrary bytes never panic the keystore decoder.
        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Keystore::from_json(&bytes);
        }

        /// Structurally valid keystores with arbitrary fields never panic `open` and never
        /// decrypt without the right key (KDF parameters kept small and bounded).
        #[test]
        fn open_never_panics(salt in "[0-9a-f]{0,40}", nonce in "[0-9a-f]{0,60}", ct in "[0-9a-f]{0,120}", m in 0u32..128, t in 0u32..3, p in 0u32..6) {
            let k = Keystore { format: FORMAT.into(), m_kib: m, t, p, salt, nonce, ciphertext: ct };
            prop_assert!(k.open("pw").is_err());
        }
    }
}
