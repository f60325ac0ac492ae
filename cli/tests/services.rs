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
use zkcredit_testkit::provider_signing_key;
use zkcredit_testkit::scenario::{eligible_applicant, example_policy, Layout};
use zkcredit_verifier::snarkjs::{public_to_json, ProofJson};

const P: EligibilityParams = EligibilityParams { slots: 4, depth: 8 };
const ADMIN: &str = "process-test-admin-token-0123";

fn serve(cwd: &Path, args: &[&str]) -> (std::process::Child, String) {
    let (c, url, _) = common::serve(cwd, args);
    (c, url)
}

/// `(role, provider_id, public_key)` of every non-empty slot, for `--expected-slots`.
fn expected(reg: &zkcredit_circuits::registry::Registry) -> Vec<(&'static str, String, String)> {
    use zkcredit_circuits::registry::Role;
    reg.slots()
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            if s.role == Role::Empty {
                return None;
            }
            let role = s.role.name();
            let key = provider_signing_key(i).verifying_key();
            Some((
                role,
                zkcredit_circuits::field::fr_to_dec(&s.provider_id),
                hex::encode(key.as_bytes()),
            ))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_as_processes_survive_kill_9() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    common::setup_small(p);
    std::fs::write(p.join("admin.token"), ADMIN).unwrap();
    let (mut registry, reg_url, reg_lines) = common::serve(p, &common::small_registry_args());
    let http = reqwest::Client::new();
    let registry_client = RegistryClient::new(http.clone(), reg_url.clone());

    // Providers register and publish their roots.
    let t = now();
    let mut rng = StdRng::seed_from_u64(t);
    let (mut world, borrower, _) =
        eligible_applicant(P, Layout::for_slots(P.slots), &mut rng, 5, t).unwrap();
    world.publish(t - 5).unwrap();
    common::write_verifier_files(p, &example_policy(), &expected(&world.registry));
    let verifier_args = common::small_verifier_args(&reg_url, &common::registry_key(&reg_lines));
    let verifier_args = common::strs(&verifier_args);
    let (mut verifier, ver_url) = serve(p, &verifier_args);
    registry_client
        .mirror(
            ADMIN,
            &world.registry,
            |i| format!("provider-token-slot-{i:04}"),
            provider_signing_key,
        )
        .await
        .unwrap();

    // The lender creates a request; the wallet proves and applies.
    let lender = VerifierClient::new(http.clone(), ver_url);
    let req = lender
        .create_request(
            common::LENDER,
            &NewRequest {
                policy: example_policy(),
                ttl_seconds: 600,
            },
        )
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
    let sub = Submission::groth16(
        ProofJson::from_proof(&proof),
        public_to_json(&public.to_vec()),
    );
    lender.verify(&sub).await.unwrap();

    // kill -9 the verifier right after it answered, restart on the same data directory.
    verifier.kill().unwrap();
    verifier.wait().unwrap();
    let (mut verifier, ver_url) = serve(p, &verifier_args);
    let lender = VerifierClient::new(http.clone(), ver_url);
    let e = lender.verify(&sub).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(409), Some(ErrorCode::AlreadyAccepted)),
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

/// Finding 3 of issue 10: `verifier serve` refuses a development verifying key unless
/// `--insecure-dev-keys` is given (then `/healthz` says so); a key from `setup --os-rng`
/// starts without the flag. (The forgery itself: `prover/tests/finding_3_dev_keys.rs`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_3_verifier_serve_refuses_development_keys_without_the_flag() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    common::setup_small(p);
    let policy = example_policy();
    common::write_verifier_files(
        p,
        &policy,
        &[(
            "kyc",
            "1000".into(),
            hex::encode(provider_signing_key(0).verifying_key().as_bytes()),
        )],
    );
    let key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let mut args = common::small_verifier_args("http://127.0.0.1:9", key);
    args.retain(|a| a != "--insecure-dev-keys");
    let o = common::zk(&common::strs(&args), p);
    assert_eq!(o.status.code(), Some(2), "{}", common::text(&o));
    assert!(
        common::text(&o).contains("INSECURE DEVELOPMENT"),
        "{}",
        common::text(&o)
    );
    // With the flag it starts, says so, and /healthz reports it.
    args.push("--insecure-dev-keys".into());
    let (mut dev, url, lines) = common::serve(p, &common::strs(&args));
    assert!(
        lines.iter().any(|l| l.contains("--insecure-dev-keys")),
        "{lines:?}"
    );
    let h = healthz(&url).await;
    assert_eq!(
        h,
        serde_json::json!({"status": "ok", "insecure_dev_keys": true})
    );
    let _ = dev.kill();
    let _ = dev.wait();
    // Keys from OS randomness pass without the flag.
    let o = common::zk(
        &[
            "setup",
            "--os-rng",
            "--circuit",
            "eligibility_s4_d8",
            "--params",
            "prod",
            "--cache",
            "prod/cache",
        ],
        p,
    );
    assert!(o.status.success(), "{}", common::text(&o));
    let mut args = common::small_verifier_args("http://127.0.0.1:9", key);
    args.retain(|a| a != "--insecure-dev-keys");
    let i = args.iter().position(|a| a == "keys").unwrap();
    args[i] = "prod".into();
    let i = args.iter().position(|a| a == "ver").unwrap();
    args[i] = "ver-prod".into();
    let (mut prod, url, _) = common::serve(p, &common::strs(&args));
    let h = healthz(&url).await;
    assert_eq!(
        h,
        serde_json::json!({"status": "ok", "insecure_dev_keys": false})
    );
    let _ = prod.kill();
    let _ = prod.wait();
}

/// `GET {url}/healthz` as JSON.
async fn healthz(url: &str) -> serde_json::Value {
    reqwest::get(format!("{url}/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
