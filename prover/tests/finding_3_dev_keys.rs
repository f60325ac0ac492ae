//! Finding 3 of issue 10: development keys are forgeable. The toxic waste of the
//! development setup follows from the published seed, and with it anyone builds
//! `A = α, B = β, C = −(γ/δ)·vk_x` for any public inputs — which Groth16 accepts. This test
//! performs that forgery (so the danger is pinned) and checks that
//! `is_insecure_dev_vk` recognises the development key and not a key from OS randomness.

use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::Field;
use ark_groth16::Proof;
use zkcredit_circuits::eligibility::{EligibilityParams, PublicInputs, NUM_PUBLIC_INPUTS};
use zkcredit_circuits::Fr;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::setup::{insecure_dev_trapdoor, is_insecure_dev_vk};
use zkcredit_verifier::Verifier;

const P: EligibilityParams = EligibilityParams { slots: 4, depth: 8 };

#[test]
fn finding_3_development_key_forgery_is_accepted_and_the_key_is_recognised() {
    let id = CircuitId::Eligibility(P);
    let name = id.name();
    let vk = id.insecure_dev_setup().unwrap().vk;
    let t = insecure_dev_trapdoor(&name);
    // The trapdoor really is this key's.
    assert_eq!((t.g1 * t.alpha).into_affine(), vk.alpha_g1);
    assert_eq!((t.g2 * t.delta).into_affine(), vk.delta_g2);
    // Arbitrary public inputs: nobody ever proved anything about them.
    let inputs: Vec<Fr> = (1..=NUM_PUBLIC_INPUTS as u64)
        .map(|i| Fr::from(i * 1_234_567 + 89))
        .collect();
    let mut vk_x = vk.gamma_abc_g1[0].into_group();
    for (x, ic) in inputs.iter().zip(&vk.gamma_abc_g1[1..]) {
        vk_x += *ic * x;
    }
    let gamma_over_delta = t.gamma * t.delta.inverse().unwrap();
    let forged = Proof {
        a: vk.alpha_g1,
        b: vk.beta_g2,
        c: (vk_x * (-gamma_over_delta)).into_affine(),
    };
    let public = PublicInputs::from_slice(&inputs).unwrap();
    Verifier::new(&vk)
        .verify(&forged, &public)
        .expect("the forgery against the development key verifies: this is the danger");
    // So every command that verifies or deploys must recognise the key …
    assert!(is_insecure_dev_vk(&name, &vk));
    // … and a key from OS randomness is not mistaken for one.
    let real = id.setup_os_rng().unwrap().vk;
    assert!(!is_insecure_dev_vk(&name, &real));
    assert!(Verifier::new(&real).verify(&forged, &public).is_err());
}

/// Regression (review of the finding-3 fix): a key that re-randomised only δ still carries
/// the development β and γ, which alone forge (`A = α + (γ/β)·vk_x, B = β, C = 0`); it must
/// be recognised as a development key too.
#[test]
fn regression_a_key_sharing_part_of_the_development_trapdoor_is_recognised() {
    let id = CircuitId::Eligibility(P);
    let name = id.name();
    let mut vk = id.insecure_dev_setup().unwrap().vk;
    let other = id.setup_os_rng().unwrap().vk;
    vk.delta_g2 = other.delta_g2;
    let t = insecure_dev_trapdoor(&name);
    let inputs: Vec<Fr> = (1..=NUM_PUBLIC_INPUTS as u64)
        .map(|i| Fr::from(i * 7 + 3))
        .collect();
    let mut vk_x = vk.gamma_abc_g1[0].into_group();
    for (x, ic) in inputs.iter().zip(&vk.gamma_abc_g1[1..]) {
        vk_x += *ic * x;
    }
    let forged = Proof {
        a: (vk.alpha_g1.into_group() + vk_x * (t.gamma * t.beta.inverse().unwrap())).into_affine(),
        b: vk.beta_g2,
        c: ark_bn254::G1Affine::identity(),
    };
    let public = PublicInputs::from_slice(&inputs).unwrap();
    Verifier::new(&vk)
        .verify(&forged, &public)
        .expect("β and γ alone forge");
    assert!(is_insecure_dev_vk(&name, &vk));
}
