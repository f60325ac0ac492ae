//! The eligibility statement (spec §6): one proof per loan application.
//!
//! Public inputs, exactly these, in this order: `registry_root, policy_hash, now, scope,
//! nullifier, context` ([`PublicInputs::to_vec`] is the one function that builds the
//! vector, used by every verifier and encoder). [`EligibilityWitness::check`] is the
//! native twin of [`EligibilityCircuit`]: it evaluates every constraint block natively
//! and names the first that fails.

use crate::cmp::constraints::{enforce_bits, enforce_le, enforce_le_if, enforce_lt, is_ge, is_le};
use crate::imt::constraints::{lookup, LookupWitnessVar};
use crate::imt::{check_key, LookupWitness, DEFAULT_DEPTH};
use crate::poseidon::constraints::hash_var;
use crate::poseidon::hash_n;
use crate::registry::constraints::{registry_root_var, slot_leaf_var};
use crate::registry::{merkle_root, Role, Slot, DEFAULT_SLOTS};
use crate::tags::{KEY_BITS, TAG_NULLIFIER, VALUE_BITS};
use crate::{CircuitError, Fr};
use ark_ff::{PrimeField, Zero};
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::prelude::*;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use serde::{Deserialize, Serialize};

/// Number of public inputs.
pub const NUM_PUBLIC_INPUTS: usize = 6;
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
/// Public-input names, in order.
pub const PUBLIC_INPUT_NAMES: [&str; NUM_PUBLIC_INPUTS] = [
    "registry_root",
    "policy_hash",
    "now",
    "scope",
    "nullifier",
    "context",
];

/// Bits of sums over lender slots: 64-bit values summed over at most 256 slots.
pub const SUM_BITS: usize = VALUE_BITS + 8;

/// The verifier's policy (spec §6). All values u64; ages and timestamps in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl Policy {
    /// The six values in hashing order.
    pub fn values(&self) -> [u64; 6] {
        [
            self.max_active_loans,
            self.max_outstanding,
            self.max_arrears_days,
            self.min_score,
            self.max_score_age,
            self.max_root_age,
        ]
    }

    /// `policy_hash = H(max_active_loans, …, max_root_age)` (spec §6).
    pub fn hash(&self) -> Fr {
        hash_n(self.values().map(Fr::from))
    }
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

/// The six public inputs (spec §6), in order.
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

fn fail(msg: impl Into<String>) -> CircuitError {
    CircuitError::Statement(msg.into())
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
        }
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

    /// Native twin of the circuit: evaluates every constraint block of spec §6 and
    /// returns the public inputs if all hold, or names the first that fails.
    pub fn check(&self, params: &EligibilityParams) -> Result<PublicInputs, CircuitError> {
        self.check_shape(params)?;
        let p = &self.policy;
        let now = self.now;
        check_key(&self.subject_key).map_err(|_| fail("§6 subject key outside [1, 2^248)"))?;
        let x = self.subject_key;
        let (mut loans, mut outstanding, mut bureau_ok) = (0u128, 0u128, false);
        for (i, sw) in self.slots.iter().enumerate() {
            let s = &sw.slot;
            if i == 0 && s.role != Role::Kyc {
                return Err(fail("§6.2 slot 0 must be the KYC issuer"));
            }
            if i > 0 && s.role == Role::Kyc {
                return Err(fail(format!("§6.2 slot {i}: KYC role outside slot 0")));
            }
            if s.role == Role::Empty {
                continue;
            }
            if (s.published_at as u128) + (p.max_root_age as u128) < now as u128 {
                return Err(fail(format!("§6.1 slot {i}: provider root is stale")));
            }
            let (present, v) = sw
                .lookup
                .verify(&s.provider_root, &x)
                .ok_or_else(|| fail(format!("§4.3 slot {i}: lookup witness invalid")))?;
            let u = |j: usize| -> Result<u64, CircuitError> {
                crate::field::fr_to_u64(&v[j])
                    .ok_or_else(|| fail(format!("§6 slot {i}: record field v{j} is not a u64")))
            };
            match s.role {
                Role::Kyc => {
                    if !present {
                        return Err(fail("§6.2 subject not registered with the KYC issuer"));
                    }
                    if v[0] != holder_commitment(&self.holder_secret) {
                        return Err(fail("§6.2 holder secret does not match the KYC record"));
                    }
                    if u(2)? <= now {
                        return Err(fail("§6.2 KYC record expired"));
                    }
                }
                Role::FraudList => {
                    u(0)?;
                    u(1)?;
                    u(2)?;
                    if present {
                        return Err(fail(format!(
                            "§6.3 subject is on the fraud list in slot {i}"
                        )));
                    }
                }
                Role::Lender => {
                    loans += u(0)? as u128;
                    outstanding += u(1)? as u128;
                    if u(2)? > p.max_arrears_days {
                        return Err(fail(format!(
                            "§6.4 arrears at lender slot {i} over the limit"
                        )));
                    }
                }
                Role::Bureau => {
                    u(2)?;
                    let fresh = (u(1)? as u128) + (p.max_score_age as u128) >= now as u128;
                    if present && u(0)? >= p.min_score && fresh {
                        bureau_ok = true;
                    }
                }
                Role::Empty => {}
            }
        }
        if loans >= p.max_active_loans as u128 {
            return Err(fail("§6.4 too many active loans across lenders"));
        }
        if outstanding > p.max_outstanding as u128 {
            return Err(fail(
                "§6.4 outstanding amount across lenders over the limit",
            ));
        }
        if !bureau_ok {
            return Err(fail(
                "§6.5 no registered bureau has a fresh score at or above the minimum",
            ));
        }
        Ok(self.public_inputs())
    }
}

/// The eligibility circuit (spec §6). `witness`/`public` are `None` for key generation.
#[derive(Clone)]
pub struct EligibilityCircuit {
    /// Shape.
    pub params: EligibilityParams,
    /// The private witness.
    pub witness: Option<EligibilityWitness>,
    /// The public inputs.
    pub public: Option<PublicInputs>,
}

impl EligibilityCircuit {
    /// A circuit for key generation (no values).
    pub fn for_setup(params: EligibilityParams) -> Self {
        Self {
            params,
            witness: None,
            public: None,
        }
    }

    /// A circuit for proving `witness`, with the public inputs it implies.
    pub fn new(
        params: EligibilityParams,
        witness: EligibilityWitness,
    ) -> Result<Self, CircuitError> {
        witness.check_shape(&params)?;
        let public = witness.public_inputs();
        Ok(Self {
            params,
            witness: Some(witness),
            public: Some(public),
        })
    }

    /// A circuit with explicitly chosen public inputs (tests of tampering).
    pub fn with_public(
        params: EligibilityParams,
        witness: EligibilityWitness,
        public: PublicInputs,
    ) -> Self {
        Self {
            params,
            witness: Some(witness),
            public: Some(public),
        }
    }
}

struct SlotFlags {
    role: FpVar<Fr>,
    nonempty: Boolean<Fr>,
    is_fraud: Boolean<Fr>,
    is_lender: Boolean<Fr>,
    is_bureau: Boolean<Fr>,
}

/// Role flags of slot `i` (spec §5 roles). Slot 0 is the constant KYC role; other slots
/// carry four witnessed Booleans (empty, fraud, lender, bureau) with exactly one set and
/// `role = 2·fraud + 3·lender + 4·bureau`, so a slot can never be KYC outside slot 0.
fn slot_flags(
    cs: &ConstraintSystemRef<Fr>,
    i: usize,
    role: Option<Role>,
) -> Result<SlotFlags, SynthesisError> {
    if i == 0 {
        return Ok(SlotFlags {
            role: FpVar::constant(Role::Kyc.as_fr()),
            nonempty: Boolean::TRUE,
            is_fraud: Boolean::FALSE,
            is_lender: Boolean::FALSE,
            is_bureau: Boolean::FALSE,
        });
    }
    let flag = |r: Role| {
        Boolean::new_witness(cs.clone(), || {
            role.map(|x| x == r)
                .ok_or(SynthesisError::AssignmentMissing)
        })
    };
    let is_empty = flag(Role::Empty)?;
    let is_fraud = flag(Role::FraudList)?;
    let is_lender = flag(Role::Lender)?;
    let is_bureau = flag(Role::Bureau)?;
    let f = |b: &Boolean<Fr>| FpVar::from(b.clone());
    (f(&is_empty) + f(&is_fraud) + f(&is_lender) + f(&is_bureau)).enforce_equal(&FpVar::one())?;
    let role = f(&is_fraud) * Role::FraudList.as_fr()
        + f(&is_lender) * Role::Lender.as_fr()
        + f(&is_bureau) * Role::Bureau.as_fr();
    Ok(SlotFlags {
        role,
        nonempty: !is_empty,
        is_fraud,
        is_lender,
        is_bureau,
    })
}

impl ConstraintSynthesizer<Fr> for EligibilityCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let params = self.params;
        params
            .validate()
            .map_err(|_| SynthesisError::Unsatisfiable)?;
        let w = self.witness.as_ref();
        if let Some(w) = w {
            w.check_shape(&params)
                .map_err(|_| SynthesisError::Unsatisfiable)?;
        }
        let pi = self.public.as_ref();
        let missing = || SynthesisError::AssignmentMissing;
        let input = |f: fn(&PublicInputs) -> Fr| {
            FpVar::new_input(cs.clone(), || pi.map(f).ok_or_else(missing))
        };
        let wit = |v: Option<Fr>| FpVar::new_witness(cs.clone(), || v.ok_or_else(missing));

        // §6 public inputs, in order.
        let registry_root = input(|p| p.registry_root)?;
        let policy_hash = input(|p| p.policy_hash)?;
        let now = input(|p| p.now)?;
        let scope = input(|p| p.scope)?;
        let nullifier_in = input(|p| p.nullifier)?;
        let context = input(|p| p.context)?;

        let secret = wit(w.map(|w| w.holder_secret))?;
        let key = wit(w.map(|w| w.subject_key))?;
        let policy: Vec<FpVar<Fr>> = (0..6)
            .map(|j| wit(w.map(|w| Fr::from(w.policy.values()[j]))))
            .collect::<Result<_, _>>()?;
        let [max_loans, max_outstanding, max_arrears, min_score, max_score_age, max_root_age] =
            <[FpVar<Fr>; 6]>::try_from(policy.clone())
                .map_err(|_| SynthesisError::Unsatisfiable)?;

        // §6 range checks: `now` and every policy value are u64; the subject key is in [1, 2^248).
        enforce_bits(&now, VALUE_BITS)?;
        for v in &policy {
            enforce_bits(v, VALUE_BITS)?;
        }
        enforce_bits(&key, KEY_BITS)?;
        key.enforce_not_equal(&FpVar::zero())?;

        // §6 policy_hash = H(policy values).
        hash_var(&policy)?.enforce_equal(&policy_hash)?;

        // §6.6 nullifier = H(TAG_NULLIFIER, holder_secret, scope); context bound.
        hash_var(&[
            FpVar::constant(Fr::from(TAG_NULLIFIER)),
            secret.clone(),
            scope,
        ])?
        .enforce_equal(&nullifier_in)?;
        let _context_sq = context.square()?;

        let commitment = hash_var(&[secret])?;
        let mut leaves = Vec::with_capacity(params.slots);
        let mut loans_sum = FpVar::zero();
        let mut outstanding_sum = FpVar::zero();
        let mut bureau_ok_count = FpVar::zero();

        for i in 0..params.slots {
            let sw = w.map(|w| &w.slots[i]);
            let provider_id = wit(sw.map(|s| s.slot.provider_id))?;
            let provider_root = wit(sw.map(|s| s.slot.provider_root))?;
            let published_at = wit(sw.map(|s| Fr::from(s.slot.published_at)))?;
            let flags = slot_flags(&cs, i, sw.map(|s| s.slot.role))?;

            // §6.1 the slot leaf enters the registry root; non-empty slots are fresh:
            // now <= published_at + max_root_age (65-bit bounded comparison).
            enforce_bits(&published_at, VALUE_BITS)?;
            leaves.push(slot_leaf_var(
                &flags.role,
                &provider_id,
                &provider_root,
                &published_at,
            )?);
            enforce_le_if(
                &flags.nonempty,
                &now,
                &(&published_at + &max_root_age),
                VALUE_BITS + 1,
            )?;

            // §4.3 lookup of the subject in this provider's tree (disabled for empty slots).
            let lw = LookupWitnessVar::alloc(cs.clone(), sw.map(|s| &s.lookup), params.depth)?;
            let r = lookup(&flags.nonempty, &provider_root, &key, &lw)?;
            let [v0, v1, v2] = &r.values;

            if i == 0 {
                // §6.2 KYC: present, bound to the holder secret, not expired.
                r.present.enforce_equal(&Boolean::TRUE)?;
                v0.enforce_equal(&commitment)?;
                enforce_bits(v2, VALUE_BITS)?;
                enforce_lt(&now, v2, VALUE_BITS)?;
                continue;
            }
            // §6 every record field that is compared or summed is a u64.
            for v in &r.values {
                enforce_bits(v, VALUE_BITS)?;
            }
            // §6.3 fraud list: is_fraud · present = 0.
            FpVar::from(flags.is_fraud.clone())
                .mul_equals(&FpVar::from(r.present.clone()), &FpVar::zero())?;
            // §6.4 lenders: sums of active loans and outstanding; every arrears within limit.
            let lender = FpVar::from(flags.is_lender.clone());
            loans_sum += &lender * v0;
            outstanding_sum += &lender * v1;
            enforce_le_if(&flags.is_lender, v2, &max_arrears, VALUE_BITS)?;
            // §6.5 bureaus: present, score >= min_score, issued_at + max_score_age >= now.
            let score_ok = is_ge(v0, &min_score, VALUE_BITS)?;
            let fresh = is_le(&now, &(v1 + &max_score_age), VALUE_BITS + 1)?;
            let ok = &(&flags.is_bureau & &r.present) & &(&score_ok & &fresh);
            bureau_ok_count += FpVar::from(ok);
        }

        // §6.1 the slot leaves hash to the public registry root.
        registry_root_var(&leaves)?.enforce_equal(&registry_root)?;
        // §6.4 Σ active_loans < max_active_loans; Σ outstanding <= max_outstanding
        // (sums < 2^72, no wrap-around: every term is a range-checked u64).
        enforce_lt(&loans_sum, &max_loans, SUM_BITS)?;
        enforce_le(&outstanding_sum, &max_outstanding, SUM_BITS)?;
        // §6.5 at least one bureau qualifies.
        bureau_ok_count.enforce_not_equal(&FpVar::zero())?;
        Ok(())
    }
}
