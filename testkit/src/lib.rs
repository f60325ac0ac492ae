//! # zkcredit-testkit
//!
//! What tests, benchmarks and the demo share, kept out of the product crates:
//! - [`scenario`]: a synthetic alliance (issuer, fraud lists, lenders, bureaus) built from
//!   the native primitives, giving real witnesses;
//! - [`alliance`]: every role of spec §2 started in-process on loopback, each with its own
//!   store, talking only HTTP;
//! - [`pg`]: a throw-away PostgreSQL cluster (the server of Debian's `postgresql`);
//! - [`fleet`]: verifier replicas as processes on one store, and real proofs to load them.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod alliance;
pub mod fleet;
pub mod pg;
pub mod scenario;

/// The root-signing key of the provider in `slot` of a test registry (deterministic, so
/// tests can pin it; never a production key).
pub fn provider_signing_key(slot: usize) -> ed25519_dalek::SigningKey {
    let mut seed = *b"zkcredit-test-provider-key-slot-";
    seed[31] = slot as u8;
    ed25519_dalek::SigningKey::from_bytes(&seed)
}
