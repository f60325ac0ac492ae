//! # zkcredit-services
//!
//! The roles of `docs/SPEC.md` §2 as HTTP services (axum + tokio), each keeping its state
//! in an embedded, durable store (SQLite in WAL mode with `synchronous=FULL`, through
//! `rusqlite`). The messages, error codes, OpenAPI route tables and clients live in
//! `zkcredit-api`; this crate holds the servers only:
//! - [`registry`]: the registry service (spec §5 off chain): slots, authenticated provider
//!   updates, root history;
//! - [`issuer`]: the KYC issuer (spec §7.2): applications, attestations, subject-key lookups,
//!   and its KYC tree;
//! - [`provider`]: a fraud list, lender or bureau (spec §4): its [`tree`];
//! - [`tree`]: an indexed tree as a service — persistence, import, publication, routes;
//! - [`verifier`]: the lender's API (spec §7): proof requests, single and batch
//!   verification, every check with its own error code, nullifiers recorded atomically;
//! - [`server`]: serving (common routes, metrics, graceful shutdown, OpenAPI);
//! - [`store`]: the embedded durable store.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod http;
pub mod issuer;
pub mod provider;
pub mod registry;
pub mod server;
pub mod store;
pub mod tree;
pub mod verifier;

pub use zkcredit_api::{ApiError, ErrorCode};
