//! Real halo2 (KZG over BN254) proofs of the eligibility statement (SPEC §6, §11) with the
//! structured reference string read from a powers-of-tau file made by the pinned snarkjs
//! (`powersoftau new` + one contribution): an honest proof verifies; each of the seven
//! public inputs changed alone makes it fail; for rules broken one at a time the prover
//! refuses and a proof forced from the witness does not verify. The file's checks refuse a
//! damaged or too small file.

mod soundness;

use soundness::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use zkcredit_halo2::eligibility::Eligibility;
use zkcredit_halo2::halo2_proofs_reexport::{Bn256, ParamsKZG};
use zkcredit_halo2::proof::{keygen, prove, prove_forced, verify, Keys};
use zkcredit_halo2::{srs, HFr, Halo2Error};

const POWER: u32 = HALO2_K;

/// A powers of tau of 2^POWER from snarkjs, generated once and kept in the target directory.
fn ptau() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("halo2");
    let done = dir.join(format!("pot{POWER}_1.ptau"));
    if done.exists() {
        return done;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let o = Command::new("node")
            .arg(zkcredit_tests::snarkjs())
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("node runs (install Node.js and `bash scripts/install-js.sh`)");
        assert!(
            o.status.success(),
            "snarkjs {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let p0 = format!("pot{POWER}_0.ptau");
    run(&["powersoftau", "new", "bn128", &POWER.to_string(), &p0]);
    run(&[
        "powersoftau",
        "contribute",
        &p0,
        "tmp.ptau",
        "--name=halo2 test",
        "-e=entropy of the halo2 test",
    ]);
    std::fs::rename(dir.join("tmp.ptau"), &done).unwrap();
    done
}

struct Setup {
    params: ParamsKZG<Bn256>,
    keys: Keys,
}

fn setup_keys() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let params = srs::load(&ptau(), HALO2_K).unwrap();
        let (world, b) = soundness::setup(1);
        let shape = Eligibility::new(P, witness(&world, &b)).unwrap();
        let keys = keygen(&params, HALO2_LOOKUP_BITS, &shape).unwrap();
        Setup { params, keys }
    })
}

fn public_of(w: &EligibilityWitness) -> Vec<HFr> {
    w.public_inputs()
        .to_vec()
        .iter()
        .map(zkcredit_halo2::field::to_halo2)
        .collect()
}

#[test]
fn an_honest_proof_verifies_and_each_changed_input_fails() {
    let s = setup_keys();
    let (world, b) = soundness::setup(2);
    let w = witness(&world, &b);
    let t = std::time::Instant::now();
    let (proof, public) =
        prove(&s.params, &s.keys, &Eligibility::new(P, w.clone()).unwrap()).unwrap();
    println!(
        "halo2 eligibility s{} d{} (2^{HALO2_K} rows): proved in {:?}, {} bytes",
        P.slots,
        P.depth,
        t.elapsed(),
        proof.len()
    );
    assert_eq!(public, public_of(&w));
    verify(&s.params, s.keys.vk(), &proof, &public).unwrap();
    for i in 0..public.len() {
        let mut p = public.clone();
        p[i] += HFr::from(1u64);
        assert!(
            matches!(
                verify(&s.params, s.keys.vk(), &proof, &p),
                Err(Halo2Error::InvalidProof)
            ),
            "public input {i} changed alone"
        );
    }
    assert!(verify(&s.params, s.keys.vk(), &proof, &public[..6]).is_err());
}

/// The prover refuses `w` naming `rule`, and a proof forced from it does not verify.
fn refused_and_unforgeable(w: EligibilityWitness, rule: Rule) {
    let s = setup_keys();
    let e = Eligibility::new(P, w).unwrap();
    match prove(&s.params, &s.keys, &e) {
        Err(Halo2Error::Statement(r)) => assert_eq!(r, rule),
        other => panic!(
            "expected the prover to refuse {rule:?}, got {:?}",
            other.map(|_| ())
        ),
    }
    let (forced, public) = prove_forced(&s.params, &s.keys, &e).unwrap();
    assert!(
        verify(&s.params, s.keys.vk(), &forced, &public).is_err(),
        "a proof forced from a witness breaking {rule:?} verified"
    );
}

#[test]
fn broken_rules_cannot_be_proved() {
    let (world, b) = soundness::setup(3);
    // §6.2 another holder secret: the KYC record's v0 is not H(secret).
    let mut w = witness(&world, &b);
    w.holder_secret += Fr::from(1u64);
    refused_and_unforgeable(w, Rule::KycHolder);
    // §6.4 a lender whose limit the borrower's loans reach.
    let mut w = witness(&world, &b);
    w.policy.max_active_loans = 0;
    refused_and_unforgeable(w, Rule::ActiveLoans);
    // §6.10 an origination index at the limit.
    let mut w = witness(&world, &b);
    w.policy.max_new_loans = 2;
    w.origination_index = 2;
    refused_and_unforgeable(w, Rule::Origination);
}

#[test]
fn the_powers_of_tau_file_is_checked() {
    let path = ptau();
    let bytes = std::fs::read(&path).unwrap();
    assert!(matches!(
        srs::read_powers(&bytes, POWER + 1),
        Err(Halo2Error::SrsTooSmall { needed, available }) if needed == POWER + 1 && available == POWER
    ));
    // A byte of a G1 power changed: not a point, or not a power of the same secret.
    // snarkjs writes the header (12 bytes), section 1 (12 + 44) and then section 2's
    // header (12): the G1 powers start at byte 80; change a byte of power 100's x.
    assert_eq!(
        &bytes[68..72],
        &2u32.to_le_bytes(),
        "section 2 follows the header"
    );
    let mut bad = bytes.clone();
    bad[80 + 100 * 64 + 5] ^= 0x40;
    assert!(matches!(
        srs::read_powers(&bad, POWER),
        Err(Halo2Error::Srs { .. } | Halo2Error::SrsInconsistent(_))
    ));
    // Truncated.
    assert!(srs::read_powers(&bytes[..bytes.len() / 2], POWER).is_err());
    assert!(matches!(
        srs::read_powers(b"not a ptau", 1),
        Err(Halo2Error::Srs { .. })
    ));
}
