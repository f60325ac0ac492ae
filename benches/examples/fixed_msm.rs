//! Issue 14's fixed-base lever, measured on the prover's five MSMs one at a time,
//! alternating pair by pair on one development key and one assignment:
//! - **GLV**: what `fast::Prover` runs without tables — the scalars split `k = k1 + λ·k2`
//!   and `zkcredit_prover::glv::msm` (both cores);
//! - **tables, 1 part**: `zkcredit_prover::fixed::Table::msm` on one thread, recoding
//!   included — how the prover runs each of its five concurrent MSMs on 2 cores;
//! - **tables, 2 parts**: the same on both cores (two bucket reductions).
//!
//! Every result is checked equal to the plain MSM. Also printed: each table's build time
//! (both cores) and size.
//!
//! `cargo run --release -p zkcredit-benches --example fixed_msm -- [fraud20|fraud32] [PAIRS]`
use ark_bn254::Fr;
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Affine, Projective};
use ark_ec::CurveGroup;
use std::hint::black_box;
use std::time::Instant;
use zkcredit_benches::{fraud_only_instance, median, ms, MsmCase};
use zkcredit_prover::fast::assignment;
use zkcredit_prover::fixed::{all_digits, Table, WINDOWS};
use zkcredit_prover::glv::{self, Decomposed, Decomposer};

/// One MSM's row: GLV, tables on one thread, tables on two, table build ms and MiB.
fn measure<C: GLVConfig<ScalarField = Fr, ZeroFlag = ()>>(
    bases: &[Affine<C>],
    scalars: &[Fr],
    pairs: usize,
) -> [f64; 5] {
    let n = bases.len().min(scalars.len());
    let (bases, scalars) = (&bases[..n], &scalars[..n]);
    let t = Instant::now();
    let table = Table::new(bases);
    let built = ms(t);
    let mib = (n * WINDOWS * std::mem::size_of::<Affine<C>>()) as f64 / (1 << 20) as f64;
    let dec = Decomposer::new::<C>();
    let expected = taceo_ark_algebra::msm::msm_unchecked::<C>(bases, scalars).into_affine();
    let d = Decomposed::new(&dec, scalars).expect("decomposes");
    assert_eq!(glv::msm(bases, &d, 0).into_affine(), expected);
    for parts in [1, 2] {
        assert_eq!(
            table.msm(&all_digits(scalars), parts).into_affine(),
            expected
        );
    }
    let mut times = [vec![], vec![], vec![]];
    for i in 0..pairs {
        for k in 0..3 {
            let which = (i + k) % 3;
            let t = Instant::now();
            let _: Projective<C> = black_box(match which {
                0 => {
                    let d = Decomposed::new(&dec, scalars).expect("decomposes");
                    glv::msm(bases, &d, 0)
                }
                // One part on one thread: this thread is outside the pool.
                1 => table.msm(&all_digits(scalars), 1),
                _ => table.msm(&all_digits(scalars), 2),
            });
            times[which].push(ms(t));
        }
    }
    let [mut g, mut one, mut two] = times;
    [
        median(&mut g),
        median(&mut one),
        median(&mut two),
        built,
        mib,
    ]
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "fraud32".into());
    let pairs: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(11)
        .max(1);
    let depth = if which == "fraud20" { 20 } else { 32 };
    let (id, c) = fraud_only_instance(depth);
    let full = assignment(c).expect("assignment");
    let case = MsmCase::new(&id, full);
    let (pk, nc, h) = (&case.pk, case.num_constraints, &case.h);
    let (w1, aux) = case.wires();
    println!(
        "{}: {nc} constraints; median of {pairs} rounds (the three alternate), {} threads",
        id.name(),
        rayon::current_num_threads()
    );
    let rows = [
        ("MSM A (G1)", measure(&pk.a_query[1..], w1, pairs)),
        ("MSM B (G1)", measure(&pk.b_g1_query[1..], w1, pairs)),
        ("MSM B (G2)", measure(&pk.b_g2_query[1..], w1, pairs)),
        ("MSM L (C, private wires)", measure(&pk.l_query, aux, pairs)),
        ("MSM H", measure(&pk.h_query, h, pairs)),
    ];
    println!("| MSM | GLV (2 threads) | tables, 1 part (1 thread) | tables, 2 parts (2 threads) | GLV / tables, 2 parts | table built in | table size |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut sum = [0.0; 5];
    for (name, row) in rows {
        let [g, one, two, built, mib] = row;
        println!(
            "| {name} | {g:.1} ms | {one:.1} ms | {two:.1} ms | {:.2}× | {built:.0} ms | {mib:.1} MiB |",
            g / two
        );
        for (s, v) in sum.iter_mut().zip(row) {
            *s += v;
        }
    }
    let [g, one, two, built, mib] = sum;
    println!(
        "| sum | {g:.1} ms | {one:.1} ms | {two:.1} ms | {:.2}× | {built:.0} ms | {mib:.1} MiB |",
        g / two
    );
}
