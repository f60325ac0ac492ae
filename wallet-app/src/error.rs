//! The app's errors: each answers a status, a stable code and a message meant for the
//! person using the page.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use zkcredit_wallet::keystore::KeystoreError;
use zkcredit_wallet::WalletError;

/// Errors of the wallet app.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The keystore is locked (or not created yet).
    #[error("unlock your wallet first")]
    Locked,
    /// The password does not open the keystore.
    #[error("that password does not open this wallet")]
    WrongPassword,
    /// The new password is too weak.
    #[error("{0}")]
    WeakPassword(String),
    /// A keystore already exists in the wallet directory.
    #[error("this wallet already exists: unlock it with its password")]
    Exists,
    /// No keystore yet.
    #[error("there is no wallet here yet: create one")]
    NoKeystore,
    /// A field of the request is out of bounds.
    #[error("{0}")]
    BadInput(String),
    /// The step needs something done first (e.g. KYC before a request).
    #[error("{0}")]
    NotReady(String),
    /// A proof is being made.
    #[error("a proof is being made: wait for it to finish")]
    Busy,
    /// The request link is not at the verifier URL of any lender this wallet trusts.
    #[error("this link is not at a lender this wallet knows ({0}): nothing was fetched, gathered or proved. Only apply through a lender you trust, with the link it gave you")]
    UnknownLender(String),
    /// The request at a trusted lender's URL names another verifier identity.
    #[error("this request comes from a verifier this wallet does not know (id {got}), not from {lender}'s (the id this wallet pins for it): nothing was gathered or proved")]
    UnknownVerifier {
        /// The trusted lender whose URL served the request.
        lender: String,
        /// The verifier id the request names.
        got: String,
    },
    /// The request body was refused before it reached the wallet (size, JSON, fields).
    #[error("{message}")]
    Rejected {
        /// The status to answer.
        status: StatusCode,
        /// Why.
        message: String,
    },
    /// No such page or API call.
    #[error("no such page in the wallet")]
    NotFound,
    /// The wallet library refused or a service failed.
    #[error(transparent)]
    Wallet(#[from] WalletError),
    /// Something on this machine failed.
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    /// HTTP status and stable code.
    pub fn status_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::Locked => (StatusCode::CONFLICT, "locked"),
            AppError::WrongPassword => (StatusCode::UNAUTHORIZED, "wrong_password"),
            AppError::WeakPassword(_) => (StatusCode::BAD_REQUEST, "weak_password"),
            AppError::Exists => (StatusCode::CONFLICT, "wallet_exists"),
            AppError::NoKeystore => (StatusCode::CONFLICT, "no_wallet"),
            AppError::BadInput(_) => (StatusCode::BAD_REQUEST, "bad_input"),
            AppError::NotReady(_) => (StatusCode::CONFLICT, "not_ready"),
            AppError::Busy => (StatusCode::CONFLICT, "busy"),
            AppError::UnknownLender(_) => (StatusCode::FORBIDDEN, "unknown_lender"),
            AppError::UnknownVerifier { .. } => (StatusCode::FORBIDDEN, "unknown_verifier"),
            AppError::Rejected { status, .. } => (*status, "bad_request_body"),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            AppError::Wallet(WalletError::Keystore(KeystoreError::WrongPassword)) => {
                (StatusCode::UNAUTHORIZED, "wrong_password")
            }
            AppError::Wallet(WalletError::UntrustedVerifier(_)) => {
                (StatusCode::FORBIDDEN, "untrusted_request")
            }
            AppError::Wallet(WalletError::AlreadyApplied { .. }) => {
                (StatusCode::CONFLICT, "already_applied")
            }
            AppError::Wallet(WalletError::CannotProve(_)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "no_proof_possible")
            }
            AppError::Wallet(WalletError::Client(_) | WalletError::Provider { .. }) => {
                (StatusCode::BAD_GATEWAY, "service_failed")
            }
            AppError::Wallet(_) | AppError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_code();
        let message = match &self {
            AppError::Wallet(WalletError::Keystore(KeystoreError::WrongPassword)) => {
                AppError::WrongPassword.to_string()
            }
            e => e.to_string(),
        };
        (
            status,
            axum::Json(serde_json::json!({ "code": code, "message": message })),
        )
            .into_response()
    }
}
