//! # zkcredit-circuits
//!
//! The cryptographic core of zkcredit: every primitive has a **native** implementation
//! (`mod.rs`) and an **R1CS gadget** (`constraints.rs`) side by side, tested against each
//! other on the same random inputs.
//!
//! | module | spec | native | gadget |
//! |---|---|---|---|
//! | [`poseidon`] | `docs/SPEC.md` §3.2 | [`poseidon::hash`] | [`poseidon::constraints::hash_var`] |
//! | [`cmp`] | §3.6 | [`cmp::fits_in_bits`] | [`cmp::constraints`] |
//! | [`imt`] | §4 | [`imt::IndexedMerkleTree`] | [`imt::constraints::lookup`] |
//! | [`registry`] | §5 | [`registry::Registry`] | [`registry::constraints::registry_root_var`] |
//! | [`eligibility`] | §6 | [`eligibility::EligibilityWitness::check`] | [`eligibility::EligibilityCircuit`] |
//!
//! Section numbers refer to the project's protocol specification, `docs/SPEC.md`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cmp;
pub mod costs;
pub mod eligibility;
pub mod error;
pub mod field;
pub mod imt;
pub mod poseidon;
pub mod registry;
pub mod scenario;
pub mod statements;
pub mod subject;
pub mod tags;

pub use ark_bn254::Fr;
pub use error::CircuitError;
