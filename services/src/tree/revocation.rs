//! Revoked attestations at the providers (spec §7.2, issue 10 finding 8). Before a witness is
//! answered, the attested (subject key, holder key) is looked up in the issuer's revocation
//! list: a provider fetches the list (`GET /v1/revocations`, signed by the issuer key it
//! pins) and caches it for [`REFRESH`]; when it cannot get a list generated less than
//! [`MAX_AGE`] seconds ago, it answers no witness at all (503 `revocations_unavailable`:
//! fail closed). A provider with no issuer configured fails closed too. The issuer's own
//! KYC tree reads its store directly.

use crate::store::{db, Store};
use ed25519_dalek::VerifyingKey;
use rusqlite::OptionalExtension;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use zkcredit_api::client::IssuerClient;
use zkcredit_api::{unix_now, ApiError, ErrorCode};
use zkcredit_circuits::field::fr_to_dec;
use zkcredit_circuits::Fr;

/// How long a fetched list is used before the provider asks again.
pub const REFRESH: Duration = Duration::from_secs(30);
/// Oldest list (by the issuer's `generated_at`) a provider still trusts, seconds.
pub const MAX_AGE: u64 = 120;

pub(crate) struct Cached {
    revoked: HashSet<(Fr, [u8; 32])>,
    generated_at: u64,
    fetched: Instant,
}

/// Where a tree learns revocations.
pub(crate) enum Source {
    /// None configured: every witness request is refused.
    Unconfigured,
    /// The issuer's service; its list is signed by `issuer_key`.
    Issuer(Box<Remote>),
    /// The issuer's own store (the issuer's KYC tree).
    Local(Store),
}

/// The issuer's service as a source.
pub(crate) struct Remote {
    client: IssuerClient,
    issuer_key: VerifyingKey,
    refresh: Duration,
    cache: tokio::sync::Mutex<Option<Cached>>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Unconfigured => f.write_str("Unconfigured"),
            Source::Issuer(r) => write!(f, "Issuer({})", r.client.0.base()),
            Source::Local(_) => f.write_str("Local"),
        }
    }
}

fn unavailable(msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::RevocationsUnavailable, msg)
}

fn revoked() -> ApiError {
    ApiError::of(ErrorCode::AttestationRevoked).field("attestation")
}

impl Source {
    /// The issuer at `url`, whose lists must be signed by `issuer_key`, asked again after
    /// `refresh`.
    pub(crate) fn issuer(
        http: reqwest::Client,
        url: &str,
        issuer_key: VerifyingKey,
        refresh: Duration,
    ) -> Self {
        Source::Issuer(Box::new(Remote {
            client: IssuerClient::new(http, url),
            issuer_key,
            refresh,
            cache: tokio::sync::Mutex::new(None),
        }))
    }

    /// Refuses a revoked (subject, holder) pair, or any pair when no fresh list is at hand.
    pub(crate) async fn check(&self, subject: &Fr, holder: &[u8; 32]) -> Result<(), ApiError> {
        match self {
            Source::Unconfigured => Err(unavailable(
                "this provider has no issuer to take revocations from",
            )),
            Source::Local(store) => {
                let (k, h) = (fr_to_dec(subject), hex::encode(holder));
                let hit = store
                    .with(move |conn| {
                        conn.query_row(
                            "SELECT 1 FROM revocations WHERE subject_key = ?1 AND holder_key = ?2",
                            [k, h],
                            |_| Ok(()),
                        )
                        .optional()
                        .map_err(db)
                    })
                    .await?;
                match hit {
                    Some(()) => Err(revoked()),
                    None => Ok(()),
                }
            }
            Source::Issuer(r) => {
                let mut g = r.cache.lock().await;
                let fresh = g.as_ref().is_some_and(|c| c.fetched.elapsed() < r.refresh);
                if !fresh {
                    match fetch(&r.client, &r.issuer_key).await {
                        Ok(c) => *g = Some(c),
                        Err(e) => tracing::warn!(error = %e, "revocation list not refreshed"),
                    }
                }
                let c = g
                    .as_ref()
                    .filter(|c| unix_now().saturating_sub(c.generated_at) <= MAX_AGE)
                    .ok_or_else(|| {
                        unavailable(format!(
                            "no revocation list from the issuer newer than {MAX_AGE} s"
                        ))
                    })?;
                if c.revoked.contains(&(*subject, *holder)) {
                    return Err(revoked());
                }
                Ok(())
            }
        }
    }
}

async fn fetch(client: &IssuerClient, issuer_key: &VerifyingKey) -> Result<Cached, String> {
    let list = client.revocations().await.map_err(|e| e.to_string())?;
    let revoked = list
        .verify(issuer_key)
        .map_err(|e| format!("revocation list refused: {e}"))?;
    let now = unix_now();
    if list.generated_at > now + MAX_AGE {
        return Err(format!(
            "revocation list dated {} is ahead of the clock",
            list.generated_at
        ));
    }
    Ok(Cached {
        revoked,
        generated_at: list.generated_at,
        fetched: Instant::now(),
    })
}
