//! Domain separation (spec §3.3): every Poseidon use, its arity and its tag, in one place.
//!
//! | use | inputs | arity |
//! |---|---|---|
//! | holder commitment | `H(holder_secret)` | 1 |
//! | Merkle internal node (IMT and registry) | `H(left, right)` | 2 |
//! | nullifier | `H(TAG_NULLIFIER, holder_secret, scope)` | 3 |
//! | registry slot leaf | `H(role, provider_id, provider_root, published_at)` | 4 |
//! | IMT leaf | `H(key, next_key, commitment)` | 3 |
//! | IMT value commitment | `H(v0, v1, v2, salt)` | 4 |
//! | policy hash | `H(max_active_loans, max_outstanding, max_arrears_days, min_score, max_score_age, max_root_age, min_kyc_age, max_new_loans, model_hash, max_logit)` | 10 |
//! | origination tag | `H(TAG_ORIGINATION, holder_secret, epoch, j)` | 4 |
//! | model hash | `H(TAG_MODEL, id, scale_bits, b0, b1..b5)` (`model::TAG_MODEL`) | 9 |
//! | subject key | `H(TAG_SUBJECT, pepper, chunk0, chunk1)` truncated to 248 bits | 4 |
//! | subject commitment (single-statement circuits) | `H(TAG_SUBJECT_COMMIT, subject_key, blinding)` | 3 |
//!
//! Arity-4 and arity-3 uses are separated by their first input: slot roles are 0..=4,
//! tags are large ASCII constants that no role equals. The untagged IMT leaf (arity 3)
//! and value commitment (arity 4) are each consumed in exactly one place — a leaf hash
//! only at the bottom of a fixed-depth path, a value commitment only inside a leaf hash —
//! so no other use's output is ever read as one of them (spec §3.3).

/// Tag of the subject-key derivation (ASCII "zkc/subj").
pub const TAG_SUBJECT: u64 = 0x7a6b_632f_7375_626a;
/// Tag of the nullifier (ASCII "zkc/null").
pub const TAG_NULLIFIER: u64 = 0x7a6b_632f_6e75_6c6c;
/// Tag of the origination tag (ASCII "zkc/orig", spec §6.10).
pub const TAG_ORIGINATION: u64 = 0x7a6b_632f_6f72_6967;
/// Tag of the subject commitment used by the single-statement circuits (ASCII "zkc/scom").
pub const TAG_SUBJECT_COMMIT: u64 = 0x7a6b_632f_7363_6f6d;

/// Arity of the holder commitment hash.
pub const ARITY_HOLDER: usize = 1;
/// Arity of Merkle internal nodes.
pub const ARITY_NODE: usize = 2;
/// Arity of the nullifier hash.
pub const ARITY_NULLIFIER: usize = 3;
/// Arity of a registry slot leaf.
pub const ARITY_SLOT: usize = 4;
/// Arity of an IMT leaf `H(key, next_key, commitment)`.
pub const ARITY_IMT_LEAF: usize = 3;
/// Arity of an IMT value commitment `H(v0, v1, v2, salt)`.
pub const ARITY_VALUE_COMMITMENT: usize = 4;
/// Arity of the policy hash.
pub const ARITY_POLICY: usize = 10;
/// Arity of the origination tag `H(TAG_ORIGINATION, holder_secret, epoch, j)`.
pub const ARITY_ORIGINATION: usize = 4;

/// Length of an origination epoch in seconds, one constant for the whole alliance
/// (spec §6.10): 30 days. Epoch `e` is `[e·EPOCH_SECONDS, (e+1)·EPOCH_SECONDS)` in Unix
/// seconds. Lenders with different lengths would derive different tags for one loan, so
/// it is not a policy value.
pub const EPOCH_SECONDS: u64 = 30 * 24 * 60 * 60;
/// Bits of `now mod EPOCH_SECONDS` (`EPOCH_SECONDS < 2^EPOCH_REM_BITS`).
pub const EPOCH_REM_BITS: usize = 22;
const _: () = assert!(EPOCH_SECONDS < 1 << EPOCH_REM_BITS);
/// Arity of the subject-key derivation.
pub const ARITY_SUBJECT: usize = 4;
/// Bytes of the normalised identifier per field chunk.
pub const SUBJECT_CHUNK_BYTES: usize = 31;

/// Bits of a subject key: keys live in `[1, 2^248)`.
pub const KEY_BITS: usize = 248;
/// Bits of every numeric record field, timestamp and policy value (u64).
pub const VALUE_BITS: usize = 64;
