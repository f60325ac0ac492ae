//! Who may read a witness (spec §7.3): ed25519 attestations by the KYC issuer binding a
//! subject key to the holder's request-signing key, and fresh holder signatures on
//! witness requests. Every signed message starts with its own domain string, so a
//! signature for one purpose is never valid for another.

use crate::error::{ApiError, ErrorCode};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zkcredit_circuits::field::{fr_from_dec, fr_to_be_bytes, fr_to_dec};
use zkcredit_circuits::imt::check_key;
use zkcredit_circuits::Fr;

/// Domain of the issuer's attestation.
pub const ATTESTATION_DOMAIN: &[u8] = b"zkcredit/attestation/v1";
/// Domain of a holder's witness request.
pub const WITNESS_REQUEST_DOMAIN: &[u8] = b"zkcredit/witness-request/v1";
/// Domain of a holder's KYC application (proof of possession of the key).
pub const KYC_APPLICATION_DOMAIN: &[u8] = b"zkcredit/kyc-application/v1";
/// Domain of the holder signing key derivation from the holder secret.
pub const HOLDER_KEY_DOMAIN: &[u8] = b"zkcredit/holder-signing-key/v1";
/// Accepted |timestamp − provider clock| of a witness request, seconds.
pub const MAX_REQUEST_SKEW: u64 = 120;

/// Why a witness request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A credential is missing (401).
    #[error("missing {0}")]
    Missing(&'static str),
    /// A credential is not well-formed (400).
    #[error("{field}: {reason}")]
    Encoding {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The attestation is not signed by the issuer (403).
    #[error("the attestation is not signed by this alliance's KYC issuer")]
    BadAttestation,
    /// The attestation has expired (403).
    #[error("the attestation expired at {0}")]
    AttestationExpired(u64),
    /// The request names another provider (403).
    #[error("the request is addressed to another provider")]
    WrongProvider,
    /// The request timestamp is outside the window (401).
    #[error("request timestamp {0} is not within {MAX_REQUEST_SKEW} s of the provider clock")]
    Stale(u64),
    /// The holder signature does not verify (403).
    #[error("the request is not signed by the attested holder key")]
    BadSignature,
}

impl AuthError {
    /// The error code this refusal is answered with.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::Missing(_) => ErrorCode::Unauthorized,
            AuthError::Encoding { .. } => ErrorCode::BadEncoding,
            AuthError::BadAttestation => ErrorCode::BadAttestation,
            AuthError::AttestationExpired(_) => ErrorCode::AttestationExpired,
            AuthError::WrongProvider => ErrorCode::WrongProvider,
            AuthError::Stale(_) => ErrorCode::StaleRequest,
            AuthError::BadSignature => ErrorCode::BadSignature,
        }
    }

    /// The field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            AuthError::Missing(f) => f,
            AuthError::Encoding { field, .. } => field,
            AuthError::BadAttestation | AuthError::AttestationExpired(_) => "attestation",
            AuthError::WrongProvider => "provider_id",
            AuthError::Stale(_) => "timestamp",
            AuthError::BadSignature => "signature",
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::new(e.code(), e.to_string()).field(e.field())
    }
}

fn enc(field: &'static str, reason: impl Into<String>) -> AuthError {
    AuthError::Encoding {
        field,
        reason: reason.into(),
    }
}

/// Decodes exactly `N` bytes of lowercase or uppercase hex.
pub fn hex_n<const N: usize>(field: &'static str, s: &str) -> Result<[u8; N], AuthError> {
    if s.len() != 2 * N {
        return Err(enc(
            field,
            format!("expected {} hex characters, got {}", 2 * N, s.len()),
        ));
    }
    let v = hex::decode(s).map_err(|e| enc(field, format!("bad hex: {e}")))?;
    v.try_into().map_err(|_| enc(field, "wrong length"))
}

/// Parses an ed25519 public key (hex), rejecting non-canonical and small-order encodings.
pub fn parse_public_key(field: &'static str, s: &str) -> Result<VerifyingKey, AuthError> {
    let b = hex_n::<32>(field, s)?;
    let k = VerifyingKey::from_bytes(&b).map_err(|_| enc(field, "not an ed25519 public key"))?;
    if k.is_weak() {
        return Err(enc(field, "small-order ed25519 public key"));
    }
    Ok(k)
}

fn parse_signature(field: &'static str, s: &str) -> Result<Signature, AuthError> {
    Ok(Signature::from_bytes(&hex_n::<64>(field, s)?))
}

fn parse_key(field: &'static str, s: &str) -> Result<Fr, AuthError> {
    let k = fr_from_dec(s).map_err(|e| enc(field, e.to_string()))?;
    check_key(&k).map_err(|e| enc(field, e.to_string()))?;
    Ok(k)
}

/// The holder's request-signing key, derived from the holder secret (so the keystore holds
/// one secret only).
pub fn holder_signing_key(holder_secret: &Fr) -> SigningKey {
    let mut h = Sha256::new();
    h.update(HOLDER_KEY_DOMAIN);
    h.update(fr_to_be_bytes(holder_secret));
    SigningKey::from_bytes(&h.finalize().into())
}

/// The issuer's signed statement "subject key `subject_key` is held by `holder_key`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// The subject key (decimal).
    pub subject_key: String,
    /// The holder's ed25519 public key (hex).
    pub holder_key: String,
    /// Issued at (Unix seconds).
    pub issued_at: u64,
    /// Expires at (Unix seconds).
    pub expires_at: u64,
    /// Issuer's ed25519 signature (hex).
    pub signature: String,
}

fn attestation_message(
    subject: &Fr,
    holder: &[u8; 32],
    issued_at: u64,
    expires_at: u64,
) -> Vec<u8> {
    let mut m = ATTESTATION_DOMAIN.to_vec();
    m.extend_from_slice(&fr_to_be_bytes(subject));
    m.extend_from_slice(holder);
    m.extend_from_slice(&issued_at.to_be_bytes());
    m.extend_from_slice(&expires_at.to_be_bytes());
    m
}

impl Attestation {
    /// The issuer signs.
    pub fn sign(
        issuer: &SigningKey,
        subject_key: &Fr,
        holder_key: &VerifyingKey,
        issued_at: u64,
        expires_at: u64,
    ) -> Self {
        let sig = issuer.sign(&attestation_message(
            subject_key,
            holder_key.as_bytes(),
            issued_at,
            expires_at,
        ));
        Self {
            subject_key: fr_to_dec(subject_key),
            holder_key: hex::encode(holder_key.as_bytes()),
            issued_at,
            expires_at,
            signature: hex::encode(sig.to_bytes()),
        }
    }

    /// Checks the issuer's signature and expiry; returns the subject key and holder key.
    pub fn verify(&self, issuer: &VerifyingKey, now: u64) -> Result<(Fr, VerifyingKey), AuthError> {
        let subject = parse_key("attestation.subject_key", &self.subject_key)?;
        let holder = parse_public_key("attestation.holder_key", &self.holder_key)?;
        let sig = parse_signature("attestation.signature", &self.signature)?;
        let m = attestation_message(&subject, holder.as_bytes(), self.issued_at, self.expires_at);
        issuer
            .verify_strict(&m, &sig)
            .map_err(|_| AuthError::BadAttestation)?;
        if self.expires_at <= now {
            return Err(AuthError::AttestationExpired(self.expires_at));
        }
        Ok((subject, holder))
    }
}

/// `POST /v1/witness`: the holder asks a provider for its lookup witness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WitnessRequest {
    /// The issuer's attestation for the subject key.
    #[serde(default)]
    pub attestation: Option<Attestation>,
    /// The provider asked (decimal provider id, as in the registry).
    pub provider_id: String,
    /// Unix seconds; must be within [`MAX_REQUEST_SKEW`] of the provider clock.
    pub timestamp: u64,
    /// Holder signature (hex) over domain ‖ provider id ‖ subject key ‖ timestamp.
    #[serde(default)]
    pub signature: Option<String>,
}

fn request_message(provider_id: &Fr, subject: &Fr, timestamp: u64) -> Vec<u8> {
    let mut m = WITNESS_REQUEST_DOMAIN.to_vec();
    m.extend_from_slice(&fr_to_be_bytes(provider_id));
    m.extend_from_slice(&fr_to_be_bytes(subject));
    m.extend_from_slice(&timestamp.to_be_bytes());
    m
}

impl WitnessRequest {
    /// The holder signs a request to `provider_id` at `timestamp`.
    pub fn sign(
        holder: &SigningKey,
        attestation: &Attestation,
        subject: &Fr,
        provider_id: &Fr,
        timestamp: u64,
    ) -> Self {
        let sig = holder.sign(&request_message(provider_id, subject, timestamp));
        Self {
            attestation: Some(attestation.clone()),
            provider_id: fr_to_dec(provider_id),
            timestamp,
            signature: Some(hex::encode(sig.to_bytes())),
        }
    }

    /// Authenticates the request for provider `me` at time `now`; returns the subject key.
    /// Credentials are checked before anything about the provider's data is touched.
    pub fn authenticate(&self, issuer: &VerifyingKey, me: &Fr, now: u64) -> Result<Fr, AuthError> {
        let att = self
            .attestation
            .as_ref()
            .ok_or(AuthError::Missing("attestation"))?;
        let sig = self
            .signature
            .as_deref()
            .ok_or(AuthError::Missing("signature"))?;
        let (subject, holder) = att.verify(issuer, now)?;
        let provider =
            fr_from_dec(&self.provider_id).map_err(|e| enc("provider_id", e.to_string()))?;
        if provider != *me {
            return Err(AuthError::WrongProvider);
        }
        if self.timestamp.abs_diff(now) > MAX_REQUEST_SKEW {
            return Err(AuthError::Stale(self.timestamp));
        }
        let sig = parse_signature("signature", sig)?;
        holder
            .verify_strict(&request_message(&provider, &subject, self.timestamp), &sig)
            .map_err(|_| AuthError::BadSignature)?;
        Ok(subject)
    }
}

/// `POST /v1/kyc/applications`: a holder asks the issuer to bind its key to an identity.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KycApplication {
    /// The real-world identifier (normalised by the issuer, spec §3.4).
    pub id: String,
    /// `H(holder_secret)` (decimal).
    pub holder_commitment: String,
    /// The holder's ed25519 public key (hex).
    pub holder_key: String,
    /// Holder signature (hex) over domain ‖ commitment ‖ holder key: proof of possession.
    pub signature: String,
}

impl std::fmt::Debug for KycApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KycApplication")
            .field("id", &"<redacted>")
            .field("holder_key", &self.holder_key)
            .finish_non_exhaustive()
    }
}

/// The bytes a holder signs in a [`KycApplication`]: domain tag ‖ commitment (32 BE) ‖
/// holder key (proof of possession of the key, not of the commitment).
pub fn application_message(commitment: &Fr, holder: &[u8; 32]) -> Vec<u8> {
    let mut m = KYC_APPLICATION_DOMAIN.to_vec();
    m.extend_from_slice(&fr_to_be_bytes(commitment));
    m.extend_from_slice(holder);
    m
}

impl KycApplication {
    /// The holder signs an application for `id`.
    pub fn sign(holder_secret: &Fr, id: &str) -> Self {
        let sk = holder_signing_key(holder_secret);
        let c = zkcredit_circuits::eligibility::holder_commitment(holder_secret);
        let vk = sk.verifying_key();
        let sig = sk.sign(&application_message(&c, vk.as_bytes()));
        Self {
            id: id.to_string(),
            holder_commitment: fr_to_dec(&c),
            holder_key: hex::encode(vk.as_bytes()),
            signature: hex::encode(sig.to_bytes()),
        }
    }

    /// Checks the proof of possession; returns the commitment and holder key.
    pub fn verify(&self) -> Result<(Fr, VerifyingKey), AuthError> {
        let c = fr_from_dec(&self.holder_commitment)
            .map_err(|e| enc("holder_commitment", e.to_string()))?;
        let holder = parse_public_key("holder_key", &self.holder_key)?;
        let sig = parse_signature("signature", &self.signature)?;
        holder
            .verify_strict(&application_message(&c, holder.as_bytes()), &sig)
            .map_err(|_| AuthError::BadSignature)?;
        Ok((c, holder))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn issuer() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    #[test]
    fn attestation_and_request_round_trip_and_every_tamper_fails() {
        let holder = holder_signing_key(&Fr::from(99u64));
        let subject = Fr::from(123456u64);
        let me = Fr::from(1001u64);
        let att = Attestation::sign(&issuer(), &subject, &holder.verifying_key(), 10, 1000);
        let req = WitnessRequest::sign(&holder, &att, &subject, &me, 500);
        let ik = issuer().verifying_key();
        assert_eq!(req.authenticate(&ik, &me, 510).unwrap(), subject);
        // Another provider, stale, expired, wrong issuer, other holder, tampered fields.
        assert_eq!(
            req.authenticate(&ik, &Fr::from(1002u64), 510),
            Err(AuthError::WrongProvider)
        );
        assert_eq!(
            req.authenticate(&ik, &me, 500 + MAX_REQUEST_SKEW + 1),
            Err(AuthError::Stale(500))
        );
        assert_eq!(
            req.authenticate(&ik, &me, 1000),
            Err(AuthError::AttestationExpired(1000))
        );
        let other_issuer = SigningKey::from_bytes(&[8u8; 32]).verifying_key();
        assert_eq!(
            req.authenticate(&other_issuer, &me, 510),
            Err(AuthError::BadAttestation)
        );
        let thief = holder_signing_key(&Fr::from(100u64));
        let stolen = WitnessRequest::sign(&thief, &att, &subject, &me, 500);
        assert_eq!(
            stolen.authenticate(&ik, &me, 510),
            Err(AuthError::BadSignature)
        );
        let mut t = req.clone();
        t.attestation.as_mut().unwrap().subject_key = "123457".into();
        assert_eq!(
            t.authenticate(&ik, &me, 510),
            Err(AuthError::BadAttestation)
        );
        let mut t = req.clone();
        t.attestation.as_mut().unwrap().expires_at = 2000;
        assert_eq!(
            t.authenticate(&ik, &me, 510),
            Err(AuthError::BadAttestation)
        );
        let mut t = req.clone();
        t.timestamp = 501;
        assert_eq!(t.authenticate(&ik, &me, 510), Err(AuthError::BadSignature));
        let mut t = req.clone();
        t.attestation = None;
        assert_eq!(
            t.authenticate(&ik, &me, 510),
            Err(AuthError::Missing("attestation"))
        );
        let mut t = req;
        t.signature = None;
        assert_eq!(
            t.authenticate(&ik, &me, 510),
            Err(AuthError::Missing("signature"))
        );
    }

    #[test]
    fn application_proves_possession() {
        let a = KycApplication::sign(&Fr::from(5u64), "AB 123");
        let (c, _) = a.verify().unwrap();
        assert_eq!(
            c,
            zkcredit_circuits::eligibility::holder_commitment(&Fr::from(5u64))
        );
        let mut b = a.clone();
        b.holder_commitment = "6".into();
        assert_eq!(b.verify().unwrap_err(), AuthError::BadSignature);
        let mut b = a;
        b.holder_key = hex::encode([0u8; 32]);
        assert!(matches!(
            b.verify().unwrap_err(),
            AuthError::Encoding { .. }
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]
        /// Fuzz: arbitrary bytes as a witness request or KYC application body, and arbitrary
        /// strings in every field, never panic; they are refused with a typed error.
        #[test]
        fn arbitrary_requests_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512),
                                          key in ".{0,80}", hk in "[0-9a-f]{0,70}", sig in "[0-9a-fA-Fx]{0,130}",
                                          ts in any::<u64>(), exp in any::<u64>()) {
            let _ = serde_json::from_slice::<WitnessRequest>(&bytes);
            let _ = serde_json::from_slice::<KycApplication>(&bytes);
            let att = Attestation { subject_key: key.clone(), holder_key: hk.clone(), issued_at: ts, expires_at: exp, signature: sig.clone() };
            let req = WitnessRequest { attestation: Some(att), provider_id: key.clone(), timestamp: ts, signature: Some(sig.clone()) };
            prop_assert!(req.authenticate(&issuer().verifying_key(), &Fr::from(1u64), ts).is_err());
            let app = KycApplication { id: key, holder_commitment: hk.clone(), holder_key: hk, signature: sig };
            prop_assert!(app.verify().is_err());
        }
    }
}
