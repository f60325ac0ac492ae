//! Issue 14's profile of one proof: arkworks 0.6, taceo-groth16 (the prover core's witness
//! map and, without AVX-512 IFMA, its MSMs) and the MSMs in eight lanes
//! (`zkcredit_simd::g1_msm` / `g2_msm`, the scalars' recoding included; the prover's MSMs
//! where the processor has IFMA): witness synthesis, the witness map (the H FFTs), and each
//! of the five MSMs — A (G1), B (G1), B (G2), L (the private part of C) and H — run one at a
//! time on both cores (2 threads each), median of REPS, on one development key and one
//! assignment. In a proof the five MSMs run concurrently, so the sum is an upper bound on a
//! proof.
//!
//! `cargo run --release -p zkcredit-benches --example profile_breakdown -- [fraud|elig] [REPS]`
use ark_bn254::{Bn254, Fr, G1Projective, G2Projective};
use ark_ec::VariableBaseMSM;
use ark_ff::{BigInteger, PrimeField, Zero};
use ark_groth16::r1cs_to_qap::{LibsnarkReduction, R1CSToQAP as _};
use ark_poly::GeneralEvaluationDomain;
use std::hint::black_box;
use std::time::Instant;
use taceo_ark_algebra::msm::msm_unchecked;
use taceo_groth16::R1CSToQAP as _;
use zkcredit_benches::{eligibility_instance, fraud_only_instance};
use zkcredit_prover::fast::assignment;

/// Median wall time of `reps` runs of `f`, in ms.
fn med(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[reps / 2]
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "elig".into());
    let reps: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(7)
        .max(1);
    let (id, witness_ms, full) = if which == "fraud" {
        let (id, c) = fraud_only_instance(32);
        let ms = med(reps, || {
            black_box(assignment(c.clone()).expect("assignment"));
        });
        (id, ms, assignment(c).expect("assignment"))
    } else {
        let (id, c) = eligibility_instance();
        let ms = med(reps, || {
            black_box(assignment(c.clone()).expect("assignment"));
        });
        (id, ms, assignment(c).expect("assignment"))
    };
    let pk = id.insecure_dev_setup().expect("setup");
    let r = id.r1cs().expect("r1cs");
    let (ni, nc) = (r.num_inputs, r.num_constraints);
    let tm = r.clone().into_constraint_matrices().expect("matrices");
    let small = full
        .iter()
        .filter(|x| x.into_bigint().num_bits() <= 64)
        .count();
    let ark_map = || {
        LibsnarkReduction::witness_map_from_matrices::<Fr, GeneralEvaluationDomain<Fr>>(
            &r.matrices,
            ni,
            nc,
            &full,
        )
        .expect("witness map")
    };
    let taceo_map = || {
        taceo_groth16::LibSnarkReduction::witness_map_from_matrices::<Bn254>(&tm, &full)
            .expect("witness map")
    };
    let h = ark_map();
    assert_eq!(h, taceo_map(), "the two witness maps differ");
    let (w1, aux) = (&full[1..], &full[ni..]);
    println!(
        "{}: {nc} constraints, {} variables ({small} of them ≤ 64 bits, 0 and 1 included); median of {reps}, {} threads",
        id.name(),
        full.len(),
        rayon::current_num_threads()
    );
    {
        use ark_ec::AffineRepr;
        let zeros = |q: &[ark_bn254::G1Affine]| q.iter().filter(|p| p.is_zero()).count();
        let zero_scalars = w1.iter().filter(|x| x.is_zero()).count();
        println!(
            "points at infinity: A {} of {}, B (G1) {} of {}, B (G2) {} of {}, L {} of {}, H {} of {}; zero scalars in the witness: {zero_scalars}",
            zeros(&pk.a_query),
            pk.a_query.len(),
            zeros(&pk.b_g1_query),
            pk.b_g1_query.len(),
            pk.b_g2_query.iter().filter(|p| p.is_zero()).count(),
            pk.b_g2_query.len(),
            zeros(&pk.l_query),
            pk.l_query.len(),
            zeros(&pk.h_query),
            pk.h_query.len(),
        );
    }
    println!("| step | arkworks 0.6 | taceo-groth16 | in lanes | arkworks / lanes |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| witness synthesis (ours, all) | {witness_ms:.1} ms | {witness_ms:.1} ms | {witness_ms:.1} ms | 1.00× |"
    );
    let window = zkcredit_prover::fixed::WINDOW as u32;
    let digits = zkcredit_prover::fixed::all_digits;
    let lanes1 = |bases: &[ark_bn254::G1Affine], k: &[Fr]| {
        med(reps, || {
            let d = digits(k);
            let _ = black_box(zkcredit_simd::g1_msm(bases, &d, window).expect("lanes"));
        })
    };
    let lanes2 = |bases: &[ark_bn254::G2Affine], k: &[Fr]| {
        med(reps, || {
            let d = digits(k);
            let _ = black_box(zkcredit_simd::g2_msm(bases, &d, window).expect("lanes"));
        })
    };
    let rows: Vec<(&str, f64, f64, f64)> = vec![
        (
            "witness map (H FFTs)",
            med(reps, || {
                black_box(ark_map());
            }),
            med(reps, || {
                black_box(taceo_map());
            }),
            f64::NAN,
        ),
        (
            "MSM A (G1)",
            med(reps, || {
                let _ = black_box(G1Projective::msm_unchecked(&pk.a_query[1..], w1));
            }),
            med(reps, || {
                let _ = black_box(msm_unchecked(&pk.a_query[1..], w1));
            }),
            lanes1(&pk.a_query[1..], w1),
        ),
        (
            "MSM B (G1)",
            med(reps, || {
                let _ = black_box(G1Projective::msm_unchecked(&pk.b_g1_query[1..], w1));
            }),
            med(reps, || {
                let _ = black_box(msm_unchecked(&pk.b_g1_query[1..], w1));
            }),
            lanes1(&pk.b_g1_query[1..], w1),
        ),
        (
            "MSM B (G2)",
            med(reps, || {
                let _ = black_box(G2Projective::msm_unchecked(&pk.b_g2_query[1..], w1));
            }),
            med(reps, || {
                let _ = black_box(msm_unchecked(&pk.b_g2_query[1..], w1));
            }),
            lanes2(&pk.b_g2_query[1..], w1),
        ),
        (
            "MSM L (C, private wires)",
            med(reps, || {
                let _ = black_box(G1Projective::msm_unchecked(&pk.l_query, aux));
            }),
            med(reps, || {
                let _ = black_box(msm_unchecked(&pk.l_query, aux));
            }),
            lanes1(&pk.l_query, aux),
        ),
        (
            "MSM H",
            med(reps, || {
                let _ = black_box(G1Projective::msm_unchecked(&pk.h_query, &h));
            }),
            med(reps, || {
                let _ = black_box(msm_unchecked(&pk.h_query, &h));
            }),
            lanes1(&pk.h_query, &h),
        ),
    ];
    // The key-hygiene lever: the same MSMs with the bases at infinity (wires absent from
    // B) dropped once per key, scalars gathered per proof.
    {
        use ark_ec::AffineRepr;
        let keep: Vec<usize> = (0..w1.len())
            .filter(|&i| !pk.b_g2_query[i + 1].is_zero())
            .collect();
        let g2: Vec<_> = keep.iter().map(|&i| pk.b_g2_query[i + 1]).collect();
        let g1: Vec<_> = keep.iter().map(|&i| pk.b_g1_query[i + 1]).collect();
        let full_g2 = med(reps, || {
            let _ = black_box(msm_unchecked(&pk.b_g2_query[1..], w1));
        });
        let dropped_g2 = med(reps, || {
            let sc: Vec<Fr> = keep.iter().map(|&i| w1[i]).collect();
            let _ = black_box(msm_unchecked(&g2, &sc));
        });
        let full_g1 = med(reps, || {
            let _ = black_box(msm_unchecked(&pk.b_g1_query[1..], w1));
        });
        let dropped_g1 = med(reps, || {
            let sc: Vec<Fr> = keep.iter().map(|&i| w1[i]).collect();
            let _ = black_box(msm_unchecked(&g1, &sc));
        });
        println!(
            "key hygiene (taceo MSM): B (G2) {full_g2:.1} → {dropped_g2:.1} ms, B (G1) {full_g1:.1} → {dropped_g1:.1} ms with {} bases at infinity dropped",
            w1.len() - keep.len()
        );
    }
    let (mut sa, mut st, mut sl) = (witness_ms, witness_ms, witness_ms);
    for (name, a, t, l) in &rows {
        // The witness map is taceo-groth16's in both provers.
        let l = if l.is_nan() { *t } else { *l };
        println!(
            "| {name} | {a:.1} ms | {t:.1} ms | {l:.1} ms | {:.2}× |",
            a / l
        );
        sa += a;
        st += t;
        sl += l;
    }
    println!(
        "| sum (steps one at a time) | {sa:.1} ms | {st:.1} ms | {sl:.1} ms | {:.2}× |",
        sa / sl
    );
}
