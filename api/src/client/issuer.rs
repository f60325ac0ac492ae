use super::{ClientError, Endpoint};
use crate::auth::KycApplication;
use crate::issuer::{
    ApplicationView, Approve, ClientAdded, IssuerInfo, NewClient, PendingApplication,
    RevocationList, Revoke, SubjectKey, SubjectLookup,
};

/// The KYC issuer (spec §7.2). Its KYC tree's admin routes are a [`super::ProviderClient`]
/// on the same base URL.
#[derive(Clone, Debug)]
pub struct IssuerClient(pub Endpoint);

impl IssuerClient {
    /// A client of the issuer at `base`.
    pub fn new(http: reqwest::Client, base: impl Into<String>) -> Self {
        Self(Endpoint::new(http, base))
    }

    /// `GET /v1/issuer`.
    pub async fn info(&self) -> Result<IssuerInfo, ClientError> {
        self.0.get("/v1/issuer").await
    }

    /// `POST /v1/kyc/applications`.
    pub async fn apply(&self, a: &KycApplication) -> Result<ApplicationView, ClientError> {
        self.0.post("/v1/kyc/applications", a).await
    }

    /// `GET /v1/kyc/applications/{id}`.
    pub async fn application(&self, id: &str) -> Result<ApplicationView, ClientError> {
        self.0.get(&format!("/v1/kyc/applications/{id}")).await
    }

    /// `GET /v1/admin/applications` (admin token).
    pub async fn pending(&self, admin: &str) -> Result<Vec<PendingApplication>, ClientError> {
        self.0.with_token(admin).get("/v1/admin/applications").await
    }

    /// `POST /v1/admin/applications/{id}/approve` (admin token).
    pub async fn approve(
        &self,
        admin: &str,
        id: &str,
        body: Approve,
    ) -> Result<ApplicationView, ClientError> {
        self.0
            .with_token(admin)
            .post(&format!("/v1/admin/applications/{id}/approve"), &body)
            .await
    }

    /// `POST /v1/admin/applications/{id}/reject` (admin token).
    pub async fn reject(&self, admin: &str, id: &str) -> Result<ApplicationView, ClientError> {
        self.0
            .with_token(admin)
            .post(
                &format!("/v1/admin/applications/{id}/reject"),
                &serde_json::json!({}),
            )
            .await
    }

    /// `POST /v1/admin/clients` (admin token).
    pub async fn add_client(&self, admin: &str, c: &NewClient) -> Result<ClientAdded, ClientError> {
        self.0.with_token(admin).post("/v1/admin/clients", c).await
    }

    /// `POST /v1/subjects/lookup` (client token) → the subject key (decimal).
    pub async fn lookup(&self, client_token: &str, id: &str) -> Result<SubjectKey, ClientError> {
        self.0
            .with_token(client_token)
            .post("/v1/subjects/lookup", &SubjectLookup { id: id.into() })
            .await
    }

    /// `GET /v1/revocations`: the signed revocation list (check it with
    /// [`RevocationList::verify`] against the pinned issuer key).
    pub async fn revocations(&self) -> Result<RevocationList, ClientError> {
        self.0.get("/v1/revocations").await
    }

    /// `POST /v1/admin/revocations` (admin token): revokes an approved application's binding.
    pub async fn revoke(
        &self,
        admin: &str,
        application_id: &str,
    ) -> Result<RevocationList, ClientError> {
        self.0
            .with_token(admin)
            .post(
                "/v1/admin/revocations",
                &Revoke {
                    application_id: application_id.into(),
                },
            )
            .await
    }
}
