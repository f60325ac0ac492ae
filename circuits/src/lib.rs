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
//! | [`model`] | §6.9 | [`model::ModelTerms::admits`] | [`model::constraints::enforce_admits`] |
//! | [`eligibility`] | §6 | [`eligibility::EligibilityWitness::check`] | [`eligibility::EligibilityCircuit`] |
//! | [`statements`] | §6.7 | [`statements::FraudOnlyCircuit::check`] | [`statements::FraudOnlyCircuit`], … |
//!
//! The eligibility statement is a module directory like the primitives: `eligibility/mod.rs`
//! (types, native helpers), `eligibility/check.rs` (the native twin),
//! [`eligibility::constraints`] (the gadget with its typed variables
//! [`eligibility::constraints::PolicyVar`], [`eligibility::constraints::SlotVar`],
//! [`eligibility::constraints::PublicInputsVar`]) and [`eligibility::rule`]: the
//! [`eligibility::Rule`] enum names each §6 constraint block once, for both sides. The native
//! twin reports a failure as [`CircuitError::Statement`] with its rule; the gadget enforces
//! each block in the constraint namespace [`eligibility::Rule::namespace`].
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
pub mod model;
pub mod poseidon;
pub mod registry;
pub mod statements;
pub mod subject;
pub mod tags;

pub use ark_bn254::Fr;
pub use error::CircuitError;
