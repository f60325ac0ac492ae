//! The registry service's messages (spec §5 off chain).

use crate::error::ErrorCode as E;
use crate::openapi::{Auth, Body, Param, Route};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zkcredit_circuits::registry::{Role, Slot};

/// One slot as served.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct SlotView {
    /// Slot index.
    pub slot: usize,
    /// The slot (role, provider id, root, published_at).
    #[serde(flatten)]
    pub value: Slot,
    /// Where the provider serves witnesses (its base URL), if it registered one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// `GET /v1/registry`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct RegistryView {
    /// Current registry root.
    pub root: String,
    /// Every slot.
    pub slots: Vec<SlotView>,
    /// Recent roots, newest first.
    pub history: Vec<RootView>,
}

/// A registry root and when it was current.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct RootView {
    /// The root.
    pub root: String,
    /// Current from.
    pub current_since: u64,
    /// Current until (absent: still current).
    pub retired_at: Option<u64>,
}

/// `GET /v1/registry/roots/{root}`: signed by the registry's ed25519 key (spec §7.0), so a
/// verifier pinning that key detects a forged or relayed answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct RootStatus {
    /// The root asked about (decimal).
    #[serde(default)]
    pub root: String,
    /// Known at all.
    pub known: bool,
    /// Currently the registry root.
    pub current: bool,
    /// When it stopped being current.
    pub retired_at: Option<u64>,
    /// The slot leaves the root was computed from (empty when unknown), in slot order.
    #[serde(default)]
    pub slots: Vec<Slot>,
    /// For each slot, the provider's ed25519 signature (hex) over
    /// [`provider_root_message`] of that slot as it was published (empty: never published
    /// or an empty slot). Self-authenticating: a verifier checks each against the key it
    /// pins for that provider (spec §7.0), so the registry cannot vouch for a root the
    /// provider did not sign.
    #[serde(default)]
    pub signatures: Vec<String>,
    /// When the registry signed this answer (Unix seconds).
    #[serde(default)]
    pub signed_at: u64,
    /// ed25519 signature (hex) over [`root_status_message`].
    #[serde(default)]
    pub signature: String,
}

/// The bytes a provider signs when it publishes a root (spec §7.0):
/// `"zkcredit/provider-root/v1" ‖ role(1) ‖ provider_id(32 BE) ‖ provider_root(32 BE) ‖
/// published_at(u64 BE)`.
pub fn provider_root_message(slot: &Slot) -> Vec<u8> {
    use zkcredit_circuits::field::fr_to_be_bytes;
    let mut m = b"zkcredit/provider-root/v1".to_vec();
    m.push(slot.role as u8);
    m.extend_from_slice(&fr_to_be_bytes(&slot.provider_id));
    m.extend_from_slice(&fr_to_be_bytes(&slot.provider_root));
    m.extend_from_slice(&slot.published_at.to_be_bytes());
    m
}

/// The provider's signature (hex) over [`provider_root_message`] of `slot`.
pub fn sign_provider_root(key: &ed25519_dalek::SigningKey, slot: &Slot) -> String {
    use ed25519_dalek::Signer;
    hex::encode(key.sign(&provider_root_message(slot)).to_bytes())
}

/// Checks `signature` (hex) is `key`'s signature over [`provider_root_message`] of `slot`.
pub fn verify_provider_root(
    key: &ed25519_dalek::VerifyingKey,
    slot: &Slot,
    signature: &str,
) -> Result<(), String> {
    let sig: [u8; 64] = hex::decode(signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("no well-formed provider signature")?;
    key.verify_strict(
        &provider_root_message(slot),
        &ed25519_dalek::Signature::from_bytes(&sig),
    )
    .map_err(|_| "the provider root is not signed by the pinned provider key".to_string())
}

/// `GET /v1/registry/key`: the registry's answer-signing key.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct RegistryKey {
    /// ed25519 public key (hex).
    pub public_key: String,
}

/// The bytes the registry signs for a [`RootStatus`]:
/// `"zkcredit/registry-root/v1" ‖ root(32 BE) ‖ known(1) ‖ current(1) ‖ retired_at(u64 BE,
/// u64::MAX = none) ‖ signed_at(u64 BE) ‖ n(u32 BE) ‖ n × (role(1) ‖ provider_id(32 BE) ‖
/// provider_root(32 BE) ‖ published_at(u64 BE))`.
pub fn root_status_message(s: &RootStatus) -> Result<Vec<u8>, String> {
    use zkcredit_circuits::field::{fr_from_dec, fr_to_be_bytes};
    let root = fr_from_dec(&s.root).map_err(|e| format!("root: {e}"))?;
    let mut m = b"zkcredit/registry-root/v1".to_vec();
    m.extend_from_slice(&fr_to_be_bytes(&root));
    m.push(s.known as u8);
    m.push(s.current as u8);
    m.extend_from_slice(&s.retired_at.unwrap_or(u64::MAX).to_be_bytes());
    m.extend_from_slice(&s.signed_at.to_be_bytes());
    m.extend_from_slice(&(s.slots.len() as u32).to_be_bytes());
    for slot in &s.slots {
        m.push(slot.role as u8);
        m.extend_from_slice(&fr_to_be_bytes(&slot.provider_id));
        m.extend_from_slice(&fr_to_be_bytes(&slot.provider_root));
        m.extend_from_slice(&slot.published_at.to_be_bytes());
    }
    Ok(m)
}

/// Checks `s` is signed by `key`, answers about `root` and was signed within `max_age`
/// seconds of `now`.
pub fn verify_root_status(
    s: &RootStatus,
    root: &str,
    key: &ed25519_dalek::VerifyingKey,
    now: u64,
    max_age: u64,
) -> Result<(), String> {
    if s.root != root {
        return Err("the answer is about another root".into());
    }
    if s.signed_at.abs_diff(now) > max_age {
        return Err(format!(
            "the answer was signed at {}, not within {max_age} s of {now}",
            s.signed_at
        ));
    }
    let sig: [u8; 64] = hex::decode(&s.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("no well-formed signature")?;
    let msg = root_status_message(s)?;
    key.verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&sig))
        .map_err(|_| "the signature is not by the pinned registry key".to_string())
}

/// `POST /v1/admin/providers` body: registers a provider in a slot (role `empty` clears it).
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterProvider {
    /// The slot.
    pub slot: usize,
    /// The provider's role.
    pub role: Role,
    /// The provider's id (decimal field element).
    pub provider_id: String,
    /// The provider's publication token (≥ 16 characters; stored hashed).
    pub token: String,
    /// Where the provider serves witnesses.
    #[serde(default)]
    pub endpoint: Option<String>,
}

impl std::fmt::Debug for RegisterProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterProvider")
            .field("slot", &self.slot)
            .field("role", &self.role)
            .field("provider_id", &self.provider_id)
            .field("token", &"<redacted>")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// `POST /v1/slots/{slot}/root` body.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRoot {
    /// The provider's new root (decimal).
    pub provider_root: String,
    /// When it was published.
    pub published_at: u64,
    /// The provider's ed25519 signature (hex, 64 bytes) over [`provider_root_message`] of
    /// `(role, provider_id, provider_root, published_at)`.
    pub signature: String,
}

/// The registry's routes.
pub const ROUTES: &[Route] = &[
    crate::openapi::READYZ,
    Route {
        method: "post",
        path: "/v1/admin/providers",
        summary: "Register a provider in a slot {slot, role, provider_id, token, endpoint}; role `empty` clears the slot",
        auth: Auth::Admin,
        errors: &[E::BadSlot, E::BadField, E::WeakToken, E::BadEndpoint, E::BadRole, E::DatabaseUnavailable, E::Overloaded],
        params: &[],
        request: Some(Body::json::<RegisterProvider>()),
        response: Body::json::<RegistryView>(),
        accepted: false,
    },
    Route {
        method: "post",
        path: "/v1/slots/{slot}/root",
        summary: "Publish a provider root {provider_root, published_at, signature}, signed by the provider's own key",
        auth: Auth::Provider,
        errors: &[E::UnknownSlot, E::BadField, E::Forbidden, E::PublishedInFuture, E::PublishedBeforePrevious, E::DatabaseUnavailable, E::Overloaded],
        params: &[Param::path::<usize>("slot", "Slot index")],
        request: Some(Body::json::<PublishRoot>()),
        response: Body::json::<RegistryView>(),
        accepted: false,
    },
    Route {
        method: "get",
        path: "/v1/registry",
        summary: "Current root, slots (with provider endpoints) and root history",
        auth: Auth::None,
        errors: &[E::DatabaseUnavailable, E::Overloaded],
        params: &[],
        request: None,
        response: Body::json::<RegistryView>(),
        accepted: false,
    },
    Route {
        method: "get",
        path: "/v1/registry/roots/{root}",
        summary: "Whether a root is current or when it was retired, with its slot leaves; signed by the registry key",
        auth: Auth::None,
        errors: &[E::BadField, E::DatabaseUnavailable, E::Overloaded],
        params: &[Param::path::<String>("root", "A registry root (decimal)")],
        request: None,
        response: Body::json::<RootStatus>(),
        accepted: false,
    },
    Route {
        method: "get",
        path: "/v1/registry/key",
        summary: "The registry's ed25519 answer-signing key (what verifiers pin with --registry-key)",
        auth: Auth::None,
        errors: &[],
        params: &[],
        request: None,
        response: Body::json::<RegistryKey>(),
        accepted: false,
    },
];
