//! Both witness maps (SPEC §10.2): a key generated for snarkjs's map (`h_query` of `n`
//! points) is recognised and proved with that map, a key for arkworks' map with arkworks'
//! — each proof verifies, and a key whose `h_query` fits neither is refused.

use ark_bn254::{Bn254, Fr};
use ark_ff::UniformRand;
use ark_groth16::Groth16;
use ark_std::rand::{rngs::StdRng, SeedableRng};
use zkcredit_circuits::imt::IndexedMerkleTree;
use zkcredit_circuits::statements::{subject_commitment, FraudOnlyCircuit, Subject};
use zkcredit_prover::circom::reduction::CircomReduction;
use zkcredit_prover::fast::{Prover, Qap};

const DEPTH: usize = 8;

fn setup_circuit() -> FraudOnlyCircuit {
    setup_at(DEPTH)
}

fn setup_at(depth: usize) -> FraudOnlyCircuit {
    FraudOnlyCircuit {
        depth,
        public: None,
        witness: None,
    }
}

fn instance(rng: &mut StdRng) -> (FraudOnlyCircuit, [Fr; 2]) {
    instance_at(DEPTH, rng)
}

fn instance_at(depth: usize, rng: &mut StdRng) -> (FraudOnlyCircuit, [Fr; 2]) {
    let rows: Vec<(Fr, [Fr; 3])> = (1..=20u64)
        .map(|k| (Fr::from(k * 1_000_003), [Fr::from(1u64); 3]))
        .collect();
    let tree = IndexedMerkleTree::from_rows(depth, &rows).unwrap();
    let s = Subject {
        key: Fr::from(5_000_001u64),
        blinding: Fr::rand(rng),
    };
    let (_, w) = tree.witness(&s.key).unwrap();
    let public = [tree.root(), subject_commitment(&s.key, &s.blinding)];
    let c = FraudOnlyCircuit {
        depth,
        public: Some(public),
        witness: Some((s, w)),
    };
    (c, public)
}

#[test]
fn each_key_is_proved_with_the_map_it_was_made_for() {
    let mut rng = StdRng::seed_from_u64(7);
    let circom_pk = Groth16::<Bn254, CircomReduction>::generate_random_parameters_with_reduction(
        setup_circuit(),
        &mut rng,
    )
    .unwrap();
    let arkworks_pk =
        Groth16::<Bn254>::generate_random_parameters_with_reduction(setup_circuit(), &mut rng)
            .unwrap();
    assert_eq!(circom_pk.h_query.len(), arkworks_pk.h_query.len() + 1);
    for (pk, want) in [(circom_pk, Qap::Circom), (arkworks_pk, Qap::Arkworks)] {
        let prover = Prover::new(pk.clone(), setup_circuit()).unwrap();
        assert_eq!(prover.qap(), want);
        let (c, public) = instance(&mut rng);
        let proof = prover.prove(c, &mut rng).unwrap();
        let pvk = ark_groth16::prepare_verifying_key(&pk.vk);
        assert!(
            Groth16::<Bn254>::verify_proof(&pvk, &proof, &public).unwrap(),
            "{want:?}"
        );
        // The wrong public inputs do not verify (the check above can fail).
        assert!(!Groth16::<Bn254>::verify_proof(&pvk, &proof, &[public[0], public[0]]).unwrap());
    }
}

#[test]
fn a_key_whose_h_query_fits_neither_map_is_refused() {
    let mut rng = StdRng::seed_from_u64(8);
    let mut pk =
        Groth16::<Bn254>::generate_random_parameters_with_reduction(setup_circuit(), &mut rng)
            .unwrap();
    pk.h_query.pop();
    let e = Prover::new(pk, setup_circuit()).unwrap_err().to_string();
    assert!(e.contains("h query"), "{e}");
}

#[test]
fn a_zkey_we_write_reads_back_as_the_same_key() {
    use zkcredit_prover::circom::zkey;
    let mut rng = StdRng::seed_from_u64(9);
    let pk = Groth16::<Bn254, CircomReduction>::generate_random_parameters_with_reduction(
        setup_circuit(),
        &mut rng,
    )
    .unwrap();
    let r1cs = zkcredit_prover::fast::R1cs::of(setup_circuit()).unwrap();
    let bytes = zkey::write(&pk, &r1cs).unwrap();
    assert_eq!(zkey::read_own(&bytes, &r1cs).unwrap(), pk);
    // An arkworks-map key has one h point fewer: not written as a snarkjs key.
    let ark =
        Groth16::<Bn254>::generate_random_parameters_with_reduction(setup_circuit(), &mut rng)
            .unwrap();
    assert!(zkey::write(&ark, &r1cs).is_err());
    // Another circuit's R1CS: the reader refuses the file.
    let other = zkcredit_prover::fast::R1cs::of(FraudOnlyCircuit {
        depth: 6,
        public: None,
        witness: None,
    })
    .unwrap();
    assert!(matches!(
        zkey::read_own(&bytes, &other),
        Err(zkey::ZkeyError::WrongCircuit(_))
    ));
}

#[test]
fn a_zkey_with_an_identity_delta_is_refused() {
    use ark_ec::AffineRepr;
    use zkcredit_prover::circom::zkey;
    let mut rng = StdRng::seed_from_u64(10);
    let mut pk = Groth16::<Bn254, CircomReduction>::generate_random_parameters_with_reduction(
        setup_circuit(),
        &mut rng,
    )
    .unwrap();
    pk.vk.delta_g2 = ark_bn254::G2Affine::zero();
    let r1cs = zkcredit_prover::fast::R1cs::of(setup_circuit()).unwrap();
    let bytes = zkey::write(&pk, &r1cs).unwrap();
    assert!(
        matches!(zkey::read_own(&bytes, &r1cs), Err(zkey::ZkeyError::Format(m)) if m.contains("infinity"))
    );
}

/// A key and its zkey bytes, with `edit` applied to the key first.
fn edited_zkey(
    edit: impl FnOnce(&mut ark_groth16::ProvingKey<Bn254>),
) -> (
    Vec<u8>,
    zkcredit_prover::fast::R1cs,
    ark_groth16::ProvingKey<Bn254>,
) {
    use zkcredit_prover::circom::zkey;
    let mut rng = StdRng::seed_from_u64(11);
    let mut pk = Groth16::<Bn254, CircomReduction>::generate_random_parameters_with_reduction(
        setup_circuit(),
        &mut rng,
    )
    .unwrap();
    edit(&mut pk);
    let r1cs = zkcredit_prover::fast::R1cs::of(setup_circuit()).unwrap();
    (zkey::write(&pk, &r1cs).unwrap(), r1cs, pk)
}

#[track_caller]
fn refused_with(bytes: &[u8], r1cs: &zkcredit_prover::fast::R1cs, want: &str) {
    use zkcredit_prover::circom::zkey;
    match zkey::read_own(bytes, r1cs) {
        Err(zkey::ZkeyError::Format(m)) => assert!(m.contains(want), "{m}"),
        other => panic!("expected a refusal containing {want:?}, got {other:?}"),
    }
}

/// Found by review: a key with δ = γ (snarkjs's `zkey new` output before any contribution)
/// lets anyone forge a proof of any public inputs; each trapdoor shape is refused alone.
#[test]
fn keys_with_a_known_trapdoor_or_mismatched_halves_are_refused() {
    use ark_bn254::{G1Affine, G2Affine};
    use ark_ec::{AffineRepr, CurveGroup};
    let (b, r, _) = edited_zkey(|pk| pk.vk.delta_g2 = pk.vk.gamma_g2);
    refused_with(&b, &r, "δ equals γ");
    let (b, r, _) = edited_zkey(|pk| {
        pk.delta_g1 = G1Affine::generator();
        pk.vk.delta_g2 = G2Affine::generator();
    });
    refused_with(&b, &r, "generator");
    let (b, r, _) = edited_zkey(|pk| pk.delta_g1 = (pk.delta_g1 + pk.delta_g1).into_affine());
    refused_with(&b, &r, "δ₁/β₁ is not δ₂/β₂");
    let (b, r, _) = edited_zkey(|pk| pk.beta_g1 = (pk.beta_g1 + pk.beta_g1).into_affine());
    refused_with(&b, &r, "δ₁/β₁ is not δ₂/β₂");
    let (b, r, _) = edited_zkey(|pk| {
        let i = pk.b_g2_query.iter().position(|p| !p.is_zero()).unwrap();
        pk.b_g2_query[i] = (pk.b_g2_query[i] + pk.b_g2_query[i]).into_affine();
    });
    refused_with(&b, &r, "B query");
    let (b, r, _) = edited_zkey(|pk| pk.vk.gamma_abc_g1[1] = G1Affine::zero());
    refused_with(&b, &r, "input commitment");
}

/// Appends section 10 (the contributions) to a zkey we wrote: `deltas` as the `δ_after`
/// of each contribution (64 bytes each, as the header stores points).
fn with_contributions(mut bytes: Vec<u8>, deltas: &[&[u8]]) -> Vec<u8> {
    let mut body = vec![0u8; 64];
    body.extend_from_slice(&(deltas.len() as u32).to_le_bytes());
    for d in deltas {
        body.extend_from_slice(d);
        body.extend_from_slice(&[0u8; 64 + 64 + 128 + 64]);
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
    }
    let n = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    bytes[8..12].copy_from_slice(&(n + 1).to_le_bytes());
    bytes.extend_from_slice(&10u32.to_le_bytes());
    bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&body);
    bytes
}

/// The header's δ₁ and α₁ as stored (section 2: n8q q n8r r nVars nPublic domainSize α₁ β₁
/// β₂ γ₂ δ₁ δ₂).
fn header_points(bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut pos = 12;
    loop {
        let id = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap());
        let len = u64::from_le_bytes(bytes[pos + 4..pos + 12].try_into().unwrap()) as usize;
        if id == 2 {
            let h = &bytes[pos + 12..pos + 12 + len];
            let alpha = 4 + 32 + 4 + 32 + 12;
            let delta = alpha + 64 + 64 + 128 + 128;
            return (h[delta..delta + 64].to_vec(), h[alpha..alpha + 64].to_vec());
        }
        pos += 12 + len;
    }
}

#[test]
fn a_ceremony_key_needs_a_contribution_ending_at_its_delta() {
    use zkcredit_prover::circom::zkey;
    let (own, r, pk) = edited_zkey(|_| {});
    let refused = |b: &[u8], want: &str| match zkey::read(b, &r) {
        Err(zkey::ZkeyError::Format(m)) => assert!(m.contains(want), "{m}"),
        other => panic!("expected {want:?}, got {other:?}"),
    };
    refused(&own, "no contributions section");
    refused(&with_contributions(own.clone(), &[]), "no one contributed");
    let (delta, alpha) = header_points(&own);
    refused(
        &with_contributions(own.clone(), &[&delta, &alpha]),
        "last contribution",
    );
    let good = with_contributions(own, &[&alpha, &delta]);
    assert_eq!(zkey::read(&good, &r).unwrap(), pk);
}

/// A B₂ point on the twist but outside the prime-order subgroup (BN254's G2 has a large
/// cofactor) is refused when read, not carried into the key.
#[test]
fn a_g2_point_outside_the_subgroup_is_refused() {
    use ark_bn254::{Fq2, G2Affine};
    use ark_ec::AffineRepr;
    let mut x = Fq2::from(1u8);
    let off = loop {
        if let Some(p) = G2Affine::get_point_from_x_unchecked(x, false) {
            if !p.is_in_correct_subgroup_assuming_on_curve() {
                break p;
            }
        }
        x += Fq2::from(1u8);
    };
    assert!(off.is_on_curve());
    let (b, r, _) = edited_zkey(|pk| {
        let i = pk.b_g2_query.iter().position(|p| !p.is_zero()).unwrap();
        pk.b_g2_query[i] = off;
    });
    refused_with(&b, &r, "is not in the group");
}

/// A coefficient section announcing another count than the circuit's is another circuit's
/// key, found before the section is read.
#[test]
fn a_coefficient_count_that_is_not_the_circuits_is_refused() {
    use zkcredit_prover::circom::zkey;
    let (mut b, r, _) = edited_zkey(|_| {});
    let mut pos = 12;
    loop {
        let id = u32::from_le_bytes(b[pos..pos + 4].try_into().unwrap());
        let len = u64::from_le_bytes(b[pos + 4..pos + 12].try_into().unwrap()) as usize;
        if id == 4 {
            let n = u32::from_le_bytes(b[pos + 12..pos + 16].try_into().unwrap());
            b[pos + 12..pos + 16].copy_from_slice(&(n - 1).to_le_bytes());
            break;
        }
        pos += 12 + len;
    }
    match zkey::read_own(&b, &r) {
        Err(zkey::ZkeyError::WrongCircuit(m)) => assert!(m.contains("A/B coefficients"), "{m}"),
        other => panic!("expected another circuit's key, got {other:?}"),
    }
}

/// The prover core (`taceo-groth16`, issue 14) is arkworks' Groth16 prover made faster, not
/// another one: for the same blinding `(r, s)` it gives arkworks' exact proof, for either
/// witness map (arkworks' own and snarkjs's, our `CircomReduction` as the oracle).
/// Depth 8 and depth 32 (6,505 constraints: MSMs long enough for the batch-affine path).
#[test]
fn the_prover_gives_arkworks_exact_proof_for_the_same_blinding() {
    for depth in [DEPTH, 32] {
        same_proofs_at(depth);
    }
}

fn same_proofs_at(depth: usize) {
    use zkcredit_prover::fast::{assignment, R1cs};
    let mut rng = StdRng::seed_from_u64(12);
    let circom_pk = Groth16::<Bn254, CircomReduction>::generate_random_parameters_with_reduction(
        setup_at(depth),
        &mut rng,
    )
    .unwrap();
    let arkworks_pk =
        Groth16::<Bn254>::generate_random_parameters_with_reduction(setup_at(depth), &mut rng)
            .unwrap();
    let r1cs = R1cs::of(setup_at(depth)).unwrap();
    for (pk, qap) in [(circom_pk, Qap::Circom), (arkworks_pk, Qap::Arkworks)] {
        let prover = Prover::new(pk.clone(), setup_at(depth)).unwrap();
        assert_eq!(prover.qap(), qap);
        // Keys this small have GLV on (used where the processor has no AVX-512 IFMA); the
        // plain MSMs (large keys, no IFMA) must give the same proof.
        assert!(prover.uses_glv(), "depth {depth}");
        let plain = Prover::new(pk.clone(), setup_at(depth))
            .unwrap()
            .with_glv(false)
            .with_lanes(false);
        assert!(!plain.uses_glv() && !plain.uses_lanes());
        // Where the processor has AVX-512 IFMA the five MSMs run in the lanes; without them
        // (GLV) the proof is the same.
        assert_eq!(prover.uses_lanes(), zkcredit_simd::available());
        let no_lanes = Prover::new(pk.clone(), setup_at(depth))
            .unwrap()
            .with_lanes(false);
        assert!(!no_lanes.uses_lanes() && no_lanes.uses_glv());
        // And so must the MSMs from fixed-base tables (keys this small fit them).
        let tables = Prover::new(pk.clone(), setup_at(depth))
            .unwrap()
            .with_fixed_base_tables();
        assert!(tables.uses_fixed_base_tables() && !prover.uses_fixed_base_tables());
        assert!(!tables.uses_lanes());
        // Turning GLV off keeps the tables (they are used whenever built).
        let tables = tables.with_glv(false);
        assert!(tables.uses_fixed_base_tables());
        for seed in 0..2u64 {
            let (c, public) = instance_at(depth, &mut rng);
            let full = assignment(c.clone()).unwrap();
            // `prove` draws r, then s, from the generator it is given.
            let proof = prover
                .prove(c.clone(), &mut StdRng::seed_from_u64(seed))
                .unwrap();
            let mut same = StdRng::seed_from_u64(seed);
            let (r, s) = (Fr::rand(&mut same), Fr::rand(&mut same));
            let (m, ni, nc) = (&r1cs.matrices, r1cs.num_inputs, r1cs.num_constraints);
            let oracle = match qap {
                Qap::Arkworks => Groth16::<Bn254>::create_proof_with_reduction_and_matrices(
                    &pk, r, s, m, ni, nc, &full,
                ),
                Qap::Circom => {
                    Groth16::<Bn254, CircomReduction>::create_proof_with_reduction_and_matrices(
                        &pk, r, s, m, ni, nc, &full,
                    )
                }
            }
            .unwrap();
            assert_eq!(proof, oracle, "{qap:?}, depth {depth}, seed {seed}");
            let from_tables = tables
                .prove(c.clone(), &mut StdRng::seed_from_u64(seed))
                .unwrap();
            assert_eq!(
                from_tables, oracle,
                "fixed-base tables: {qap:?}, depth {depth}, seed {seed}"
            );
            let before = no_lanes
                .prove(c.clone(), &mut StdRng::seed_from_u64(seed))
                .unwrap();
            assert_eq!(
                before, oracle,
                "without the lanes: {qap:?}, depth {depth}, seed {seed}"
            );
            let without = plain.prove(c, &mut StdRng::seed_from_u64(seed)).unwrap();
            assert_eq!(
                without, oracle,
                "without GLV: {qap:?}, depth {depth}, seed {seed}"
            );
            let pvk = ark_groth16::prepare_verifying_key(&pk.vk);
            assert!(Groth16::<Bn254>::verify_proof(&pvk, &proof, &public).unwrap());
        }
    }
    // The lanes' proofs above were the lanes' own, not the other path's after a refusal.
    assert_eq!(Prover::lanes_refusals(), 0);
}

/// A key whose B query is empty (a crafted key file) is refused with an error when proving,
/// with and without GLV and with fixed-base tables, instead of panicking on an index.
#[test]
fn a_key_with_an_empty_b_query_is_refused_not_a_panic() {
    use zkcredit_prover::fast::assignment;
    let mut rng = StdRng::seed_from_u64(13);
    let mut pk =
        Groth16::<Bn254>::generate_random_parameters_with_reduction(setup_circuit(), &mut rng)
            .unwrap();
    pk.b_g2_query.clear();
    let (c, _) = instance(&mut rng);
    let full = assignment(c).unwrap();
    for (glv, tables) in [(true, false), (false, false), (true, true)] {
        let mut prover = Prover::new(pk.clone(), setup_circuit())
            .unwrap()
            .with_glv(glv);
        if tables {
            prover = prover.with_fixed_base_tables();
            assert!(prover.uses_fixed_base_tables());
        }
        let err = prover
            .prove_assignment(&full, Fr::from(1u64), Fr::from(2u64))
            .unwrap_err();
        assert!(err.to_string().contains("empty A or B query"), "{err}");
    }
}

/// A key with a query of more than `FIXED_MAX_BASES` bases gets no tables (they would take
/// 20 points per base): `with_fixed_base_tables` leaves the prover as it was, and it still
/// proves.
#[test]
fn a_key_too_large_for_tables_gets_none() {
    use zkcredit_prover::fast::assignment;
    use zkcredit_prover::fixed::FIXED_MAX_BASES;
    let mut rng = StdRng::seed_from_u64(14);
    let mut pk =
        Groth16::<Bn254>::generate_random_parameters_with_reduction(setup_circuit(), &mut rng)
            .unwrap();
    // Bases past the wires' count are never multiplied: the key proves as before.
    pk.a_query
        .resize(FIXED_MAX_BASES + 1, ark_bn254::G1Affine::default());
    let prover = Prover::new(pk.clone(), setup_circuit())
        .unwrap()
        .with_fixed_base_tables();
    assert!(!prover.uses_fixed_base_tables());
    let (c, public) = instance(&mut rng);
    let full = assignment(c).unwrap();
    let proof = prover
        .prove_assignment(&full, Fr::from(3u64), Fr::from(4u64))
        .unwrap();
    let pvk = ark_groth16::prepare_verifying_key(&pk.vk);
    assert!(Groth16::<Bn254>::verify_proof(&pvk, &proof, &public).unwrap());
}
