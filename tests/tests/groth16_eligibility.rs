//! Real Groth16 proofs of the default eligibility circuit (16 slots × depth 32):
//! the committed verifying key is the development key, an honest proof verifies (in Rust
//! and in snarkjs), and each of the seven public inputs changed alone makes it fail.

use ark_ff::One;
use ark_std::rand::{rngs::StdRng, SeedableRng};
use std::process::Command;
use std::sync::OnceLock;
use zkcredit_circuits::eligibility::{
    EligibilityParams, PublicInputs, NUM_PUBLIC_INPUTS, PUBLIC_INPUT_NAMES,
};
use zkcredit_circuits::Fr;
use zkcredit_prover::files::VkFiles;
use zkcredit_testkit::scenario::{eligible_applicant, Layout};
use zkcredit_tests::{default_prover, params_dir, snarkjs};
use zkcredit_verifier::snarkjs::{public_to_json, ProofJson, VerifyingKeyJson};
use zkcredit_verifier::{keys, Verifier, VerifyError};

type Proof = ark_groth16::Proof<ark_bn254::Bn254>;

const NOW: u64 = 1_790_000_000;

/// One honest proof, shared by the tests of this binary.
fn honest() -> &'static (Proof, PublicInputs) {
    static P: OnceLock<(Proof, PublicInputs)> = OnceLock::new();
    P.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(99);
        let params = EligibilityParams::default();
        let (_, _, w) = eligible_applicant(params, Layout::default(), &mut rng, 200, NOW).unwrap();
        zkcredit_prover::prove_eligibility(default_prover(), params, w).unwrap()
    })
}

#[test]
fn committed_verifying_key_is_the_development_key() {
    let committed = VkFiles::new(&params_dir(), "eligibility_s16_d32")
        .read()
        .unwrap();
    assert_eq!(
        committed,
        default_prover().pk().vk,
        "params/ must hold the insecure development key; regenerate with `zkcredit setup`"
    );
    let pinned =
        std::fs::read_to_string(params_dir().join("eligibility_s16_d32.vk.sha256")).unwrap();
    assert_eq!(pinned.trim(), keys::vk_digest(&default_prover().pk().vk));
    // The JSON file is exactly what our exporter writes (generated, never hand-edited).
    let json = std::fs::read_to_string(params_dir().join("eligibility_s16_d32.vk.json")).unwrap();
    let expected =
        serde_json::to_string_pretty(&VerifyingKeyJson::from_vk(&default_prover().pk().vk))
            .unwrap()
            + "\n";
    assert_eq!(json, expected);
}

#[test]
fn honest_proof_verifies_and_is_128_bytes() {
    let (proof, public) = honest();
    let v = Verifier::new(&default_prover().pk().vk);
    assert_eq!(v.num_public_inputs(), NUM_PUBLIC_INPUTS);
    v.verify(proof, public).unwrap();
    let bytes = keys::proof_to_bytes(proof);
    assert_eq!(bytes.len(), 128);
    assert_eq!(&keys::proof_from_bytes(&bytes).unwrap(), proof);
}

#[test]
fn each_public_input_changed_alone_fails_verification() {
    let (proof, public) = honest();
    let v = Verifier::new(&default_prover().pk().vk);
    for i in 0..NUM_PUBLIC_INPUTS {
        let mut xs = public.to_vec();
        xs[i] += Fr::one();
        let tampered = PublicInputs::from_slice(&xs).unwrap();
        assert_eq!(
            v.verify(proof, &tampered),
            Err(VerifyError::InvalidProof),
            "{} tampered",
            PUBLIC_INPUT_NAMES[i]
        );
    }
    // Wrong count is its own error, never a silent zero-padding.
    let xs = public.to_vec();
    assert!(matches!(
        v.verify_raw(proof, &xs[..NUM_PUBLIC_INPUTS - 1]),
        Err(VerifyError::PublicInputCount {
            expected: NUM_PUBLIC_INPUTS,
            got
        }) if got == NUM_PUBLIC_INPUTS - 1
    ));
}

#[test]
fn a_proof_for_another_statement_does_not_verify() {
    let (proof, public) = honest();
    let mut rng = StdRng::seed_from_u64(100);
    let params = EligibilityParams::default();
    let (_, _, w) = eligible_applicant(params, Layout::default(), &mut rng, 10, NOW).unwrap();
    let (proof2, public2) =
        zkcredit_prover::prove_eligibility(default_prover(), params, w).unwrap();
    let v = Verifier::new(&default_prover().pk().vk);
    v.verify(&proof2, &public2).unwrap();
    assert_eq!(v.verify(&proof2, public), Err(VerifyError::InvalidProof));
    assert_eq!(v.verify(proof, &public2), Err(VerifyError::InvalidProof));
}

fn snarkjs_verify(dir: &std::path::Path) -> (bool, String) {
    let out = Command::new("node")
        .arg(snarkjs())
        .args(["groth16", "verify"])
        .arg(dir.join("verification_key.json"))
        .arg(dir.join("public.json"))
        .arg(dir.join("proof.json"))
        .output()
        .expect("node must be on PATH");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && text.contains("OK"), text)
}

/// Peer verifier interop: `snarkjs groth16 verify` accepts our proof and verifying key and
/// rejects the same proof with one public signal changed.
#[test]
fn snarkjs_accepts_our_proof_and_rejects_a_changed_signal() {
    let (proof, public) = honest();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        params_dir().join("eligibility_s16_d32.vk.json"),
        dir.path().join("verification_key.json"),
    )
    .unwrap();
    let write = |name: &str, v: &serde_json::Value| {
        std::fs::write(dir.path().join(name), v.to_string()).unwrap()
    };
    write(
        "proof.json",
        &serde_json::to_value(ProofJson::from_proof(proof)).unwrap(),
    );
    write(
        "public.json",
        &serde_json::to_value(public_to_json(&public.to_vec())).unwrap(),
    );
    let (ok, text) = snarkjs_verify(dir.path());
    assert!(ok, "snarkjs rejected a valid zkcredit proof:\n{text}");

    let mut xs = public.to_vec();
    xs[4] += Fr::one(); // nullifier
    write(
        "public.json",
        &serde_json::to_value(public_to_json(&xs)).unwrap(),
    );
    let (ok, text) = snarkjs_verify(dir.path());
    assert!(!ok, "snarkjs accepted a changed public signal:\n{text}");
}

/// SPEC §6.9 with real proofs: under the example model a borrower exactly at the threshold
/// proves and verifies; one unit below it the wallet's check refuses, and a proof forced
/// past that check (the cached-matrices prover does not re-check constraints) never
/// verifies.
#[test]
fn the_model_threshold_holds_in_real_proofs() {
    use zkcredit_circuits::eligibility::{Policy, Rule};
    use zkcredit_circuits::model::Factors;
    use zkcredit_testkit::scenario::{model_policy, EXAMPLE_MIN_KYC_AGE};
    let mut rng = StdRng::seed_from_u64(7);
    let params = EligibilityParams::default();
    let (world, b, w) = eligible_applicant(params, Layout::default(), &mut rng, 20, NOW).unwrap();
    let mut terms = model_policy(0.05).model;
    // 1 loan of 120,000, 5 days late, score 700, KYC'd 60 days before NOW.
    let x = Factors([1, 120_000, 5, 700, 2 * EXAMPLE_MIN_KYC_AGE as u128]);
    let z = i64::try_from(terms.linear(&x).unwrap()).unwrap();
    let v = Verifier::new(&default_prover().pk().vk);
    for (t, admitted) in [(z, true), (z - 1, false)] {
        terms.max_logit = t;
        let policy = Policy {
            model: terms,
            ..w.policy
        };
        let w = world.witness(&b, policy, NOW, w.scope, w.context).unwrap();
        match zkcredit_prover::prove_eligibility(default_prover(), params, w.clone()) {
            Ok((proof, public)) => {
                assert!(admitted, "proved a refused borrower");
                v.verify(&proof, &public).unwrap();
            }
            Err(e) => {
                assert!(!admitted, "{e}");
                refused_and_unforgeable(e, Rule::DefaultModel, params, w, &v);
            }
        }
    }
}

/// §6.10 in real proofs: under a new-loan limit the proof exposes the borrower's tag of the
/// index it chose and verifies; an index at the limit cannot be proved, and a proof forced
/// from that witness does not verify.
#[test]
fn the_new_loan_limit_holds_in_real_proofs() {
    use zkcredit_circuits::eligibility::{epoch_of, origination_tag, Policy, Rule};
    let mut rng = StdRng::seed_from_u64(8);
    let params = EligibilityParams::default();
    let (world, b, w) = eligible_applicant(params, Layout::default(), &mut rng, 20, NOW).unwrap();
    let policy = Policy {
        max_new_loans: 2,
        ..w.policy
    };
    let v = Verifier::new(&default_prover().pk().vk);
    for j in [1u64, 2] {
        let mut w = world.witness(&b, policy, NOW, w.scope, w.context).unwrap();
        w.origination_index = j;
        match zkcredit_prover::prove_eligibility(default_prover(), params, w.clone()) {
            Ok((proof, public)) => {
                assert_eq!(j, 1, "proved an index at the limit");
                assert_eq!(
                    public.origination_tag,
                    origination_tag(&b.holder_secret, epoch_of(NOW), 1)
                );
                v.verify(&proof, &public).unwrap();
            }
            Err(e) => {
                assert_eq!(j, 2, "{e}");
                refused_and_unforgeable(e, Rule::Origination, params, w, &v);
            }
        }
    }
}

/// The prover refused `w` naming `rule`, and a proof forced from `w` (the constraint system
/// unsatisfied) does not verify.
fn refused_and_unforgeable(
    e: zkcredit_prover::ProverError,
    rule: zkcredit_circuits::eligibility::Rule,
    params: EligibilityParams,
    w: zkcredit_circuits::eligibility::EligibilityWitness,
    v: &Verifier,
) {
    use zkcredit_circuits::eligibility::EligibilityCircuit;
    use zkcredit_circuits::CircuitError;
    assert!(
        matches!(
            &e,
            zkcredit_prover::ProverError::Statement(CircuitError::Statement { rule: r, .. }) if *r == rule
        ),
        "{e:?}"
    );
    let public = w.public_inputs();
    let forced = default_prover()
        .prove(
            EligibilityCircuit::with_public(params, w, public),
            &mut rand::rngs::OsRng,
        )
        .unwrap();
    assert!(matches!(
        v.verify(&forced, &public),
        Err(VerifyError::InvalidProof)
    ));
}
