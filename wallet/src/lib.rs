//! # zkcredit-wallet
//!
//! The borrower's wallet (spec §2, §6, §7.3): [`keystore`] seals the holder secret
//! (argon2id + XChaCha20-Poly1305); [`wallet`] registers with the KYC issuer, gathers every
//! registry slot's witness from its provider with signed requests, proves natively with the
//! parallel prover, and applies to a lender — all through the typed clients of
//! `zkcredit-api`. No HTTP server and no database here.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod keystore;
pub mod wallet;

pub use wallet::{Decision, ProofFile, Wallet, WalletError};
