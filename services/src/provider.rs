//! A data provider (spec §2, §4): fraud list, lender or bureau. Its service is its indexed
//! tree ([`crate::tree`]): admin row upserts, deletes and bulk imports, publication to the
//! registry on demand and on a schedule, and the authenticated witness API.

use crate::server::with_common;
use crate::tree::{TreeConfig, TreeService};
use axum::routing::get;
use axum::Router;
use zkcredit_api::ApiError;
use zkcredit_circuits::registry::Role;

/// A provider service.
#[derive(Clone, Debug)]
pub struct ProviderService {
    tree: TreeService,
}

impl ProviderService {
    /// Opens the provider's store `provider.sqlite` under `data_dir`.
    pub fn open(
        data_dir: &std::path::Path,
        cfg: TreeConfig,
        admin_token: &str,
    ) -> Result<Self, ApiError> {
        check_role(cfg.role)?;
        Ok(Self {
            tree: TreeService::open(data_dir, "provider.sqlite", cfg, admin_token)?,
        })
    }

    /// [`Self::open`] on the store `url` names: a SQLite file, or the PostgreSQL `schema`
    /// (default [`crate::tree::DEFAULT_PG_SCHEMA`]), which this process then writes alone
    /// (spec §4.4).
    pub async fn open_db(
        url: &crate::store::DatabaseUrl,
        schema: &str,
        cfg: TreeConfig,
        admin_token: &str,
    ) -> Result<Self, ApiError> {
        check_role(cfg.role)?;
        Ok(Self {
            tree: TreeService::open_db(url, schema, cfg, admin_token).await?,
        })
    }

    /// Takes revocations from the issuer at `issuer_url` (its list signed by the configured
    /// issuer key). A provider without it answers no witness (revocations fail closed).
    pub fn with_issuer_revocations(self, issuer_url: &str) -> Self {
        Self {
            tree: self.tree.with_issuer_revocations(issuer_url),
        }
    }

    /// [`Self::with_issuer_revocations`], asking the issuer again after `refresh`
    /// (default [`crate::tree::REVOCATIONS_REFRESH`]).
    pub fn with_issuer_revocations_every(
        self,
        issuer_url: &str,
        refresh: std::time::Duration,
    ) -> Self {
        Self {
            tree: self.tree.with_issuer_revocations_every(issuer_url, refresh),
        }
    }

    /// Caps a bulk-import body at `bytes`.
    pub fn with_max_import_bytes(self, bytes: usize) -> Self {
        Self {
            tree: self.tree.with_max_import_bytes(bytes),
        }
    }

    /// The tree.
    pub fn tree(&self) -> &TreeService {
        &self.tree
    }

    /// The router.
    pub fn router(self) -> Router {
        let role = self.tree.config().role;
        let metrics = self.tree.metrics.clone();
        let (small, big) = self.tree.routes();
        let small = small.route(
            "/openapi.json",
            get(move || async move {
                axum::Json(zkcredit_api::openapi::document(
                    &format!("zkcredit provider ({role:?})"),
                    &[zkcredit_api::provider::ROUTES],
                ))
            }),
        );
        with_common(small, metrics).merge(big)
    }
}

fn check_role(role: Role) -> Result<(), ApiError> {
    if matches!(role, Role::FraudList | Role::Lender | Role::Bureau) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "a provider is a fraud list, a lender or a bureau",
        ))
    }
}
