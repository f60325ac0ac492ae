//! Fuzzing the zkey reader (SPEC §10.2) like every other decoder of outside data: a valid
//! zkey of a small circuit, damaged at random (bytes flipped, the file cut or extended, a
//! section length rewritten, or replaced by arbitrary bytes), is decoded or refused with a
//! typed error — never a panic, never an allocation beyond the circuit's size. 600 cases
//! per run.

use ark_bn254::Bn254;
use ark_groth16::Groth16;
use ark_std::rand::{rngs::StdRng, SeedableRng};
use proptest::prelude::*;
use std::sync::OnceLock;
use zkcredit_circuits::statements::FraudOnlyCircuit;
use zkcredit_prover::circom::{reduction::CircomReduction, zkey};
use zkcredit_prover::fast::R1cs;

fn circuit() -> FraudOnlyCircuit {
    FraudOnlyCircuit {
        depth: 4,
        public: None,
        witness: None,
    }
}

fn fixture() -> &'static (R1cs, Vec<u8>) {
    static F: OnceLock<(R1cs, Vec<u8>)> = OnceLock::new();
    F.get_or_init(|| {
        let r = R1cs::of(circuit()).unwrap();
        let pk = Groth16::<Bn254, CircomReduction>::generate_random_parameters_with_reduction(
            circuit(),
            &mut StdRng::seed_from_u64(3),
        )
        .unwrap();
        let bytes = zkey::write(&pk, &r).unwrap();
        assert!(zkey::read_own(&bytes, &r).is_ok());
        (r, bytes)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, .. ProptestConfig::default() })]

    #[test]
    fn flipped_bytes_never_panic(flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 1..4)) {
        let (r, good) = fixture();
        let mut b = good.clone();
        for (at, x) in flips {
            let i = at % b.len();
            b[i] ^= x;
        }
        let _ = zkey::read_own(&b, r);
    }

    #[test]
    fn cut_or_extended_files_are_refused(cut in any::<usize>(), extra in proptest::collection::vec(any::<u8>(), 0..64)) {
        let (r, good) = fixture();
        let cut = cut % good.len();
        prop_assert!(zkey::read_own(&good[..cut], r).is_err());
        if !extra.is_empty() {
            let mut longer = good.clone();
            longer.extend_from_slice(&extra);
            prop_assert!(zkey::read_own(&longer, r).is_err());
        }
    }

    #[test]
    fn rewritten_section_lengths_are_refused(k in 0usize..9, len in any::<u64>()) {
        let (r, good) = fixture();
        // The k-th section table entry's length field.
        let mut pos = 12;
        for _ in 0..k {
            let l = u64::from_le_bytes(good[pos + 4..pos + 12].try_into().unwrap()) as usize;
            pos += 12 + l;
        }
        let old = u64::from_le_bytes(good[pos + 4..pos + 12].try_into().unwrap());
        prop_assume!(len != old);
        let mut b = good.clone();
        b[pos + 4..pos + 12].copy_from_slice(&len.to_le_bytes());
        prop_assert!(zkey::read_own(&b, r).is_err());
    }

    #[test]
    fn arbitrary_bytes_are_refused(mut bytes in proptest::collection::vec(any::<u8>(), 0..2048), magic in any::<bool>()) {
        let (r, _) = fixture();
        if magic && bytes.len() >= 4 {
            bytes[..4].copy_from_slice(b"zkey");
        }
        prop_assert!(zkey::read_own(&bytes, r).is_err());
    }
}
