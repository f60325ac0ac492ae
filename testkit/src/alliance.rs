//! Every role of spec §2 started in-process on loopback, each with its own store under one
//! data directory: what `zkcredit demo` and the end-to-end HTTP tests run. Nothing is
//! shared between the services but HTTP: the registry learns providers through its admin
//! API, providers publish through theirs, the wallet finds providers through the registry.

use crate::scenario::{live_model_policy, live_policy, Layout};
use rand::RngCore;
use std::net::SocketAddr;
use std::path::Path;
use zkcredit_api::client::{IssuerClient, ProviderClient, RegistryClient, VerifierClient};
use zkcredit_api::issuer::NewClient;
use zkcredit_api::registry::RegisterProvider;
use zkcredit_api::ApiError;
use zkcredit_circuits::eligibility::EligibilityParams;
use zkcredit_circuits::field::fr_to_dec;
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::Fr;
use zkcredit_services::issuer::{IssuerConfig, IssuerService};
use zkcredit_services::provider::ProviderService;
use zkcredit_services::registry::RegistryService;
use zkcredit_services::server::{spawn, Running};
use zkcredit_services::store::DatabaseUrl;
use zkcredit_services::tree::{PublishReport, RegistryLink, TreeConfig, TreeService};
use zkcredit_services::verifier::{
    lender_token_digest, ExpectedProvider, VerifierConfig, VerifierDb, VerifierService,
    DEFAULT_MAX_OPEN_REQUESTS, DEFAULT_PERIOD_SECONDS,
};

/// One running provider.
#[derive(Debug)]
pub struct RunningProvider {
    /// Role.
    pub role: Role,
    /// Registry slot.
    pub slot: usize,
    /// Its server.
    pub server: Running,
    /// Its tree (for in-process inspection).
    pub tree: TreeService,
    /// Its client token at the issuer (subject-key lookups).
    pub issuer_token: String,
}

/// A running alliance.
#[derive(Debug)]
pub struct Alliance {
    /// Registry service.
    pub registry: Running,
    /// KYC issuer.
    pub issuer: Running,
    /// The issuer service (in-process handle).
    pub issuer_svc: IssuerService,
    /// Providers in slot order (slots 1..).
    pub providers: Vec<RunningProvider>,
    /// The lender's verifier.
    pub verifier: Running,
    /// The admin / operator token of every service (one per alliance, random).
    pub admin: String,
    /// The lender's token at the verifier (opens proof requests).
    pub lender_token: String,
    /// The verifier's id (what wallets pin).
    pub verifier_id: [u8; 32],
    /// The registry's answer-signing key (hex), pinned by the verifier.
    pub registry_key: String,
    lender: VerifierSetup,
}

/// What a lender's verifier of this alliance is configured with, but for its identity.
#[derive(Clone)]
struct VerifierSetup {
    registry_url: String,
    registry_key: String,
    expected_slots: Vec<ExpectedProvider>,
    vk: ark_groth16::VerifyingKey<ark_bn254::Bn254>,
    /// Also accept halo2 proofs of this key (its file's JSON, SPEC §11.4).
    halo2: Option<String>,
}

impl std::fmt::Debug for VerifierSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierSetup")
            .field("registry_url", &self.registry_url)
            .finish_non_exhaustive()
    }
}

impl VerifierSetup {
    async fn spawn(
        &self,
        db: VerifierDb,
        verifier_id: [u8; 32],
        name: &str,
        lender_token: &str,
    ) -> Result<Running, ApiError> {
        let mut svc = VerifierService::with_db(
            db,
            &self.vk,
            VerifierConfig {
                verifier_id,
                name: name.into(),
                registry_url: self.registry_url.clone(),
                registry_key: zkcredit_api::auth::parse_public_key(
                    "registry key",
                    &self.registry_key,
                )
                .map_err(ApiError::internal)?,
                expected_slots: self.expected_slots.clone(),
                root_window: 3600,
                max_skew: 300,
                max_ttl: 3600,
                policies: vec![live_policy(), live_model_policy()],
                lender_token_sha256: lender_token_digest(lender_token),
                product: "demo-credit".into(),
                period_seconds: DEFAULT_PERIOD_SECONDS,
                // The alliance runs the development keys of the demo and the tests.
                insecure_dev_keys: true,
                max_open_requests: DEFAULT_MAX_OPEN_REQUESTS,
            },
        )?;
        if let Some(json) = &self.halo2 {
            let vk = zkcredit_halo2::keys::VkFile::from_json(json).map_err(ApiError::internal)?;
            svc = svc.with_halo2(vk)?;
        }
        spawn(svc.router(), loopback()).await.map_err(io)
    }
}

fn token() -> String {
    let mut b = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn io(e: std::io::Error) -> ApiError {
    ApiError::internal(e)
}

impl Alliance {
    /// Starts registry, issuer, the providers of `layout` and a verifier accepting proofs
    /// for `vk`, stores under `dir`; registers every provider (with its endpoint) and
    /// publishes every (empty) tree.
    pub async fn start(
        dir: &Path,
        params: EligibilityParams,
        layout: Layout,
        vk: &ark_groth16::VerifyingKey<ark_bn254::Bn254>,
    ) -> Result<Self, ApiError> {
        Self::start_on(dir, None, params, layout, vk).await
    }

    /// [`Self::start`] with a verifier that also accepts halo2 proofs of `halo2`
    /// (`proof_system: "halo2-kzg"`, SPEC §11.4).
    pub async fn start_with_halo2(
        dir: &Path,
        params: EligibilityParams,
        layout: Layout,
        vk: &ark_groth16::VerifyingKey<ark_bn254::Bn254>,
        halo2: &zkcredit_halo2::keys::VkFile,
    ) -> Result<Self, ApiError> {
        Self::start_full(dir, None, params, layout, vk, Some(halo2.to_json())).await
    }

    /// [`Self::start`] with every service on the PostgreSQL database `postgres` when given,
    /// each in its own schema: `registry`, `issuer` (its KYC tree in `issuer_tree`),
    /// `provider_SLOT`, `verifier`.
    pub async fn start_on(
        dir: &Path,
        postgres: Option<&str>,
        params: EligibilityParams,
        layout: Layout,
        vk: &ark_groth16::VerifyingKey<ark_bn254::Bn254>,
    ) -> Result<Self, ApiError> {
        Self::start_full(dir, postgres, params, layout, vk, None).await
    }

    async fn start_full(
        dir: &Path,
        postgres: Option<&str>,
        params: EligibilityParams,
        layout: Layout,
        vk: &ark_groth16::VerifyingKey<ark_bn254::Bn254>,
        halo2: Option<String>,
    ) -> Result<Self, ApiError> {
        let admin = token();
        let http = reqwest::Client::new();
        let store = |sqlite: &str| match postgres {
            Some(url) => DatabaseUrl::parse(url),
            None => Ok(DatabaseUrl::Sqlite(dir.join(sqlite))),
        };
        let registry_svc = RegistryService::open_db(
            &store("registry/registry.sqlite")?,
            "registry",
            params.slots,
            &admin,
        )
        .await?;
        let registry_key = registry_svc.public_key_hex();
        let registry = spawn(registry_svc.router(), loopback()).await.map_err(io)?;
        let mut expected_slots = Vec::new();
        let link = |slot: usize, tok: &str| RegistryLink {
            url: registry.url(),
            slot,
            token: tok.to_string(),
        };
        let registry_client = RegistryClient::new(http.clone(), registry.url());
        let register = |slot: usize, role: Role, id: Fr, token: String, endpoint: String| {
            let (client, admin) = (registry_client.clone(), admin.clone());
            async move {
                let body = RegisterProvider {
                    slot,
                    role,
                    provider_id: fr_to_dec(&id),
                    token,
                    endpoint: Some(endpoint),
                };
                client
                    .register(&admin, &body)
                    .await
                    .map(|_| ())
                    .map_err(ApiError::internal)
            }
        };
        // Slot 0: the KYC issuer.
        let issuer_tok = token();
        let issuer_id = Fr::from(1000u64);
        let issuer_svc = IssuerService::open_db(
            &store("issuer/issuer.sqlite")?,
            "issuer",
            IssuerConfig {
                provider_id: issuer_id,
                depth: params.depth,
                registry: Some(link(0, &issuer_tok)),
                validity: 365 * 86_400,
                auto_approve_kyc_stand_in: false,
                rebuild_tree: false,
            },
            &admin,
        )
        .await?;
        let issuer = spawn(issuer_svc.clone().router(), loopback())
            .await
            .map_err(io)?;
        register(0, Role::Kyc, issuer_id, issuer_tok, issuer.url()).await?;
        expected_slots.push(ExpectedProvider {
            role: Role::Kyc,
            provider_id: issuer_id,
            key: issuer_svc.tree().public_key(),
        });
        let issuer_key = issuer_svc.issuer_key();
        let roles = std::iter::repeat_n(Role::FraudList, layout.fraud_lists)
            .chain(std::iter::repeat_n(Role::Lender, layout.lenders))
            .chain(std::iter::repeat_n(Role::Bureau, layout.bureaus));
        let mut providers = Vec::new();
        for (i, role) in roles.enumerate() {
            let slot = i + 1;
            let tok = token();
            let id = Fr::from(1000 + slot as u64);
            let svc = ProviderService::open_db(
                &store(&format!("provider-{slot}/provider.sqlite"))?,
                &format!("provider_{slot}"),
                TreeConfig {
                    role,
                    provider_id: id,
                    depth: params.depth,
                    issuer_key,
                    registry: Some(link(slot, &tok)),
                    rebuild_nodes: false,
                },
                &admin,
            )
            .await?
            .with_issuer_revocations(&issuer.url());
            let tree = svc.tree().clone();
            let server = spawn(svc.router(), loopback()).await.map_err(io)?;
            register(slot, role, id, tok, server.url()).await?;
            expected_slots.push(ExpectedProvider {
                role,
                provider_id: id,
                key: tree.public_key(),
            });
            let issuer_token = token();
            let client = NewClient {
                name: format!("slot-{slot}"),
                token: issuer_token.clone(),
            };
            IssuerClient::new(http.clone(), issuer.url())
                .add_client(&admin, &client)
                .await
                .map_err(ApiError::internal)?;
            providers.push(RunningProvider {
                role,
                slot,
                server,
                tree,
                issuer_token,
            });
        }
        let lender_token = token();
        let verifier_id = *b"zkcredit-demo-lender-verifier-01";
        let verifier_db = VerifierDb::open(&store("verifier/verifier.sqlite")?, "verifier").await?;
        let lender = VerifierSetup {
            registry_url: registry.url(),
            registry_key: registry_key.clone(),
            expected_slots,
            vk: vk.clone(),
            halo2,
        };
        let verifier = lender
            .spawn(verifier_db, verifier_id, "demo lender", &lender_token)
            .await?;
        let a = Self {
            registry,
            issuer,
            issuer_svc,
            providers,
            verifier,
            admin,
            lender_token,
            verifier_id,
            registry_key,
            lender,
        };
        a.publish_all().await?;
        Ok(a)
    }

    /// The `nth` provider of `role`.
    pub fn provider(&self, role: Role, nth: usize) -> Option<&RunningProvider> {
        self.providers.iter().filter(|p| p.role == role).nth(nth)
    }

    /// Every tree (issuer first) publishes, in slot order.
    pub async fn publish_all(&self) -> Result<Vec<PublishReport>, ApiError> {
        let mut out = vec![self.issuer_svc.tree().publish().await?];
        for p in &self.providers {
            out.push(p.tree.publish().await?);
        }
        for (i, r) in out.iter().enumerate() {
            if r.registry != "published" {
                return Err(ApiError::internal(format!(
                    "slot {i}: registry {}",
                    r.registry
                )));
            }
        }
        Ok(out)
    }

    /// Starts another lender's verifier on the same alliance (same registry, slots and
    /// policy) with its own identity and a SQLite store under `dir`; returns it and its
    /// lender token.
    pub async fn start_other_verifier(
        &self,
        dir: &Path,
        verifier_id: [u8; 32],
        name: &str,
    ) -> Result<(Running, String), ApiError> {
        let db = VerifierDb::open(
            &DatabaseUrl::Sqlite(dir.join("verifier.sqlite")),
            "verifier",
        )
        .await?;
        let tok = token();
        let r = self.lender.spawn(db, verifier_id, name, &tok).await?;
        Ok((r, tok))
    }

    /// Stops every service gracefully.
    pub async fn stop(self) -> std::io::Result<()> {
        self.verifier.stop().await?;
        for p in self.providers {
            p.server.stop().await?;
        }
        self.issuer.stop().await?;
        self.registry.stop().await
    }
}

impl Alliance {
    /// A client of the registry.
    pub fn registry_client(&self, http: &reqwest::Client) -> RegistryClient {
        RegistryClient::new(http.clone(), self.registry.url())
    }

    /// A client of the issuer.
    pub fn issuer_client(&self, http: &reqwest::Client) -> IssuerClient {
        IssuerClient::new(http.clone(), self.issuer.url())
    }

    /// A client of the verifier.
    pub fn verifier_client(&self, http: &reqwest::Client) -> VerifierClient {
        VerifierClient::new(http.clone(), self.verifier.url())
    }
}

impl RunningProvider {
    /// A client of this provider.
    pub fn client(&self, http: &reqwest::Client) -> ProviderClient {
        ProviderClient::new(http.clone(), self.server.url())
    }
}
