//! Issue 14's GLV lever, measured on the prover's five MSMs one at a time (each on both
//! cores), alternating pair by pair on one development key and one assignment:
//! - **today**: taceo-ark-algebra's MSM (the prover's plain path) on the key's bases;
//! - **GLV, MSM**: `zkcredit_prover::glv::msm` — per proof the 2n signed bases `±P, ±φ(P)`
//!   written and the MSM run with 128-bit scalars;
//! - **GLV, decomposition**: splitting the scalars `k = k1 + λ·k2` (per proof).
//!
//! Every GLV result is checked equal to today's.
//!
//! `cargo run --release -p zkcredit-benches --example glv_msm -- [fraud20|fraud32|elig4|elig8|elig16] [PAIRS]`
use ark_bn254::Fr;
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Affine, Projective};
use ark_ec::CurveGroup;
use std::hint::black_box;
use std::time::Instant;
use zkcredit_benches::{eligibility_instance_slots, fraud_only_instance, median, ms, MsmCase};
use zkcredit_prover::fast::assignment;
use zkcredit_prover::glv::{self, Decomposed, Decomposer};

struct Row {
    name: String,
    today: Vec<f64>,
    glv_msm: Vec<f64>,
    decomp: Vec<f64>,
}

fn measure<C: GLVConfig<ScalarField = Fr, ZeroFlag = ()>>(
    name: &str,
    bases: &[Affine<C>],
    scalars: &[Fr],
    pairs: usize,
) -> Row {
    let n = bases.len().min(scalars.len());
    let (bases, scalars) = (&bases[..n], &scalars[..n]);
    let dec = Decomposer::new::<C>();
    let expected: Projective<C> = taceo_ark_algebra::msm::msm_unchecked(bases, scalars);
    let d = Decomposed::new(&dec, scalars).expect("halves of at most 128 bits");
    assert_eq!(
        glv::msm(bases, &d, 0).into_affine(),
        expected.into_affine(),
        "{name}: GLV differs"
    );
    let mut row = Row {
        name: name.into(),
        today: vec![],
        glv_msm: vec![],
        decomp: vec![],
    };
    for i in 0..pairs {
        let today = |row: &mut Row| {
            let t = Instant::now();
            let _ = black_box(taceo_ark_algebra::msm::msm_unchecked(bases, scalars));
            row.today.push(ms(t));
        };
        let with_glv = |row: &mut Row| {
            let t = Instant::now();
            let d = Decomposed::new(&dec, scalars).expect("decomposes");
            row.decomp.push(ms(t));
            let t = Instant::now();
            let _ = black_box(glv::msm(bases, &d, 0));
            row.glv_msm.push(ms(t));
        };
        if i % 2 == 0 {
            today(&mut row);
            with_glv(&mut row);
        } else {
            with_glv(&mut row);
            today(&mut row);
        }
    }
    row
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "elig".into());
    let pairs: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(7)
        .max(1);
    let (id, full) = match which.as_str() {
        "fraud" | "fraud32" => {
            let (id, c) = fraud_only_instance(32);
            (id, assignment(c).expect("assignment"))
        }
        "fraud20" => {
            let (id, c) = fraud_only_instance(20);
            (id, assignment(c).expect("assignment"))
        }
        other => {
            let slots = other
                .strip_prefix("elig")
                .and_then(|s| s.parse().ok())
                .unwrap_or(16);
            let (id, c) = eligibility_instance_slots(slots);
            (id, assignment(c).expect("assignment"))
        }
    };
    let case = MsmCase::new(&id, full);
    let (pk, nc, h) = (&case.pk, case.num_constraints, &case.h);
    let (w1, aux) = case.wires();
    println!(
        "{}: {} constraints; median of {pairs} pairs (alternating), {} threads",
        id.name(),
        nc,
        rayon::current_num_threads()
    );
    let rows = [
        measure("MSM A (G1)", &pk.a_query[1..], w1, pairs),
        measure("MSM B (G1)", &pk.b_g1_query[1..], w1, pairs),
        measure("MSM B (G2)", &pk.b_g2_query[1..], w1, pairs),
        measure("MSM L (C, private wires)", &pk.l_query, aux, pairs),
        measure("MSM H", &pk.h_query, h, pairs),
    ];
    println!("| MSM | today | GLV, MSM | GLV, decomposition | GLV total | today / GLV total |");
    println!("|---|---:|---:|---:|---:|---:|");
    let (mut st, mut sg, mut sd) = (0.0, 0.0, 0.0);
    for mut row in rows {
        let (t, g, d) = (
            median(&mut row.today),
            median(&mut row.glv_msm),
            median(&mut row.decomp),
        );
        println!(
            "| {} | {t:.1} ms | {g:.1} ms | {d:.1} ms | {:.1} ms | {:.2}× |",
            row.name,
            g + d,
            t / (g + d),
        );
        st += t;
        sg += g;
        sd += d;
    }
    println!(
        "| sum | {st:.1} ms | {sg:.1} ms | {sd:.1} ms | {:.1} ms | {:.2}× |",
        sg + sd,
        st / (sg + sd)
    );
}
