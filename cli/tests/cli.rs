//! The `zkcredit` binary end to end on a small circuit (4 slots × depth 8): setup, witness
//! generation, prove, verify; and clear errors with non-zero exit codes on bad input.

use std::path::Path;

mod common;
use common::{setup_small, text, zk};

#[test]
fn setup_gen_witness_prove_verify_and_rejections() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    setup_small(p);
    common::gen_small_witness(p, "20", "1", "w.json");
    let o = zk(
        &[
            "prove",
            "--witness",
            "w.json",
            "--out",
            ".",
            "--params",
            "keys",
            "--cache",
            "keys/cache",
        ],
        p,
    );
    assert!(o.status.success(), "{}", text(&o));
    let verify = |public: &str| {
        zk(
            &[
                "verify",
                "--proof",
                "proof.json",
                "--public",
                public,
                "--vk",
                "keys/eligibility_s4_d8.vk.json",
                "--circuit",
                "eligibility_s4_d8",
                "--insecure-dev-keys",
            ],
            p,
        )
    };
    // Issue 10 finding 3: `verify` refuses a development key unless told it is one.
    let o = zk(
        &[
            "verify",
            "--proof",
            "proof.json",
            "--public",
            "public.json",
            "--vk",
            "keys/eligibility_s4_d8.vk.json",
            "--circuit",
            "eligibility_s4_d8",
        ],
        p,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("INSECURE DEVELOPMENT"), "{}", text(&o));
    let o = verify("public.json");
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("VALID"));

    // A changed public signal: exit 1, "INVALID".
    let mut public: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(p.join("public.json")).unwrap()).unwrap();
    public[2] = "1".into();
    std::fs::write(
        p.join("bad_public.json"),
        serde_json::to_string(&public).unwrap(),
    )
    .unwrap();
    let o = verify("bad_public.json");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("INVALID"));

    // A public signal >= r: exit 2, names the field.
    public[2] =
        "21888242871839275222246405745257275088548364400416034343698204186575808495617".into();
    std::fs::write(
        p.join("big_public.json"),
        serde_json::to_string(&public).unwrap(),
    )
    .unwrap();
    let o = verify("big_public.json");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("public[2]"), "{}", text(&o));

    // Missing file and malformed JSON: exit 2 with the path in the message.
    let o = verify("nope.json");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("nope.json"));
    std::fs::write(p.join("garbage.json"), "{not json").unwrap();
    let o = verify("garbage.json");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("public.json"), "{}", text(&o));

    // A witness that violates the statement: the prover names the rule, exit 2.
    let mut w: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("w.json")).unwrap()).unwrap();
    w["witness"]["policy"]["min_score"] = serde_json::json!(10_000);
    std::fs::write(p.join("w_bad.json"), w.to_string()).unwrap();
    let o = zk(
        &[
            "prove",
            "--witness",
            "w_bad.json",
            "--out",
            "bad",
            "--params",
            "keys",
            "--cache",
            "keys/cache",
        ],
        p,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("§6.5"), "{}", text(&o));

    // Unknown circuit and --os-rng over the committed params are refused.
    let o = zk(&["setup", "--circuit", "eligibility_s3_d8"], p);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("unknown circuit"));
    let o = zk(&["setup", "--os-rng", "--circuit", "eligibility_s4_d8"], p);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn os_rng_setup_gives_a_different_key_each_time() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    for dir in ["a", "b"] {
        let o = zk(
            &[
                "setup",
                "--os-rng",
                "--circuit",
                "fraud_only_d4",
                "--params",
                dir,
                "--cache",
                dir,
            ],
            p,
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    let a = std::fs::read(p.join("a/fraud_only_d4.vk.bin")).unwrap();
    let b = std::fs::read(p.join("b/fraud_only_d4.vk.bin")).unwrap();
    assert_ne!(a, b);
}

#[test]
fn prove_batch_proves_a_directory_and_reports_failures() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    setup_small(p);
    std::fs::create_dir(p.join("in")).unwrap();
    for seed in ["1", "2", "3"] {
        let out = format!("in/w{seed}.json");
        common::gen_small_witness(p, "5", seed, &out);
    }
    let batch = |p: &Path| {
        zk(
            &[
                "prove",
                "--batch",
                "in",
                "--out",
                "out",
                "--jobs",
                "2",
                "--params",
                "keys",
                "--cache",
                "keys/cache",
            ],
            p,
        )
    };
    let o = batch(p);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("proved 3/3"), "{}", text(&o));
    for seed in ["1", "2", "3"] {
        let o = zk(
            &[
                "verify",
                "--proof",
                &format!("out/w{seed}.proof.json"),
                "--public",
                &format!("out/w{seed}.public.json"),
                "--vk",
                "keys/eligibility_s4_d8.vk.json",
            ],
            p,
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    // One witness that violates the policy: the others are proved, the run fails naming it.
    let mut w: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("in/w2.json")).unwrap()).unwrap();
    w["witness"]["policy"]["max_active_loans"] = serde_json::json!(1);
    std::fs::write(p.join("in/w2.json"), w.to_string()).unwrap();
    let o = batch(p);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("proved 2/3") && text(&o).contains("w2.json"),
        "{}",
        text(&o)
    );
}

/// A service moved to PostgreSQL while `--data-dir` still holds its SQLite file would start
/// as a new service (new keys, no rows, every subject key changed): refused before any
/// connection (nothing listens on port 9), naming the file, for each store that holds keys.
#[test]
fn postgres_beside_a_services_sqlite_file_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("admin.token"), "admin-token-0123456789abcdef").unwrap();
    let pg = "postgres://zk@127.0.0.1:9/zk";
    let tree = [
        "--data-dir",
        ".",
        "--database-url",
        pg,
        "--admin-token-file",
        "admin.token",
        "--provider-id",
        "7",
    ];
    // RFC 8032 test 1 public key: a valid point, so the refusal tested is the store's.
    let key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a".to_string();
    let provider: Vec<&str> = ["provider", "serve", "--role", "lender", "--issuer-key"]
        .into_iter()
        .chain([key.as_str(), "--issuer-url", "http://127.0.0.1:9"])
        .chain(tree)
        .collect();
    let issuer: Vec<&str> = ["issuer", "serve"].into_iter().chain(tree).collect();
    let registry = vec![
        "registry",
        "serve",
        "--data-dir",
        ".",
        "--database-url",
        pg,
        "--admin-token-file",
        "admin.token",
    ];
    for (file, args) in [
        ("registry.sqlite", registry),
        ("issuer.sqlite", issuer),
        ("provider.sqlite", provider),
    ] {
        std::fs::write(p.join(file), b"").unwrap();
        let o = zk(&args, p);
        let t = text(&o);
        assert!(!o.status.success(), "{file}: {t}");
        assert!(
            t.contains(file) && t.contains("not moved to PostgreSQL"),
            "{file}: {t}"
        );
        std::fs::remove_file(p.join(file)).unwrap();
    }
}

/// `wallet serve` refuses a malformed trusted lender before loading any key (exit 2, saying
/// what form it expects), and needs at least one.
#[test]
fn wallet_serve_checks_its_lenders() {
    let d = tempfile::tempdir().unwrap();
    let base = [
        "wallet",
        "serve",
        "--issuer",
        "http://127.0.0.1:9",
        "--registry",
        "http://127.0.0.1:9",
    ];
    let o = zk(
        &[&base[..], &["--lender", "Acme=abcd=http://127.0.0.1:9"]].concat(),
        d.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("64 hex digits"), "{}", text(&o));
    let o = zk(&base, d.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--lender"), "{}", text(&o));
}

/// `zkcredit model check` (SPEC §6.9): the example file's policy object parses back as the
/// terms the library derives; bad files and arguments exit 2 with the reason.
#[test]
fn model_check_prints_the_policy_object_and_refuses_bad_input() {
    use zkcredit_circuits::model::{file::ScoringModel, ModelTerms};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let example = root.join("params/models/defi-score-basic.json");
    let ex = example.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let o = zk(
        &["model", "check", ex, "--max-default", "0.05", "--json"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let printed: ModelTerms = serde_json::from_slice(&o.stdout).unwrap();
    let m = ScoringModel::from_json(&std::fs::read_to_string(&example).unwrap()).unwrap();
    assert_eq!(printed, m.terms(0.05).unwrap());
    let o = zk(
        &[
            "model",
            "check",
            ex,
            "--max-default",
            "0.05",
            "--factors",
            "2,500000,30,650,5184000",
        ],
        dir.path(),
    );
    assert!(
        o.status.success() && text(&o).contains("refused"),
        "{}",
        text(&o)
    );
    let bad = dir.path().join("bad.json");
    let cases: [(&[&str], &str, &str); 5] = [
        (
            &[],
            r#"{"name":"x","version":"1","scale_bits":40,"intercept":0,"coefficients":{"income":1}}"#,
            "unknown factor `income`",
        ),
        (
            &[],
            r#"{"name":"x","version":"1","scale_bits":40,"intercept":1e30,"coefficients":{}}"#,
            "outside the circuit's bound",
        ),
        (
            &["--max-default", "1.5"],
            r#"{"name":"x","version":"1","scale_bits":40,"intercept":0,"coefficients":{}}"#,
            "must be in (0, 1)",
        ),
        (
            &["--factors", "1,2"],
            r#"{"name":"x","version":"1","scale_bits":40,"intercept":0,"coefficients":{}}"#,
            "needs 5 comma-separated values",
        ),
        (
            &["--json"],
            r#"{"name":"x","version":"1","scale_bits":40,"intercept":0,"coefficients":{}}"#,
            "--max-default",
        ),
    ];
    for (args, body, reason) in cases {
        std::fs::write(&bad, body).unwrap();
        let mut all = vec!["model", "check", bad.to_str().unwrap()];
        all.extend_from_slice(args);
        let o = zk(&all, dir.path());
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            text(&o).contains(reason),
            "{args:?}: expected {reason:?} in {}",
            text(&o)
        );
    }
}
