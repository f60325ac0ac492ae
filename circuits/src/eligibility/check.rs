//! The native twin of the eligibility circuit (spec §6): evaluates every constraint block
//! in the circuit's order and names the first that fails as a [`Rule`].

use super::{
    epoch_of, holder_commitment, nullifier, origination_tag, EligibilityParams, EligibilityWitness,
    PublicInputs, Rule,
};
use crate::imt::check_key;
use crate::model::{Factor, FactorAccumulator};
use crate::registry::{merkle_root, Role};
use crate::{CircuitError, Fr};
use ark_ff::Zero;

impl EligibilityWitness {
    /// Native twin of the circuit: evaluates every constraint block of spec §6 and
    /// returns the public inputs if all hold, or names the first that fails
    /// ([`CircuitError::Statement`] with its [`Rule`]). The public inputs are those the
    /// witness implies ([`Self::public_inputs`]).
    pub fn check(&self, params: &EligibilityParams) -> Result<PublicInputs, CircuitError> {
        self.evaluate(params, None)
    }

    /// Like [`Self::check`], against explicitly given public inputs, as the circuit sees
    /// them: `now` and `scope` are taken from `public`; `policy_hash` (§6.6), `nullifier`
    /// (§6.6) and `registry_root` (§6.1) must match the witness. `context` is free.
    pub fn check_against(
        &self,
        params: &EligibilityParams,
        public: &PublicInputs,
    ) -> Result<(), CircuitError> {
        self.evaluate(params, Some(public)).map(|_| ())
    }

    /// Both twins; with `public`, the extra equalities are checked where the circuit
    /// enforces them, so both report the same first failing rule.
    fn evaluate(
        &self,
        params: &EligibilityParams,
        public: Option<&PublicInputs>,
    ) -> Result<PublicInputs, CircuitError> {
        self.check_shape(params)?;
        let p = &self.policy;
        // §6 range checks: `now` is u64 (the witness's `now` is one by type).
        let now = match public {
            Some(pi) => crate::field::fr_to_u64(&pi.now)
                .ok_or_else(|| Rule::ValueRanges.violated("§6 now is not a u64"))?,
            None => self.now,
        };
        // §6.9 bounds of the model's terms (range checks of the circuit's §6 block).
        p.model
            .check_bounds()
            .map_err(|e| Rule::ValueRanges.violated(format!("§6.9 {e}")))?;
        check_key(&self.subject_key)
            .map_err(|_| Rule::SubjectKey.violated("§6 subject key outside [1, 2^248)"))?;
        if let Some(pi) = public {
            // §6.6 binding of the policy and the nullifier.
            if pi.policy_hash != p.hash() {
                return Err(Rule::PolicyHash.violated("§6.6 policy_hash is not H(policy)"));
            }
            if pi.nullifier != nullifier(&self.holder_secret, &pi.scope) {
                return Err(Rule::Nullifier
                    .violated("§6.6 nullifier is not H(TAG_NULLIFIER, holder_secret, scope)"));
            }
        }
        // §6.10 the origination tag: j < max_new_loans, and the public tag is the j-th
        // tag of now's epoch (0 without a limit).
        let limited = p.max_new_loans != 0;
        if limited && self.origination_index >= p.max_new_loans {
            return Err(Rule::Origination.violated(format!(
                "§6.10 origination index {} is not below max_new_loans = {}",
                self.origination_index, p.max_new_loans
            )));
        }
        if let Some(pi) = public {
            let expected = if limited {
                origination_tag(&self.holder_secret, epoch_of(now), self.origination_index)
            } else {
                Fr::zero()
            };
            if pi.origination_tag != expected {
                return Err(Rule::Origination.violated(
                    "§6.10 origination_tag is not the borrower's tag of this epoch and index",
                ));
            }
        }
        let x = self.subject_key;
        let mut bureau_ok = false;
        let mut factors = FactorAccumulator::default();
        for (i, sw) in self.slots.iter().enumerate() {
            let s = &sw.slot;
            // §5 / §6.1 slot roles.
            if i == 0 && s.role != Role::Kyc {
                return Err(Rule::SlotRoles.violated("§6.2 slot 0 must be the KYC issuer"));
            }
            if i > 0 && s.role == Role::Kyc {
                return Err(
                    Rule::SlotRoles.violated(format!("§6.2 slot {i}: KYC role outside slot 0"))
                );
            }
            if s.role == Role::Empty {
                continue;
            }
            // §6.1 freshness.
            if (s.published_at as u128) + (p.max_root_age as u128) < now as u128 {
                return Err(
                    Rule::RootFreshness.violated(format!("§6.1 slot {i}: provider root is stale"))
                );
            }
            // §4.3 lookup.
            let (present, v) = sw.lookup.verify(&s.provider_root, &x).ok_or_else(|| {
                Rule::Lookup.violated(format!("§4.3 slot {i}: lookup witness invalid"))
            })?;
            // §6 range checks of record fields.
            let u = |j: usize| -> Result<u64, CircuitError> {
                crate::field::fr_to_u64(&v[j]).ok_or_else(|| {
                    Rule::RecordFields
                        .violated(format!("§6 slot {i}: record field v{j} is not a u64"))
                })
            };
            match s.role {
                Role::Kyc => {
                    // §6.2 KYC.
                    if !present {
                        return Err(
                            Rule::Kyc.violated("§6.2 subject not registered with the KYC issuer")
                        );
                    }
                    if v[0] != holder_commitment(&self.holder_secret) {
                        return Err(Rule::KycHolder
                            .violated("§6.2 holder secret does not match the KYC record"));
                    }
                    if u(2)? <= now {
                        return Err(Rule::KycExpiry.violated("§6.2 KYC record expired"));
                    }
                    // §6.2 the KYC record is at least min_kyc_age old.
                    if (u(1)? as u128) + (p.min_kyc_age as u128) > now as u128 {
                        return Err(Rule::KycAge
                            .violated("§6.2 KYC record issued less than min_kyc_age before now"));
                    }
                    factors.kyc(now, u(1)?);
                }
                Role::FraudList => {
                    u(0)?;
                    u(1)?;
                    u(2)?;
                    // §6.3 fraud lists.
                    if present {
                        return Err(Rule::FraudList
                            .violated(format!("§6.3 subject is on the fraud list in slot {i}")));
                    }
                }
                Role::Lender => {
                    // §6.4 lenders: the sums and the §6.9 worst arrears, in one accumulator.
                    factors.lender(u(0)?, u(1)?, u(2)?);
                    if u(2)? > p.max_arrears_days {
                        return Err(Rule::Arrears
                            .violated(format!("§6.4 arrears at lender slot {i} over the limit")));
                    }
                }
                Role::Bureau => {
                    // §6.5 bureaus.
                    u(2)?;
                    let fresh = (u(1)? as u128) + (p.max_score_age as u128) >= now as u128;
                    if present && u(0)? >= p.min_score && fresh {
                        bureau_ok = true;
                    }
                    if present {
                        factors.bureau(u(0)?, u(1)?);
                    }
                }
                Role::Empty => {}
            }
        }
        if let Some(pi) = public {
            // §6.1 the slot leaves hash to the public registry root.
            let leaves: Vec<Fr> = self.slots.iter().map(|s| s.slot.leaf_hash()).collect();
            if merkle_root(&leaves) != pi.registry_root {
                return Err(Rule::RegistryRoot
                    .violated("§6.1 the registry slots do not hash to registry_root"));
            }
        }
        // §6.4 sums over lenders.
        let x = factors.factors();
        let (loans, outstanding) = (x.get(Factor::ActiveLoans), x.get(Factor::Outstanding));
        if loans >= p.max_active_loans as u128 {
            return Err(Rule::ActiveLoans.violated("§6.4 too many active loans across lenders"));
        }
        if outstanding > p.max_outstanding as u128 {
            return Err(
                Rule::Outstanding.violated("§6.4 outstanding amount across lenders over the limit")
            );
        }
        // §6.5 at least one bureau qualifies.
        if !bureau_ok {
            return Err(Rule::BureauScore
                .violated("§6.5 no registered bureau has a fresh score at or above the minimum"));
        }
        // §6.9 the default-probability model admits the factors.
        if !p.model.admits(&x) {
            return Err(Rule::DefaultModel.violated(
                "§6.9 the policy's default-probability model puts the borrower above p_max",
            ));
        }
        Ok(match public {
            Some(pi) => *pi,
            None => self.public_inputs(),
        })
    }
}
