//! `zkcredit setup|prove|verify --system halo2` (SPEC §11) on a small eligibility circuit
//! (4 slots × depth 8): keys from the development powers of tau, a proof that verifies, the
//! development key refused without `--insecure-dev-keys`, a changed public input refused
//! (exit 1), a statement halo2 does not prove refused (exit 2), `setup --check`.

mod common;

use common::{text, zk};

fn ok(o: std::process::Output, what: &str) -> String {
    let t = text(&o);
    assert!(o.status.success(), "{what} failed:\n{t}");
    t
}

#[test]
fn setup_prove_verify_with_halo2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::gen_small_witness(d, "20", "1", "w.json");
    // `setup --system halo2` of the 4-slot depth-8 circuit into `params`.
    let setup_into = |params: &'static str| {
        vec![
            "setup",
            "--system",
            "halo2",
            "--circuit",
            "eligibility_s4_d8",
            "--params",
            params,
            "--cache",
            "keys/cache",
        ]
    };
    let mut setup = setup_into("keys");
    setup.push("--insecure-dev-keys");
    let t = ok(zk(&setup, d), "setup");
    assert!(t.contains("INSECURE development powers of tau"), "{t}");
    assert!(
        t.contains("keys/eligibility_s4_d8.halo2.vk.json (sha256 "),
        "{t}"
    );
    let sol = d.join("keys/eligibility_s4_d8.halo2.verifier.sol");
    let sol_text = std::fs::read_to_string(&sol).unwrap();
    assert!(
        sol_text.contains("contract Halo2Verifier") && sol_text.contains("// INSECURE"),
        "{sol_text:.400}"
    );
    // Without --insecure-dev-keys no verifier is written for the development key.
    let plain = setup_into("keys2");
    let t = ok(zk(&plain, d), "setup without --insecure-dev-keys");
    assert!(t.contains("no EVM verifier written"), "{t}");
    assert!(!d
        .join("keys2/eligibility_s4_d8.halo2.verifier.sol")
        .exists());
    let mut check = setup.clone();
    check.push("--check");
    ok(zk(&check, d), "setup --check");
    // A changed verifier is found by --check.
    std::fs::write(&sol, sol_text.replacen("0x", "0x0", 1)).unwrap();
    let o = zk(&check, d);
    assert!(!o.status.success(), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("halo2.verifier.sol"),
        "{o:?}"
    );
    std::fs::write(&sol, &sol_text).unwrap();

    let t = ok(
        zk(
            &[
                "prove",
                "--system",
                "halo2",
                "--witness",
                "w.json",
                "--params",
                "keys",
                "--out",
                ".",
            ],
            d,
        ),
        "prove",
    );
    assert!(t.contains("proved eligibility_s4_d8 with halo2"), "{t}");
    let verify = |extra: &[&str]| {
        let mut a = vec![
            "verify",
            "--system",
            "halo2",
            "--proof",
            "proof.json",
            "--public",
            "public.json",
            "--vk",
            "keys/eligibility_s4_d8.halo2.vk.json",
        ];
        a.extend_from_slice(extra);
        zk(&a, d)
    };
    let o = verify(&[]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a development key needs the flag: {}",
        text(&o)
    );
    assert!(text(&o).contains("INSECURE development powers of tau"));
    let t = ok(verify(&["--insecure-dev-keys"]), "verify");
    assert!(
        t.contains("proof is VALID") && t.contains("origination_tag = 0"),
        "{t}"
    );

    // Regression (review): six or eight public inputs are bad input, not a valid proof.
    let public = std::fs::read_to_string(d.join("public.json")).unwrap();
    let v: Vec<String> = serde_json::from_str(&public).unwrap();
    for n in [6, 8] {
        let mut w = v.clone();
        w.resize(n, "0".into());
        std::fs::write(d.join("public.json"), serde_json::to_string(&w).unwrap()).unwrap();
        let o = verify(&["--insecure-dev-keys"]);
        assert_eq!(o.status.code(), Some(2), "{n} inputs: {}", text(&o));
    }
    std::fs::write(d.join("public.json"), &public).unwrap();
    // A changed public input: exit 1.
    let public = std::fs::read_to_string(d.join("public.json")).unwrap();
    let mut v: Vec<String> = serde_json::from_str(&public).unwrap();
    v[2] = (v[2].parse::<u64>().unwrap() + 1).to_string();
    std::fs::write(d.join("public.json"), serde_json::to_string(&v).unwrap()).unwrap();
    let o = verify(&["--insecure-dev-keys"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("proof is INVALID"));

    // A Groth16 proof file is not a halo2 proof: exit 2.
    std::fs::write(d.join("proof.json"), r#"{"pi_a": []}"#).unwrap();
    assert_eq!(verify(&["--insecure-dev-keys"]).status.code(), Some(2));
    // halo2 proves the eligibility statement only.
    let o = zk(
        &[
            "setup",
            "--system",
            "halo2",
            "--circuit",
            "fraud_only_d20",
            "--params",
            "keys",
            "--cache",
            "keys/cache",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// `zkcredit demo --system halo2`: the off-chain journey with halo2 proofs (the wallet
/// proves with halo2, the lender's verifier accepts `halo2-kzg`), every decision as expected.
/// The keys are cached in the repository's `params/cache/halo2`, shared with the on-chain
/// halo2 test.
#[test]
fn the_demo_runs_off_chain_with_halo2() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cache = root.join("params/cache");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_zkcredit"))
        .args(["demo", "--system", "halo2", "--cache"])
        .arg(&cache)
        .current_dir(&root)
        .output()
        .unwrap();
    let out = ok(o, "demo --system halo2");
    assert!(out.contains("the wallets prove with halo2"), "{out}");
    let ana = out
        .lines()
        .find(|l| l.trim_start().starts_with("Ana   1 loan"))
        .unwrap_or_else(|| panic!("no line for Ana: {out}"));
    assert!(ana.contains("ACCEPTED"), "{ana}");
    assert!(
        out.contains("demo finished: every decision as expected"),
        "{out}"
    );
}
