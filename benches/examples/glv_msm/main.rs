//! Issue 14's GLV lever, measured on the prover's five MSMs.
//!
//! BN254 has an endomorphism φ(x, y) = (ωx, y) on G1 and on G2 (ω a cube root of unity in
//! Fq) that acts as multiplication by λ on the prime-order subgroup. With φ(P) stored beside
//! every base of the proving key (once per key), a scalar k splits as k = k1 + λ·k2 with
//! |k1|, |k2| < 2^128 (arkworks' `GLVConfig::scalar_decomposition`), so an MSM of n bases
//! with 254-bit scalars becomes one of 2n bases with 128-bit scalars: half the windows, each
//! twice as long.
//!
//! Each row times, alternating pair by pair on one development key and one assignment:
//! - **today**: taceo-ark-algebra's MSM (the prover's) on the key's bases;
//! - **GLV, MSM only**: a copy of that MSM which takes the scalars' bit length
//!   (`glv_msm/msm.rs`, one change), on the 2n signed bases with 128-bit scalars, the
//!   decomposition done beforehand;
//! - **GLV, decomposition**: splitting the proof's scalars (fixed-width, below) and signing
//!   the bases (per proof).
//!
//! Every GLV result is checked equal to today's.
//!
//! `cargo run --release -p zkcredit-benches --example glv_msm -- [fraud20|fraud32|elig4|elig8|elig16] [PAIRS]`
mod msm;

use ark_bn254::Fr;
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Affine, Projective};
use ark_ec::CurveGroup;
use ark_ff::{BigInteger, PrimeField};
use rayon::prelude::*;
use ruint::aliases::{U256, U512};
use std::hint::black_box;
use std::time::Instant;
use zkcredit_benches::{eligibility_instance_slots, fraud_only_instance};
use zkcredit_prover::fast::assignment;

type BigIntOf = <Fr as PrimeField>::BigInt;

/// `[P0, φ(P0), P1, φ(P1), …]`, computed once per key.
fn with_endomorphism<C: GLVConfig>(bases: &[Affine<C>]) -> Vec<Affine<C>> {
    bases
        .par_iter()
        .flat_map_iter(|p| [*p, C::endomorphism_affine(p)])
        .collect()
}

/// `k = k1 + λ·k2` in fixed-width integers: arkworks' `scalar_decomposition` (the same
/// lattice basis `N`, from `GLVConfig::SCALAR_DECOMP_COEFFS`) with its two divisions by r
/// replaced by products with `round(|N_ij|·2^256 / r)` and a shift, and the signed
/// arithmetic done modulo 2^256 (every true value is below 2^255 in magnitude). Rounding
/// may be off by one, which changes the halves' size a little, not their sum: k1 + λ·k2 ≡ k
/// holds for any β because the rows of `N` are in the kernel. Returns `None` (never seen) if
/// a half does not fit in 128 bits.
struct Decomposer {
    /// `N11, N12, N21, N22`, signed, as wrapping 256-bit integers.
    n: [U256; 4],
    /// `|N22|·2^256 / r` and `|N12|·2^256 / r`, rounded, and whether `β1`, `β2` are negated.
    g: [(U256, bool); 2],
}

fn to_u256(b: BigIntOf) -> U256 {
    U256::from_limbs(b.0)
}

impl Decomposer {
    fn new<C: GLVConfig<ScalarField = Fr>>() -> Self {
        let signed = |(plus, v): (bool, BigIntOf)| {
            let v = to_u256(v);
            if plus {
                v
            } else {
                v.wrapping_neg()
            }
        };
        let c = C::SCALAR_DECOMP_COEFFS;
        let r = U512::from(to_u256(Fr::MODULUS));
        let recip = |v: BigIntOf| -> U256 {
            let num: U512 = U512::from(to_u256(v)) << 256usize;
            let q: U512 = (num + (r >> 1usize)) / r;
            q.wrapping_to::<U256>()
        };
        Decomposer {
            n: c.map(signed),
            // β1 = round(k·N22 / r), β2 = round(−k·N12 / r)
            g: [(recip(c[3].1), !c[3].0), (recip(c[1].1), c[1].0)],
        }
    }

    fn split(&self, k: Fr) -> Option<((bool, BigIntOf), (bool, BigIntOf))> {
        let k = to_u256(k.into_bigint());
        let beta = |(g, negate): (U256, bool)| {
            let wide: U512 = k.widening_mul(g);
            let rounded: U512 = (wide + (U512::from(1u8) << 255usize)) >> 256usize;
            let b = rounded.wrapping_to::<U256>();
            if negate {
                b.wrapping_neg()
            } else {
                b
            }
        };
        let (b1, b2) = (beta(self.g[0]), beta(self.g[1]));
        let [n11, n12, n21, n22] = self.n;
        let k1 = k
            .wrapping_sub(b1.wrapping_mul(n11))
            .wrapping_sub(b2.wrapping_mul(n21));
        let k2 = b1
            .wrapping_mul(n12)
            .wrapping_add(b2.wrapping_mul(n22))
            .wrapping_neg();
        let half = |v: U256| -> Option<(bool, BigIntOf)> {
            let plus = !v.bit(255);
            let abs = if plus { v } else { v.wrapping_neg() };
            (abs.bit_len() <= 128).then(|| (plus, ark_ff::BigInt(abs.into_limbs())))
        };
        Some((half(k1)?, half(k2)?))
    }
}

/// Per proof: the signed bases and the half-width scalars of `k = k1 + λ·k2`.
fn decompose<C: GLVConfig<ScalarField = Fr>>(
    dec: &Decomposer,
    pairs: &[Affine<C>],
    scalars: &[Fr],
) -> (Vec<Affine<C>>, Vec<BigIntOf>) {
    scalars
        .par_iter()
        .zip(pairs.par_chunks(2))
        .flat_map_iter(|(k, pq)| {
            let ((s1, k1), (s2, k2)) = dec.split(*k).expect("a GLV half above 128 bits");
            let p = if s1 { pq[0] } else { -pq[0] };
            let q = if s2 { pq[1] } else { -pq[1] };
            [(p, k1), (q, k2)]
        })
        .unzip()
}

struct Row {
    name: String,
    today: Vec<f64>,
    glv_msm: Vec<f64>,
    decomp: Vec<f64>,
    max_bits: u32,
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn measure<C: GLVConfig<ScalarField = Fr>>(
    name: &str,
    bases: &[Affine<C>],
    scalars: &[Fr],
    pairs: usize,
) -> Row {
    let n = bases.len().min(scalars.len());
    let (bases, scalars) = (&bases[..n], &scalars[..n]);
    let with_phi = with_endomorphism(bases);
    let dec = Decomposer::new::<C>();
    for (i, k) in scalars.iter().enumerate() {
        let ((s1, k1), (s2, k2)) = dec.split(*k).expect("a GLV half above 128 bits");
        let f = |s: bool, v: BigIntOf| {
            let v = Fr::from_bigint(v).expect("below r");
            if s {
                v
            } else {
                -v
            }
        };
        assert_eq!(f(s1, k1) + C::LAMBDA * f(s2, k2), *k, "{name}: scalar {i}");
    }
    let expected: Projective<C> = taceo_ark_algebra::msm::msm_unchecked(bases, scalars);
    let (signed, ks) = decompose(&dec, &with_phi, scalars);
    let max_bits = ks.iter().map(|k| k.num_bits()).max().unwrap_or(0);
    assert!(max_bits <= 128, "{name}: a GLV half has {max_bits} bits");
    let got = msm::msm_bigint_bits(&signed, &ks, 128);
    assert_eq!(
        got.into_affine(),
        expected.into_affine(),
        "{name}: GLV differs"
    );
    let mut row = Row {
        name: name.into(),
        today: vec![],
        glv_msm: vec![],
        decomp: vec![],
        max_bits,
    };
    for i in 0..pairs {
        let today = |row: &mut Row| {
            let t = Instant::now();
            let _ = black_box(taceo_ark_algebra::msm::msm_unchecked(bases, scalars));
            row.today.push(ms(t));
        };
        let glv = |row: &mut Row| {
            let t = Instant::now();
            let (signed, ks) = decompose(&dec, &with_phi, scalars);
            row.decomp.push(ms(t));
            let t = Instant::now();
            let _ = black_box(msm::msm_bigint_bits(&signed, &ks, 128));
            row.glv_msm.push(ms(t));
        };
        if i % 2 == 0 {
            today(&mut row);
            glv(&mut row);
        } else {
            glv(&mut row);
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
    let pk = id.insecure_dev_setup().expect("setup");
    let r = id.r1cs().expect("r1cs");
    let tm = taceo_groth16::ConstraintMatrices {
        num_instance_variables: r.num_inputs,
        num_witness_variables: r.num_witness,
        num_constraints: r.num_constraints,
        a_num_non_zero: r.matrices[0].iter().map(Vec::len).sum(),
        b_num_non_zero: r.matrices[1].iter().map(Vec::len).sum(),
        c_num_non_zero: r.matrices[2].iter().map(Vec::len).sum(),
        a: r.matrices[0].clone(),
        b: r.matrices[1].clone(),
        c: r.matrices[2].clone(),
    };
    use taceo_groth16::R1CSToQAP as _;
    let h =
        taceo_groth16::LibSnarkReduction::witness_map_from_matrices::<ark_bn254::Bn254>(&tm, &full)
            .expect("witness map");
    let (w1, aux) = (&full[1..], &full[r.num_inputs..]);
    println!(
        "{}: {} constraints; median of {pairs} pairs (alternating), {} threads",
        id.name(),
        r.num_constraints,
        rayon::current_num_threads()
    );
    let rows = [
        measure("MSM A (G1)", &pk.a_query[1..], w1, pairs),
        measure("MSM B (G1)", &pk.b_g1_query[1..], w1, pairs),
        measure("MSM B (G2)", &pk.b_g2_query[1..], w1, pairs),
        measure("MSM L (C, private wires)", &pk.l_query, aux, pairs),
        measure("MSM H", &pk.h_query, &h, pairs),
    ];
    println!("| MSM | today | GLV, MSM only | GLV, decomposition | GLV total | today / GLV total | widest half |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let (mut st, mut sg, mut sd) = (0.0, 0.0, 0.0);
    for mut row in rows {
        let (t, g, d) = (
            median(&mut row.today),
            median(&mut row.glv_msm),
            median(&mut row.decomp),
        );
        println!(
            "| {} | {t:.1} ms | {g:.1} ms | {d:.1} ms | {:.1} ms | {:.2}× | {} bits |",
            row.name,
            g + d,
            t / (g + d),
            row.max_bits
        );
        st += t;
        sg += g;
        sd += d;
    }
    println!(
        "| sum | {st:.1} ms | {sg:.1} ms | {sd:.1} ms | {:.1} ms | {:.2}× | |",
        sg + sd,
        st / (sg + sd)
    );
}
