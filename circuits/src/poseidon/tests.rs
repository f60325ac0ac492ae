//! Poseidon: known answers (circomlib), cross-checks against light-poseidon, poseidon-rs
//! (iden3) and circomlibjs vectors, native vs gadget equality, pinned constraint counts.

use super::constraints::hash_var;
use super::*;
use crate::field::{fr_from_dec, fr_to_dec};
use ark_ff::UniformRand;
use ark_r1cs_std::{alloc::AllocVar, fields::fp::FpVar, GR1CSVar};
use ark_relations::gr1cs::ConstraintSystem;
use ark_std::rand::{rngs::StdRng, SeedableRng};
use light_poseidon::{Poseidon, PoseidonHasher};

use crate::costs::POSEIDON as POSEIDON_CONSTRAINTS;

#[test]
fn known_answer_h1_2() {
    let h = hash(&[Fr::from(1u64), Fr::from(2u64)]).unwrap();
    assert_eq!(
        fr_to_dec(&h),
        "7853200120776062878684798364095072458815029376092732009249414926327459813530"
    );
}

#[test]
fn matches_circomlibjs_fixture() {
    let text = include_str!("../../tests/fixtures/poseidon_circomlibjs.json");
    let doc: serde_json::Value = serde_json::from_str(text).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 60);
    let mut arities = std::collections::BTreeSet::new();
    for v in vectors {
        let inputs: Vec<Fr> = v["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| fr_from_dec(s.as_str().unwrap()).unwrap())
            .collect();
        arities.insert(inputs.len());
        let expected = v["output"].as_str().unwrap();
        assert_eq!(
            fr_to_dec(&hash(&inputs).unwrap()),
            expected,
            "inputs {inputs:?}"
        );
    }
    // Every arity the project supports, among them the policy and model hashes (arity 9).
    assert_eq!(
        arities.into_iter().collect::<Vec<_>>(),
        (1..=MAX_ARITY).collect::<Vec<_>>()
    );
}

#[test]
fn matches_light_poseidon_on_random_inputs() {
    let mut rng = StdRng::seed_from_u64(1);
    for arity in 1..=MAX_ARITY {
        let mut lp = Poseidon::<Fr>::new_circom(arity).unwrap();
        for _ in 0..5 {
            let xs: Vec<Fr> = (0..arity).map(|_| Fr::rand(&mut rng)).collect();
            assert_eq!(hash(&xs).unwrap(), lp.hash(&xs).unwrap(), "arity {arity}");
        }
    }
}

#[test]
fn matches_poseidon_rs_iden3() {
    use ff_ce::PrimeField as _;
    let mut rng = StdRng::seed_from_u64(2);
    let iden3 = poseidon_rs::Poseidon::new();
    // poseidon-rs supports up to 16 inputs; its field is ff_ce's: convert through decimal.
    for arity in 1..=6 {
        for _ in 0..3 {
            let xs: Vec<Fr> = (0..arity).map(|_| Fr::rand(&mut rng)).collect();
            let theirs_in: Vec<poseidon_rs::Fr> = xs
                .iter()
                .map(|x| poseidon_rs::Fr::from_str(&fr_to_dec(x)).unwrap())
                .collect();
            let out = iden3.hash(theirs_in).unwrap();
            let mut be = Vec::new();
            ff_ce::PrimeFieldRepr::write_be(&out.into_repr(), &mut be).unwrap();
            let theirs = crate::field::fr_from_be_bytes(&be.try_into().unwrap()).unwrap();
            assert_eq!(hash(&xs).unwrap(), theirs, "arity {arity}");
        }
    }
}

#[test]
fn rejects_unsupported_arity() {
    assert!(hash(&[]).is_err());
    assert!(hash(&[Fr::from(0u64); 13]).is_err());
}

#[test]
fn gadget_equals_native_and_costs_are_pinned() {
    let mut rng = StdRng::seed_from_u64(3);
    #[allow(clippy::needless_range_loop)]
    for arity in 1..=7 {
        let xs: Vec<Fr> = (0..arity).map(|_| Fr::rand(&mut rng)).collect();
        let cs = ConstraintSystem::<Fr>::new_ref();
        let vars: Vec<FpVar<Fr>> = xs
            .iter()
            .map(|x| FpVar::new_witness(cs.clone(), || Ok(*x)).unwrap())
            .collect();
        let before = cs.num_constraints();
        let out = hash_var(&vars).unwrap();
        let cost = cs.num_constraints() - before;
        assert_eq!(out.value().unwrap(), hash(&xs).unwrap(), "arity {arity}");
        assert!(cs.is_satisfied().unwrap());
        assert_eq!(
            cost, POSEIDON_CONSTRAINTS[arity],
            "arity {arity} constraint count"
        );
    }
    // circomlib's Poseidon(2) costs 240: match it.
    assert_eq!(POSEIDON_CONSTRAINTS[2], 240);
}

#[test]
fn gadget_output_is_bound() {
    // A wrong claimed output must not satisfy the system.
    use ark_r1cs_std::eq::EqGadget;
    let cs = ConstraintSystem::<Fr>::new_ref();
    let a = FpVar::new_witness(cs.clone(), || Ok(Fr::from(1u64))).unwrap();
    let b = FpVar::new_witness(cs.clone(), || Ok(Fr::from(2u64))).unwrap();
    let claimed =
        FpVar::new_input(cs.clone(), || Ok(hash2(Fr::from(1u64), Fr::from(3u64)))).unwrap();
    hash_var(&[a, b]).unwrap().enforce_equal(&claimed).unwrap();
    assert!(!cs.is_satisfied().unwrap());
}

/// The optimised permutation equals the textbook one on every arity, on random inputs and
/// on the edge values 0, 1 and −1.
#[test]
fn optimized_equals_reference_on_every_arity() {
    use ark_ff::UniformRand;
    let mut rng = ark_std::test_rng();
    for arity in 1..=MAX_ARITY {
        for case in 0..40 {
            let xs: Vec<Fr> = (0..arity)
                .map(|i| match case {
                    0 => Fr::from(0u64),
                    1 => Fr::from(1u64),
                    2 => -Fr::from(1u64),
                    3 => Fr::from(i as u64),
                    _ => Fr::rand(&mut rng),
                })
                .collect();
            assert_eq!(
                hash(&xs).unwrap(),
                hash_reference(&xs).unwrap(),
                "arity {arity}, case {case}"
            );
        }
    }
}

/// `hash_many` (eight AVX-512 IFMA lanes where available) against `hash` on the same inputs,
/// for every arity: random inputs, and the edge values 0, 1 and r − 1 in every position; a
/// count that is not a multiple of the lanes (the rest goes the scalar way).
#[test]
fn hash_many_equals_hash_for_every_arity() {
    fn check<const N: usize>(rng: &mut StdRng) {
        let edges = [Fr::from(0u64), Fr::from(1u64), -Fr::from(1u64)];
        // 38 random inputs and 3 edge ones: 41, so the last 1 goes the scalar way.
        let mut inputs: Vec<[Fr; N]> = (0..8 * 4 + 6)
            .map(|_| std::array::from_fn(|_| Fr::rand(rng)))
            .collect();
        for (j, e) in edges.iter().enumerate() {
            inputs.push([*e; N]);
            inputs[j] = std::array::from_fn(|i| edges[(i + j) % 3]);
        }
        assert_ne!(inputs.len() % zkcredit_simd::LANES, 0);
        let want: Vec<Fr> = inputs.iter().map(|x| hash_n(*x)).collect();
        // The lanes themselves, not through hash_many's fallback: they must answer.
        if let Some(l) = many::lanes(N) {
            for (chunk, w) in inputs.chunks_exact(8).zip(want.chunks_exact(8)) {
                let got = l.hash(std::array::from_fn(|k| &chunk[k][..]));
                assert_eq!(
                    got.as_ref().map(|h| h.map(|h| h.to_vec())),
                    Ok(Some(w.to_vec())),
                    "lanes, arity {N}"
                );
            }
        } else {
            assert!(
                !zkcredit_simd::available(),
                "lanes available but not built, arity {N}"
            );
        }
        assert_eq!(hash_many(&inputs), want, "hash_many, arity {N}");
        assert_eq!(hash_many_on_thread(&inputs, true), want, "lanes, arity {N}");
        assert_eq!(
            hash_many_on_thread(&inputs, false),
            want,
            "scalar, arity {N}"
        );
    }
    if !zkcredit_simd::available() {
        eprintln!(
            "NOTE: no AVX-512 IFMA on this machine (or ZKCREDIT_SIMD=off): hash_many runs the \
             scalar permutation here, and only that path is compared"
        );
    }
    let mut rng = StdRng::seed_from_u64(0x1a9e5);
    check::<1>(&mut rng);
    check::<2>(&mut rng);
    check::<3>(&mut rng);
    check::<4>(&mut rng);
    check::<5>(&mut rng);
    check::<6>(&mut rng);
    check::<7>(&mut rng);
    check::<8>(&mut rng);
    check::<9>(&mut rng);
    check::<10>(&mut rng);
    check::<11>(&mut rng);
    check::<12>(&mut rng);
}

/// More than one parallel block (512 inputs each) and a remainder: the blocks' outputs land in
/// order.
#[test]
fn hash_many_over_several_blocks_keeps_the_order() {
    let mut rng = StdRng::seed_from_u64(0xb10c);
    let inputs: Vec<[Fr; 4]> = (0..2 * 512 + 13)
        .map(|_| std::array::from_fn(|_| Fr::rand(&mut rng)))
        .collect();
    let want: Vec<Fr> = inputs.iter().map(|x| hash_n(*x)).collect();
    assert_eq!(hash_many(&inputs), want);
}
