//! Publication: apply the journal, persist, tell the registry (now, on a schedule, and
//! again after a restart while the registry has not acknowledged).

use super::store::{apply_and_persist, meta, set_meta};
use super::{PublishReport, TreeService};
use zkcredit_api::client::RegistryClient;
use zkcredit_api::ApiError;
use zkcredit_circuits::registry::Slot;

impl TreeService {
    /// Applies the journal, persists the tree in one transaction, and tells the registry.
    pub async fn publish(&self) -> Result<PublishReport, ApiError> {
        let _guard = self.publish_lock.lock().await;
        let state = self.state.clone();
        let depth = self.cfg.depth;
        let mut report = self
            .store
            .with(move |conn| apply_and_persist(conn, &state, depth))
            .await?;
        report.registry = self.notify_registry().await;
        self.metrics.inc(
            "publish_total",
            if report.registry.starts_with("failed") {
                "registry_failed"
            } else {
                "ok"
            },
        );
        Ok(report)
    }

    /// Sends the current root, signed with the provider's key, to the registry.
    async fn notify_registry(&self) -> String {
        let Some(link) = &self.cfg.registry else {
            return "not_configured".into();
        };
        let (root, at) = {
            let g = self.state.read().unwrap_or_else(|p| p.into_inner());
            (g.root, g.published_at)
        };
        let registry = RegistryClient::new(self.http.clone(), link.url.clone());
        let value = Slot {
            role: self.cfg.role,
            provider_id: self.cfg.provider_id,
            provider_root: root,
            published_at: at,
        };
        match registry
            .publish(&link.token, link.slot, &value, &self.signing_key)
            .await
        {
            Ok(_) => {
                let cleared = self
                    .store
                    .with(move |conn| set_meta(conn, "registry_pending", "0"))
                    .await;
                match cleared {
                    Ok(()) => "published".into(),
                    Err(e) => format!("failed: {}", e.message),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "registry publication failed; will retry");
                format!("failed: {e}")
            }
        }
    }

    /// Publishes every `every` (refreshing `published_at` even without changes, so the
    /// root never ages out of a policy's `max_root_age`), and retries a pending registry
    /// notification at once.
    pub fn spawn_scheduler(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let svc = self.clone();
        tokio::spawn(async move {
            let pending = svc
                .store
                .with(|conn| meta(conn, "registry_pending"))
                .await
                .ok()
                .flatten();
            if pending.as_deref() == Some("1") {
                let r = svc.notify_registry().await;
                tracing::info!(registry = %r, "retried pending registry publication");
            }
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                match svc.publish().await {
                    Ok(r) => {
                        tracing::info!(root = %r.root, changes = r.changes_applied, registry = %r.registry, "scheduled publication")
                    }
                    Err(e) => tracing::error!(error = %e, "scheduled publication failed"),
                }
            }
        })
    }
}
