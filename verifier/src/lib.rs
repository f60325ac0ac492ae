//! # zkcredit-verifier
//!
//! Groth16/BN254 verification of zkcredit proofs (spec §7) and the wire formats
//! (spec §3.7): snarkjs's `proof.json`, `public.json` and `verification_key.json`
//! layouts, and arkworks' compressed binary encoding. Every decoded point is checked on
//! the curve and in the prime-order subgroup; every field element is checked `< r` (or
//! `< q` for coordinates) with no silent reduction.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod batch;
pub mod error;
pub mod keys;
pub mod snarkjs;

pub use error::VerifyError;

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, VerifyingKey};
use zkcredit_circuits::eligibility::PublicInputs;

/// A verifying key prepared for repeated verification.
#[derive(Clone)]
pub struct Verifier {
    pvk: PreparedVerifyingKey<Bn254>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("public_inputs", &self.num_public_inputs())
            .field("vk_digest", &keys::vk_digest(&self.pvk.vk))
            .finish()
    }
}

impl Verifier {
    /// Prepares `vk`.
    pub fn new(vk: &VerifyingKey<Bn254>) -> Self {
        Self {
            pvk: ark_groth16::prepare_verifying_key(vk),
        }
    }

    /// The verifying key.
    pub fn vk(&self) -> &VerifyingKey<Bn254> {
        &self.pvk.vk
    }

    /// Number of public inputs the key expects.
    pub fn num_public_inputs(&self) -> usize {
        self.pvk.vk.gamma_abc_g1.len().saturating_sub(1)
    }

    /// The Groth16 check for an arbitrary public-input vector. The vector must have
    /// exactly the key's number of inputs (arkworks would silently zero-pad a short one).
    pub fn verify_raw(&self, proof: &Proof<Bn254>, public: &[Fr]) -> Result<(), VerifyError> {
        if public.len() != self.num_public_inputs() {
            return Err(VerifyError::PublicInputCount {
                expected: self.num_public_inputs(),
                got: public.len(),
            });
        }
        match Groth16::<Bn254>::verify_proof(&self.pvk, proof, public) {
            Ok(true) => Ok(()),
            Ok(false) => Err(VerifyError::InvalidProof),
            Err(e) => Err(VerifyError::Malformed(format!("verification error: {e}"))),
        }
    }

    /// The Groth16 check of an eligibility proof (spec §7, first check). The policy,
    /// root-history, skew, context and nullifier checks belong to the lender's service.
    pub fn verify(&self, proof: &Proof<Bn254>, public: &PublicInputs) -> Result<(), VerifyError> {
        self.verify_raw(proof, &public.to_vec())
    }
}
