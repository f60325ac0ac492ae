//! A real phase-2 ceremony with the pinned snarkjs (docs/CEREMONY.md, SPEC §10) on the
//! fraud-only circuit at depth 20: our R1CS and witness exported and accepted by snarkjs, a
//! powers of tau of 2^13, three contributions and a beacon, `snarkjs zkey verify`, the key
//! imported; zkcredit proves and both zkcredit and snarkjs verify, and a snarkjs proof
//! verifies in zkcredit. A tampered contribution fails verification; a key for another
//! circuit, one with a changed coefficient, and truncated or corrupted files are refused
//! with a clear error, never a panic.

mod common;

use ark_ff::UniformRand;
use ark_std::rand::{rngs::StdRng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use zkcredit_circuits::imt::IndexedMerkleTree;
use zkcredit_circuits::statements::{subject_commitment, FraudOnlyCircuit, Subject};
use zkcredit_circuits::Fr;
use zkcredit_prover::cache::{load_or_setup, KeySource};
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::fast::{assignment, Qap};
use zkcredit_verifier::snarkjs::{public_to_json, ProofJson};

const DEPTH: usize = 20;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn snarkjs(args: &[&str], cwd: &Path) -> Output {
    let bin = root().join("js/node_modules/.bin/snarkjs");
    assert!(
        bin.exists(),
        "snarkjs is not installed: run `bash scripts/install-js.sh` (pinned in js/package-lock.json)"
    );
    Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn ok(o: Output, what: &str) -> String {
    let t = common::text(&o);
    assert!(o.status.success(), "{what} failed:\n{t}");
    t
}

/// A prepared powers of tau of 2^13, generated once and kept in the target directory.
fn ptau() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ceremony");
    let done = dir.join("pot13_final.ptau");
    if done.exists() {
        return done;
    }
    std::fs::create_dir_all(&dir).unwrap();
    ok(
        snarkjs(&["powersoftau", "new", "bn128", "13", "pot13_0.ptau"], &dir),
        "powersoftau new",
    );
    ok(
        snarkjs(
            &[
                "powersoftau",
                "contribute",
                "pot13_0.ptau",
                "pot13_1.ptau",
                "--name=phase1",
                "-e=phase one entropy for the test",
            ],
            &dir,
        ),
        "powersoftau contribute",
    );
    ok(
        snarkjs(
            &[
                "powersoftau",
                "prepare",
                "phase2",
                "pot13_1.ptau",
                "pot13_tmp.ptau",
            ],
            &dir,
        ),
        "powersoftau prepare phase2",
    );
    std::fs::rename(dir.join("pot13_tmp.ptau"), &done).unwrap();
    done
}

fn fraud_instance() -> (FraudOnlyCircuit, [Fr; 2]) {
    let mut rng = StdRng::seed_from_u64(20);
    let rows: Vec<(Fr, [Fr; 3])> = (1..=50u64)
        .map(|k| (Fr::from(k * 1_000_003), [Fr::from(1u64); 3]))
        .collect();
    let tree = IndexedMerkleTree::from_rows(DEPTH, &rows).unwrap();
    let s = Subject {
        key: Fr::from(5_000_001u64),
        blinding: Fr::rand(&mut rng),
    };
    let (_, w) = tree.witness(&s.key).unwrap();
    let public = [tree.root(), subject_commitment(&s.key, &s.blinding)];
    let c = FraudOnlyCircuit {
        depth: DEPTH,
        public: Some(public),
        witness: Some((s, w)),
    };
    (c, public)
}

/// The byte range of each section of an iden3 container.
fn sections(b: &[u8]) -> Vec<(u32, usize, usize)> {
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let mut out = Vec::new();
    let mut pos = 12;
    for _ in 0..u32_at(8) {
        let id = u32_at(pos);
        let len = u64::from_le_bytes(b[pos + 4..pos + 12].try_into().unwrap()) as usize;
        out.push((id, pos + 12, len));
        pos += 12 + len;
    }
    out
}

fn section(b: &[u8], id: u32) -> (usize, usize) {
    let (_, at, len) = *sections(b).iter().find(|s| s.0 == id).unwrap();
    (at, len)
}

/// `zkcredit import-zkey FILE --circuit fraud_only_d20 --params DIR`: must fail with exit 2
/// and a message containing `want`, without panicking.
fn import_refused(dir: &Path, file: &str, want: &str) {
    let o = common::zk(
        &[
            "import-zkey",
            file,
            "--circuit",
            "fraud_only_d20",
            "--params",
            "refused",
        ],
        dir,
    );
    let t = common::text(&o);
    assert_eq!(o.status.code(), Some(2), "{file}: {t}");
    assert!(t.contains(want), "{file}: expected {want:?} in {t}");
    assert!(!t.contains("panicked"), "{file}: {t}");
    assert!(!dir.join("refused").exists(), "{file}: nothing is written");
}

#[test]
fn a_snarkjs_ceremony_gives_keys_that_zkcredit_proves_with() {
    let ptau = ptau();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let ptau = ptau.to_str().unwrap();

    // 1. Our exact constraint system and a witness, as snarkjs reads them.
    ok(
        common::zk(
            &[
                "export-r1cs",
                "--circuit",
                "fraud_only_d20",
                "--out",
                "c.r1cs",
            ],
            d,
        ),
        "export-r1cs",
    );
    let info = ok(snarkjs(&["r1cs", "info", "c.r1cs"], d), "r1cs info");
    let pinned = zkcredit_circuits::costs::FRAUD_ONLY_D20;
    assert!(
        info.contains(&format!("# of Constraints: {pinned}")),
        "{info}"
    );
    assert!(info.contains("# of Public Inputs: 2"), "{info}");
    let (circuit, public) = fraud_instance();
    let z = assignment(circuit.clone()).unwrap();
    std::fs::write(
        d.join("c.wtns"),
        zkcredit_prover::circom::r1cs::wtns_bytes(&z),
    )
    .unwrap();
    ok(
        snarkjs(&["wtns", "check", "c.r1cs", "c.wtns"], d),
        "wtns check",
    );
    // A witness with one wire changed is not a witness of this R1CS.
    let mut bad = z.clone();
    bad[5] += Fr::from(1u8);
    std::fs::write(
        d.join("bad.wtns"),
        zkcredit_prover::circom::r1cs::wtns_bytes(&bad),
    )
    .unwrap();
    let o = snarkjs(&["wtns", "check", "c.r1cs", "bad.wtns"], d);
    assert!(
        !common::text(&o).contains("WITNESS IS CORRECT"),
        "{}",
        common::text(&o)
    );

    // 2. Phase 2: the coordinator's initial key, three contributions, a beacon.
    ok(
        snarkjs(&["zkey", "new", "c.r1cs", ptau, "c0.zkey"], d),
        "zkey new",
    );
    for (i, who) in ["alice", "bob", "carol"].iter().enumerate() {
        ok(
            snarkjs(
                &[
                    "zkey",
                    "contribute",
                    &format!("c{i}.zkey"),
                    &format!("c{}.zkey", i + 1),
                    &format!("--name={who}"),
                    &format!("-e={who}'s private entropy"),
                ],
                d,
            ),
            "zkey contribute",
        );
    }
    let beacon = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    ok(
        snarkjs(
            &[
                "zkey",
                "beacon",
                "c3.zkey",
                "final.zkey",
                beacon,
                "10",
                "-n=beacon",
            ],
            d,
        ),
        "zkey beacon",
    );
    let v = ok(
        snarkjs(&["zkey", "verify", "c.r1cs", ptau, "final.zkey"], d),
        "zkey verify",
    );
    assert!(v.contains("ZKey Ok!"), "{v}");

    // A contribution whose published key has one byte of δ changed fails verification.
    let mut t = std::fs::read(d.join("c2.zkey")).unwrap();
    let (hdr, _) = section(&t, 2);
    t[hdr + 4 + 32 + 4 + 32 + 12 + 64 + 64 + 128 + 128 + 5] ^= 1;
    std::fs::write(d.join("tampered.zkey"), &t).unwrap();
    let o = snarkjs(&["zkey", "verify", "c.r1cs", ptau, "tampered.zkey"], d);
    assert!(!o.status.success(), "{}", common::text(&o));
    assert!(!common::text(&o).contains("ZKey Ok!"));

    // 3. Import; zkcredit proves with the imported key (snarkjs's witness map).
    let out = ok(
        common::zk(
            &[
                "import-zkey",
                "final.zkey",
                "--circuit",
                "fraud_only_d20",
                "--params",
                "keys",
            ],
            d,
        ),
        "import-zkey",
    );
    assert!(
        out.contains("its sizes and A/B coefficients are this circuit's"),
        "{out}"
    );
    let id = CircuitId::FraudOnly { depth: DEPTH };
    let (prover, source) = load_or_setup(&id, &d.join("keys"), &d.join("keys/cache")).unwrap();
    assert_eq!(source, KeySource::Cached);
    assert_eq!(prover.qap(), Qap::Circom);
    let proof = prover
        .prove(circuit, &mut rand::rngs::OsRng)
        .expect("prove");
    let vk = prover.pk().vk.clone();
    zkcredit_verifier::Verifier::new(&vk)
        .verify_raw(&proof, &public)
        .expect("zkcredit verifies its proof");
    let mut wrong = public;
    wrong[1] += Fr::from(1u8);
    assert!(zkcredit_verifier::Verifier::new(&vk)
        .verify_raw(&proof, &wrong)
        .is_err());
    std::fs::write(
        d.join("proof.json"),
        serde_json::to_string(&ProofJson::from_proof(&proof)).unwrap(),
    )
    .unwrap();
    std::fs::write(
        d.join("public.json"),
        serde_json::to_string(&public_to_json(&public)).unwrap(),
    )
    .unwrap();
    let v = ok(
        snarkjs(
            &[
                "groth16",
                "verify",
                "keys/fraud_only_d20.vk.json",
                "public.json",
                "proof.json",
            ],
            d,
        ),
        "snarkjs groth16 verify (zkcredit's proof)",
    );
    assert!(v.contains("OK!"), "{v}");

    // The Solidity verifier generated from the imported key accepts the proof in revm.
    let digest = zkcredit_verifier::keys::vk_digest(&vk);
    let sol = zkcredit_evm::codegen::verifier_sol(&vk, "fraud_only_d20", &digest, false);
    assert!(!sol.contains("INSECURE"), "{sol}");
    std::fs::write(d.join("FraudVerifier.sol"), sol).unwrap();
    let o = Command::new("node")
        .arg(root().join("contracts/compile.js"))
        .args([
            "--file",
            "FraudVerifier.sol",
            "--contract",
            "Groth16Verifier",
        ])
        .current_dir(d)
        .output()
        .expect("node on PATH");
    assert!(o.status.success(), "solc-js: {}", common::text(&o));
    let artifact: serde_json::Value = serde_json::from_slice(&o.stdout).expect("artifact JSON");
    let code = hex::decode(
        artifact["bytecode"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .unwrap();
    let mut vm = zkcredit_evm::vm::Chain::new(1_700_000_000);
    let from = alloy_primitives::Address::repeat_byte(0x11);
    let (verifier, _) = vm
        .deploy(
            "Groth16Verifier",
            from,
            &code,
            &[],
            alloy_primitives::U256::ZERO,
        )
        .unwrap();
    let call = |vm: &mut zkcredit_evm::vm::Chain, inputs: &[Fr; 2]| {
        let mut data =
            zkcredit_evm::codegen::selector("verifyProof(uint256[8],uint256[2])").to_vec();
        for w in zkcredit_evm::abi::proof_words(&proof) {
            data.extend_from_slice(&w.to_be_bytes::<32>());
        }
        for x in inputs {
            data.extend_from_slice(&zkcredit_evm::abi::fr_word(x).to_be_bytes::<32>());
        }
        let out = vm.view(from, verifier, data).unwrap();
        assert!(out.success, "verifyProof reverted: {:?}", out.output);
        out.output.last() == Some(&1)
    };
    assert!(
        call(&mut vm, &public),
        "the imported key's contract accepts zkcredit's proof"
    );
    assert!(!call(&mut vm, &wrong), "and refuses it for other inputs");

    // 4. A proof snarkjs makes from our R1CS and witness verifies in zkcredit.
    ok(
        snarkjs(
            &[
                "groth16",
                "prove",
                "final.zkey",
                "c.wtns",
                "sproof.json",
                "spublic.json",
            ],
            d,
        ),
        "snarkjs groth16 prove",
    );
    ok(
        common::zk(
            &[
                "verify",
                "--proof",
                "sproof.json",
                "--public",
                "spublic.json",
                "--vk",
                "keys/fraud_only_d20.vk.json",
                "--circuit",
                "fraud_only_d20",
            ],
            d,
        ),
        "zkcredit verify (snarkjs's proof)",
    );

    // 5. Refusals: another circuit's key, a changed coefficient, damaged files.
    ok(
        common::zk(
            &[
                "export-r1cs",
                "--circuit",
                "fraud_only_d18",
                "--out",
                "o.r1cs",
            ],
            d,
        ),
        "export-r1cs d18",
    );
    ok(
        snarkjs(&["zkey", "new", "o.r1cs", ptau, "other.zkey"], d),
        "zkey new d18",
    );
    import_refused(d, "other.zkey", "is not a key for circuit fraud_only_d20");
    // Found by review: the coordinator's initial key (γ₂ = δ₂ = the generator, no
    // contribution) let anyone forge proofs; refused.
    import_refused(d, "c0.zkey", "forge");
    let good = std::fs::read(d.join("final.zkey")).unwrap();
    let (coeffs, _) = section(&good, 4);
    let mut changed = good.clone();
    // The first coefficient's value (after n, matrix, constraint, signal): add one to it.
    changed[coeffs + 4 + 12] = changed[coeffs + 4 + 12].wrapping_add(1);
    std::fs::write(d.join("changed.zkey"), &changed).unwrap();
    import_refused(d, "changed.zkey", "constraint matrices differ");
    for (name, cut) in [
        ("empty.zkey", 0),
        ("magic.zkey", 3),
        ("table.zkey", 20),
        ("half.zkey", good.len() / 2),
        ("short.zkey", good.len() - 1),
    ] {
        std::fs::write(d.join(name), &good[..cut]).unwrap();
        import_refused(d, name, "not a valid zkey file");
    }
    let (a_query, _) = section(&good, 5);
    let mut corrupt = good.clone();
    corrupt[a_query + 64 * 3 + 7] ^= 0x40;
    std::fs::write(d.join("corrupt.zkey"), &corrupt).unwrap();
    import_refused(d, "corrupt.zkey", "not a valid zkey file");
    let mut longer = good.clone();
    longer.extend_from_slice(&[0u8; 16]);
    std::fs::write(d.join("longer.zkey"), &longer).unwrap();
    import_refused(d, "longer.zkey", "trailing bytes");
    // The committed development params are never overwritten by an import.
    let o = common::zk(
        &[
            "import-zkey",
            "final.zkey",
            "--circuit",
            "fraud_only_d20",
            "--params",
            "params",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(2), "{}", common::text(&o));
}

/// The peer benchmark's path on the whole statement, in small: snarkjs accepts our exported
/// eligibility R1CS and `gen-witness --wtns` witness, and proves with a key we write as a
/// zkey; the proof verifies in zkcredit (`zkcredit bench --peer`, SPEC §10.1).
#[test]
fn snarkjs_proves_our_exact_eligibility_statement() {
    use ark_bn254::Bn254;
    use ark_groth16::Groth16;
    use zkcredit_circuits::eligibility::{EligibilityCircuit, EligibilityParams};
    use zkcredit_prover::circom::reduction::CircomReduction;

    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let params = EligibilityParams { slots: 4, depth: 8 };
    let out = ok(
        common::zk(
            &[
                "export-r1cs",
                "--circuit",
                "eligibility_s4_d8",
                "--out",
                "e.r1cs",
            ],
            d,
        ),
        "export-r1cs",
    );
    let r1cs = CircuitId::Eligibility(params).r1cs().unwrap();
    assert!(
        out.contains(&format!("{} constraints", r1cs.num_constraints)),
        "{out}"
    );
    let info = ok(snarkjs(&["r1cs", "info", "e.r1cs"], d), "r1cs info");
    assert!(
        info.contains(&format!("# of Constraints: {}", r1cs.num_constraints)),
        "{info}"
    );
    assert!(
        info.contains(&format!(
            "# of Public Inputs: {}",
            zkcredit_circuits::eligibility::NUM_PUBLIC_INPUTS
        )),
        "{info}"
    );
    ok(
        common::zk(
            &[
                "gen-witness",
                "--slots",
                "4",
                "--depth",
                "8",
                "--borrowers",
                "20",
                "--out",
                "w.json",
                "--wtns",
                "e.wtns",
            ],
            d,
        ),
        "gen-witness --wtns",
    );
    let check = ok(
        snarkjs(&["wtns", "check", "e.r1cs", "e.wtns"], d),
        "wtns check",
    );
    assert!(check.contains("WITNESS IS CORRECT"), "{check}");
    let mut rng = StdRng::seed_from_u64(4);
    let pk = Groth16::<Bn254, CircomReduction>::generate_random_parameters_with_reduction(
        EligibilityCircuit::for_setup(params),
        &mut rng,
    )
    .unwrap();
    std::fs::write(
        d.join("e.zkey"),
        zkcredit_prover::circom::zkey::write(&pk, &r1cs).unwrap(),
    )
    .unwrap();
    ok(
        snarkjs(
            &["groth16", "prove", "e.zkey", "e.wtns", "p.json", "pub.json"],
            d,
        ),
        "snarkjs groth16 prove",
    );
    let proof = zkcredit_verifier::snarkjs::parse_proof(
        &std::fs::read_to_string(d.join("p.json")).unwrap(),
    )
    .unwrap();
    let public = zkcredit_verifier::snarkjs::parse_public(
        &std::fs::read_to_string(d.join("pub.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        public.len(),
        zkcredit_circuits::eligibility::NUM_PUBLIC_INPUTS
    );
    let v = zkcredit_verifier::Verifier::new(&pk.vk);
    v.verify_raw(&proof, &public)
        .expect("snarkjs's proof of our statement verifies in zkcredit");
    let mut other = public.clone();
    other[0] += Fr::from(1u8);
    assert!(v.verify_raw(&proof, &other).is_err());
}
