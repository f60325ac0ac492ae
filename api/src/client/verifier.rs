use super::{ClientError, Endpoint};
use crate::verifier::{
    Accepted, BatchResult, BatchSubmission, NewRequest, ProofRequest, Submission, VerifierInfo,
};

/// The lender's verifier (spec §7).
#[derive(Clone, Debug)]
pub struct VerifierClient(pub Endpoint);

impl VerifierClient {
    /// A client of the verifier at `base`.
    pub fn new(http: reqwest::Client, base: impl Into<String>) -> Self {
        Self(Endpoint::new(http, base))
    }

    /// `POST /v1/requests` with the lender's bearer token.
    pub async fn create_request(
        &self,
        lender_token: &str,
        r: &NewRequest,
    ) -> Result<ProofRequest, ClientError> {
        self.0
            .with_token(lender_token)
            .post("/v1/requests", r)
            .await
    }

    /// `GET /v1/verifier`: the identity a wallet pins.
    pub async fn info(&self) -> Result<VerifierInfo, ClientError> {
        self.0.get("/v1/verifier").await
    }

    /// `GET /v1/requests/{nonce}`.
    pub async fn request(&self, nonce: &str) -> Result<ProofRequest, ClientError> {
        self.0.get(&format!("/v1/requests/{nonce}")).await
    }

    /// `GET /v1/requests/{nonce}/nullifiers/{nullifier}`: whether `nullifier` is already
    /// recorded in the scope of the open request `nonce`.
    pub async fn nullifier_status(
        &self,
        nonce: &str,
        nullifier: &zkcredit_circuits::Fr,
    ) -> Result<crate::verifier::NullifierStatus, ClientError> {
        self.0
            .get(&format!(
                "/v1/requests/{nonce}/nullifiers/{}",
                zkcredit_circuits::field::fr_to_dec(nullifier)
            ))
            .await
    }

    /// `GET /v1/requests/{nonce}/originations/{tag}`: whether the origination `tag` is
    /// already recorded (spec §6.10), asked while the request `nonce` is open.
    pub async fn origination_status(
        &self,
        nonce: &str,
        tag: &zkcredit_circuits::Fr,
    ) -> Result<crate::verifier::OriginationStatus, ClientError> {
        self.0
            .get(&format!(
                "/v1/requests/{nonce}/originations/{}",
                zkcredit_circuits::field::fr_to_dec(tag)
            ))
            .await
    }

    /// The URL a wallet fetches a request from.
    pub fn request_url(&self, nonce: &str) -> String {
        self.0.url(&format!("/v1/requests/{nonce}"))
    }

    /// `POST /v1/verify`.
    pub async fn verify(&self, s: &Submission) -> Result<Accepted, ClientError> {
        self.0.post("/v1/verify", s).await
    }

    /// `POST /v1/verify/batch`.
    pub async fn verify_batch(&self, b: &BatchSubmission) -> Result<Vec<BatchResult>, ClientError> {
        self.0.post("/v1/verify/batch", b).await
    }
}
