//! # zkcredit-testkit
//!
//! What tests, benchmarks and the demo share, kept out of the product crates:
//! - [`scenario`]: a synthetic alliance (issuer, fraud lists, lenders, bureaus) built from
//!   the native primitives, giving real witnesses;
//! - [`alliance`]: every role of spec §2 started in-process on loopback, each with its own
//!   store, talking only HTTP.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod alliance;
pub mod scenario;
