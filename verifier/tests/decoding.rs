//! Strict decoding of outside data: snarkjs JSON and binary proofs/keys. Every rejection
//! is a typed error naming the field; arbitrary input never panics.

use ark_bn254::{Fq, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField, UniformRand};
use ark_std::rand::{rngs::StdRng, SeedableRng};
use proptest::prelude::*;
use zkcredit_circuits::eligibility::NUM_PUBLIC_INPUTS;
use zkcredit_verifier::keys::{proof_from_bytes, proof_to_bytes, vk_from_bytes};
use zkcredit_verifier::snarkjs::*;
use zkcredit_verifier::VerifyError;

const Q: &str = "21888242871839275222246405745257275088696311157297823662689037894645226208583";

fn sample_proof() -> ark_groth16::Proof<ark_bn254::Bn254> {
    let mut rng = StdRng::seed_from_u64(5);
    ark_groth16::Proof {
        a: (G1Affine::generator() * ark_bn254::Fr::rand(&mut rng)).into(),
        b: (G2Affine::generator() * ark_bn254::Fr::rand(&mut rng)).into(),
        c: (G1Affine::generator() * ark_bn254::Fr::rand(&mut rng)).into(),
    }
}

#[test]
fn proof_json_roundtrip() {
    let p = sample_proof();
    let j = ProofJson::from_proof(&p);
    assert_eq!(j.pi_a[2], "1");
    assert_eq!(j.pi_b[2], vec!["1".to_string(), "0".to_string()]);
    let text = serde_json::to_string(&j).unwrap();
    assert_eq!(parse_proof(&text).unwrap(), p);
}

#[test]
fn off_curve_point_is_rejected_with_its_name() {
    let mut j = ProofJson::from_proof(&sample_proof());
    j.pi_a[1] = "5".into();
    match j.to_proof() {
        Err(VerifyError::BadPoint { field, reason }) => {
            assert_eq!(field, "pi_a");
            assert!(reason.contains("not on the curve"));
        }
        other => panic!("expected BadPoint, got {other:?}"),
    }
    let mut j = ProofJson::from_proof(&sample_proof());
    j.pi_b[0][1] = "7".into();
    assert!(matches!(j.to_proof(), Err(VerifyError::BadPoint { field, .. }) if field == "pi_b"));
}

#[test]
fn g2_point_on_curve_but_outside_the_subgroup_is_rejected() {
    // Find x with a curve point y² = x³ + b' on the twist; such a random point is almost
    // surely outside the prime-order subgroup (the twist's cofactor is large).
    let mut rng = StdRng::seed_from_u64(6);
    let p = loop {
        let x = ark_bn254::Fq2::rand(&mut rng);
        if let Some(p) = G2Affine::get_point_from_x_unchecked(x, false) {
            if !p.is_in_correct_subgroup_assuming_on_curve() {
                break p;
            }
        }
    };
    let mut j = ProofJson::from_proof(&sample_proof());
    j.pi_b = g2_to_json(&p);
    match j.to_proof() {
        Err(VerifyError::BadPoint { field, reason }) => {
            assert_eq!(field, "pi_b");
            assert!(reason.contains("subgroup"), "{reason}");
        }
        other => panic!("expected a subgroup error, got {other:?}"),
    }
}

#[test]
fn coordinates_at_or_above_q_are_rejected_not_reduced() {
    let p = sample_proof();
    let mut j = ProofJson::from_proof(&p);
    // x + q is the same residue: it must be refused, not silently reduced.
    let x = p.a.x().unwrap();
    let mut big = x.into_bigint();
    big.add_with_carry(&Fq::MODULUS);
    j.pi_a[0] = big.to_string();
    assert!(matches!(j.to_proof(), Err(VerifyError::BadField { .. })));
    let mut j = ProofJson::from_proof(&p);
    j.pi_c[0] = Q.into();
    assert!(matches!(j.to_proof(), Err(VerifyError::BadField { field, .. }) if field == "pi_c[0]"));
    for bad in ["-1", "0x10", " 1", "01", ""] {
        let mut j = ProofJson::from_proof(&p);
        j.pi_a[0] = bad.into();
        assert!(j.to_proof().is_err(), "{bad:?}");
    }
}

#[test]
fn header_shape_and_unknown_fields() {
    let j = ProofJson::from_proof(&sample_proof());
    let mut v = serde_json::to_value(&j).unwrap();
    v["protocol"] = "plonk".into();
    assert!(
        matches!(parse_proof(&v.to_string()), Err(VerifyError::Malformed(m)) if m.contains("plonk"))
    );
    let mut v = serde_json::to_value(&j).unwrap();
    v["curve"] = "bls12381".into();
    assert!(parse_proof(&v.to_string()).is_err());
    let mut v = serde_json::to_value(&j).unwrap();
    v["extra"] = 1.into();
    assert!(
        matches!(parse_proof(&v.to_string()), Err(VerifyError::Malformed(m)) if m.contains("extra"))
    );
    let mut v = serde_json::to_value(&j).unwrap();
    v["pi_a"] = serde_json::json!(["1", "2"]);
    assert!(parse_proof(&v.to_string()).is_err());
    assert!(parse_public("[\"1\", 2]").is_err());
    assert!(parse_public("{}").is_err());
    assert_eq!(parse_public("[\"0\", \"5\"]").unwrap().len(), 2);
}

#[test]
fn vk_json_ic_count_must_match_n_public() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../params/eligibility_s16_d32.vk.json"
    ))
    .unwrap();
    let vk = parse_vk(&text).unwrap();
    assert_eq!(vk.gamma_abc_g1.len(), NUM_PUBLIC_INPUTS + 1);
    let mut j: VerifyingKeyJson = serde_json::from_str(&text).unwrap();
    j.n_public = 5;
    assert!(matches!(j.to_vk(), Err(VerifyError::Malformed(m)) if m.contains("IC")));
}

#[test]
fn binary_decoders_reject_truncation_and_trailing_bytes() {
    let b = proof_to_bytes(&sample_proof());
    assert!(proof_from_bytes(&b[..127]).is_err());
    let mut long = b.clone();
    long.push(0);
    assert!(proof_from_bytes(&long).is_err());
    let vk_bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../params/eligibility_s16_d32.vk.bin"
    ))
    .unwrap();
    vk_from_bytes(&vk_bytes).unwrap();
    assert!(vk_from_bytes(&vk_bytes[1..]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    /// Arbitrary bytes never panic any binary decoder.
    #[test]
    fn binary_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = proof_from_bytes(&bytes);
        let _ = vk_from_bytes(&bytes);
    }

    /// Arbitrary text never panics any JSON decoder.
    #[test]
    fn json_decoders_never_panic(text in ".{0,300}") {
        let _ = parse_proof(&text);
        let _ = parse_vk(&text);
        let _ = parse_public(&text);
    }

    /// Structurally valid JSON with arbitrary coordinate strings never panics and never
    /// decodes to a point that is off the curve.
    #[test]
    fn proof_json_with_arbitrary_coordinates(a in "[0-9]{1,80}", b in "[0-9]{1,80}", z in "[0-9]{1,2}") {
        let j = ProofJson {
            pi_a: vec![a.clone(), b.clone(), z.clone()],
            pi_b: vec![vec![a.clone(), b.clone()], vec![b.clone(), a.clone()], vec![z.clone(), "0".into()]],
            pi_c: vec![b, a, z],
            protocol: "groth16".into(),
            curve: "bn128".into(),
        };
        if let Ok(p) = j.to_proof() {
            prop_assert!(p.a.is_on_curve() && p.b.is_on_curve() && p.c.is_on_curve());
        }
    }
}
