//! # zkcredit-halo2
//!
//! zkcredit's second proof system (SPEC §11): the statements of `zkcredit-circuits` as
//! halo2 circuits (axiom's `halo2-axiom`, PLONKish with KZG over BN254, through the
//! `halo2-base` gate and range chips), beside the Groth16 circuits. Groth16 needs a ceremony
//! per circuit; these need only a universal structured reference string, read from the same
//! phase-1 powers-of-tau file ([`srs`]).
//!
//! The native twins are `zkcredit-circuits`' own: every gadget here is tested against the
//! native function the Groth16 gadget is tested against, on the same inputs, and every
//! constraint block names the [`zkcredit_circuits::eligibility::Rule`] it enforces, so a
//! negative test asserts *which* rule a bad witness breaks ([`gadgets::Rows::violated`]).
//!
//! | module | spec | native twin | gadget |
//! |---|---|---|---|
//! | [`gadgets::poseidon`] | §3.2 | [`zkcredit_circuits::poseidon::hash`] | [`gadgets::poseidon::hash`] |
//! | [`gadgets::cmp`] | §3.6 | [`zkcredit_circuits::cmp`] | [`gadgets::Rows::enforce_bits`], … |
//! | [`gadgets::imt`] | §4.3 | [`zkcredit_circuits::imt::LookupWitness::verify`] | [`gadgets::imt::lookup`] |
//! | [`statements`] | §6.7 | [`zkcredit_circuits::statements::FraudOnlyCircuit::check`] | [`statements::fraud_only`] |
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod eligibility;
pub mod error;
pub mod evm;
pub mod field;
pub mod gadgets;
pub mod keys;
pub mod proof;
pub mod srs;
pub mod statements;
pub mod system;

pub use error::Halo2Error;
/// The halo2 types a caller needs beside this crate's (KZG parameters, keys).
pub mod halo2_proofs_reexport {
    pub use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, G1Affine, G2Affine};
    pub use halo2_base::halo2_proofs::halo2curves::group::{prime::PrimeCurveAffine, Curve};
    pub use halo2_base::halo2_proofs::plonk::{ProvingKey, VerifyingKey};
    pub use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
    pub use halo2_base::halo2_proofs::{SerdeCurveAffine, SerdeFormat};
}
/// The scalar field of the halo2 circuits (BN254's `Fr`, halo2curves' type).
pub use halo2_base::halo2_proofs::halo2curves::bn256::Fr as HFr;
