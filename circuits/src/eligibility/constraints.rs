//! The eligibility gadget (spec §6): [`EligibilityCircuit`], twin of
//! [`super::EligibilityWitness::check`].
//!
//! The public inputs, the policy and each registry slot are allocated as small typed
//! variables ([`PublicInputsVar`], [`PolicyVar`], [`SlotVar`]). Every constraint block is
//! enforced inside the constraint namespace of its [`Rule`] ([`Rule::namespace`]): a
//! `tracing` span with target `gr1cs`, the same span `ark_relations::ns!` opens, but scoped
//! (`ns!` leaks its span on purpose; these close when the block ends). Namespaces do not
//! change the constraint matrices, only the name a `ConstraintLayer` reports for a
//! constraint. The order of allocations and constraints is part of the verifying key
//! (`params/eligibility_s16_d32.vk.sha256`): do not reorder.

use super::{
    EligibilityParams, EligibilityWitness, Policy, PublicInputs, Rule, NUM_PUBLIC_INPUTS,
    PI_CONTEXT, PI_NOW, PI_NULLIFIER, PI_ORIGINATION_TAG, PI_POLICY_HASH, PI_REGISTRY_ROOT,
    PI_SCOPE, SUM_BITS,
};
use crate::cmp::constraints::{
    enforce_bits, enforce_le, enforce_le_if, enforce_lt, enforce_lt_if, is_ge, is_le,
};
use crate::imt::constraints::{lookup, LookupWitnessVar};
use crate::model::constraints::{enforce_admits, FactorsVar, ModelTermsVar};
use crate::poseidon::constraints::hash_var;
use crate::registry::constraints::{registry_root_var, slot_leaf_var};
use crate::registry::{Role, Slot};
use crate::tags::{
    EPOCH_REM_BITS, EPOCH_SECONDS, KEY_BITS, TAG_NULLIFIER, TAG_ORIGINATION, VALUE_BITS,
};
use crate::{CircuitError, Fr};
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::prelude::*;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};

/// Runs `f` inside the constraint namespace of `rule`: every constraint `f` enforces is
/// traced under the span [`Rule::namespace`].
pub fn in_namespace<T>(
    rule: Rule,
    f: impl FnOnce() -> Result<T, SynthesisError>,
) -> Result<T, SynthesisError> {
    // A span's name is part of its static call site, so each rule gets its own call site.
    macro_rules! span {
        ($($r:ident),* $(,)?) => {
            match rule {
                $(Rule::$r => ark_relations::gr1cs::info_span!(
                    target: "gr1cs",
                    Rule::$r.namespace()
                ),)*
            }
        };
    }
    let span = span!(
        ValueRanges,
        SubjectKey,
        PolicyHash,
        Nullifier,
        Context,
        Origination,
        SlotRoles,
        RegistryRoot,
        RootFreshness,
        Lookup,
        Kyc,
        KycHolder,
        RecordFields,
        KycExpiry,
        KycAge,
        FraudList,
        ActiveLoans,
        Outstanding,
        Arrears,
        BureauScore,
        DefaultModel,
    );
    let _entered = span.enter();
    f()
}

/// The seven public inputs (spec §6), allocated as instance variables in index order
/// (`PI_*`), from [`PublicInputs::to_vec`].
#[derive(Clone)]
pub struct PublicInputsVar {
    /// `registry_root` (index [`PI_REGISTRY_ROOT`]).
    pub registry_root: FpVar<Fr>,
    /// `policy_hash` (index [`PI_POLICY_HASH`]).
    pub policy_hash: FpVar<Fr>,
    /// `now` (index [`PI_NOW`]).
    pub now: FpVar<Fr>,
    /// `scope` (index [`PI_SCOPE`]).
    pub scope: FpVar<Fr>,
    /// `nullifier` (index [`PI_NULLIFIER`]).
    pub nullifier: FpVar<Fr>,
    /// `context` (index [`PI_CONTEXT`]).
    pub context: FpVar<Fr>,
    /// `origination_tag` (index [`PI_ORIGINATION_TAG`]).
    pub origination_tag: FpVar<Fr>,
}

impl PublicInputsVar {
    /// Allocates the public inputs (`public = None` in setup mode). No constraints.
    pub fn new_input(
        cs: ConstraintSystemRef<Fr>,
        public: Option<&PublicInputs>,
    ) -> Result<Self, SynthesisError> {
        let values = public.map(PublicInputs::to_vec);
        let v = (0..NUM_PUBLIC_INPUTS)
            .map(|i| {
                FpVar::new_input(cs.clone(), || {
                    values
                        .as_ref()
                        .map(|v| v[i])
                        .ok_or(SynthesisError::AssignmentMissing)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            registry_root: v[PI_REGISTRY_ROOT].clone(),
            policy_hash: v[PI_POLICY_HASH].clone(),
            now: v[PI_NOW].clone(),
            scope: v[PI_SCOPE].clone(),
            nullifier: v[PI_NULLIFIER].clone(),
            context: v[PI_CONTEXT].clone(),
            origination_tag: v[PI_ORIGINATION_TAG].clone(),
        })
    }
}

/// The verifier's policy as private witnesses (spec §6), one named field per value.
#[derive(Clone)]
pub struct PolicyVar {
    /// [`Policy::max_active_loans`].
    pub max_active_loans: FpVar<Fr>,
    /// [`Policy::max_outstanding`].
    pub max_outstanding: FpVar<Fr>,
    /// [`Policy::max_arrears_days`].
    pub max_arrears_days: FpVar<Fr>,
    /// [`Policy::min_score`].
    pub min_score: FpVar<Fr>,
    /// [`Policy::max_score_age`].
    pub max_score_age: FpVar<Fr>,
    /// [`Policy::max_root_age`].
    pub max_root_age: FpVar<Fr>,
    /// [`Policy::min_kyc_age`].
    pub min_kyc_age: FpVar<Fr>,
    /// [`Policy::max_new_loans`] (spec §6.10).
    pub max_new_loans: FpVar<Fr>,
    /// [`Policy::model`] (spec §6.9).
    pub model: ModelTermsVar,
}

impl PolicyVar {
    /// Allocates the eight limits and the model's terms as witnesses, in hashing order
    /// (`policy = None` in setup mode). No constraints: the caller range-checks
    /// [`Self::values`] and the model's bounds.
    pub fn new_witness(
        cs: ConstraintSystemRef<Fr>,
        policy: Option<&Policy>,
    ) -> Result<Self, SynthesisError> {
        let wit = |f: fn(&Policy) -> u64| {
            FpVar::new_witness(cs.clone(), || {
                policy
                    .map(|p| Fr::from(f(p)))
                    .ok_or(SynthesisError::AssignmentMissing)
            })
        };
        // Struct fields are evaluated in the order written: the hashing order.
        Ok(Self {
            max_active_loans: wit(|p| p.max_active_loans)?,
            max_outstanding: wit(|p| p.max_outstanding)?,
            max_arrears_days: wit(|p| p.max_arrears_days)?,
            min_score: wit(|p| p.min_score)?,
            max_score_age: wit(|p| p.max_score_age)?,
            max_root_age: wit(|p| p.max_root_age)?,
            min_kyc_age: wit(|p| p.min_kyc_age)?,
            max_new_loans: wit(|p| p.max_new_loans)?,
            model: ModelTermsVar::new_witness(cs.clone(), policy.map(|p| &p.model))?,
        })
    }

    /// The policy hash's inputs (as [`Policy::hash_inputs`]): the eight limits,
    /// `model_hash` and the threshold. Hashes the model (§6.9).
    pub fn hash_inputs(&self) -> Result<Vec<FpVar<Fr>>, SynthesisError> {
        let mut v = self.values().to_vec();
        v.push(self.model.hash()?);
        v.push(self.model.max_logit.clone());
        Ok(v)
    }

    /// The eight values in hashing order (as [`Policy::values`]).
    pub fn values(&self) -> [FpVar<Fr>; 8] {
        [
            self.max_active_loans.clone(),
            self.max_outstanding.clone(),
            self.max_arrears_days.clone(),
            self.min_score.clone(),
            self.max_score_age.clone(),
            self.max_root_age.clone(),
            self.min_kyc_age.clone(),
            self.max_new_loans.clone(),
        ]
    }
}

/// One registry slot (spec §5) with its role flags.
#[derive(Clone)]
pub struct SlotVar {
    /// Provider identifier.
    pub provider_id: FpVar<Fr>,
    /// Root of the provider's indexed tree.
    pub provider_root: FpVar<Fr>,
    /// Publication time of that root.
    pub published_at: FpVar<Fr>,
    /// `role` as it enters the slot leaf.
    pub role: FpVar<Fr>,
    /// The slot is not empty.
    pub nonempty: Boolean<Fr>,
    /// The slot is a fraud list.
    pub is_fraud: Boolean<Fr>,
    /// The slot is a lender.
    pub is_lender: Boolean<Fr>,
    /// The slot is a bureau.
    pub is_bureau: Boolean<Fr>,
}

impl SlotVar {
    /// Allocates slot `i` (`slot = None` in setup mode) and its role flags (spec §6.1 slot
    /// roles, in the [`Rule::SlotRoles`] namespace). Slot 0 is the constant KYC role; other
    /// slots carry four witnessed Booleans (empty, fraud, lender, bureau) with exactly one
    /// set and `role = 2·fraud + 3·lender + 4·bureau`, so a slot can never be KYC outside
    /// slot 0. `published_at` is not range-checked here.
    pub fn new_witness(
        cs: ConstraintSystemRef<Fr>,
        i: usize,
        slot: Option<&Slot>,
    ) -> Result<Self, SynthesisError> {
        let wit = |v: Option<Fr>| {
            FpVar::new_witness(cs.clone(), || v.ok_or(SynthesisError::AssignmentMissing))
        };
        let provider_id = wit(slot.map(|s| s.provider_id))?;
        let provider_root = wit(slot.map(|s| s.provider_root))?;
        let published_at = wit(slot.map(|s| Fr::from(s.published_at)))?;
        let role = slot.map(|s| s.role);
        in_namespace(Rule::SlotRoles, || {
            if i == 0 {
                return Ok(Self {
                    provider_id,
                    provider_root,
                    published_at,
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
            (f(&is_empty) + f(&is_fraud) + f(&is_lender) + f(&is_bureau))
                .enforce_equal(&FpVar::one())?;
            let role = f(&is_fraud) * Role::FraudList.as_fr()
                + f(&is_lender) * Role::Lender.as_fr()
                + f(&is_bureau) * Role::Bureau.as_fr();
            Ok(Self {
                provider_id,
                provider_root,
                published_at,
                role,
                nonempty: !is_empty,
                is_fraud,
                is_lender,
                is_bureau,
            })
        })
    }

    /// The slot leaf `H(role, provider_id, provider_root, published_at)` (spec §5).
    pub fn leaf(&self) -> Result<FpVar<Fr>, SynthesisError> {
        slot_leaf_var(
            &self.role,
            &self.provider_id,
            &self.provider_root,
            &self.published_at,
        )
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
        let wit = |v: Option<Fr>| {
            FpVar::new_witness(cs.clone(), || v.ok_or(SynthesisError::AssignmentMissing))
        };

        // §6 public inputs, in order.
        let pi = PublicInputsVar::new_input(cs.clone(), self.public.as_ref())?;
        let now = &pi.now;
        let secret = wit(w.map(|w| w.holder_secret))?;
        let key = wit(w.map(|w| w.subject_key))?;
        let policy = PolicyVar::new_witness(cs.clone(), w.map(|w| &w.policy))?;

        // §6 range checks: `now` and every policy value are u64.
        in_namespace(Rule::ValueRanges, || {
            enforce_bits(now, VALUE_BITS)?;
            for v in &policy.values() {
                enforce_bits(v, VALUE_BITS)?;
            }
            // §6.9 the model's coefficients and threshold are in [−2^52, 2^52).
            policy.model.enforce_bounds()
        })?;
        // §6 range checks: the subject key is in [1, 2^248).
        in_namespace(Rule::SubjectKey, || {
            enforce_bits(&key, KEY_BITS)?;
            key.enforce_not_equal(&FpVar::zero())
        })?;

        // §6.6 policy_hash = H(policy values).
        in_namespace(Rule::PolicyHash, || {
            hash_var(&policy.hash_inputs()?)?.enforce_equal(&pi.policy_hash)
        })?;
        // §6.6 nullifier = H(TAG_NULLIFIER, holder_secret, scope).
        in_namespace(Rule::Nullifier, || {
            hash_var(&[
                FpVar::constant(Fr::from(TAG_NULLIFIER)),
                secret.clone(),
                pi.scope.clone(),
            ])?
            .enforce_equal(&pi.nullifier)
        })?;
        // §6.6 context bound (squared into one constraint).
        in_namespace(Rule::Context, || pi.context.square().map(|_| ()))?;
        // §6.10 origination_tag = [max_new_loans ≠ 0] · H(TAG_ORIGINATION, holder_secret,
        // epoch, j), epoch = floor(now / EPOCH_SECONDS), j < max_new_loans.
        in_namespace(Rule::Origination, || {
            // From the public `now` the circuit sees (a non-u64 `now` already failed §6).
            let now_u = self
                .public
                .as_ref()
                .map(|p| crate::field::fr_to_u64(&p.now).unwrap_or(0));
            let epoch = wit(now_u.map(|t| Fr::from(t / EPOCH_SECONDS)))?;
            let rem = wit(now_u.map(|t| Fr::from(t % EPOCH_SECONDS)))?;
            // now = epoch·E + rem with epoch < 2^64 and rem < E: the integer division
            // (no wrap: epoch·E + rem < 2^86 < r).
            enforce_bits(&epoch, VALUE_BITS)?;
            enforce_bits(&rem, EPOCH_REM_BITS)?;
            enforce_lt(
                &rem,
                &FpVar::constant(Fr::from(EPOCH_SECONDS)),
                EPOCH_REM_BITS,
            )?;
            (&epoch * Fr::from(EPOCH_SECONDS) + &rem).enforce_equal(now)?;
            let j = wit(w.map(|w| Fr::from(w.origination_index)))?;
            enforce_bits(&j, VALUE_BITS)?;
            let limited = !policy.max_new_loans.is_zero()?;
            enforce_lt_if(&limited, &j, &policy.max_new_loans, VALUE_BITS)?;
            let tag = hash_var(&[
                FpVar::constant(Fr::from(TAG_ORIGINATION)),
                secret.clone(),
                epoch,
                j,
            ])?;
            tag.mul_equals(&FpVar::from(limited), &pi.origination_tag)
        })?;

        // §6.2 the holder commitment H(holder_secret), compared with the KYC record's v0.
        let commitment = in_namespace(Rule::KycHolder, || hash_var(&[secret]))?;
        let mut leaves = Vec::with_capacity(params.slots);
        let mut loans_sum = FpVar::zero();
        let mut outstanding_sum = FpVar::zero();
        let mut bureau_ok_count = FpVar::zero();
        let mut factors = FactorsVar::new();

        for i in 0..params.slots {
            let sw = w.map(|w| &w.slots[i]);
            // §5 / §6.1 slot roles.
            let slot = SlotVar::new_witness(cs.clone(), i, sw.map(|s| &s.slot))?;

            // §6 range checks: published_at is u64.
            in_namespace(Rule::ValueRanges, || {
                enforce_bits(&slot.published_at, VALUE_BITS).map(|_| ())
            })?;
            // §6.1 the slot leaf enters the registry root.
            leaves.push(in_namespace(Rule::RegistryRoot, || slot.leaf())?);
            // §6.1 non-empty slots are fresh: now <= published_at + max_root_age
            // (65-bit bounded comparison).
            in_namespace(Rule::RootFreshness, || {
                enforce_le_if(
                    &slot.nonempty,
                    now,
                    &(&slot.published_at + &policy.max_root_age),
                    VALUE_BITS + 1,
                )
            })?;

            // §4.3 lookup of the subject in this provider's tree (disabled for empty slots).
            let r = in_namespace(Rule::Lookup, || {
                let lw = LookupWitnessVar::alloc(cs.clone(), sw.map(|s| &s.lookup), params.depth)?;
                lookup(&slot.nonempty, &slot.provider_root, &key, &lw)
            })?;
            let [v0, v1, v2] = &r.values;

            if i == 0 {
                // §6.2 KYC: present, bound to the holder secret, not expired.
                in_namespace(Rule::Kyc, || r.present.enforce_equal(&Boolean::TRUE))?;
                in_namespace(Rule::KycHolder, || v0.enforce_equal(&commitment))?;
                // §6 range checks: expires_at and issued_at are u64.
                in_namespace(Rule::RecordFields, || {
                    enforce_bits(v2, VALUE_BITS)?;
                    enforce_bits(v1, VALUE_BITS).map(|_| ())
                })?;
                in_namespace(Rule::KycExpiry, || enforce_lt(now, v2, VALUE_BITS))?;
                // §6.2 the KYC record is old enough: issued_at + min_kyc_age <= now
                // (65-bit bounded comparison; both terms are range-checked u64).
                in_namespace(Rule::KycAge, || {
                    enforce_le(&(v1 + &policy.min_kyc_age), now, VALUE_BITS + 1)
                })?;
                // §6.9 factor: the KYC record's age (a u64 by the check above).
                factors.kyc(now, v1);
                continue;
            }
            // §6 range checks: every record field that is compared or summed is a u64.
            in_namespace(Rule::RecordFields, || {
                for v in &r.values {
                    enforce_bits(v, VALUE_BITS)?;
                }
                Ok(())
            })?;
            // §6.3 fraud list: is_fraud · present = 0.
            in_namespace(Rule::FraudList, || {
                FpVar::from(slot.is_fraud.clone())
                    .mul_equals(&FpVar::from(r.present.clone()), &FpVar::zero())
            })?;
            // §6.4 lenders: sums of active loans and outstanding; every arrears within limit.
            let lender = FpVar::from(slot.is_lender.clone());
            in_namespace(Rule::ActiveLoans, || {
                loans_sum += &lender * v0;
                Ok(())
            })?;
            in_namespace(Rule::Outstanding, || {
                outstanding_sum += &lender * v1;
                Ok(())
            })?;
            in_namespace(Rule::Arrears, || {
                enforce_le_if(&slot.is_lender, v2, &policy.max_arrears_days, VALUE_BITS)
            })?;
            // §6.5 bureaus: present, score >= min_score, issued_at + max_score_age >= now.
            in_namespace(Rule::BureauScore, || {
                let score_ok = is_ge(v0, &policy.min_score, VALUE_BITS)?;
                let fresh = is_le(now, &(v1 + &policy.max_score_age), VALUE_BITS + 1)?;
                let ok = &(&slot.is_bureau & &r.present) & &(&score_ok & &fresh);
                bureau_ok_count += FpVar::from(ok);
                Ok(())
            })?;
            // §6.9 factors: the worst arrears over lenders, the freshest bureau score.
            in_namespace(Rule::DefaultModel, || {
                factors.lender(&slot.is_lender, v2)?;
                factors.bureau(&(&slot.is_bureau & &r.present), v0, v1)
            })?;
        }

        // §6.1 the slot leaves hash to the public registry root.
        in_namespace(Rule::RegistryRoot, || {
            registry_root_var(&leaves)?.enforce_equal(&pi.registry_root)
        })?;
        // §6.4 Σ active_loans < max_active_loans; Σ outstanding <= max_outstanding
        // (sums < 2^72, no wrap-around: every term is a range-checked u64).
        in_namespace(Rule::ActiveLoans, || {
            enforce_lt(&loans_sum, &policy.max_active_loans, SUM_BITS)
        })?;
        in_namespace(Rule::Outstanding, || {
            enforce_le(&outstanding_sum, &policy.max_outstanding, SUM_BITS)
        })?;
        // §6.5 at least one bureau qualifies.
        in_namespace(Rule::BureauScore, || {
            bureau_ok_count.enforce_not_equal(&FpVar::zero())
        })?;
        // §6.9 the default-probability model: b0 + Σ bi·xi ≤ max_logit. The lender sums are
        // below 2^72 (range-checked terms, at most 255 of them), the other factors u64.
        in_namespace(Rule::DefaultModel, || {
            enforce_admits(
                &policy.model,
                &[
                    loans_sum.clone(),
                    outstanding_sum.clone(),
                    factors.worst_arrears.clone(),
                    factors.bureau_score.clone(),
                    factors.kyc_age.clone(),
                ],
            )
        })
    }
}
