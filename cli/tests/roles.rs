//! The roles as real processes (small circuit, 4 slots × depth 8): `registry serve`,
//! `issuer serve` (KYC stand-in auto-approval), `provider serve --role bureau`,
//! `verifier serve`, and the wallet CLI (`init`, `register`, `prove`, `apply`). A fraud
//! list is killed with SIGKILL at several points of a 60,000-row import and publication
//! and restarted: it always comes back with a whole tree (the old or the new one, never a
//! torn one), and a completed import loses nothing.

mod common;

use common::serve;
use std::path::Path;
use std::process::{Command, Stdio};

const ADMIN: &str = "roles-test-admin-token-0123456";

fn zk_env(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zkcredit"))
        .args(args)
        .current_dir(cwd)
        .env("ZKCREDIT_WALLET_PASSWORD", "correct horse battery staple")
        .output()
        .unwrap()
}

use zkcredit_api::client::{IssuerClient, ProviderClient, RegistryClient, VerifierClient};
use zkcredit_api::issuer::NewClient;
use zkcredit_api::registry::RegisterProvider;
use zkcredit_api::unix_now as now;
use zkcredit_api::verifier::NewRequest;
use zkcredit_circuits::registry::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_as_processes_wallet_cli_and_provider_crash() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    common::setup_small(p);
    std::fs::write(p.join("admin.token"), ADMIN).unwrap();
    std::fs::write(p.join("slot0.token"), "registry-token-slot-0-abcdef").unwrap();
    std::fs::write(p.join("slot3.token"), "registry-token-slot-3-abcdef").unwrap();
    let http = reqwest::Client::new();
    let (mut registry, reg, reg_lines) = serve(p, &common::small_registry_args());
    let registry_key = common::registry_key(&reg_lines);
    let (mut issuer, iss, lines) = serve(
        p,
        &[
            "issuer",
            "serve",
            "--data-dir",
            "iss",
            "--admin-token-file",
            "admin.token",
            "--provider-id",
            "1000",
            "--depth",
            "8",
            "--registry-url",
            &reg,
            "--slot",
            "0",
            "--registry-token-file",
            "slot0.token",
            "--publish-every",
            "0",
            "--auto-approve-kyc-stand-in",
        ],
    );
    let issuer_key = lines
        .iter()
        .find_map(|l| l.strip_prefix("issuer attestation key "))
        .unwrap()
        .trim()
        .to_string();
    let bureau_args = common::provider_args(
        "bureau",
        "bureau",
        "1003",
        "8",
        &issuer_key,
        &iss,
        &[
            "--registry-url",
            &reg,
            "--slot",
            "3",
            "--registry-token-file",
            "slot3.token",
        ],
    );
    let (mut bureau, bur, _) = serve(p, &common::strs(&bureau_args));
    let _ = &mut bureau;
    let registry_client = RegistryClient::new(http.clone(), reg.clone());
    for (slot, role, id, tok, ep) in [
        (0, Role::Kyc, "1000", "registry-token-slot-0-abcdef", &iss),
        (
            3,
            Role::Bureau,
            "1003",
            "registry-token-slot-3-abcdef",
            &bur,
        ),
    ] {
        let body = RegisterProvider {
            slot,
            role,
            provider_id: id.into(),
            token: tok.into(),
            endpoint: Some(ep.clone()),
        };
        registry_client.register(ADMIN, &body).await.unwrap();
    }
    let issuer_client = IssuerClient::new(http.clone(), iss.clone());
    let client = NewClient {
        name: "bureau".into(),
        token: "bureau-client-token-0123".into(),
    };
    issuer_client.add_client(ADMIN, &client).await.unwrap();

    // A fraud list (depth 32, publishing locally) imports 60,000 rows (journal, then a
    // parallel rebuild) and is killed with SIGKILL part-way, at several points.
    let fraud_args =
        common::provider_args("fraud_list", "fraud", "1001", "32", &issuer_key, &iss, &[]);
    let big = common::fraud_csv(60_000);
    std::fs::write(p.join("big.csv"), &big).unwrap();
    let (mut fraud, mut fr_url, _) = serve(p, &common::strs(&fraud_args));
    let fraud_list = |url: &str| ProviderClient::new(http.clone(), url);
    let empty_root = fraud_list(&fr_url).status().await.unwrap().root;
    let import_args = |url: &str| {
        let a = [
            "provider",
            "import",
            "--url",
            url,
            "--admin-token-file",
            "admin.token",
            "big.csv",
        ];
        a.map(String::from)
    };
    let mut seen = Vec::new();
    for delay_ms in [300u64, 2000, 9000] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_zkcredit"))
            .args(import_args(&fr_url))
            .current_dir(p)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        fraud.kill().unwrap();
        fraud.wait().unwrap();
        let _ = c.wait();
        // Restart: the service checks its leaf table against the recorded root and refuses
        // to start if they disagree; it must come back.
        let (f, u, _) = serve(p, &common::strs(&fraud_args));
        fraud = f;
        fr_url = u;
        let st = fraud_list(&fr_url).admin_status(ADMIN).await.unwrap();
        assert!(st.rows == 0 || st.rows == 60_000, "a torn tree: {st:?}");
        seen.push((delay_ms, st.rows, st.pending_changes));
    }
    // Whatever was committed is published now; a complete import then loses nothing.
    let rep = fraud_list(&fr_url).publish(ADMIN).await.unwrap();
    let o = common::zk(&common::strs(&import_args(&fr_url)), p);
    assert!(o.status.success(), "{}", common::text(&o));
    let st = fraud_list(&fr_url).admin_status(ADMIN).await.unwrap();
    assert_eq!(st.rows, 60_000, "{st:?} after {seen:?} and {rep:?}");
    assert_ne!(st.status.root, empty_root);
    let last = (1_000_000 + 59_999 * 7919u64).to_string();
    assert_eq!(
        fraud_list(&fr_url).row(ADMIN, &last).await.unwrap().values[0],
        "5"
    );
    let _ = fraud.kill();
    let _ = fraud.wait();
    eprintln!("kill -9 points (ms, rows after restart, staged): {seen:?}");

    // The bureau (depth 8, in the circuit's registry) imports a small CSV through the CLI.
    let mut csv = String::from("subject_key,v0,v1,v2\n");
    for i in 0..200u64 {
        csv.push_str(&format!(
            "{},{},{},7\n",
            10_000 + i,
            500 + i,
            now() - 86_400
        ));
    }
    std::fs::write(p.join("rows.csv"), &csv).unwrap();
    // A completed import loses nothing.
    let o = common::zk(
        &[
            "provider",
            "import",
            "--url",
            &bur,
            "--admin-token-file",
            "admin.token",
            "rows.csv",
        ],
        p,
    );
    common::assert_ok_with(&o, "imported 200 upserts");
    let bureau_client = ProviderClient::new(http.clone(), bur.clone());
    assert_eq!(bureau_client.admin_status(ADMIN).await.unwrap().rows, 200);
    assert_eq!(
        bureau_client.row(ADMIN, "10007").await.unwrap().values[0],
        "507"
    );

    // The wallet CLI.
    let o = zk_env(&["wallet", "init", "--dir", "w"], p);
    assert!(o.status.success(), "{}", common::text(&o));
    let o = zk_env(&["wallet", "init", "--dir", "w"], p);
    assert_eq!(o.status.code(), Some(2));
    assert!(common::text(&o).contains("already exists"));
    std::fs::write(p.join("wrong.pw"), "not the password").unwrap();
    let o = common::zk(
        &[
            "wallet",
            "register",
            "--dir",
            "w",
            "--password-file",
            "wrong.pw",
            "--issuer",
            &iss,
            "--id",
            "X1",
        ],
        p,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        common::text(&o).contains("wrong password"),
        "{}",
        common::text(&o)
    );
    // Without --id there must be an application to resume: none yet, so a usage error
    // that says how to apply (and nothing is filed).
    let o = zk_env(&["wallet", "register", "--dir", "w", "--issuer", &iss], p);
    assert_eq!(o.status.code(), Some(2), "{}", common::text(&o));
    assert!(
        common::text(&o).contains("pass --id"),
        "{}",
        common::text(&o)
    );
    let o = zk_env(
        &[
            "wallet",
            "register",
            "--dir",
            "w",
            "--issuer",
            &iss,
            "--id",
            "AB 123 456",
        ],
        p,
    );
    common::assert_ok_with(&o, "approved");
    assert!(
        !p.join("w/application.json").exists(),
        "a decided application is forgotten"
    );

    // The bureau looks the customer up at the issuer and scores her; both publish.
    let key = issuer_client
        .lookup("bureau-client-token-0123", "AB123456")
        .await
        .unwrap()
        .subject_key;
    bureau_client
        .upsert(ADMIN, &key, [700.into(), (now() - 3600).into(), 7.into()])
        .await
        .unwrap();
    for u in [&iss, &bur] {
        let r = ProviderClient::new(http.clone(), u.as_str())
            .publish(ADMIN)
            .await
            .unwrap();
        assert_eq!(r.registry, "published", "{r:?}");
    }

    // The verifier, a request, the wallet proves and applies; a replay is refused. The
    // lender pins each provider's root-signing key as the provider shows it.
    let key_of = |url: &String| {
        let c = ProviderClient::new(http.clone(), url.as_str());
        async move { c.status().await.unwrap().public_key }
    };
    common::write_verifier_files(
        p,
        &zkcredit_testkit::scenario::live_policy(),
        &[
            ("kyc", "1000".into(), key_of(&iss).await),
            ("bureau", "1003".into(), key_of(&bur).await),
        ],
    );
    let (mut verifier, ver, _) = serve(
        p,
        &common::strs(&common::small_verifier_args(&reg, &registry_key)),
    );
    let lender = VerifierClient::new(http.clone(), ver.clone());
    let verifier_id = lender.info().await.unwrap().verifier_id;
    let req = lender
        .create_request(
            common::LENDER,
            &NewRequest {
                policy: zkcredit_testkit::scenario::live_policy(),
                ttl_seconds: 600,
            },
        )
        .await
        .unwrap();
    let req_url = lender.request_url(&req.nonce);
    let o = zk_env(
        &[
            "wallet",
            "prove",
            "--dir",
            "w",
            "--request",
            &req_url,
            "--registry",
            &reg,
            "--verifier-id",
            &verifier_id,
            "--params",
            "keys",
            "--cache",
            "keys/cache",
            "--circuit",
            "eligibility_s4_d8",
            "--out",
            "proof.json",
        ],
        p,
    );
    assert!(o.status.success(), "{}", common::text(&o));
    // Off a terminal the timing and the file still get their own lines (issue 18, item 10).
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("proved in "))
            && stdout.lines().any(|l| l == "wrote proof.json"),
        "{stdout}"
    );
    let o = common::zk(
        &["wallet", "apply", "--proof", "proof.json", "--dir", "w"],
        p,
    );
    assert!(o.status.success(), "{}", common::text(&o));
    assert!(common::text(&o).contains("ACCEPTED"));
    let o = common::zk(
        &["wallet", "apply", "--proof", "proof.json", "--dir", "w"],
        p,
    );
    assert_eq!(o.status.code(), Some(1), "{}", common::text(&o));
    assert!(common::text(&o).contains("REFUSED"));
    // Both decisions are in the wallet's history (the one the wallet page shows).
    let history = zkcredit_wallet::history::load(&p.join("w")).unwrap();
    let decisions: Vec<&str> = history.iter().map(|e| e.decision.as_str()).collect();
    assert_eq!(decisions, ["accepted", "refused"], "{history:?}");
    // A second request in the same scope: the wallet asks first and makes no proof (exit 1).
    let req2 = lender
        .create_request(
            common::LENDER,
            &NewRequest {
                policy: zkcredit_testkit::scenario::live_policy(),
                ttl_seconds: 600,
            },
        )
        .await
        .unwrap();
    std::fs::remove_file(p.join("proof.json")).unwrap();
    let o = zk_env(
        &[
            "wallet",
            "prove",
            "--dir",
            "w",
            "--request",
            &lender.request_url(&req2.nonce),
            "--registry",
            &reg,
            "--verifier-id",
            &verifier_id,
            "--params",
            "keys",
            "--cache",
            "keys/cache",
            "--circuit",
            "eligibility_s4_d8",
            "--out",
            "proof.json",
        ],
        p,
    );
    assert_eq!(o.status.code(), Some(1), "{}", common::text(&o));
    assert!(
        common::text(&o).contains("already applied"),
        "{}",
        common::text(&o)
    );
    assert!(!p.join("proof.json").exists(), "no proof was made");

    for c in [&mut verifier, &mut bureau, &mut issuer, &mut registry] {
        let _ = c.kill();
        let _ = c.wait();
    }
}
