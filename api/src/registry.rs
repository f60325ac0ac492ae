//! The registry service's messages (spec §5 off chain).

use crate::error::ErrorCode as E;
use crate::openapi::{Auth, Route};
use serde::{Deserialize, Serialize};
use zkcredit_circuits::registry::{Role, Slot};

/// One slot as served.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RegistryView {
    /// Current registry root.
    pub root: String,
    /// Every slot.
    pub slots: Vec<SlotView>,
    /// Recent roots, newest first.
    pub history: Vec<RootView>,
}

/// A registry root and when it was current.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RootView {
    /// The root.
    pub root: String,
    /// Current from.
    pub current_since: u64,
    /// Current until (absent: still current).
    pub retired_at: Option<u64>,
}

/// `GET /v1/registry/roots/{root}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RootStatus {
    /// Known at all.
    pub known: bool,
    /// Currently the registry root.
    pub current: bool,
    /// When it stopped being current.
    pub retired_at: Option<u64>,
}

/// `POST /v1/admin/providers` body: registers a provider in a slot (role `empty` clears it).
#[derive(Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRoot {
    /// The provider's new root (decimal).
    pub provider_root: String,
    /// When it was published.
    pub published_at: u64,
}

/// The registry's routes.
pub const ROUTES: &[Route] = &[
    Route {
        method: "post",
        path: "/v1/admin/providers",
        summary: "Register a provider in a slot {slot, role, provider_id, token, endpoint}; role `empty` clears the slot",
        auth: Auth::Admin,
        errors: &[E::BadSlot, E::BadField, E::WeakToken, E::BadEndpoint, E::BadRole],
    },
    Route {
        method: "post",
        path: "/v1/slots/{slot}/root",
        summary: "Publish a provider root {provider_root, published_at}",
        auth: Auth::Provider,
        errors: &[E::UnknownSlot, E::BadField, E::Forbidden, E::PublishedInFuture, E::PublishedBeforePrevious],
    },
    Route {
        method: "get",
        path: "/v1/registry",
        summary: "Current root, slots (with provider endpoints) and root history",
        auth: Auth::None,
        errors: &[],
    },
    Route {
        method: "get",
        path: "/v1/registry/roots/{root}",
        summary: "Whether a root is current or when it was retired",
        auth: Auth::None,
        errors: &[E::BadField],
    },
];
