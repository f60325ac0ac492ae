//! The fraud-only statement (SPEC §6.7) in halo2: the native twin
//! (`FraudOnlyCircuit::check`) and the circuit agree on honest witnesses and on each
//! broken rule (which rule, and `MockProver` refuses); a real KZG proof with an SRS read from
//! a `.ptau` file verifies, and neither a tampered input nor a proof forced from a false
//! statement does.

use ark_ff::UniformRand;
use rand::{rngs::StdRng, SeedableRng};
use zkcredit_circuits::eligibility::Rule;
use zkcredit_circuits::imt::IndexedMerkleTree;
use zkcredit_circuits::statements::{subject_commitment, FraudOnlyCircuit, Subject};
use zkcredit_circuits::{CircuitError, Fr};
use zkcredit_halo2::field::to_halo2;
use zkcredit_halo2::keys::{read_pk, write_pk, VkFile};
use zkcredit_halo2::proof::{keygen, mock, prove, prove_forced, verify};
use zkcredit_halo2::srs;
use zkcredit_halo2::statements::FraudOnly;
use zkcredit_halo2::Halo2Error;

const DEPTH: usize = 32;
const K: u32 = 14;
const LOOKUP_BITS: usize = 8;

fn tree() -> IndexedMerkleTree {
    let rows: Vec<(Fr, [Fr; 3])> = (1..=50u64)
        .map(|k| (Fr::from(k * 1_000_003), [Fr::from(1u64); 3]))
        .collect();
    IndexedMerkleTree::from_rows(DEPTH, &rows).unwrap()
}

fn statement(tree: &IndexedMerkleTree, key: Fr) -> FraudOnly {
    let mut rng = StdRng::seed_from_u64(7);
    let subject = Subject {
        key,
        blinding: Fr::rand(&mut rng),
    };
    let (_, witness) = tree.witness(&key).unwrap();
    FraudOnly {
        depth: DEPTH,
        root: tree.root(),
        subject,
        witness,
    }
}

/// The native twin's verdict: `Ok(())` or the rule it names.
fn native(s: &FraudOnly) -> Result<(), Rule> {
    match FraudOnlyCircuit::check(DEPTH, s.root, &s.subject, &s.witness) {
        Ok(_) => Ok(()),
        Err(CircuitError::Statement { rule, .. }) => Err(rule),
        Err(e) => panic!("unexpected native error {e}"),
    }
}

fn circuit(s: &FraudOnly) -> (bool, Option<Rule>) {
    mock(K, LOOKUP_BITS, s).unwrap()
}

#[test]
fn an_absent_subject_is_proved_and_both_sides_agree() {
    let t = tree();
    for key in [5_000_001u64, 1, 999_999_999] {
        let s = statement(&t, Fr::from(key));
        assert_eq!(native(&s), Ok(()));
        assert_eq!(circuit(&s), (true, None), "key {key}");
    }
}

#[test]
fn each_broken_rule_is_refused_and_named() {
    let t = tree();
    // A listed subject: its own (membership) witness.
    let listed = statement(&t, Fr::from(3 * 1_000_003u64));
    assert_eq!(native(&listed), Err(Rule::FraudList));
    assert_eq!(circuit(&listed), (false, Some(Rule::FraudList)));

    // Another tree's root: the path does not lead to it.
    let mut wrong_root = statement(&t, Fr::from(5_000_001u64));
    wrong_root.root += Fr::from(1u64);
    assert_eq!(native(&wrong_root), Err(Rule::Lookup));
    assert_eq!(circuit(&wrong_root), (false, Some(Rule::Lookup)));

    // A low leaf that is not the subject's (a valid path, but the key is not in its gap).
    let mut wrong_gap = statement(&t, Fr::from(5_000_001u64));
    wrong_gap.witness = t.witness(&Fr::from(9_000_001u64)).unwrap().1;
    assert_eq!(native(&wrong_gap), Err(Rule::Lookup));
    assert_eq!(circuit(&wrong_gap), (false, Some(Rule::Lookup)));

    // A listed subject claiming absence with its predecessor's leaf: x = next_key.
    let mut claim_gap = statement(&t, Fr::from(3 * 1_000_003u64));
    claim_gap.witness = t.witness(&Fr::from(3 * 1_000_003u64 - 1)).unwrap().1;
    assert_eq!(native(&claim_gap), Err(Rule::Lookup));
    assert_eq!(circuit(&claim_gap), (false, Some(Rule::Lookup)));
}

#[test]
fn the_subject_key_is_range_checked() {
    let t = tree();
    let mut zero = statement(&t, Fr::from(5_000_001u64));
    zero.subject.key = Fr::from(0u64);
    assert_eq!(circuit(&zero), (false, Some(Rule::SubjectKey)));
    let mut wide = statement(&t, Fr::from(5_000_001u64));
    wide.subject.key = -Fr::from(1u64);
    assert_eq!(circuit(&wide), (false, Some(Rule::SubjectKey)));
}

#[test]
fn a_real_proof_verifies_and_a_false_one_does_not() {
    let tau = Fr::rand(&mut StdRng::seed_from_u64(99));
    let ptau = srs::insecure_test_ptau(K, tau);
    let params = srs::params(&srs::read_powers(&ptau, K).unwrap()).unwrap();
    let t = tree();
    let honest = statement(&t, Fr::from(5_000_001u64));
    let keys = keygen(&params, LOOKUP_BITS, &honest).unwrap();

    let (proof, public) = prove(&params, &keys, &honest).unwrap();
    let commitment = subject_commitment(&honest.subject.key, &honest.subject.blinding);
    assert_eq!(public, vec![to_halo2(&t.root()), to_halo2(&commitment)]);
    verify(&params, keys.vk(), &proof, &public).unwrap();
    println!("halo2 fraud-only d{DEPTH}: proof {} bytes", proof.len());

    // Each public input tampered.
    for i in 0..public.len() {
        let mut p = public.clone();
        p[i] += zkcredit_halo2::HFr::from(1u64);
        assert!(matches!(
            verify(&params, keys.vk(), &proof, &p),
            Err(Halo2Error::InvalidProof)
        ));
    }
    // A flipped proof byte.
    let mut bad = proof.clone();
    bad[100] ^= 1;
    assert!(verify(&params, keys.vk(), &bad, &public).is_err());

    // A listed subject: refused before proving, and a proof forced from it does not verify.
    let listed = statement(&t, Fr::from(3 * 1_000_003u64));
    assert!(matches!(
        prove(&params, &keys, &listed),
        Err(Halo2Error::Statement(Rule::FraudList))
    ));
    let (forced, public) = prove_forced(&params, &keys, &listed).unwrap();
    assert!(verify(&params, keys.vk(), &forced, &public).is_err());
}

#[test]
fn key_files_round_trip_and_verify_without_the_srs() {
    let ptau = srs::insecure_test_ptau(K, Fr::from(5u64));
    let params = srs::params(&srs::read_powers(&ptau, K).unwrap()).unwrap();
    let t = tree();
    let honest = statement(&t, Fr::from(5_000_001u64));
    let keys = keygen(&params, LOOKUP_BITS, &honest).unwrap();
    // The verifying-key file: self-contained, one SRS point in G1.
    let file = VkFile::new("fraud_only_d32", &keys, &params).unwrap();
    let text = file.to_json();
    let back = VkFile::from_json(&text).unwrap();
    assert_eq!(back.to_json(), text);
    assert_eq!(back.digest(), file.digest());
    // The proving-key cache.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fraud.pk");
    write_pk(&path, &keys).unwrap();
    let cached = read_pk(&path).unwrap();
    let (proof, public) = prove(&params, &cached, &honest).unwrap();
    verify(&back.params, &back.vk, &proof, &public).unwrap();
    let mut p = public.clone();
    p[1] += zkcredit_halo2::HFr::from(1u64);
    assert!(verify(&back.params, &back.vk, &proof, &p).is_err());
    // Keys are deterministic: the same SRS and circuit give the same verifying key.
    let again = keygen(&params, LOOKUP_BITS, &statement(&t, Fr::from(1u64))).unwrap();
    assert_eq!(
        VkFile::new("fraud_only_d32", &again, &params)
            .unwrap()
            .digest(),
        file.digest()
    );
    // Another SRS gives another key, which refuses the proof.
    let other =
        srs::params(&srs::read_powers(&srs::insecure_test_ptau(K, Fr::from(6u64)), K).unwrap())
            .unwrap();
    let other_keys = keygen(&other, LOOKUP_BITS, &honest).unwrap();
    let other_file = VkFile::new("fraud_only_d32", &other_keys, &other).unwrap();
    assert_ne!(other_file.digest(), file.digest());
    assert!(verify(&other_file.params, &other_file.vk, &proof, &public).is_err());
    // Damaged files are refused with a message.
    assert!(VkFile::from_json(&text.replace("halo2-kzg", "groth16")).is_err());
    assert!(VkFile::from_json("{}").is_err());
    // Regression (review): the circuit name is written into the generated verifier's
    // comments, so only [A-Za-z0-9_] is read (a newline would inject Solidity).
    for name in ["fraud_only_d32\nfunction x() {}", "", "a b", "é"] {
        let renamed = text.replace("\"fraud_only_d32\"", &serde_json::to_string(name).unwrap());
        assert_ne!(renamed, text);
        assert!(VkFile::from_json(&renamed).is_err(), "{name:?}");
    }

    // Regression (review): a file's G1/G2 must be the generators. Rescaling both G2 points
    // by `a` keeps honest proofs verifying but hides the development τ from `is_dev`;
    // τ·G2 = G2 (τ = 1) makes τ known; a G1 other than the generator unbinds evaluations.
    use zkcredit_halo2::halo2_proofs_reexport::{
        G1Affine, G2Affine, SerdeCurveAffine, SerdeFormat,
    };
    let hexp = |p: &dyn Fn(&mut Vec<u8>)| {
        let mut b = Vec::new();
        p(&mut b);
        hex::encode(b)
    };
    let a = zkcredit_halo2::HFr::from(3u64);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let s_g2: G2Affine = G2Affine::read(
        &mut hex::decode(v["s_g2"].as_str().unwrap()).unwrap().as_slice(),
        SerdeFormat::RawBytes,
    )
    .unwrap();
    use zkcredit_halo2::halo2_proofs_reexport::Curve;
    let g2a = (G2Affine::generator() * a).to_affine();
    let s_g2a = (s_g2 * a).to_affine();
    let mut rescaled = v.clone();
    rescaled["g2"] = hexp(&|b| g2a.write(b, SerdeFormat::RawBytes).unwrap()).into();
    rescaled["s_g2"] = hexp(&|b| s_g2a.write(b, SerdeFormat::RawBytes).unwrap()).into();
    assert!(
        VkFile::from_json(&rescaled.to_string()).is_err(),
        "rescaled G2"
    );
    let mut tau_one = v.clone();
    tau_one["s_g2"] = v["g2"].clone();
    assert!(
        VkFile::from_json(&tau_one.to_string()).is_err(),
        "τ·G2 = G2"
    );
    let mut g1 = v.clone();
    let two = (G1Affine::generator() + G1Affine::generator()).to_affine();
    g1["g1"] = hexp(&|b| two.write(b, SerdeFormat::RawBytes).unwrap()).into();
    assert!(
        VkFile::from_json(&g1.to_string()).is_err(),
        "G1 not the generator"
    );
    // A layout a hostile file could use to make halo2 assert or allocate: refused.
    let mut wide = v.clone();
    wide["config"]["num_advice_per_phase"] = serde_json::json!([100000]);
    assert!(VkFile::from_json(&wide.to_string()).is_err(), "huge layout");
    let mut lb = v;
    lb["config"]["lookup_bits"] = serde_json::json!(40);
    assert!(
        VkFile::from_json(&lb.to_string()).is_err(),
        "lookup bits beyond k"
    );
}

/// KZG accumulation (SPEC §11.4): valid proofs pass together; in a mixed batch exactly the
/// invalid ones are named — a proof forced from a false statement (caught only by the final
/// pairing), a changed public input, and bytes that are no proof.
#[test]
fn a_batch_names_exactly_its_invalid_proofs() {
    use zkcredit_halo2::proof::verify_batch;
    let tau = Fr::rand(&mut StdRng::seed_from_u64(98));
    let ptau = srs::insecure_test_ptau(K, tau);
    let params = srs::params(&srs::read_powers(&ptau, K).unwrap()).unwrap();
    let t = tree();
    let a = statement(&t, Fr::from(5_000_001u64));
    let keys = keygen(&params, LOOKUP_BITS, &a).unwrap();
    let (pa, xa) = prove(&params, &keys, &a).unwrap();
    let (pb, xb) = prove(&params, &keys, &statement(&t, Fr::from(7_000_001u64))).unwrap();
    let listed = statement(&t, Fr::from(3 * 1_000_003u64));
    let (forced, xf) = prove_forced(&params, &keys, &listed).unwrap();
    let mut changed = xb.clone();
    changed[0] += zkcredit_halo2::HFr::from(1u64);
    let garbage = vec![7u8; 64];

    assert!(verify_batch(&params, keys.vk(), &[]).is_empty());
    assert!(verify_batch(
        &params,
        keys.vk(),
        &[
            (pa.as_slice(), xa.as_slice()),
            (pb.as_slice(), xb.as_slice())
        ]
    )
    .is_empty());
    let mixed = [
        (pa.as_slice(), xa.as_slice()),
        (forced.as_slice(), xf.as_slice()),
        (pb.as_slice(), xb.as_slice()),
        (pb.as_slice(), changed.as_slice()),
        (garbage.as_slice(), xa.as_slice()),
    ];
    assert_eq!(verify_batch(&params, keys.vk(), &mixed), vec![1, 3, 4]);
    // The forced proof alone in a batch: only the final pairing can refuse it.
    assert_eq!(
        verify_batch(&params, keys.vk(), &[(forced.as_slice(), xf.as_slice())]),
        vec![0]
    );
}
