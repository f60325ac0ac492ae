//! The lender API verifies halo2 proofs (SPEC §11) beside Groth16, over HTTP, on SQLite and
//! PostgreSQL: a verifier without a halo2 key refuses them `proof_system_not_accepted`; one
//! configured with its key runs the same prechecks and codes (`invalid_proof` for a changed
//! byte, `already_accepted` for a replay, `nullifier_reused` for the same person again),
//! still accepts Groth16, and verifies a mixed batch; a development halo2 key is refused
//! unless development keys are allowed.

#[macro_use]
mod verifier_env;

use std::sync::OnceLock;
use verifier_env::*;
use zkcredit_api::client::VerifierClient;
use zkcredit_api::unix_now;
use zkcredit_api::verifier::{
    BatchSubmission, Halo2ProofJson, NewRequest, ProofRequest, Submission,
};
use zkcredit_api::ErrorCode;
use zkcredit_circuits::eligibility::Policy;
use zkcredit_halo2::keys::VkFile;
use zkcredit_halo2::system::{Halo2Prover, Powers};
use zkcredit_services::server::spawn;
use zkcredit_testkit::scenario::{example_policy, Borrower};
use zkcredit_verifier::snarkjs::public_to_json;

fn halo2() -> &'static Halo2Prover {
    static H: OnceLock<Halo2Prover> = OnceLock::new();
    H.get_or_init(|| {
        let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("halo2-verifier");
        Halo2Prover::load(P, &Powers::InsecureDev, &cache)
            .unwrap()
            .0
    })
}

fn halo2_submission(
    e: &Env,
    who: &Borrower,
    req: &ProofRequest,
    policy: Policy,
    now: u64,
) -> Submission {
    let (proof, public) = halo2().prove(e.witness_for(who, req, policy, now)).unwrap();
    Submission::halo2(
        Halo2ProofJson {
            system: proof.system,
            proof: proof.proof,
        },
        public_to_json(&public.to_vec()),
    )
}

async fn halo2_proofs_are_checked_like_groth16(backend: Backend) {
    let e = env_on(backend).await;
    let now = unix_now();
    let policy = example_policy();

    // The default test verifier has no halo2 key.
    let req = e.request(policy, 600).await;
    let sub = halo2_submission(&e, &e.borrower, &req, policy, now);
    refused(e.verify(&sub).await, 400, ErrorCode::ProofSystemNotAccepted);

    // A verifier with the halo2 key (a development one: the test config allows them).
    let cfg = config(e.registry.url(), &e.registry_key, &e.world);
    let vk = VkFile::from_json(&halo2().vk.to_json()).unwrap();
    let svc = e
        .service("verifier-h2", cfg.clone())
        .await
        .with_halo2(vk)
        .unwrap();
    let running = spawn(svc.router(), local()).await.unwrap();
    let client = VerifierClient::new(e.http.clone(), running.url());
    let open = |c: VerifierClient| async move {
        c.create_request(
            LENDER,
            &NewRequest {
                policy,
                ttl_seconds: 600,
            },
        )
        .await
        .unwrap()
    };

    let req = open(client.clone()).await;
    let good = halo2_submission(&e, &e.borrower, &req, policy, now);
    // One changed byte of the proof: invalid_proof.
    let mut bad = good.clone();
    if let zkcredit_api::verifier::SubmittedProof::Halo2(p) = &mut bad.proof {
        let mut b = hex::decode(&p.proof).unwrap();
        b[200] ^= 1;
        p.proof = hex::encode(b);
    }
    refused(client.verify(&bad).await, 422, ErrorCode::InvalidProof);
    // Not hex, and a Groth16 layout announced as halo2: refused before any check.
    let mut nothex = good.clone();
    if let zkcredit_api::verifier::SubmittedProof::Halo2(p) = &mut nothex.proof {
        p.proof = "zz".into();
    }
    refused(client.verify(&nothex).await, 400, ErrorCode::Malformed);
    let g16 = e.submission(&req, policy, now);
    let mut mislabelled = g16.clone();
    mislabelled.proof_system = zkcredit_api::verifier::ProofSystem::Halo2Kzg;
    refused(
        client.verify(&mislabelled).await,
        400,
        ErrorCode::ProofSystemNotAccepted,
    );
    // A changed public input: the same prechecks as Groth16 (here: the policy hash).
    let mut other_policy = good.clone();
    other_policy.public_signals[1] = "12345".into();
    refused(
        client.verify(&other_policy).await,
        422,
        ErrorCode::PolicyMismatch,
    );

    // Accepted, then a replay is `already_accepted`.
    let ok = client.verify(&good).await.unwrap();
    assert!(ok.accepted);
    refused(client.verify(&good).await, 409, ErrorCode::AlreadyAccepted);
    // The same person on another request of the same scope, as Groth16: nullifier_reused.
    let req2 = open(client.clone()).await;
    let again = halo2_submission(&e, &e.borrower, &req2, policy, now);
    refused(client.verify(&again).await, 409, ErrorCode::NullifierReused);

    // A mixed batch: halo2 and Groth16 accepted; two changed halo2 proofs refused, one
    // with a changed evaluation (well formed: only the accumulator's final pairing fails,
    // and then each halo2 proof is checked alone), one with a point off the curve.
    let reqs = [
        open(client.clone()).await,
        open(client.clone()).await,
        open(client.clone()).await,
        open(client.clone()).await,
    ];
    let a = halo2_submission(&e, &e.others[0], &reqs[0], policy, now);
    let b = e.submission_of(&e.others[1], &reqs[1], policy, now);
    let change = |mut s: Submission, at: fn(usize) -> usize| {
        if let zkcredit_api::verifier::SubmittedProof::Halo2(p) = &mut s.proof {
            let mut bytes = hex::decode(&p.proof).unwrap();
            let i = at(bytes.len());
            bytes[i] ^= 1;
            p.proof = hex::encode(bytes);
        }
        s
    };
    // The last evaluation's low byte: SHPLONK's two opening points (128 bytes) follow it.
    let c = change(
        halo2_submission(&e, &e.others[2], &reqs[2], policy, now),
        |n| n - 129,
    );
    let d = change(
        halo2_submission(&e, &e.others[3], &reqs[3], policy, now),
        |_| 100,
    );
    let results = client
        .verify_batch(&BatchSubmission {
            items: vec![a, b, c, d],
        })
        .await
        .unwrap();
    let accepted: Vec<bool> = results.iter().map(|r| r.accepted).collect();
    assert_eq!(accepted, vec![true, true, false, false], "{results:?}");
    assert_eq!(results[2].code.as_deref(), Some("invalid_proof"));
    assert_eq!(results[3].code.as_deref(), Some("invalid_proof"));

    // A development halo2 key on a verifier that does not allow development keys.
    let mut strict = cfg;
    strict.insecure_dev_keys = false;
    let vk = VkFile::from_json(&halo2().vk.to_json()).unwrap();
    assert!(e
        .service("verifier-strict", strict)
        .await
        .with_halo2(vk)
        .is_err());
    running.stop().await.unwrap();
}

on_both_backends!(halo2_proofs_are_checked_like_groth16);
