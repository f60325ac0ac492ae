use super::{ClientError, Endpoint};
use crate::registry::{
    sign_provider_root, PublishRoot, RegisterProvider, RegistryKey, RegistryView, RootStatus,
};
use zkcredit_circuits::field::fr_to_dec;
use zkcredit_circuits::registry::{Registry, Role, Slot};
use zkcredit_circuits::Fr;

/// The registry service (spec §5).
#[derive(Clone, Debug)]
pub struct RegistryClient(pub Endpoint);

impl RegistryClient {
    /// A client of the registry at `base`.
    pub fn new(http: reqwest::Client, base: impl Into<String>) -> Self {
        Self(Endpoint::new(http, base))
    }

    /// `GET /v1/registry`.
    pub async fn view(&self) -> Result<RegistryView, ClientError> {
        self.0.get("/v1/registry").await
    }

    /// `GET /v1/registry/roots/{root}`.
    pub async fn root_status(&self, root: &Fr) -> Result<RootStatus, ClientError> {
        self.0
            .get(&format!("/v1/registry/roots/{}", fr_to_dec(root)))
            .await
    }

    /// `GET /v1/registry/key`: the registry's answer-signing key.
    pub async fn key(&self) -> Result<RegistryKey, ClientError> {
        self.0.get("/v1/registry/key").await
    }

    /// `POST /v1/admin/providers` with the admin token.
    pub async fn register(
        &self,
        admin: &str,
        body: &RegisterProvider,
    ) -> Result<RegistryView, ClientError> {
        self.0
            .with_token(admin)
            .post("/v1/admin/providers", body)
            .await
    }

    /// `POST /v1/slots/{slot}/root` with the slot's provider token: publishes `value`'s
    /// root and time, signed with the provider's `key` (spec §7.0).
    pub async fn publish(
        &self,
        token: &str,
        slot: usize,
        value: &Slot,
        key: &ed25519_dalek::SigningKey,
    ) -> Result<RegistryView, ClientError> {
        let body = PublishRoot {
            provider_root: fr_to_dec(&value.provider_root),
            published_at: value.published_at,
            signature: sign_provider_root(key, value),
        };
        self.0
            .with_token(token)
            .post(&format!("/v1/slots/{slot}/root"), &body)
            .await
    }

    /// Registers every non-empty slot of `registry` (admin token `admin`), each provider with
    /// `token(slot)`, and publishes its root and timestamp signed with `key(slot)`.
    pub async fn mirror(
        &self,
        admin: &str,
        registry: &Registry,
        token: impl Fn(usize) -> String,
        key: impl Fn(usize) -> ed25519_dalek::SigningKey,
    ) -> Result<(), ClientError> {
        for (i, slot) in registry
            .slots()
            .iter()
            .enumerate()
            .filter(|(_, s)| s.role != Role::Empty)
        {
            let body = RegisterProvider {
                slot: i,
                role: slot.role,
                provider_id: fr_to_dec(&slot.provider_id),
                token: token(i),
                endpoint: None,
            };
            self.register(admin, &body).await?;
            self.publish(&token(i), i, slot, &key(i)).await?;
        }
        Ok(())
    }
}
