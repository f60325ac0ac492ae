//! Field elements between arkworks (the native twins, the Groth16 side) and halo2curves
//! (the halo2 side). Both are BN254's scalar field; the conversion goes through the
//! canonical little-endian encoding and cannot fail.

use crate::HFr;
use ark_ff::{BigInteger, PrimeField};
use zkcredit_circuits::Fr;

/// The halo2 element equal to an arkworks element.
pub fn to_halo2(x: &Fr) -> HFr {
    let mut b = [0u8; 32];
    b.copy_from_slice(&x.into_bigint().to_bytes_le());
    // canonical bytes of an element of the same field: always a valid encoding.
    HFr::from_bytes(&b).unwrap_or(HFr::zero())
}

/// The arkworks element equal to a halo2 element.
pub fn to_ark(x: &HFr) -> Fr {
    Fr::from_le_bytes_mod_order(&x.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::UniformRand;

    #[test]
    fn conversion_round_trips_and_keeps_arithmetic() {
        let mut rng = ark_std::test_rng();
        for _ in 0..100 {
            let (a, b) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
            assert_eq!(to_ark(&to_halo2(&a)), a);
            assert_eq!(
                to_halo2(&(a * b + a)),
                to_halo2(&a) * to_halo2(&b) + to_halo2(&a)
            );
        }
        assert_eq!(to_halo2(&-Fr::from(1u64)), -HFr::one());
    }
}
