//! Revoked attestations at the providers (spec §7.2, issue 10 finding 8). Before a witness is
//! answered, the attested (subject key, holder key) is looked up in the issuer's revocation
//! list: a provider fetches the list (`GET /v1/revocations`, signed by the issuer key it
//! pins) and caches it for [`REFRESH`]; when it cannot get a list generated less than
//! [`MAX_AGE`] seconds ago, it answers no witness at all (503 `revocations_unavailable`:
//! fail closed). A provider with no issuer configured fails closed too. The issuer's own
//! KYC tree reads its store directly.
//!
//! A fetched list replaces the cached one only if it is not older (by `generated_at`): an
//! on-path attacker replaying an earlier signed list cannot undo a revocation the provider
//! has already seen. One fetch is in flight at a time and no lock is held across it: while
//! it runs, other witness requests use the cached list if it is still within [`MAX_AGE`].

use crate::store::P;
use ed25519_dalek::VerifyingKey;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
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
}

/// Where a tree learns revocations.
pub(crate) enum Source {
    /// None configured: every witness request is refused.
    Unconfigured,
    /// The issuer's service; its list is signed by `issuer_key`.
    Issuer(Arc<Remote>),
    /// The issuer's own store (the issuer's KYC tree).
    Local(crate::issuer::IssuerDb),
}

/// The issuer's service as a source.
pub(crate) struct Remote {
    client: IssuerClient,
    issuer_key: VerifyingKey,
    refresh: Duration,
    cache: RwLock<Option<Arc<Cached>>>,
    fetching: Arc<tokio::sync::Mutex<()>>,
    /// When the last fetch ended (kept or not): a refused list is not asked for again
    /// before `refresh`.
    last_attempt: std::sync::Mutex<Option<Instant>>,
}

impl Remote {
    fn current(&self) -> Option<Arc<Cached>> {
        self.cache.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Fetches the list and keeps it unless it is older than the cached one.
    async fn refresh_now(&self) {
        match fetch(&self.client, &self.issuer_key).await {
            Ok(c) => {
                let mut g = self.cache.write().unwrap_or_else(|p| p.into_inner());
                match g.as_ref() {
                    Some(old) if c.generated_at < old.generated_at => tracing::warn!(
                        cached = old.generated_at,
                        offered = c.generated_at,
                        "an older revocation list than the cached one was refused (replayed?)"
                    ),
                    _ => *g = Some(Arc::new(c)),
                }
            }
            Err(e) => tracing::warn!(error = %e, "revocation list not refreshed"),
        }
    }

    /// The list to check against: refreshed if due, without waiting for a fetch already in
    /// flight while the cached list is still usable. The fetch runs as its own task, so a
    /// client that disconnects does not cancel it.
    async fn list(self: &Arc<Self>) -> Option<Arc<Cached>> {
        let current = self.current();
        let due = self
            .last_attempt
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none_or(|t| t.elapsed() >= self.refresh);
        if !due {
            return current;
        }
        match self.fetching.clone().try_lock_owned() {
            Ok(guard) => {
                let me = self.clone();
                let task = tokio::spawn(async move {
                    me.refresh_now().await;
                    *me.last_attempt.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(Instant::now());
                    drop(guard);
                });
                let _ = task.await;
                self.current()
            }
            Err(_) if current.as_deref().is_some_and(usable) => current,
            Err(_) => {
                // No usable list: wait for the fetch in flight, then take what it got.
                let _g = self.fetching.lock().await;
                self.current()
            }
        }
    }
}

fn usable(c: &Cached) -> bool {
    unix_now().saturating_sub(c.generated_at) <= MAX_AGE
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
        Source::Issuer(Arc::new(Remote {
            client: IssuerClient::new(http, url),
            issuer_key,
            refresh,
            cache: RwLock::new(None),
            fetching: Arc::new(tokio::sync::Mutex::new(())),
            last_attempt: std::sync::Mutex::new(None),
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
                    .read(move |s| {
                        s.row(
                            "SELECT 1 FROM revocations WHERE subject_key = $1 AND holder_key = $2",
                            &[P::T(&k), P::T(&h)],
                        )
                    })
                    .await?;
                match hit {
                    Some(_) => Err(revoked()),
                    None => Ok(()),
                }
            }
            Source::Issuer(r) => {
                let c = r.list().await.filter(|c| usable(c)).ok_or_else(|| {
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use ed25519_dalek::SigningKey;
    use tokio::sync::{Notify, Semaphore};
    use zkcredit_api::issuer::RevocationList;

    const GATE: usize = 1024;

    /// A stand-in issuer serving whatever signed list the test sets, optionally stalling.
    struct Fake {
        list: std::sync::Mutex<RevocationList>,
        entered: Notify,
        gate: Semaphore,
    }

    async fn fake_issuer(first: RevocationList) -> (Arc<Fake>, String) {
        let fake = Arc::new(Fake {
            list: std::sync::Mutex::new(first),
            entered: Notify::new(),
            gate: Semaphore::new(GATE),
        });
        let f = fake.clone();
        let app = axum::Router::new().route(
            "/v1/revocations",
            get(move || {
                let f = f.clone();
                async move {
                    f.entered.notify_one();
                    let _p = f.gate.acquire().await.expect("gate open");
                    axum::Json(f.list.lock().unwrap().clone())
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await });
        (fake, url)
    }

    fn parties() -> (SigningKey, Fr, [u8; 32], VerifyingKey) {
        let issuer = SigningKey::from_bytes(&[3u8; 32]);
        let holder = SigningKey::from_bytes(&[4u8; 32]).verifying_key();
        (issuer, Fr::from(42u64), *holder.as_bytes(), holder)
    }

    /// Issue 10, lower finding: a provider took any signed list up to `MAX_AGE` old, even
    /// over a newer cached one, so a replayed pre-revocation list undid a revocation.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn regression_an_older_revocation_list_never_replaces_a_newer_one() {
        let (issuer, subject, holder, hk) = parties();
        let now = unix_now();
        let newer = RevocationList::sign(&issuer, &[(subject, hk, now - 5)], now - 5);
        let older = RevocationList::sign(&issuer, &[], now - 60);
        let (fake, url) = fake_issuer(newer).await;
        let src = Source::issuer(
            reqwest::Client::new(),
            &url,
            issuer.verifying_key(),
            Duration::ZERO,
        );
        let code = |r: Result<(), ApiError>| r.map_err(|e| e.code);
        assert_eq!(
            code(src.check(&subject, &holder).await),
            Err(ErrorCode::AttestationRevoked)
        );
        *fake.list.lock().unwrap() = older;
        assert_eq!(
            code(src.check(&subject, &holder).await),
            Err(ErrorCode::AttestationRevoked),
            "the replayed older list must not undo the revocation"
        );
        // A newer list (the revocation lifted by the issuer, say) is taken.
        *fake.list.lock().unwrap() = RevocationList::sign(&issuer, &[], now);
        assert_eq!(code(src.check(&subject, &holder).await), Ok(()));
    }

    /// Issue 10, lower finding: the cache lock was held across the fetch, so one slow issuer
    /// answer held up every witness request. Now a request arriving during a fetch uses the
    /// cached list (still within `MAX_AGE`) instead of waiting.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn regression_a_slow_issuer_does_not_hold_up_witness_requests() {
        let (issuer, subject, holder, _) = parties();
        let now = unix_now();
        let (fake, url) = fake_issuer(RevocationList::sign(&issuer, &[], now)).await;
        let src = Arc::new(Source::issuer(
            reqwest::Client::new(),
            &url,
            issuer.verifying_key(),
            Duration::ZERO,
        ));
        src.check(&subject, &holder).await.unwrap();
        fake.entered.notified().await; // the first fetch's signal
        let held = fake.gate.acquire_many(GATE as u32).await.unwrap();
        let stalled = {
            let src = src.clone();
            tokio::spawn(async move { src.check(&subject, &holder).await })
        };
        fake.entered.notified().await; // the stalled fetch is in flight
        let other = tokio::time::timeout(Duration::from_secs(60), src.check(&subject, &holder))
            .await
            .expect("a request during a fetch must not wait for it");
        other.unwrap();
        assert!(!stalled.is_finished(), "the first fetch is still stalled");
        drop(held);
        stalled.await.unwrap().unwrap();
    }
}
