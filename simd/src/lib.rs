//! # zkcredit-simd
//!
//! BN254 arithmetic in **eight lanes** with AVX-512 IFMA (52-bit multiply-accumulate):
//!
//! - [`Poseidon8`]: Poseidon's permutation over the scalar field on eight independent states
//!   at once, for the places that hash many independent inputs — a provider tree's bulk
//!   build, its rebuild and a publication's changed paths (spec §3.2, §4.4). The crate knows
//!   nothing of Poseidon's parameters: [`Poseidon8::new`] takes the optimised constants
//!   (`zkcredit_circuits::poseidon::Optimized`), and the permutation here is the same
//!   sequence of operations as the scalar one there, so the two are bit-identical (the
//!   circuits crate's tests drive both on the same inputs).
//! - [`g1::chord_additions`]: a batch of G1 affine additions over the base field with one
//!   inversion, for the prover's batch-affine buckets (its fixed-base tables).
//! - [`g1_msm`] and [`g2_msm`]: whole multi-scalar multiplications in G1 and G2 (over `Fq2`)
//!   whose every addition runs in the lanes, for the prover's five MSMs (`msm.rs`).
//!
//! ## Why this crate holds the project's only `unsafe`
//!
//! An AVX-512 function can only be called where the processor has AVX-512; Rust marks such a
//! call `unsafe`. The arithmetic itself is safe code (`#[target_feature]` functions, whose
//! intrinsics are safe inside them; no raw pointers). The four calls into it — Poseidon's
//! permutation, G1's chord additions, and the MSMs' layers in G1 and in G2 — are reached
//! only through [`Poseidon8::hash`], [`g1::chord_additions`], [`g1_msm`] and [`g2_msm`], and
//! each is made after checking at run time that the processor has `avx512f` and
//! `avx512ifma`, and otherwise answers so that the caller takes its scalar path. Every
//! other crate keeps `#![forbid(unsafe_code)]`; this one denies it everywhere but those four
//! calls.
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod error;
#[cfg(target_arch = "x86_64")]
mod field;
pub mod g1;
mod g2;
mod limbs;
mod msm;
mod poseidon;

pub use error::SimdError;
pub use msm::{g1_msm, g2_msm};
pub use poseidon::{Constants, Poseidon8};

/// Eight field elements at a time.
pub const LANES: usize = 8;

/// Whether this processor runs the eight-lane arithmetic (`avx512f` and `avx512ifma`),
/// detected once. `ZKCREDIT_SIMD=off` in the environment turns it off (for measuring the
/// scalar path on the same machine).
pub fn available() -> bool {
    use std::sync::OnceLock;
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        if std::env::var("ZKCREDIT_SIMD").is_ok_and(|v| v == "off") {
            return false;
        }
        detected()
    })
}

#[cfg(target_arch = "x86_64")]
fn detected() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512ifma")
}

#[cfg(not(target_arch = "x86_64"))]
fn detected() -> bool {
    false
}
