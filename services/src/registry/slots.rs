//! The registry's rules for a write (spec §5), the same on every backend: who may publish
//! into a slot, that `published_at` never goes back, the root a set of slots makes and when
//! it becomes current.

use crate::http::ct_eq;
use zkcredit_api::{ApiError, ErrorCode};
use zkcredit_circuits::field::{fr_from_dec, fr_to_dec};
use zkcredit_circuits::registry::{Registry, Role, Slot};
use zkcredit_circuits::Fr;

/// One slot as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotRow {
    /// The slot index.
    pub slot: i64,
    /// [`Role`] as its byte.
    pub role: i64,
    /// Decimal.
    pub provider_id: String,
    /// Decimal.
    pub provider_root: String,
    /// Unix seconds.
    pub published_at: i64,
    /// SHA-256 of the provider's bearer token (hex).
    pub token_sha256: Option<String>,
    /// Where the provider serves witnesses.
    pub endpoint: Option<String>,
    /// The provider's signature of its last root (hex).
    pub signature: Option<String>,
}

/// A change to the slots, checked by `apply` against the stored slots inside the write
/// transaction.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Write {
    /// The admin registers (`Some`) or clears (`None`) `slot`.
    Register {
        /// The slot.
        slot: usize,
        /// Its new value.
        row: Option<SlotRow>,
    },
    /// A provider publishes a root into `slot`, presenting a token whose SHA-256 is `token`.
    Publish {
        /// The slot.
        slot: usize,
        /// SHA-256 of the presented bearer token.
        token: [u8; 32],
        /// The new provider root.
        root: Fr,
        /// When the provider built it.
        published_at: u64,
        /// The provider's signature (hex).
        signature: String,
    },
}

/// Applies `w` to `rows` (the stored slots, by slot): the slot's new row, or `None` when it
/// is cleared. A publication must present the slot's token and must not go back in time.
pub(super) fn apply(
    rows: &mut Vec<SlotRow>,
    w: Write,
) -> Result<(usize, Option<SlotRow>), ApiError> {
    let (slot, new) = match w {
        Write::Register { slot, row } => (slot, row),
        Write::Publish {
            slot,
            token,
            root,
            published_at,
            signature,
        } => {
            let Some(old) = rows.iter().find(|r| r.slot == slot as i64) else {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "no provider registered in this slot",
                ));
            };
            let digest = old.token_sha256.as_deref().ok_or_else(|| {
                ApiError::new(ErrorCode::Forbidden, "no provider registered in this slot")
            })?;
            if !ct_eq(&hex::decode(digest).unwrap_or_default(), &token) {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "this token does not own the slot",
                ));
            }
            // Never back in time; at the same time only the same root (a retried
            // publication), so a stale writer cannot swap a root in at the current time.
            let same =
                (published_at as i64) == old.published_at && old.provider_root == fr_to_dec(&root);
            if (published_at as i64) <= old.published_at && !same {
                return Err(ApiError::new(
                    ErrorCode::PublishedBeforePrevious,
                    format!(
                        "published_at {published_at} is not later than the slot's {} (a new root needs a later time)",
                        old.published_at
                    ),
                )
                .field("published_at"));
            }
            let row = SlotRow {
                provider_root: fr_to_dec(&root),
                published_at: published_at as i64,
                signature: Some(signature),
                ..old.clone()
            };
            (slot, Some(row))
        }
    };
    rows.retain(|r| r.slot != slot as i64);
    if let Some(r) = &new {
        rows.push(r.clone());
        rows.sort_by_key(|r| r.slot);
    }
    Ok((slot, new))
}

/// The native registry of `n` slots holding `rows`.
pub fn registry_of(rows: &[SlotRow], n: usize) -> Result<Registry, ApiError> {
    let mut reg = Registry::new(n).map_err(ApiError::internal)?;
    for r in rows {
        let slot = Slot {
            role: u8::try_from(r.role)
                .ok()
                .and_then(Role::from_u8)
                .ok_or_else(|| ApiError::internal("bad role in store"))?,
            provider_id: fr_from_dec(&r.provider_id).map_err(ApiError::internal)?,
            provider_root: fr_from_dec(&r.provider_root).map_err(ApiError::internal)?,
            published_at: r.published_at as u64,
        };
        let i = usize::try_from(r.slot).map_err(ApiError::internal)?;
        reg.set(i, slot).map_err(ApiError::internal)?;
    }
    Ok(reg)
}

/// Each slot's provider signature as last published ("" for none), in slot order.
fn signatures_of(rows: &[SlotRow], n: usize) -> Vec<String> {
    let mut out = vec![String::new(); n];
    for r in rows {
        if let (Some(sig), Some(o)) = (
            &r.signature,
            usize::try_from(r.slot).ok().and_then(|i| out.get_mut(i)),
        ) {
            o.clone_from(sig);
        }
    }
    out
}

/// What a write records about the root its slots make.
pub(super) struct NextRoot {
    pub(super) root: String,
    pub(super) slots_json: String,
    pub(super) signatures_json: String,
    /// `Some(t)`: the root becomes current at `t`, retiring the current one at `t`.
    pub(super) becomes_current_at: Option<i64>,
}

/// The root `rows` make and, unless it is already the current one, the time it becomes
/// current: `now`, the store's clock (on PostgreSQL the database's, which every replica
/// shares).
pub(super) fn next_root(
    rows: &[SlotRow],
    n: usize,
    current: Option<String>,
    now: i64,
) -> Result<NextRoot, ApiError> {
    let reg = registry_of(rows, n)?;
    let root = fr_to_dec(&reg.root());
    // Always the slots' current signatures: the leaves are the same (the root is), so only
    // a signature missing before (a store from before provider signatures) can change.
    let signatures = signatures_of(rows, n);
    let becomes_current_at = (current.as_deref() != Some(root.as_str())).then_some(now);
    Ok(NextRoot {
        slots_json: serde_json::to_string(reg.slots()).map_err(ApiError::internal)?,
        signatures_json: serde_json::to_string(&signatures).map_err(ApiError::internal)?,
        root,
        becomes_current_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(slot: i64, token: &str, published_at: i64) -> SlotRow {
        SlotRow {
            slot,
            role: Role::Lender as u8 as i64,
            provider_id: "7".into(),
            provider_root: "0".into(),
            published_at,
            token_sha256: Some(hex::encode(crate::http::sha(token))),
            endpoint: None,
            signature: None,
        }
    }

    fn publish(slot: usize, token: &str, published_at: u64) -> Write {
        Write::Publish {
            slot,
            token: crate::http::sha(token),
            root: Fr::from(9u64),
            published_at,
            signature: "ab".into(),
        }
    }

    #[test]
    fn a_publication_needs_the_slots_token_and_never_goes_back() {
        let mut rows = vec![row(1, "token-of-slot-one", 100)];
        let e = apply(&mut rows, publish(2, "token-of-slot-one", 200)).unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        let e = apply(&mut rows, publish(1, "another-token-xyz", 200)).unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        let e = apply(&mut rows, publish(1, "token-of-slot-one", 99)).unwrap_err();
        assert_eq!(e.code, ErrorCode::PublishedBeforePrevious);
        assert_eq!(rows, vec![row(1, "token-of-slot-one", 100)], "unchanged");
        // Regression (review of the PostgreSQL takeover): another root at the slot's own
        // time was taken — a stale writer could swap its root in at the current time.
        let e = apply(&mut rows, publish(1, "token-of-slot-one", 100)).unwrap_err();
        assert_eq!(e.code, ErrorCode::PublishedBeforePrevious);
        assert_eq!(rows, vec![row(1, "token-of-slot-one", 100)], "unchanged");
        let (slot, new) = apply(&mut rows, publish(1, "token-of-slot-one", 101)).unwrap();
        assert_eq!(slot, 1);
        let new = new.unwrap();
        assert_eq!((new.provider_root.as_str(), new.published_at), ("9", 101));
        assert_eq!(rows, vec![new.clone()]);
        // The same root at the same time again (a retried publication) is taken.
        let (_, again) = apply(&mut rows, publish(1, "token-of-slot-one", 101)).unwrap();
        assert_eq!(again, Some(new));
    }

    #[test]
    fn a_new_root_becomes_current_unless_it_already_is() {
        let rows = vec![row(1, "token-of-slot-one", 0)];
        let first = next_root(&rows, 4, None, 2_000).unwrap();
        assert_eq!(first.becomes_current_at, Some(2_000));
        let same = next_root(&rows, 4, Some(first.root.clone()), 3_000).unwrap();
        assert_eq!(same.becomes_current_at, None, "already current");
    }
}
