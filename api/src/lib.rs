//! # zkcredit-api
//!
//! The protocol between zkcredit's services and their callers (spec §7, §9), in one crate
//! that both sides depend on, so the wallet and the tools sit *beside* the servers, not
//! above them:
//! - [`error`]: the one [`ErrorCode`] table (code, HTTP status, description) and the error body;
//! - [`auth`]: the signed messages (issuer attestation, holder witness request, KYC application);
//! - [`registry`], [`issuer`], [`provider`], [`verifier`]: each service's request and
//!   response types and its route table;
//! - [`openapi`]: the OpenAPI documents, generated from the route tables and the error table,
//!   with the JSON Schemas of the body types (`schemars`);
//! - [`client`]: typed async clients of every service;
//! - [`time`]: the one clock.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod auth;
pub mod client;
pub mod error;
pub mod issuer;
pub mod openapi;
pub mod provider;
pub mod registry;
pub mod time;
pub mod verifier;

pub use error::{ApiError, ErrorCode};
pub use time::unix_now;
