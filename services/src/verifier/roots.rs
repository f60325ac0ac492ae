//! Registry roots as the verifier accepts them (spec §7.0): the registry's answer must be
//! signed by the pinned registry key and fresh; the root must be current or recently
//! retired; and the slot leaves the registry serves must hash to the root and hold exactly
//! the `(role, provider_id)` set the lender pinned (`--expected-slots`), so a registry that
//! dropped a lender or added its own bureau is refused; and every provider root in it must
//! be signed by the key the lender pinned for that provider, so a registry admin who
//! re-registers a slot under the same provider id (new token) cannot publish a root of its
//! own making.

use super::VerifierService;
use std::collections::BTreeMap;
use zkcredit_api::client::RegistryClient;
use zkcredit_api::registry::{verify_provider_root, verify_root_status};
use zkcredit_api::verifier::signal_field;
use zkcredit_api::{unix_now, ApiError, ErrorCode};
use zkcredit_circuits::eligibility::PI_REGISTRY_ROOT;
use zkcredit_circuits::field::{fr_to_be_bytes, fr_to_dec};
use zkcredit_circuits::registry::{Registry, Role};
use zkcredit_circuits::Fr;

/// Seconds a signed registry answer stays acceptable.
pub const MAX_ANSWER_AGE: u64 = 60;

/// Root checks already made during one batch: one registry lookup per distinct root.
pub(super) type RootCache = BTreeMap<String, Result<(), ApiError>>;

fn sorted_set(slots: impl Iterator<Item = (Role, Fr)>) -> Vec<(u8, [u8; 32])> {
    let mut v: Vec<_> = slots
        .filter(|(r, _)| *r != Role::Empty)
        .map(|(r, id)| (r as u8, fr_to_be_bytes(&id)))
        .collect();
    v.sort();
    v
}

impl VerifierService {
    /// Checks `root` (see the module docs), asking the registry once.
    pub(super) async fn check_root(&self, root: &Fr) -> Result<(), ApiError> {
        let registry = RegistryClient::new(self.http.clone(), self.cfg.registry_url.clone());
        let s = registry.root_status(root).await.map_err(|e| {
            // The URL and the transport error stay in the log, never in the answer.
            tracing::warn!(error = %e, "registry unavailable");
            ApiError::of(ErrorCode::RegistryUnavailable)
        })?;
        let now = unix_now();
        verify_root_status(
            &s,
            &fr_to_dec(root),
            &self.cfg.registry_key,
            now,
            MAX_ANSWER_AGE,
        )
        .map_err(|why| {
            tracing::warn!(%why, "registry answer refused");
            ApiError::new(
                ErrorCode::RegistryUntrusted,
                format!("the registry's answer is refused: {why}"),
            )
        })?;
        let recent = s.current
            || s.retired_at
                .is_some_and(|t| now <= t + self.cfg.root_window);
        if !s.known || !recent {
            return Err(ApiError::new(
                ErrorCode::UnknownRegistryRoot,
                "the registry root is not current nor recent",
            )
            .field(signal_field(PI_REGISTRY_ROOT)));
        }
        let mismatch = |m: &str| {
            Err(
                ApiError::new(ErrorCode::RegistrySlotsMismatch, m.to_string())
                    .field(signal_field(PI_REGISTRY_ROOT)),
            )
        };
        let mut reg = match Registry::new(s.slots.len()) {
            Ok(r) => r,
            Err(_) => return mismatch("the registry served no valid slot list for this root"),
        };
        for (i, slot) in s.slots.iter().enumerate() {
            if reg.set(i, *slot).is_err() {
                return mismatch("the registry served an invalid slot for this root");
            }
        }
        if reg.root() != *root {
            return mismatch("the registry's slots do not hash to this root");
        }
        let got = sorted_set(s.slots.iter().map(|s| (s.role, s.provider_id)));
        let want = sorted_set(
            self.cfg
                .expected_slots
                .iter()
                .map(|p| (p.role, p.provider_id)),
        );
        if got != want {
            return mismatch(
                "this root's providers differ from the slot set this lender expects (a provider missing or added)",
            );
        }
        for (i, slot) in s.slots.iter().enumerate() {
            if slot.role == Role::Empty {
                continue;
            }
            let signed = self
                .cfg
                .expected_slots
                .iter()
                .find(|p| p.role == slot.role && p.provider_id == slot.provider_id)
                .ok_or("no pinned key".to_string())
                .and_then(|p| {
                    let sig = s.signatures.get(i).map(String::as_str).unwrap_or("");
                    verify_provider_root(&p.key, slot, sig)
                });
            if let Err(why) = signed {
                tracing::warn!(slot = i, %why, "provider root refused");
                return Err(ApiError::new(
                    ErrorCode::ProviderRootUnsigned,
                    format!("slot {i}: {why}"),
                )
                .field(signal_field(PI_REGISTRY_ROOT)));
            }
        }
        Ok(())
    }

    /// [`Self::check_root`] once per distinct root of a batch.
    pub(super) async fn check_root_cached(
        &self,
        root: &Fr,
        cache: &mut RootCache,
    ) -> Result<(), ApiError> {
        let k = fr_to_dec(root);
        if let Some(r) = cache.get(&k) {
            return r.clone();
        }
        let r = self.check_root(root).await;
        cache.insert(k, r.clone());
        r
    }
}
