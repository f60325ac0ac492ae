//! # zkcredit-wallet
//!
//! The borrower's wallet (spec §2, §6, §7.2): [`keystore`] seals the holder secret
//! (argon2id + XChaCha20-Poly1305); [`wallet`] registers with the KYC issuer, gathers every
//! registry slot's witness from its provider with signed requests, proves natively with the
//! parallel prover, and applies to a lender — all through the typed clients of
//! `zkcredit-api`; [`explain`] says the policy, what a lender learns and why no proof can
//! exist in a person's words; [`origination`] picks an unused origination tag (§6.10);
//! [`history`] keeps the applications made. No HTTP server and no database here.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod explain;
pub mod history;
pub mod keystore;
pub mod origination;
pub mod wallet;

pub use wallet::{Decision, ProofFile, Wallet, WalletError};
