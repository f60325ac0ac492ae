//! Choosing the origination index (spec §6.10). Under a policy with a new-loan limit
//! (`max_new_loans = k > 0`) the proof shows one of the borrower's k tags of the epoch; a tag
//! any lender recorded is refused. The wallet asks about its tags j = 0, 1, … in order and
//! proves with the first unused one; when all k are used it says so, and when the next epoch
//! starts.
//!
//! What the party asked learns: the tags asked about — the one the proof will show, and the
//! used ones before it — hence how many of the borrower's new loans of this epoch are
//! recorded. A party that lies "used" collects more of the borrower's tags of the epoch (at
//! most `MAX_QUESTIONS`), which it could record to lock the borrower out or watch for
//! (SPEC §6.10, open). Asking stops at the first unused tag.

use crate::wallet::WalletError;
use std::future::Future;
use zkcredit_api::client::VerifierClient;
use zkcredit_api::verifier::ProofRequest;
use zkcredit_circuits::eligibility::{
    epoch_of, next_epoch_start, origination_tag, EligibilityWitness,
};
use zkcredit_circuits::tags::EPOCH_SECONDS;
use zkcredit_circuits::Fr;

/// At most this many tags are asked about (a policy may set a very large limit).
pub const MAX_QUESTIONS: u64 = 64;

/// Sets `witness.origination_index` to the first index whose tag `is_used` answers unused.
/// Without a limit nothing is asked (the tag is 0). All `min(k, MAX_QUESTIONS)` used:
/// [`WalletError::NewLoanLimitReached`], nothing proved or sent.
pub async fn choose<F, Fut>(
    witness: &mut EligibilityWitness,
    mut is_used: F,
) -> Result<(), WalletError>
where
    F: FnMut(Fr) -> Fut,
    Fut: Future<Output = Result<bool, WalletError>>,
{
    let k = witness.policy.max_new_loans;
    if k == 0 {
        return Ok(());
    }
    let epoch = epoch_of(witness.now);
    for j in 0..k.min(MAX_QUESTIONS) {
        if !is_used(origination_tag(&witness.holder_secret, epoch, j)).await? {
            witness.origination_index = j;
            return Ok(());
        }
    }
    Err(WalletError::NewLoanLimitReached {
        limit: k,
        asked: k.min(MAX_QUESTIONS),
        next_epoch: next_epoch_start(epoch),
    })
}

/// [`choose`], asking the lender's verifier (`GET /v1/requests/{nonce}/originations/{tag}`).
pub async fn choose_at_verifier(
    verifier: &VerifierClient,
    req: &ProofRequest,
    witness: &mut EligibilityWitness,
) -> Result<(), WalletError> {
    choose(witness, |tag| async move {
        Ok(verifier.origination_status(&req.nonce, &tag).await?.used)
    })
    .await
}

/// `"1 new loan"`, `"2 new loans"`.
pub fn new_loans(n: u64) -> String {
    format!("{n} new loan{}", if n == 1 { "" } else { "s" })
}

/// The policy's limit in words, e.g. "at most 2 new loans per 30-day period across every
/// lender that checks this limit (this one included)".
pub fn limit_in_words(k: u64) -> String {
    format!(
        "at most {} per {}-day period across every lender that checks this limit \
         (this one included)",
        new_loans(k),
        EPOCH_SECONDS / 86_400
    )
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC` (proleptic Gregorian calendar).
pub fn utc(t: u64) -> String {
    let (days, secs) = (t / 86_400, t % 86_400);
    // Howard Hinnant's days-to-civil, for days since 1970-01-01 (non-negative here).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3_600,
        secs % 3_600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use zkcredit_circuits::eligibility::Policy;

    /// Runs a future that never waits (the fake answers below are immediate).
    fn run<T>(f: impl Future<Output = T>) -> T {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the fake answers are immediate"),
        }
    }

    fn witness(k: u64, now: u64) -> EligibilityWitness {
        let policy: Policy = serde_json::from_str(&format!(
            r#"{{"max_active_loans":3,"max_outstanding":1,"max_arrears_days":0,"min_score":0,
               "max_score_age":1,"max_root_age":1,"min_kyc_age":0,"max_new_loans":{k}}}"#
        ))
        .unwrap();
        EligibilityWitness {
            holder_secret: Fr::from(99u64),
            subject_key: Fr::from(5u64),
            policy,
            now,
            scope: Fr::from(1u64),
            context: Fr::from(2u64),
            origination_index: 0,
            slots: vec![],
        }
    }

    #[test]
    fn picks_the_first_unused_tag_asking_in_order_and_stops() {
        let now = 1_790_000_000;
        let mut w = witness(3, now);
        let tags: Vec<Fr> = (0..3)
            .map(|j| origination_tag(&w.holder_secret, epoch_of(now), j))
            .collect();
        let mut asked = Vec::new();
        let first = tags[0];
        run(choose(&mut w, |t| {
            asked.push(t);
            async move { Ok(t == first) }
        }))
        .unwrap();
        assert_eq!(w.origination_index, 1);
        assert_eq!(asked, tags[..2], "asked j = 0, 1 and stopped");
        // Without a limit nothing is asked.
        let mut w = witness(0, now);
        run(choose(&mut w, |_| async {
            panic!("asked without a limit")
        }))
        .unwrap();
        // All used: the limit, in words, with the next period's start; nothing chosen.
        let mut w = witness(2, now);
        match run(choose(&mut w, |_| async { Ok(true) })) {
            Err(
                e @ WalletError::NewLoanLimitReached {
                    limit: 2,
                    asked: 2,
                    next_epoch,
                },
            ) => {
                assert_eq!(next_epoch, next_epoch_start(epoch_of(now)));
                let text = e.to_string();
                assert!(
                    text.contains("at most 2 new loans per 30-day period"),
                    "{text}"
                );
                assert!(text.contains(&utc(next_epoch)), "{text}");
            }
            other => panic!("{other:?}"),
        }
        // A huge limit asks at most MAX_QUESTIONS times.
        let mut w = witness(u64::MAX, now);
        let mut n = 0;
        assert!(run(choose(&mut w, |_| {
            n += 1;
            async { Ok(true) }
        }))
        .is_err());
        assert_eq!(n, MAX_QUESTIONS);
        // A failing question is the error, not a choice.
        let mut w = witness(2, now);
        assert!(matches!(
            run(choose(&mut w, |_| async {
                Err(WalletError::Io("down".into()))
            })),
            Err(WalletError::Io(_))
        ));
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_790_000_000), "2026-09-21 14:13 UTC");
        assert_eq!(utc(4_102_444_800 - 60), "2099-12-31 23:59 UTC");
    }

    #[test]
    fn limit_words() {
        assert!(limit_in_words(1).starts_with("at most 1 new loan per 30-day period"));
        assert!(limit_in_words(3).starts_with("at most 3 new loans per"));
    }
}
