//! The verifier's configuration: its identity (bound into every request context and
//! nullifier scope), the lender's token, the policies it offers, the registry key and the
//! slot set it pins.

use zkcredit_api::{ApiError, ErrorCode};
use zkcredit_circuits::eligibility::Policy;
use zkcredit_circuits::field::{fr_from_dec, fr_to_dec};
use zkcredit_circuits::registry::{Registry, Role};
use zkcredit_circuits::Fr;

/// Verifier configuration. Nothing here defaults to "anything": no policy, no registry key
/// or no expected slot set refuses to start ([`VerifierConfig::validate`]).
#[derive(Clone)]
pub struct VerifierConfig {
    /// This verifier's identity, bound into every context and scope.
    pub verifier_id: [u8; 32],
    /// The lender's human-readable name (served at `GET /v1/verifier`).
    pub name: String,
    /// Base URL of the registry service.
    pub registry_url: String,
    /// The registry's answer-signing key (pinned).
    pub registry_key: ed25519_dalek::VerifyingKey,
    /// The slot set the lender expects in every registry root: role, provider id and root
    /// signing key of every non-empty slot. A root whose slots differ, or whose provider
    /// roots are not signed by the pinned keys, is refused.
    pub expected_slots: Vec<ExpectedProvider>,
    /// Seconds a replaced registry root stays acceptable.
    pub root_window: u64,
    /// Accepted |now − server clock|.
    pub max_skew: u64,
    /// Longest request lifetime a client may ask for.
    pub max_ttl: u64,
    /// The policies this lender offers (at least one); a request for any other is refused
    /// (`policy_not_offered`).
    pub policies: Vec<Policy>,
    /// sha256 of the lender's bearer token (`POST /v1/requests`).
    pub lender_token_sha256: [u8; 32],
    /// The product the nullifier scope is for.
    pub product: String,
    /// Length of a scope period in seconds (one application per person per period).
    pub period_seconds: u64,
    /// The verifying key is a development key (forgeable); reported at `/healthz`.
    pub insecure_dev_keys: bool,
    /// Most open (unexpired, unanswered) requests kept at once.
    pub max_open_requests: u64,
}

impl std::fmt::Debug for VerifierConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierConfig")
            .field("verifier_id", &hex::encode(self.verifier_id))
            .field("name", &self.name)
            .field("registry_url", &self.registry_url)
            .field("expected_slots", &self.expected_slots.len())
            .field("policies", &self.policies.len())
            .field("lender_token_sha256", &"<redacted>")
            .field("product", &self.product)
            .field("period_seconds", &self.period_seconds)
            .field("insecure_dev_keys", &self.insecure_dev_keys)
            .finish_non_exhaustive()
    }
}

/// The digest a lender token is kept as.
pub fn lender_token_digest(token: &str) -> [u8; 32] {
    crate::http::sha(token)
}

/// Default most open requests.
pub const DEFAULT_MAX_OPEN_REQUESTS: u64 = 100_000;
/// Default scope period: 30 days.
pub const DEFAULT_PERIOD_SECONDS: u64 = 30 * 86_400;

impl VerifierConfig {
    /// Fails closed: at least one policy, an expected slot set with the KYC issuer, a
    /// positive period, a product name of 1..=64 characters.
    pub fn validate(&self) -> Result<(), ApiError> {
        let bad = |m: &str| Err(ApiError::new(ErrorCode::BadRequest, m.to_string()));
        if self.policies.is_empty() {
            return bad("no policy configured: the verifier refuses to start without at least one (--policy-file)");
        }
        if !self.expected_slots.iter().any(|p| p.role == Role::Kyc) {
            return bad("the expected slot set names no KYC issuer (--expected-slots)");
        }
        let mut ids: Vec<_> = self
            .expected_slots
            .iter()
            .map(|p| (p.role as u8, fr_to_dec(&p.provider_id)))
            .collect();
        ids.sort();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return bad("the expected slot set names a provider twice (--expected-slots)");
        }
        if self.period_seconds == 0 {
            return bad("the scope period must be positive");
        }
        if self.product.is_empty() || self.product.len() > 64 {
            return bad("the product name must be 1..=64 characters");
        }
        // SPEC §8: a rebound identity gets a fresh nullifier; only a KYC record at least one
        // scope period old keeps it from applying twice in the same scope.
        for p in &self.policies {
            if p.min_kyc_age < self.period_seconds {
                tracing::warn!(
                    min_kyc_age = p.min_kyc_age,
                    period_seconds = self.period_seconds,
                    "an offered policy's min_kyc_age is shorter than the scope period: a person who rebinds their identity can apply again in the same scope"
                );
            }
        }
        Ok(())
    }
}

/// One entry of an expected-slots file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedSlot {
    /// The role (`kyc`, `fraud_list`, `lender`, `bureau`).
    pub role: Role,
    /// The provider id (decimal).
    pub provider_id: String,
    /// The provider's root-signing ed25519 key (hex), as the provider shows it
    /// (`GET /v1/status`, `public_key`).
    pub public_key: String,
}

/// A provider the lender expects in every registry root (spec §7.0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedProvider {
    /// The role.
    pub role: Role,
    /// The provider id.
    pub provider_id: Fr,
    /// The key its published roots must be signed with.
    pub key: ed25519_dalek::VerifyingKey,
}

/// The slot set of an expected-slots file: a JSON array of `{role, provider_id, public_key}`.
pub fn parse_expected_slots(text: &str) -> Result<Vec<ExpectedProvider>, ApiError> {
    let list: Vec<ExpectedSlot> = serde_json::from_str(text)
        .map_err(|e| ApiError::new(ErrorCode::InvalidBody, e.to_string()))?;
    list.into_iter()
        .filter(|s| s.role != Role::Empty)
        .map(|s| {
            let provider_id = fr_from_dec(&s.provider_id).map_err(|e| {
                ApiError::new(ErrorCode::BadField, e.to_string()).field("provider_id")
            })?;
            let key =
                zkcredit_api::auth::parse_public_key("public_key", &s.public_key).map_err(|e| {
                    ApiError::new(ErrorCode::BadField, e.to_string()).field("public_key")
                })?;
            Ok(ExpectedProvider {
                role: s.role,
                provider_id,
                key,
            })
        })
        .collect()
}

/// The expected-slots entries of a registry whose slot `i` signs with `key(i)` (what an
/// operator writes down once).
pub fn expected_slots_of(
    reg: &Registry,
    key: impl Fn(usize) -> ed25519_dalek::VerifyingKey,
) -> Vec<ExpectedSlot> {
    reg.slots()
        .iter()
        .enumerate()
        .filter(|(_, s)| s.role != Role::Empty)
        .map(|(i, s)| ExpectedSlot {
            role: s.role,
            provider_id: fr_to_dec(&s.provider_id),
            public_key: hex::encode(key(i).as_bytes()),
        })
        .collect()
}

/// The verifier id kept in `data_dir/verifier-id` (32 bytes), created from OS randomness
/// on first start.
pub fn load_or_create_verifier_id(data_dir: &std::path::Path) -> Result<[u8; 32], ApiError> {
    use rand::RngCore;
    let path = data_dir.join("verifier-id");
    match std::fs::read(&path) {
        Ok(b) => b.try_into().map_err(|_| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("{}: not 32 bytes", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut b = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut b);
            std::fs::create_dir_all(data_dir).map_err(ApiError::internal)?;
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, b)
                .and_then(|()| std::fs::rename(&tmp, &path))
                .map_err(|e| {
                    ApiError::new(ErrorCode::BadRequest, format!("{}: {e}", path.display()))
                })?;
            Ok(b)
        }
        Err(e) => Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("{}: {e}", path.display()),
        )),
    }
}

/// The policies of a policy file: one policy object or an array of them .
pub fn parse_policies(text: &str) -> Result<Vec<Policy>, ApiError> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ApiError::new(ErrorCode::MalformedJson, e.to_string()))?;
    let list = if v.is_array() {
        v
    } else {
        serde_json::Value::Array(vec![v])
    };
    serde_json::from_value(list).map_err(|e| ApiError::new(ErrorCode::InvalidBody, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_file_is_one_policy_or_a_list_and_garbage_is_refused() {
        let one = r#"{"max_active_loans": 2, "max_outstanding": 9, "max_arrears_days": 0,
            "min_score": 700, "max_score_age": 60, "max_root_age": 60, "min_kyc_age": 0}"#;
        let p = parse_policies(one).unwrap();
        assert_eq!(
            (p.len(), p[0].max_active_loans, p[0].min_score),
            (1, 2, 700)
        );
        assert_eq!(parse_policies(&format!("[{one},{one}]")).unwrap().len(), 2);
        assert_eq!(
            parse_policies("{").unwrap_err().code,
            ErrorCode::MalformedJson
        );
        assert_eq!(
            parse_policies(r#"{"max_active_loans": 1}"#)
                .unwrap_err()
                .code,
            ErrorCode::InvalidBody
        );
    }
}
