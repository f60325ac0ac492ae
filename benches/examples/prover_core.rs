//! Issue 14, two levers of the prover core, each measured on ONE proving key and ONE full
//! assignment per circuit, alternating proof by proof (the first of a pair alternates too),
//! the same blinding `(r, s)` for both of a pair — so the two proofs must be identical, and
//! every one is verified.
//!
//! - `prover_core -- [PAIRS]` — the MSM lever: the core we used (arkworks 0.6
//!   `create_proof_with_reduction_and_matrices`) against `zkcredit_prover::fast::Prover`'s
//!   (`taceo-groth16`'s witness maps and signed-digit, batch-affine MSMs; since the GLV
//!   lever, with GLV too), on fraud-only depth 32 and eligibility 16 slots × depth 32.
//! - `prover_core -- glv [PAIRS]` — the GLV lever: `fast::Prover` with its MSMs plain
//!   against with GLV, on fraud-only depth 20 and 32 and eligibility 4, 8 and 16 slots.
//! - `prover_core -- fixed [PAIRS]` — the fixed-base lever: `fast::Prover` as `new` makes it
//!   (GLV) against the same with `with_fixed_base_tables`, on fraud-only depth 20 and 32,
//!   and the time the tables took to build.
//! - `prover_core -- lanes [PAIRS]` — the lanes MSM lever: `fast::Prover` with its MSMs as
//!   before (`with_lanes(false)`: GLV, taceo-ark-algebra's MSM) against in the lanes
//!   (`zkcredit_simd::g1_msm`, `g2_msm`), on fraud-only depth 20 and 32 and eligibility 4, 8 and 16
//!   slots; needs AVX-512 IFMA.
//!
//! `cargo run --release -p zkcredit-benches --example prover_core -- [glv|fixed|lanes] [PAIRS]`
//! (default 20 pairs per circuit).
use ark_bn254::{Bn254, Fr};
use ark_ff::UniformRand;
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, ProvingKey};
use std::time::Instant;
use zkcredit_benches::{eligibility_instance, eligibility_instance_slots, fraud_only_instance};
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::fast::{assignment, Prover, Qap, R1cs};

struct Case {
    name: String,
    pk: ProvingKey<Bn254>,
    pvk: PreparedVerifyingKey<Bn254>,
    r1cs: R1cs,
    prover: Prover,
    full: Vec<Fr>,
}

fn case(id: CircuitId, full: Vec<Fr>) -> Case {
    let pk = id.insecure_dev_setup().expect("setup");
    let r1cs = id.r1cs().expect("r1cs");
    let prover = id.prover(pk.clone()).expect("prover");
    assert_eq!(prover.qap(), Qap::Arkworks);
    assert_eq!(full.len(), r1cs.num_inputs + r1cs.num_witness);
    Case {
        name: id.name(),
        pvk: ark_groth16::prepare_verifying_key(&pk.vk),
        pk,
        r1cs,
        prover,
        full,
    }
}

/// The arkworks core, as `fast::Prover` called it before.
fn arkworks(c: &Case, r: Fr, s: Fr) -> Proof<Bn254> {
    let (m, ni, nc) = (&c.r1cs.matrices, c.r1cs.num_inputs, c.r1cs.num_constraints);
    Groth16::<Bn254>::create_proof_with_reduction_and_matrices(&c.pk, r, s, m, ni, nc, &c.full)
        .expect("arkworks proof")
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

type Core<'a> = Box<dyn Fn(Fr, Fr) -> Proof<Bn254> + 'a>;

fn run(c: &Case, pairs: usize, first: Core<'_>, second: Core<'_>) {
    let public = &c.full[1..c.r1cs.num_inputs];
    let check = |p: &Proof<Bn254>| {
        assert!(
            Groth16::<Bn254>::verify_proof(&c.pvk, p, public).expect("verify"),
            "{}: a proof does not verify",
            c.name
        );
    };
    let mut rng = rand::rngs::OsRng;
    // One of each first (page-in, thread-pool start), checked, not timed.
    let (r, s) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
    check(&first(r, s));
    check(&second(r, s));
    let (mut ta, mut tn) = (Vec::new(), Vec::new());
    for i in 0..pairs {
        let (r, s) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
        let (mut pa, mut pn) = (None, None);
        for which in [i % 2 == 0, i % 2 == 1] {
            let t = Instant::now();
            if which {
                pa = Some(first(r, s));
                ta.push(t.elapsed().as_secs_f64() * 1e3);
            } else {
                pn = Some(second(r, s));
                tn.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        let (pa, pn) = (pa.expect("first ran"), pn.expect("second ran"));
        check(&pn);
        assert_eq!(pa, pn, "{}: the two cores disagree", c.name);
    }
    let (ma, mn) = (median(&mut ta), median(&mut tn));
    println!(
        "| {} | {} | {pairs} | {ma:.1} ms | {mn:.1} ms | {:.2}× |",
        c.name,
        c.r1cs.num_constraints,
        ma / mn
    );
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let glv = args.first().is_some_and(|a| a == "glv");
    let fixed = args.first().is_some_and(|a| a == "fixed");
    let lanes = args.first().is_some_and(|a| a == "lanes");
    if glv || fixed || lanes {
        args.remove(0);
    }
    let pairs: usize = args
        .first()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
        .max(1);
    if fixed {
        println!(
            "| circuit | constraints | pairs | `new` (lanes, or GLV) median | fixed-base tables median | speed-up |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for depth in [20, 32] {
            let (id, circuit) = fraud_only_instance(depth);
            let c = case(id, assignment(circuit).expect("assignment"));
            let glv = id.prover(c.pk.clone()).expect("prover");
            let t = Instant::now();
            let tables = id
                .prover(c.pk.clone())
                .expect("prover")
                .with_fixed_base_tables();
            let built = t.elapsed().as_secs_f64();
            assert!(tables.uses_fixed_base_tables());
            run(
                &c,
                pairs,
                Box::new(|r, s| glv.prove_assignment(&c.full, r, s).expect("proof")),
                Box::new(|r, s| tables.prove_assignment(&c.full, r, s).expect("proof")),
            );
            println!("(tables for {}: built in {built:.2} s)", id.name());
        }
        return;
    }
    if glv || lanes {
        if glv {
            println!(
                "| circuit | constraints | pairs | plain MSMs median | GLV MSMs median | speed-up |"
            );
        } else {
            println!(
                "| circuit | constraints | pairs | MSMs before median | MSMs in lanes median | speed-up |"
            );
        }
        println!("|---|---:|---:|---:|---:|---:|");
        let mut cases = Vec::new();
        for depth in [20, 32] {
            let (id, c) = fraud_only_instance(depth);
            cases.push((id, assignment(c).expect("assignment")));
        }
        for slots in [4, 8, 16] {
            let (id, c) = eligibility_instance_slots(slots);
            cases.push((id, assignment(c).expect("assignment")));
        }
        for (id, full) in cases {
            let c = case(id, full);
            let (plain, with) = if glv {
                // Without the lanes, which would run the MSMs either way.
                let p = |on| {
                    id.prover(c.pk.clone())
                        .expect("prover")
                        .with_lanes(false)
                        .with_glv(on)
                };
                (p(false), p(true))
            } else {
                let p = |on| id.prover(c.pk.clone()).expect("prover").with_lanes(on);
                let (before, after) = (p(false), p(true));
                assert!(
                    after.uses_lanes(),
                    "no AVX-512 IFMA here (or ZKCREDIT_SIMD=off)"
                );
                (before, after)
            };
            run(
                &c,
                pairs,
                Box::new(|r, s| plain.prove_assignment(&c.full, r, s).expect("proof")),
                Box::new(|r, s| with.prove_assignment(&c.full, r, s).expect("proof")),
            );
        }
        return;
    }
    println!(
        "| circuit | constraints | pairs | arkworks core median | our core median | speed-up |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    // Fraud-only depth 32 (a non-member of a 1,000-row list), then eligibility 16 slots ×
    // depth 32 (the default parameters).
    let (fraud, fraud_circuit) = fraud_only_instance(32);
    let (elig, elig_circuit) = eligibility_instance();
    for c in [
        case(fraud, assignment(fraud_circuit).expect("assignment")),
        case(elig, assignment(elig_circuit).expect("assignment")),
    ] {
        run(
            &c,
            pairs,
            Box::new(|r, s| arkworks(&c, r, s)),
            Box::new(|r, s| c.prover.prove_assignment(&c.full, r, s).expect("proof")),
        );
    }
}
