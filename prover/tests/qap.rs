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
    FraudOnlyCircuit {
        depth: DEPTH,
        public: None,
        witness: None,
    }
}

fn instance(rng: &mut StdRng) -> (FraudOnlyCircuit, [Fr; 2]) {
    let rows: Vec<(Fr, [Fr; 3])> = (1..=20u64)
        .map(|k| (Fr::from(k * 1_000_003), [Fr::from(1u64); 3]))
        .collect();
    let tree = IndexedMerkleTree::from_rows(DEPTH, &rows).unwrap();
    let s = Subject {
        key: Fr::from(5_000_001u64),
        blinding: Fr::rand(rng),
    };
    let (_, w) = tree.witness(&s.key).unwrap();
    let public = [tree.root(), subject_commitment(&s.key, &s.blinding)];
    let c = FraudOnlyCircuit {
        depth: DEPTH,
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
    assert_eq!(zkey::read(&bytes, &r1cs).unwrap(), pk);
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
        zkey::read(&bytes, &other),
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
        matches!(zkey::read(&bytes, &r1cs), Err(zkey::ZkeyError::Format(m)) if m.contains("infinity"))
    );
}
