//! Publication: apply the journal, persist, tell the registry (now, on a schedule, and
//! again after a restart while the registry has not acknowledged).

use super::{PublishReport, Published, TreeService};
use std::time::Instant;
use zkcredit_api::client::RegistryClient;
use zkcredit_api::ApiError;
use zkcredit_circuits::field::fr_to_dec;
use zkcredit_circuits::registry::Slot;

impl TreeService {
    /// Applies the journal, persists the tree in one transaction, and tells the registry.
    /// An explicit publication (an import's last part, the operator's) ends an import hold.
    pub async fn publish(&self) -> Result<PublishReport, ApiError> {
        let guard = self.publish_lock.lock().await;
        self.pace().await;
        self.publish_locked(guard, true).await
    }

    /// [`Self::publish`] under the publication lock; `explicit`: ends an import hold (a
    /// scheduled publication never does: a refresh that runs during an import leaves the
    /// rest of the import held).
    async fn publish_locked(
        &self,
        _guard: tokio::sync::MutexGuard<'_, ()>,
        explicit: bool,
    ) -> Result<PublishReport, ApiError> {
        let depth = self.cfg.depth;
        let t = Instant::now();
        let out = match self.db.publish(depth).await {
            Ok(o) => o,
            Err(e) => {
                // The commit may have happened even so (its acknowledgement lost with the
                // connection): what this process reports is what the store holds.
                match self.db.published(depth).await {
                    Ok((root, published_at, counts)) => {
                        *self.state.write().unwrap_or_else(|p| p.into_inner()) = Published {
                            root,
                            published_at,
                            counts,
                        }
                    }
                    Err(r) => {
                        tracing::error!(error = %r, "cannot read the tree back after a failed publication")
                    }
                }
                return Err(e);
            }
        };
        super::crash_point("publish:after-commit");
        if explicit {
            self.end_hold().await;
        }
        let seconds = t.elapsed().as_secs_f64();
        *self.state.write().unwrap_or_else(|p| p.into_inner()) = Published {
            root: out.root,
            published_at: out.published_at,
            counts: out.counts,
        };
        let mut report = PublishReport {
            root: fr_to_dec(&out.root),
            published_at: out.published_at,
            rows: out.counts.len as usize,
            changes_applied: out.changes,
            rebuilt: out.rebuilt,
            tree_seconds: out.apply_seconds,
            persist_seconds: (seconds - out.apply_seconds).max(0.0),
            registry: String::new(),
        };
        // Erasure (spec §4.4): a deleted row's old page images stay in the WAL until it is
        // checkpointed; copy it into the database file (where `secure_delete` has zeroed
        // them) and truncate it. The publication stands either way.
        if let Err(e) = self.db.after_publish().await {
            tracing::warn!(error = %e, "WAL checkpoint after publication failed");
        }
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

    /// Publications are stamped in whole seconds and the registry takes a new root only at a
    /// later time (spec §7.0), so a publication waits for the clock to pass the previous
    /// one's second (at most ~3 s; a clock stepped back further is not waited for, and the
    /// stamp is then the previous one + 1). Bursts of publications stay on the clock
    /// instead of drifting ahead of it past the registry's future-skew bound.
    async fn pace(&self) {
        let previous = self
            .state
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .published_at;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let until_ms = previous.saturating_add(1).saturating_mul(1_000);
        if until_ms > now_ms && until_ms - now_ms <= 3_000 {
            tokio::time::sleep(std::time::Duration::from_millis(until_ms - now_ms)).await;
        }
    }

    /// Sends the current root, signed with the provider's key, to the registry.
    async fn notify_registry(&self) -> String {
        let Some(link) = &self.cfg.registry else {
            // Nothing to acknowledge: without this, a provider with no registry looked
            // unacknowledged forever and the scheduler republished it at every tick.
            if let Err(e) = self.db.clear_registry_pending().await {
                tracing::warn!(error = %e, "cannot clear the registry flag");
            }
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
                let cleared = self.db.clear_registry_pending().await;
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

    /// Whether the published root is as old as the refresh interval.
    fn refresh_due(&self, every: Option<std::time::Duration>) -> bool {
        let at = self
            .state
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .published_at;
        every.is_some_and(|d| {
            !d.is_zero() && zkcredit_api::unix_now().saturating_sub(at) >= d.as_secs()
        })
    }

    /// Whether the journal holds staged changes or the registry has not acknowledged the
    /// last publication.
    pub(super) async fn pending(&self) -> Result<(u64, bool), ApiError> {
        self.db.pending().await
    }

    /// Starts ready, then keeps the registry current (issue 18):
    /// - at start, a tree never published is published (the empty tree included), and a
    ///   published one is sent to the registry again (it may have lost it, or the slot may
    ///   have been re-registered);
    /// - every `schedule.pending_every`, staged changes are published and an
    ///   unacknowledged registry notification is retried;
    /// - every `schedule.refresh_every`, the tree is published even without changes
    ///   (refreshing `published_at`, so the root never ages out of a policy's `max_root_age`);
    /// - while an import in parts holds the schedule, pending publications wait, a refresh
    ///   that is due does not;
    /// - at every tick, what a publication left to remove and could not is removed (spec
    ///   §4.4, SQLite).
    pub fn spawn_scheduler(&self, schedule: Schedule) -> tokio::task::JoinHandle<()> {
        let svc = self.clone();
        tokio::spawn(async move {
            let never = svc
                .state
                .read()
                .map(|g| g.published_at == 0)
                .unwrap_or(true);
            if never {
                match svc.publish().await {
                    Ok(r) => {
                        tracing::info!(root = %r.root, registry = %r.registry, "published at start")
                    }
                    Err(e) => tracing::error!(error = %e, "publication at start failed"),
                }
            } else {
                let r = svc.notify_registry().await;
                tracing::info!(registry = %r, "sent the published root to the registry at start");
            }
            let tick = |d: Option<std::time::Duration>| {
                d.filter(|d| !d.is_zero()).map(|d| {
                    let mut i = tokio::time::interval(d);
                    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    i
                })
            };
            // Set when a tick's clean-up removed something, until the WAL truncation after it
            // succeeds (a start-up clean-up truncates on its own, as a publication does).
            let mut truncate_due = false;
            let mut pending_tick = tick(schedule.pending_every);
            let mut refresh_tick = tick(schedule.refresh_every);
            // The first tick of an interval fires at once; start has just been handled.
            if let Some(t) = pending_tick.as_mut() {
                t.tick().await;
            }
            if let Some(t) = refresh_tick.as_mut() {
                t.tick().await;
            }
            loop {
                let refresh = tokio::select! {
                    _ = async { pending_tick.as_mut().unwrap().tick().await }, if pending_tick.is_some() => false,
                    _ = async { refresh_tick.as_mut().unwrap().tick().await }, if refresh_tick.is_some() => true,
                    else => return,
                };
                // What a publication left to remove and could not (a full disk): again; then
                // the WAL truncated (erasure), again at every tick until that succeeds.
                match svc.db.clean_up().await {
                    Ok(removed) => truncate_due |= removed,
                    Err(e) => {
                        tracing::warn!(error = %e, "removing what a publication replaced failed; retried at the next tick")
                    }
                }
                if truncate_due {
                    match svc.db.after_publish().await {
                        Ok(()) => truncate_due = false,
                        Err(e) => {
                            tracing::warn!(error = %e, "WAL checkpoint after a clean-up failed; retried at the next tick")
                        }
                    }
                }
                // An import in parts holds the schedule (publish once it is complete), but
                // never past the point where the root would age: a refresh that is due runs.
                while svc.held() && !svc.refresh_due(schedule.refresh_every) {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
                let due = match svc.pending().await {
                    Ok((changes, registry_pending)) => refresh || changes > 0 || registry_pending,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the journal");
                        false
                    }
                };
                if !due {
                    continue;
                }
                // Checked again under the publication lock, after pacing: a hold that began
                // meanwhile (an import's first part) is honoured.
                let guard = svc.publish_lock.lock().await;
                svc.pace().await;
                if svc.held() && !svc.refresh_due(schedule.refresh_every) {
                    continue;
                }
                match svc.publish_locked(guard, false).await {
                    Ok(r) => {
                        tracing::info!(root = %r.root, changes = r.changes_applied, registry = %r.registry, refresh, "scheduled publication")
                    }
                    Err(e) => tracing::error!(error = %e, "scheduled publication failed"),
                }
            }
        })
    }
}

/// When a tree service publishes on its own ([`TreeService::spawn_scheduler`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Schedule {
    /// Publish staged changes (and retry an unacknowledged registry notification) this often.
    pub pending_every: Option<std::time::Duration>,
    /// Publish even without changes this often (refreshing `published_at`).
    pub refresh_every: Option<std::time::Duration>,
}
