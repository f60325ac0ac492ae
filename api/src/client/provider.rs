use super::{ClientError, Endpoint};
use crate::auth::WitnessRequest;
use crate::provider::{
    AdminStatus, ImportJson, ImportReport, PublishReport, RowValues, RowView, Staged, Status,
    Value, WitnessResponse,
};

/// A provider's tree service (fraud list, lender, bureau, or the issuer's KYC tree; spec §4).
#[derive(Clone, Debug)]
pub struct ProviderClient(pub Endpoint);

impl ProviderClient {
    /// A client of the provider at `base`.
    pub fn new(http: reqwest::Client, base: impl Into<String>) -> Self {
        Self(Endpoint::new(http, base))
    }

    fn admin(&self, token: &str) -> Endpoint {
        self.0.with_token(token)
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<Status, ClientError> {
        self.0.get("/v1/status").await
    }

    /// `GET /v1/admin/status` (admin token).
    pub async fn admin_status(&self, admin: &str) -> Result<AdminStatus, ClientError> {
        self.admin(admin).get("/v1/admin/status").await
    }

    /// `PUT /v1/admin/rows/{subject_key}` (admin token).
    pub async fn upsert(
        &self,
        admin: &str,
        subject_key: &str,
        values: [Value; 3],
    ) -> Result<Staged, ClientError> {
        self.admin(admin)
            .put(
                &format!("/v1/admin/rows/{subject_key}"),
                &RowValues { values },
            )
            .await
    }

    /// `DELETE /v1/admin/rows/{subject_key}` (admin token).
    pub async fn delete(&self, admin: &str, subject_key: &str) -> Result<Staged, ClientError> {
        self.admin(admin)
            .delete(&format!("/v1/admin/rows/{subject_key}"))
            .await
    }

    /// `GET /v1/admin/rows/{subject_key}` (admin token).
    pub async fn row(&self, admin: &str, subject_key: &str) -> Result<RowView, ClientError> {
        self.admin(admin)
            .get(&format!("/v1/admin/rows/{subject_key}"))
            .await
    }

    /// `POST /v1/admin/import` of CSV (`subject_key,v0,v1,v2` lines), publishing at once if asked.
    pub async fn import_csv(
        &self,
        admin: &str,
        csv: impl Into<reqwest::Body>,
        publish: bool,
    ) -> Result<ImportReport, ClientError> {
        self.admin(admin)
            .post_raw(&import_path(publish), "text/csv", csv)
            .await
    }

    /// `POST /v1/admin/import` of one part of a large CSV file: staged, not published, the
    /// provider's scheduled publications held for `hold` seconds.
    pub async fn import_csv_part(
        &self,
        admin: &str,
        csv: impl Into<reqwest::Body>,
        hold: u64,
    ) -> Result<ImportReport, ClientError> {
        self.admin(admin)
            .post_raw(&format!("/v1/admin/import?hold={hold}"), "text/csv", csv)
            .await
    }

    /// `POST /v1/admin/import` of JSON.
    pub async fn import_json(
        &self,
        admin: &str,
        body: &ImportJson,
        publish: bool,
    ) -> Result<ImportReport, ClientError> {
        self.admin(admin).post(&import_path(publish), body).await
    }

    /// `POST /v1/admin/publish` (admin token).
    pub async fn publish(&self, admin: &str) -> Result<PublishReport, ClientError> {
        self.admin(admin)
            .post("/v1/admin/publish", &serde_json::json!({}))
            .await
    }

    /// `POST /v1/witness` with a signed request.
    pub async fn witness(&self, req: &WitnessRequest) -> Result<WitnessResponse, ClientError> {
        self.0.post("/v1/witness", req).await
    }
}

fn import_path(publish: bool) -> String {
    if publish {
        "/v1/admin/import?publish=true".into()
    } else {
        "/v1/admin/import".into()
    }
}
