//! The cross-lender new-loan limit off chain (spec §6.10), over real HTTP with real proofs:
//! lenders' verifiers on one store (PostgreSQL: each lender its own schema, the alliance's
//! shared origination schema; SQLite: one file) record each proof's origination tag with
//! its nullifier. With `max_new_loans = k` a borrower is accepted by k lenders in an epoch,
//! the (k+1)-th lender refuses `origination_limit_reached` (and says so when the wallet asks
//! first), a replayed tag is refused, two lenders racing for one tag accept it once, and a
//! tag of another epoch than the verifier's clock is refused.

#[macro_use]
mod verifier_env;

use verifier_env::*;
use zkcredit_api::client::VerifierClient;
use zkcredit_api::unix_now;
use zkcredit_api::verifier::{request_scope, ProofRequest, Submission};
use zkcredit_api::ErrorCode;
use zkcredit_circuits::eligibility::{
    epoch_of, next_epoch_start, origination_tag, EligibilityWitness, Policy,
};
use zkcredit_circuits::field::fr_from_dec;
use zkcredit_services::server::Running;
use zkcredit_services::verifier::VerifierConfig;
use zkcredit_testkit::scenario::{example_policy, Borrower};
use zkcredit_verifier::snarkjs::{public_to_json, ProofJson};
use zkcredit_wallet::WalletError;

on_both_backends!(
    k_lenders_accept_then_every_other_lender_refuses_until_the_next_epoch,
    two_lenders_racing_for_one_tag_accept_it_once,
);

const K: u64 = 2;
const DAY: u64 = 86_400;

/// The limited policy; its roots may be 40 days old, so a lender with a wide clock skew
/// can take a proof dated in the next epoch (the test's stand-in for waiting a month).
fn limited() -> Policy {
    Policy {
        max_new_loans: K,
        max_root_age: 40 * DAY,
        ..example_policy()
    }
}

struct Lender {
    _server: Running,
    client: VerifierClient,
}

/// Lender `n`: its own verifier id, product and scope, offering [`limited`]; on SQLite all
/// lenders share one file (the limit holds across what one store records), on PostgreSQL
/// each has its schema and all share the origination schema.
async fn lender(e: &Env, n: u8, max_skew: u64) -> Lender {
    let cfg = VerifierConfig {
        verifier_id: [0x40 + n; 32],
        name: format!("lender {n}"),
        product: format!("credit-{n}"),
        policies: vec![limited()],
        max_skew,
        ..config(e.registry.url(), &e.registry_key, &e.world)
    };
    let name = match e.backend {
        Backend::Sqlite => "shared".to_string(),
        Backend::Postgres(_) => format!("lender-{n}"),
    };
    let server = e.start_verifier(&name, cfg).await;
    let client = VerifierClient::new(e.http.clone(), server.url());
    Lender {
        _server: server,
        client,
    }
}

async fn request(l: &Lender) -> ProofRequest {
    l.client
        .create_request(
            LENDER,
            &zkcredit_api::verifier::NewRequest {
                policy: limited(),
                ttl_seconds: 600,
            },
        )
        .await
        .unwrap()
}

/// `who`'s witness answering `req` at `now` (origination index 0).
fn witness(e: &Env, who: &Borrower, req: &ProofRequest, now: u64) -> EligibilityWitness {
    let scope = fr_from_dec(&req.scope).unwrap();
    let context = fr_from_dec(&req.context).unwrap();
    e.world
        .witness(who, limited(), now, scope, context)
        .unwrap()
}

/// `who`'s proof answering `req` at `now` with origination index `j`.
fn submission(e: &Env, who: &Borrower, req: &ProofRequest, now: u64, j: u64) -> Submission {
    let mut w = witness(e, who, req, now);
    w.origination_index = j;
    let (proof, public) = zkcredit_prover::prove_eligibility(prover(), P, w).unwrap();
    Submission::groth16(
        ProofJson::from_proof(&proof),
        public_to_json(&public.to_vec()),
    )
}

/// The index the wallet picks for `who` answering `req` at `now`, asking lender `l`.
async fn wallet_choice(
    e: &Env,
    who: &Borrower,
    l: &Lender,
    req: &ProofRequest,
    now: u64,
) -> Result<u64, WalletError> {
    let mut w = witness(e, who, req, now);
    zkcredit_wallet::origination::choose_at_verifier(&l.client, req, &mut w).await?;
    Ok(w.origination_index)
}

async fn used(l: &Lender, req: &ProofRequest, who: &Borrower, now: u64, j: u64) -> bool {
    let tag = origination_tag(&who.holder_secret, epoch_of(now), j);
    l.client
        .origination_status(&req.nonce, &tag)
        .await
        .unwrap()
        .used
}

async fn k_lenders_accept_then_every_other_lender_refuses_until_the_next_epoch(backend: Backend) {
    let e = env_on(backend).await;
    let b = e.borrower;
    let now = unix_now();
    let lenders = [
        lender(&e, 0, 300).await,
        lender(&e, 1, 300).await,
        lender(&e, 2, 300).await,
        lender(&e, 3, 300).await,
    ];
    // Lender j accepts the borrower's j-th tag of the epoch, j < K.
    for (j, l) in lenders.iter().take(K as usize).enumerate() {
        let req = request(l).await;
        assert!(!used(l, &req, &b, now, j as u64).await);
        // The wallet asks in order and picks index j (the ones before are used).
        assert_eq!(wallet_choice(&e, &b, l, &req, now).await.unwrap(), j as u64);
        let sub = submission(&e, &b, &req, now, j as u64);
        l.client.verify(&sub).await.unwrap();
        assert!(used(l, &req, &b, now, j as u64).await);
        // Replayed (the same submission again): its nullifier is recorded for this request.
        // Regression: this retry was first answered `origination_limit_reached` (the tag
        // was checked before the nullifier); an accepted application stays accepted.
        refused(l.client.verify(&sub).await, 409, ErrorCode::AlreadyAccepted);
    }
    // The (K+1)-th application, at either lender that has not lent: both tags are used, as
    // the wallet sees before proving, and a proof with either is refused.
    for l in &lenders[K as usize..] {
        let req = request(l).await;
        match wallet_choice(&e, &b, l, &req, now).await {
            Err(WalletError::NewLoanLimitReached {
                limit: K, asked: K, ..
            }) => {}
            other => panic!("the wallet must say the limit is reached: {other:?}"),
        }
        for j in 0..K {
            assert!(used(l, &req, &b, now, j).await, "index {j}");
            let sub = submission(&e, &b, &req, now, j);
            refused(
                l.client.verify(&sub).await,
                409,
                ErrorCode::OriginationLimitReached,
            );
        }
    }
    // Another person is not affected.
    let other = e.others[0];
    let req = request(&lenders[2]).await;
    assert!(!used(&lenders[2], &req, &other, now, 0).await);
    lenders[2]
        .client
        .verify(&submission(&e, &other, &req, now, 0))
        .await
        .unwrap();
    // The tag 0 (no limit) and malformed tags are not questions.
    let tags = format!("/v1/requests/{}/originations", req.nonce);
    for bad in ["0", "x", "-1"] {
        refused(
            lenders[2]
                .client
                .0
                .get::<zkcredit_api::verifier::OriginationStatus>(&format!("{tags}/{bad}"))
                .await,
            400,
            ErrorCode::BadField,
        );
    }
    // The next epoch's tags are fresh — but only in the next epoch: even a lender whose
    // clock window reaches into it refuses a proof dated there ("prove again"), so a skew
    // window never opens the next epoch's loans early (the chain test lends in the next
    // epoch once the chain's clock is there).
    let later = lender(&e, 4, 40 * DAY).await;
    let t1 = next_epoch_start(epoch_of(now)) + 60;
    let req = request(&later).await;
    assert!(used(&later, &req, &b, now, 0).await);
    assert!(!used(&later, &req, &b, t1, 0).await);
    let err = refused(
        later.client.verify(&submission(&e, &b, &req, t1, 0)).await,
        422,
        ErrorCode::NowOutOfSkew,
    );
    assert!(err.to_string().contains("prove again"), "{err}");
    // Scopes differ per lender (so the nullifier never blocked the refusals above).
    assert_ne!(
        request_scope(&[0x40; 32], "credit-0", 0),
        request_scope(&[0x42; 32], "credit-2", 0)
    );
}

async fn two_lenders_racing_for_one_tag_accept_it_once(backend: Backend) {
    let e = env_on(backend).await;
    let b = e.borrower;
    let now = unix_now();
    let (x, y) = (lender(&e, 0, 300).await, lender(&e, 1, 300).await);
    let (rx, ry) = (request(&x).await, request(&y).await);
    let (sx, sy) = (
        submission(&e, &b, &rx, now, 0),
        submission(&e, &b, &ry, now, 0),
    );
    let (ox, oy) = tokio::join!(x.client.verify(&sx), y.client.verify(&sy));
    let accepted = [ox.is_ok(), oy.is_ok()];
    assert_eq!(
        accepted.iter().filter(|a| **a).count(),
        1,
        "one tag, two lenders: exactly one loan ({ox:?}, {oy:?})"
    );
    let loser = if ox.is_ok() { oy } else { ox };
    refused(loser, 409, ErrorCode::OriginationLimitReached);
}
