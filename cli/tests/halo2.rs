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
    let setup = [
        "setup",
        "--system",
        "halo2",
        "--circuit",
        "eligibility_s4_d8",
        "--params",
        "keys",
        "--cache",
        "keys/cache",
    ];
    let t = ok(zk(&setup, d), "setup");
    assert!(t.contains("INSECURE development powers of tau"), "{t}");
    assert!(
        t.contains("keys/eligibility_s4_d8.halo2.vk.json (sha256 "),
        "{t}"
    );
    let mut check = setup.to_vec();
    check.push("--check");
    ok(zk(&check, d), "setup --check");

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
