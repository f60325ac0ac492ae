//! `zkcredit registry serve` and `zkcredit verifier serve` as real processes: a proof is
//! accepted over HTTP, the verifier is killed with SIGKILL and restarted on the same data
//! directory, and the recorded nullifier is still there; SIGTERM shuts down gracefully.

use ark_std::rand::{rngs::StdRng, SeedableRng};
use serde_json::{json, Value};
mod common;

use std::path::Path;
use std::process::Command;
use zkcredit_circuits::eligibility::EligibilityParams;
use zkcredit_circuits::field::fr_from_dec;
use zkcredit_circuits::scenario::{eligible_applicant, example_policy, Layout};
use zkcredit_prover::circuits::CircuitId;
use zkcredit_verifier::snarkjs::{public_to_json, ProofJson};

const P: EligibilityParams = EligibilityParams { slots: 4, depth: 8 };
const ADMIN: &str = "process-test-admin-token-0123";

fn serve(cwd: &Path, args: &[&str]) -> (std::process::Child, String) {
    let (c, url, _) = common::serve(cwd, args);
    (c, url)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
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
    let verifier_args = [
        "verifier",
        "serve",
        "--data-dir",
        "ver",
        "--params",
        "keys",
        "--circuit",
        "eligibility_s4_d8",
        "--registry-url",
        &reg_url,
    ];
    let (mut verifier, ver_url) = serve(p, &verifier_args);
    let http = reqwest::Client::new();

    // Providers register and publish their roots.
    let t = now();
    let mut rng = StdRng::seed_from_u64(t);
    let (mut world, borrower, _) = eligible_applicant(
        P,
        Layout {
            fraud_lists: 1,
            lenders: 1,
            bureaus: 1,
        },
        &mut rng,
        5,
        t,
    )
    .unwrap();
    world.publish(t - 5).unwrap();
    zkcredit_services::registry::client::mirror(&http, &reg_url, ADMIN, &world.registry, |i| {
        format!("provider-token-slot-{i:04}")
    })
    .await
    .unwrap();

    // The lender creates a request; the wallet proves and applies.
    let req: Value = http
        .post(format!("{ver_url}/v1/requests"))
        .json(&json!({"policy": example_policy(), "scope": "99", "ttl_seconds": 600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let w = world
        .witness(
            &borrower,
            example_policy(),
            now(),
            fr_from_dec(req["scope"].as_str().unwrap()).unwrap(),
            fr_from_dec(req["context"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
    let prover = CircuitId::Eligibility(P).insecure_dev_prover().unwrap();
    let (proof, public) = zkcredit_prover::prove_eligibility(&prover, P, w).unwrap();
    let sub = json!({"proof": ProofJson::from_proof(&proof), "public_signals": public_to_json(&public.to_vec())});
    let r = http
        .post(format!("{ver_url}/v1/verify"))
        .json(&sub)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // kill -9 the verifier right after it answered, restart on the same data directory.
    verifier.kill().unwrap();
    verifier.wait().unwrap();
    let (mut verifier, ver_url) = serve(p, &verifier_args);
    let r = http
        .post(format!("{ver_url}/v1/verify"))
        .json(&sub)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "nullifier_reused");

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
