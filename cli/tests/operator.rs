//! The operator's command line (issue 18): registry, issuer, a lender and a verifier as
//! processes, every admin action through `zkcredit` commands (no HTTP by hand), tokens
//! from files, and the documented exit codes (0 ok, 1 refused, 2 bad input, 3 unavailable).

mod common;

use common::{serve, text, zk};
use std::path::Path;
use zkcredit_api::auth::KycApplication;
use zkcredit_api::client::IssuerClient;
use zkcredit_circuits::Fr;

const ADMIN: &str = "operator-test-admin-token-0123";

/// The value after `prefix` on the line of `out` that starts with it.
fn field(out: &str, prefix: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in: {out}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Runs `zkcredit args` and returns its stdout, asserting success.
fn ok(p: &Path, args: &[&str]) -> String {
    let o = zk(args, p);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_run_an_alliance_without_curl() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    common::setup_small(p);
    for (f, t) in [
        ("admin.token", ADMIN),
        ("slot0.token", "operator-slot-0-token-abcdef"),
        ("slot1.token", "operator-slot-1-token-abcdef"),
        ("lender-client.token", "operator-lender-client-token"),
    ] {
        std::fs::write(p.join(f), t).unwrap();
    }
    let (mut registry, reg, reg_lines) = serve(p, &common::small_registry_args());
    let registry_key = common::registry_key(&reg_lines);
    let tree = |role: &'static str, dir: &'static str, id: &'static str, slot: &'static str| {
        let mut a = vec![
            "--data-dir",
            dir,
            "--admin-token-file",
            "admin.token",
            "--provider-id",
            id,
            "--depth",
            "8",
            "--registry-url",
            &reg,
            "--slot",
            slot,
            "--registry-token-file",
        ];
        a.push(if slot == "0" {
            "slot0.token"
        } else {
            "slot1.token"
        });
        let _ = role;
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let mut issuer_args = vec!["issuer".to_string(), "serve".into()];
    issuer_args.extend(tree("kyc", "iss", "1000", "0"));
    let (mut issuer, iss, lines) = serve(p, &common::strs(&issuer_args));
    let issuer_key = field(&lines.join("\n"), "issuer attestation key ");
    let mut lender_args = vec!["provider", "serve", "--role", "lender"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    lender_args.extend(tree("lender", "lender", "1003", "1"));
    lender_args.extend([
        "--issuer-key".into(),
        issuer_key,
        "--issuer-url".into(),
        iss.clone(),
    ]);
    let (mut lender, len, _) = serve(p, &common::strs(&lender_args));

    // One role vocabulary: `fraud` is not a role name, `fraud_list` is (exit 2, usage).
    let o = zk(
        &[
            "registry",
            "add-provider",
            "--url",
            &reg,
            "--admin-token-file",
            "admin.token",
            "--slot",
            "1",
            "--role",
            "fraud",
            "--provider-id",
            "1003",
            "--provider-token-file",
            "slot1.token",
            "--endpoint",
            &len,
        ],
        p,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // The operator registers both; the services started first publish on their own.
    for (slot, role, id, tok, ep) in [
        ("0", "kyc", "1000", "slot0.token", &iss),
        ("1", "lender", "1003", "slot1.token", &len),
    ] {
        ok(
            p,
            &[
                "registry",
                "add-provider",
                "--url",
                &reg,
                "--admin-token-file",
                "admin.token",
                "--slot",
                slot,
                "--role",
                role,
                "--provider-id",
                id,
                "--provider-token-file",
                tok,
                "--endpoint",
                ep,
            ],
        );
    }
    // A wrong admin token is bad input (2); an unreachable service is unavailable (3).
    std::fs::write(p.join("wrong.token"), "not-the-admin-token-at-all").unwrap();
    let o = zk(
        &[
            "issuer",
            "pending",
            "--url",
            &iss,
            "--admin-token-file",
            "wrong.token",
        ],
        p,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = zk(&["registry", "show", "--url", "http://127.0.0.1:9"], p);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));

    // A borrower's wallet files an application; the operator approves it by id.
    let secret = Fr::from(0x0be7_a70eu64);
    IssuerClient::new(reqwest::Client::new(), iss.clone())
        .apply(&KycApplication::sign(&secret, "AB 123 456"))
        .await
        .unwrap();
    let out = ok(
        p,
        &[
            "issuer",
            "pending",
            "--url",
            &iss,
            "--admin-token-file",
            "admin.token",
        ],
    );
    let app = field(&out, "application ");
    let out = ok(
        p,
        &[
            "issuer",
            "approve",
            "--url",
            &iss,
            "--admin-token-file",
            "admin.token",
            &app,
        ],
    );
    assert!(out.contains("approved"), "{out}");
    // The lender learns the customer's key under its client token and records a loan.
    ok(
        p,
        &[
            "issuer",
            "add-client",
            "--url",
            &iss,
            "--admin-token-file",
            "admin.token",
            "--name",
            "lender",
            "--client-token-file",
            "lender-client.token",
        ],
    );
    let out = ok(
        p,
        &[
            "issuer",
            "lookup",
            "--url",
            &iss,
            "--client-token-file",
            "lender-client.token",
            "--id",
            "ab123456",
        ],
    );
    let key = field(&out, "subject_key ");
    ok(
        p,
        &[
            "provider",
            "set",
            "--url",
            &len,
            "--admin-token-file",
            "admin.token",
            "--subject-key",
            &key,
            "1",
            "5000",
            "0",
        ],
    );
    let out = ok(
        p,
        &[
            "provider",
            "status",
            "--url",
            &len,
            "--admin-token-file",
            "admin.token",
        ],
    );
    assert!(out.contains("pending_changes 1"), "{out}");
    let out = ok(
        p,
        &[
            "provider",
            "publish",
            "--url",
            &len,
            "--admin-token-file",
            "admin.token",
        ],
    );
    assert!(
        out.contains("rows 1") && out.contains("registry published"),
        "{out}"
    );
    let out = ok(p, &["provider", "status", "--url", &len]);
    let lender_key = field(&out, "provider root key ");
    let issuer_root_key = field(
        &ok(p, &["provider", "status", "--url", &iss]),
        "provider root key ",
    );
    let out = ok(p, &["registry", "show", "--url", &reg]);
    assert!(out.contains("slot 1 role lender provider_id 1003"), "{out}");
    assert!(
        !out.contains("published_at 0 "),
        "both trees published: {out}"
    );

    // The lender's verifier; the lender opens a request with one command.
    common::write_verifier_files(
        p,
        &zkcredit_testkit::scenario::live_policy(),
        &[
            ("kyc", "1000".into(), issuer_root_key),
            ("lender", "1003".into(), lender_key),
        ],
    );
    let (mut verifier, ver, _) = serve(
        p,
        &common::strs(&common::small_verifier_args(&reg, &registry_key)),
    );
    let out = ok(
        p,
        &[
            "verifier",
            "open-request",
            "--url",
            &ver,
            "--lender-token-file",
            "lender.token",
            "--policy-file",
            "policy.json",
        ],
    );
    let request = field(&out, "request ");
    assert!(request.starts_with(&format!("{ver}/v1/requests/")), "{out}");
    let id = field(&ok(p, &["verifier", "info", "--url", &ver]), "verifier_id ");
    assert_eq!(id, field(&out, "verifier_id "));
    // Without the lender's token the request is refused as bad input (401 → 2).
    let o = zk(
        &[
            "verifier",
            "open-request",
            "--url",
            &ver,
            "--lender-token-file",
            "wrong.token",
            "--policy-file",
            "policy.json",
        ],
        p,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // The row is deleted and the deletion published.
    ok(
        p,
        &[
            "provider",
            "delete",
            "--url",
            &len,
            "--admin-token-file",
            "admin.token",
            "--subject-key",
            &key,
        ],
    );
    let out = ok(
        p,
        &[
            "provider",
            "publish",
            "--url",
            &len,
            "--admin-token-file",
            "admin.token",
        ],
    );
    assert!(out.contains("rows 0"), "{out}");
    for c in [&mut verifier, &mut lender, &mut issuer, &mut registry] {
        let _ = c.kill();
        let _ = c.wait();
    }
}
