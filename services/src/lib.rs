//! # zkcredit-services
//!
//! The roles of `docs/SPEC.md` §2 as HTTP services (axum + tokio), each keeping its state
//! in an embedded, durable store (SQLite in WAL mode with `synchronous=FULL`, through
//! `rusqlite`; chosen because it is a single file, crash-safe, needs no server, and its SQL
//! ports to PostgreSQL for a fleet of verifiers). This crate holds so far:
//! - [`registry`]: the registry service (spec §5 off chain): slots, authenticated provider
//!   updates, root history;
//! - [`verifier`]: the lender's API (spec §7): proof requests, single and batch
//!   verification, every check with its own error code, nullifiers recorded atomically;
//! - [`keystore`]: the wallet's encrypted keystore (argon2id + XChaCha20-Poly1305).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod alliance;
pub mod api;
pub mod auth;
pub mod issuer;
pub mod keystore;
pub mod provider;
pub mod registry;
pub mod server;
pub mod store;
pub mod tree;
pub mod verifier;
pub mod wallet;

pub use api::ApiError;
