//! The eligibility statement (spec §6): one proof per loan application.
//!
//! Public inputs, exactly these, in this order: `registry_root, policy_hash, now, scope,
//! nullifier, context, origination_tag` ([`PublicInputs::to_vec`] is the one function that builds the
//! vector, used by every verifier and encoder). [`EligibilityWitness::check`] is the
//! native twin of [`EligibilityCircuit`]: it evaluates every constraint block natively
//! and names the first that fails as a [`Rule`].
//!
//! | file | content |
//! |---|---|
//! | `mod.rs` | policy, parameters, witness and public-input types; native helpers |
//! | [`rule`] | [`Rule`]: the constraint blocks, shared by the twin and the gadget |
//! | `check.rs` | the native twin [`EligibilityWitness::check`] / [`EligibilityWitness::check_against`] |
//! | [`constraints`] | the gadget: [`EligibilityCircuit`] and its typed variables |

mod check;
pub mod constraints;
pub mod rule;

pub use constraints::EligibilityCircuit;
pub use rule::Rule;

use crate::imt::{LookupWitness, DEFAULT_DEPTH};
use crate::model::{fr_from_i64, ModelTerms};
use crate::poseidon::hash_n;
use crate::registry::{merkle_root, Slot, DEFAULT_SLOTS};
use crate::tags::{ARITY_POLICY, EPOCH_SECONDS, TAG_NULLIFIER, TAG_ORIGINATION, VALUE_BITS};
use crate::{CircuitError, Fr};
use ark_ff::{PrimeField, Zero};
use serde::{Deserialize, Serialize};

/// Number of public inputs.
pub const NUM_PUBLIC_INPUTS: usize = 7;
/// Index of `registry_root` in the public-input vector.
pub const PI_REGISTRY_ROOT: usize = 0;
/// Index of `policy_hash`.
pub const PI_POLICY_HASH: usize = 1;
/// Index of `now`.
pub const PI_NOW: usize = 2;
/// Index of `scope`.
pub const PI_SCOPE: usize = 3;
/// Index of `nullifier`.
pub const PI_NULLIFIER: usize = 4;
/// Index of `context`.
pub const PI_CONTEXT: usize = 5;
/// Index of `origination_tag` (spec §6.10).
pub const PI_ORIGINATION_TAG: usize = 6;
/// Public-input names, in order.
pub const PUBLIC_INPUT_NAMES: [&str; NUM_PUBLIC_INPUTS] = [
    "registry_root",
    "policy_hash",
    "now",
    "scope",
    "nullifier",
    "context",
    "origination_tag",
];

/// Bits of sums over lender slots: 64-bit values summed over at most 256 slots.
pub const SUM_BITS: usize = VALUE_BITS + 8;

/// The verifier's policy (spec §6). All values u64; ages and timestamps in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Borrowers must have strictly fewer active loans than this, summed over lenders.
    pub max_active_loans: u64,
    /// Outstanding amount (minor units), summed over lenders, at most this.
    pub max_outstanding: u64,
    /// Worst arrears (days) at every lender at most this.
    pub max_arrears_days: u64,
    /// Some bureau's score at least this.
    pub min_score: u64,
    /// That score issued at most this many seconds before `now`.
    pub max_score_age: u64,
    /// Every non-empty registry slot published at most this many seconds before `now`.
    pub max_root_age: u64,
    /// The KYC record must have been issued at least this many seconds before `now`
    /// (`issued_at + min_kyc_age ≤ now`), so an identity freshly rebound to a new holder
    /// secret cannot apply again with a fresh nullifier within this period (spec §6.2, §8).
    pub min_kyc_age: u64,
    /// At most this many new loans per origination epoch across every lender that checks
    /// the limit (spec §6.10): the proof exposes one of the borrower's `max_new_loans`
    /// origination tags of the epoch. 0 (absent in JSON) = no limit, and the tag is 0.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub max_new_loans: u64,
    /// The default-probability model and the lender's threshold (spec §6.9); absent in
    /// JSON = [`ModelTerms::NONE`], which admits everyone.
    #[serde(default, skip_serializing_if = "ModelTerms::is_none")]
    pub model: ModelTerms,
}

impl Policy {
    /// The eight limits in hashing order (the first inputs of the policy hash).
    pub fn values(&self) -> [u64; 8] {
        [
            self.max_active_loans,
            self.max_outstanding,
            self.max_arrears_days,
            self.min_score,
            self.max_score_age,
            self.max_root_age,
            self.min_kyc_age,
            self.max_new_loans,
        ]
    }

    /// The policy hash's inputs: the eight limits, `model_hash` and the signed threshold
    /// (spec §6.6).
    pub fn hash_inputs(&self) -> [Fr; ARITY_POLICY] {
        let mut v = [Fr::zero(); ARITY_POLICY];
        for (i, x) in self.values().iter().enumerate() {
            v[i] = Fr::from(*x);
        }
        v[8] = self.model.hash();
        v[9] = fr_from_i64(self.model.max_logit);
        v
    }

    /// `policy_hash = H(max_active_loans, …, min_kyc_age, max_new_loans, model_hash,
    /// max_logit)`
    /// (spec §6.6).
    pub fn hash(&self) -> Fr {
        hash_n(self.hash_inputs())
    }
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

/// Circuit shape: number of registry slots and provider-tree depth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EligibilityParams {
    /// Registry slots (power of two, 2..=256).
    pub slots: usize,
    /// Depth of every provider's indexed tree: 2^depth leaves, even, 2..=64.
    pub depth: usize,
}

impl Default for EligibilityParams {
    fn default() -> Self {
        Self {
            slots: DEFAULT_SLOTS,
            depth: DEFAULT_DEPTH,
        }
    }
}

impl EligibilityParams {
    /// Validates the shape.
    pub fn validate(&self) -> Result<(), CircuitError> {
        if !self.slots.is_power_of_two() || !(2..=256).contains(&self.slots) {
            return Err(CircuitError::Shape(format!(
                "slots = {} must be a power of two in 2..=256",
                self.slots
            )));
        }
        if self.depth == 0 || self.depth > 64 {
            return Err(CircuitError::Shape(format!(
                "depth = {} must be in 1..=64",
                self.depth
            )));
        }
        Ok(())
    }

    /// A short identifier, e.g. `eligibility_s16_d32`.
    pub fn id(&self) -> String {
        format!("eligibility_s{}_d{}", self.slots, self.depth)
    }
}

/// One registry slot and the wallet's lookup witness in that provider's tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotWitness {
    /// The slot as committed in the registry.
    pub slot: Slot,
    /// Membership or non-membership witness of the subject key (placeholder when empty).
    pub lookup: LookupWitness,
}

/// The seven public inputs (spec §6), in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicInputs {
    /// Registry root the proof was made against.
    #[serde(with = "crate::field::serde_fr")]
    pub registry_root: Fr,
    /// Hash of the verifier's policy.
    #[serde(with = "crate::field::serde_fr")]
    pub policy_hash: Fr,
    /// Claimed proof time (Unix seconds, < 2^64).
    #[serde(with = "crate::field::serde_fr")]
    pub now: Fr,
    /// Verifier-chosen nullifier scope.
    #[serde(with = "crate::field::serde_fr")]
    pub scope: Fr,
    /// `H(TAG_NULLIFIER, holder_secret, scope)`.
    #[serde(with = "crate::field::serde_fr")]
    pub nullifier: Fr,
    /// Request binding (keccak of the request, top 3 bits cleared).
    #[serde(with = "crate::field::serde_fr")]
    pub context: Fr,
    /// `H(TAG_ORIGINATION, holder_secret, epoch, j)` with `j < max_new_loans`, or 0 when
    /// the policy sets no new-loan limit (spec §6.10).
    #[serde(with = "crate::field::serde_fr")]
    pub origination_tag: Fr,
}

impl PublicInputs {
    /// The public-input vector in the circuit's order. The only place that order is encoded.
    pub fn to_vec(&self) -> Vec<Fr> {
        let mut v = vec![Fr::zero(); NUM_PUBLIC_INPUTS];
        v[PI_REGISTRY_ROOT] = self.registry_root;
        v[PI_POLICY_HASH] = self.policy_hash;
        v[PI_NOW] = self.now;
        v[PI_SCOPE] = self.scope;
        v[PI_NULLIFIER] = self.nullifier;
        v[PI_CONTEXT] = self.context;
        v[PI_ORIGINATION_TAG] = self.origination_tag;
        v
    }

    /// Inverse of [`Self::to_vec`].
    pub fn from_slice(v: &[Fr]) -> Result<Self, CircuitError> {
        if v.len() != NUM_PUBLIC_INPUTS {
            return Err(CircuitError::Shape(format!(
                "expected {NUM_PUBLIC_INPUTS} public inputs, got {}",
                v.len()
            )));
        }
        Ok(Self {
            registry_root: v[PI_REGISTRY_ROOT],
            policy_hash: v[PI_POLICY_HASH],
            now: v[PI_NOW],
            scope: v[PI_SCOPE],
            nullifier: v[PI_NULLIFIER],
            context: v[PI_CONTEXT],
            origination_tag: v[PI_ORIGINATION_TAG],
        })
    }
}

/// `holder_commitment = H(holder_secret)` (spec §3.5).
pub fn holder_commitment(holder_secret: &Fr) -> Fr {
    hash_n([*holder_secret])
}

/// `nullifier = H(TAG_NULLIFIER, holder_secret, scope)` (spec §3.5).
pub fn nullifier(holder_secret: &Fr, scope: &Fr) -> Fr {
    hash_n([Fr::from(TAG_NULLIFIER), *holder_secret, *scope])
}

/// The origination epoch of `now`: `floor(now / EPOCH_SECONDS)` (spec §6.10).
pub fn epoch_of(now: u64) -> u64 {
    now / EPOCH_SECONDS
}

/// The first second of epoch `epoch + 1` (when a borrower's tags of `epoch` are renewed),
/// saturating.
pub fn next_epoch_start(epoch: u64) -> u64 {
    epoch.saturating_add(1).saturating_mul(EPOCH_SECONDS)
}

/// `origination_tag = H(TAG_ORIGINATION, holder_secret, epoch, j)` (spec §6.10): the
/// borrower's `j`-th tag of `epoch`.
pub fn origination_tag(holder_secret: &Fr, epoch: u64, j: u64) -> Fr {
    hash_n([
        Fr::from(TAG_ORIGINATION),
        *holder_secret,
        Fr::from(epoch),
        Fr::from(j),
    ])
}

/// A 32-byte digest as a field element with the top 3 bits cleared (spec §6 `context`).
pub fn context_from_digest(digest: [u8; 32]) -> Fr {
    let mut d = digest;
    d[0] &= 0x1f;
    Fr::from_be_bytes_mod_order(&d)
}

/// Off-chain request context: `keccak256(abi.encode(bytes32 verifier_id, bytes32 nonce,
/// uint64 expiry))` with the top 3 bits cleared (spec §6).
pub fn offchain_context(verifier_id: [u8; 32], nonce: [u8; 32], expiry: u64) -> Fr {
    use sha3::{Digest, Keccak256};
    let mut h = Keccak256::new();
    h.update(verifier_id);
    h.update(nonce);
    let mut word = [0u8; 32];
    word[24..].copy_from_slice(&expiry.to_be_bytes());
    h.update(word);
    context_from_digest(h.finalize().into())
}

/// The wallet's complete private witness (spec §6). Secrets are redacted in `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EligibilityWitness {
    /// The holder secret (never leaves the wallet).
    #[serde(with = "crate::field::serde_fr")]
    pub holder_secret: Fr,
    /// The subject key.
    #[serde(with = "crate::field::serde_fr")]
    pub subject_key: Fr,
    /// The verifier's policy.
    pub policy: Policy,
    /// Proof time (Unix seconds).
    pub now: u64,
    /// Nullifier scope.
    #[serde(with = "crate::field::serde_fr")]
    pub scope: Fr,
    /// Request context.
    #[serde(with = "crate::field::serde_fr")]
    pub context: Fr,
    /// Which of the epoch's origination tags this proof exposes, `j < max_new_loans`
    /// (spec §6.10; ignored when the policy sets no limit). The wallet picks an unused one.
    #[serde(default)]
    pub origination_index: u64,
    /// Every registry slot, in order, with its lookup witness.
    pub slots: Vec<SlotWitness>,
}

impl std::fmt::Debug for EligibilityWitness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EligibilityWitness")
            .field("holder_secret", &"<redacted>")
            .field("subject_key", &"<redacted>")
            .field("policy", &self.policy)
            .field("now", &self.now)
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

impl EligibilityWitness {
    /// The public inputs this witness proves (computed, not checked).
    pub fn public_inputs(&self) -> PublicInputs {
        let leaves: Vec<Fr> = self.slots.iter().map(|s| s.slot.leaf_hash()).collect();
        PublicInputs {
            registry_root: merkle_root(&leaves),
            policy_hash: self.policy.hash(),
            now: Fr::from(self.now),
            scope: self.scope,
            nullifier: nullifier(&self.holder_secret, &self.scope),
            context: self.context,
            origination_tag: self.origination_tag(),
        }
    }

    /// The origination tag this witness exposes: 0 when the policy sets no new-loan limit,
    /// else [`origination_tag`] of `now`'s epoch and [`Self::origination_index`].
    pub fn origination_tag(&self) -> Fr {
        if self.policy.max_new_loans == 0 {
            return Fr::zero();
        }
        origination_tag(
            &self.holder_secret,
            epoch_of(self.now),
            self.origination_index,
        )
    }

    /// Checks the witness has the shape of `params`.
    pub fn check_shape(&self, params: &EligibilityParams) -> Result<(), CircuitError> {
        params.validate()?;
        if self.slots.len() != params.slots {
            return Err(CircuitError::Shape(format!(
                "witness has {} slots, circuit expects {}",
                self.slots.len(),
                params.slots
            )));
        }
        for (i, s) in self.slots.iter().enumerate() {
            if s.lookup.siblings.len() != crate::imt::path_len(params.depth) {
                return Err(CircuitError::Shape(format!(
                    "slot {i}: path of {} siblings, depth {} needs {}",
                    s.lookup.siblings.len(),
                    params.depth,
                    crate::imt::path_len(params.depth)
                )));
            }
            if params.depth < 64 && s.lookup.index >> params.depth != 0 {
                return Err(CircuitError::Shape(format!(
                    "slot {i}: leaf index beyond depth"
                )));
            }
        }
        Ok(())
    }
}
