//! `zkcredit registry serve` and `zkcredit verifier serve` as real processes: a proof is
//! accepted over HTTP, the verifier is killed with SIGKILL and restarted on the same data
//! directory, and the recorded nullifier is still there; SIGTERM shuts down gracefully.

use ark_std::rand::{rngs::StdRng, SeedableRng};
mod common;

use std::path::Path;
use std::process::Command;
use zkcredit_api::client::{RegistryClient, VerifierClient};
use zkcredit_api::unix_now as now;
use zkcredit_api::verifier::{NewRequest, Submission};
use zkcredit_api::ErrorCode;
use zkcredit_circuits::eligibility::EligibilityParams;
use zkcredit_circuits::field::fr_from_dec;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_testkit::scenario::{eligible_applicant, example_policy, Layout};
use zkcredit_verifier::snarkjs::{public_to_json, ProofJson};

const P: EligibilityParams = EligibilityParams { slots: 4, depth: 8 };
const ADMIN: &str = "process-test-admin-token-0123";

fn serve(cwd: &Path, args: &[&str]) -> (std::process::Child, String) {
    let (c, url, _) = common::serve(cwd, args);
    (c, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_as_processes_survive_kill_9() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    common::setup_small(p);
    std::fs::write(p.join("admin.token"), ADMIN).unwrap();
    let (mut registry, reg_url) = serve(
        p,
        &[
            "registry",
            "serve",
            "--data-dir",
            "reg",
            "--admin-token-file",
            "admin.token",
            "--slots",
            "4",
        ],
    );
    let verifier_args = common::small_verifier_args(&reg_url);
    let verifier_args = common::strs(&verifier_args);
    let (mut verifier, ver_url) = serve(p, &verifier_args);
    let http = reqwest::Client::new();
    let registry_client = RegistryClient::new(http.clone(), reg_url.clone());

    // Providers register and publish their roots.
    let t = now();
    let mut rng = StdRng::seed_from_u64(t);
    let (mut world, borrower, _) =
        eligible_applicant(P, Layout::for_slots(P.slots), &mut rng, 5, t).unwrap();
    world.publish(t - 5).unwrap();
    registry_client
        .mirror(ADMIN, &world.registry, |i| {
            format!("provider-token-slot-{i:04}")
        })
        .await
        .unwrap();

    // The lender creates a request; the wallet proves and applies.
    let lender = VerifierClient::new(http.clone(), ver_url);
    let req = lender
        .create_request(&NewRequest {
            policy: example_policy(),
            scope: "99".into(),
            ttl_seconds: 600,
        })
        .await
        .unwrap();
    let w = world
        .witness(
            &borrower,
            example_policy(),
            now(),
            fr_from_dec(&req.scope).unwrap(),
            fr_from_dec(&req.context).unwrap(),
        )
        .unwrap();
    let prover = CircuitId::Eligibility(P).insecure_dev_prover().unwrap();
    let (proof, public) = zkcredit_prover::prove_eligibility(&prover, P, w).unwrap();
    let sub = Submission {
        proof: ProofJson::from_proof(&proof),
        public_signals: public_to_json(&public.to_vec()),
    };
    lender.verify(&sub).await.unwrap();

    // kill -9 the verifier right after it answered, restart on the same data directory.
    verifier.kill().unwrap();
    verifier.wait().unwrap();
    let (mut verifier, ver_url) = serve(p, &verifier_args);
    let lender = VerifierClient::new(http.clone(), ver_url);
    let e = lender.verify(&sub).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(409), Some(ErrorCode::NullifierReused)),
        "{e}"
    );

    // SIGTERM: graceful shutdown, exit status 0.
    for child in [&mut registry, &mut verifier] {
        let st = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(st.success());
        assert!(child.wait().unwrap().success());
    }
}
