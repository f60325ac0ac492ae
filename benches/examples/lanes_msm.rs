//! Issue 14's lanes MSM, measured on the prover's five MSMs one at a time (each on both
//! cores), alternating pair by pair on one development key and one assignment:
//! - **GLV**: the prover's path before it (`zkcredit_prover::glv`: the scalars decomposed,
//!   then taceo-ark-algebra's MSM over the 2n signed bases);
//! - **lanes**: `zkcredit_simd::g1_msm` / `g2_msm` (the scalars recoded into 13-bit signed
//!   digits, the buckets summed as sorted runs in eight AVX-512 IFMA lanes).
//!
//! Every lanes result is checked equal to the GLV one. Run with `ZKCREDIT_SIMD=off` to see
//! that the lanes path is refused (it then panics: nothing to compare).
//!
//! `cargo run --release -p zkcredit-benches --example lanes_msm -- [fraud20|fraud32|elig4|elig8|elig16] [PAIRS] [only]`
//! (`only`: time the lanes alone, for a profiler; the GLV column is then empty).
use ark_bn254::{g1, g2, Fr};
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Affine, Projective};
use ark_ec::CurveGroup;
use std::hint::black_box;
use std::time::Instant;
use zkcredit_benches::{eligibility_instance_slots, fraud_only_instance, median, ms, MsmCase};
use zkcredit_prover::fast::assignment;
use zkcredit_prover::fixed::{all_digits, WINDOW};
use zkcredit_prover::glv::{self, Decomposed, Decomposer};

type Lanes<C> =
    fn(&[Affine<C>], &[[i16; 20]], u32) -> Result<Option<Projective<C>>, zkcredit_simd::SimdError>;

fn measure<C: GLVConfig<ScalarField = Fr, ZeroFlag = ()>>(
    name: &str,
    bases: &[Affine<C>],
    scalars: &[Fr],
    pairs: usize,
    only: bool,
    lanes: Lanes<C>,
) -> (String, f64, f64) {
    let n = bases.len().min(scalars.len());
    let (bases, scalars) = (&bases[..n], &scalars[..n]);
    let dec = Decomposer::new::<C>();
    let with_glv = || {
        let d = Decomposed::new(&dec, scalars).expect("halves of at most 128 bits");
        glv::msm(bases, &d, 0)
    };
    let in_lanes = || {
        let d = all_digits(scalars);
        lanes(bases, &d, WINDOW as u32)
            .expect("no lanes error")
            .expect("the lanes are available")
    };
    assert_eq!(
        in_lanes().into_affine(),
        with_glv().into_affine(),
        "{name}: lanes differ"
    );
    let (mut g, mut l) = (vec![], vec![]);
    for i in 0..pairs {
        let mut run_glv = || {
            if only {
                return;
            }
            let t = Instant::now();
            let _ = black_box(with_glv());
            g.push(ms(t));
        };
        let mut run_lanes = || {
            let t = Instant::now();
            let _ = black_box(in_lanes());
            l.push(ms(t));
        };
        if i % 2 == 0 {
            run_glv();
            run_lanes();
        } else {
            run_lanes();
            run_glv();
        }
    }
    let g = if only { f64::NAN } else { median(&mut g) };
    (name.into(), g, median(&mut l))
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "elig16".into());
    let pairs: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(7)
        .max(1);
    let only = std::env::args().nth(3).is_some_and(|a| a == "only");
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
        measure::<g1::Config>(
            "MSM A (G1)",
            &pk.a_query[1..],
            w1,
            pairs,
            only,
            zkcredit_simd::g1_msm,
        ),
        measure::<g1::Config>(
            "MSM B (G1)",
            &pk.b_g1_query[1..],
            w1,
            pairs,
            only,
            zkcredit_simd::g1_msm,
        ),
        measure::<g2::Config>(
            "MSM B (G2)",
            &pk.b_g2_query[1..],
            w1,
            pairs,
            only,
            zkcredit_simd::g2_msm,
        ),
        measure::<g1::Config>(
            "MSM L (C, private wires)",
            &pk.l_query,
            aux,
            pairs,
            only,
            zkcredit_simd::g1_msm,
        ),
        measure::<g1::Config>("MSM H", &pk.h_query, h, pairs, only, zkcredit_simd::g1_msm),
    ];
    println!("| MSM | GLV (decomposition + MSM) | lanes (digits + MSM) | speed-up |");
    println!("|---|---:|---:|---:|");
    let (mut sg, mut sl) = (0.0, 0.0);
    for (name, g, l) in rows {
        println!("| {name} | {g:.1} ms | {l:.1} ms | {:.2}× |", g / l);
        sg += g;
        sl += l;
    }
    println!("| sum | {sg:.1} ms | {sl:.1} ms | {:.2}× |", sg / sl);
}
