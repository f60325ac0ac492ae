//! The constraint blocks of the eligibility statement (spec §6), named once and shared by
//! the native twin ([`super::EligibilityWitness::check`]) and the gadget
//! ([`super::EligibilityCircuit`]).
//!
//! The native twin reports a failure as [`CircuitError::Statement`] carrying the [`Rule`];
//! the gadget enforces each block inside the constraint namespace [`Rule::namespace`] (a
//! `tracing` span with target `gr1cs`, which is what `ark_relations::ns!` creates), so a
//! `ConstraintLayer` names the rule of the first unsatisfied constraint. Namespaces do not
//! change the constraint matrices.

use crate::CircuitError;
use std::fmt;

/// One constraint block of the eligibility statement, in the order the circuit enforces
/// them (within a slot; the sums, the bureau count and the registry root are closed after
/// the last slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    /// §6 range checks: `now`, the seven policy limits and every slot's `published_at` are
    /// u64 (64-bit); the model's coefficients and threshold are in `[−2^52, 2^52)` (§6.9).
    ValueRanges,
    /// §6 range checks: the subject key is in `[1, 2^248)` (248-bit and non-zero).
    SubjectKey,
    /// §6.6 `policy_hash = H(policy)`.
    PolicyHash,
    /// §6.6 `nullifier = H(TAG_NULLIFIER, holder_secret, scope)`.
    Nullifier,
    /// §6.6 `context` is squared into one constraint (bound by Groth16's input commitment
    /// in any case; cannot fail).
    Context,
    /// §6.10 `origination_tag = H(TAG_ORIGINATION, holder_secret, epoch, j)` with
    /// `epoch = floor(now / EPOCH_SECONDS)` and `j < max_new_loans`, or 0 when the policy
    /// sets no limit.
    Origination,
    /// §5 / §6.1 slot roles: slot 0 is the constant KYC role; every other slot witnesses
    /// four Booleans (empty, fraud, lender, bureau), exactly one set, and
    /// `role = 2·fraud + 3·lender + 4·bureau`, so no slot but slot 0 is KYC.
    SlotRoles,
    /// §6.1 the slot leaves `H(role, provider_id, provider_root, published_at)` hash to the
    /// public `registry_root`.
    RegistryRoot,
    /// §6.1 every non-empty slot is fresh: `now ≤ published_at + max_root_age` (65-bit).
    RootFreshness,
    /// §4.3 the lookup witness of the subject key in a slot's provider tree is valid
    /// (path to the provider root, key ordering).
    Lookup,
    /// §6.2 the subject is present in the KYC issuer's tree (slot 0).
    Kyc,
    /// §6.2 the KYC record's `v0` is `H(holder_secret)`.
    KycHolder,
    /// §6 range checks: every record field of slots 1.. and the KYC record's
    /// `issued_at` and `expires_at` are u64 (64-bit).
    RecordFields,
    /// §6.2 the KYC record has not expired: `now < expires_at` (v2).
    KycExpiry,
    /// §6.2 the KYC record is old enough: `issued_at + min_kyc_age ≤ now` (v1; 65-bit), so
    /// a freshly rebound identity cannot apply again within the period.
    KycAge,
    /// §6.3 for every slot `is_fraud · present = 0`: the subject is on no fraud list.
    FraudList,
    /// §6.4 `Σ is_lender·v0 < max_active_loans` (72-bit).
    ActiveLoans,
    /// §6.4 `Σ is_lender·v1 ≤ max_outstanding` (72-bit).
    Outstanding,
    /// §6.4 every lender slot: `v2 ≤ max_arrears_days`.
    Arrears,
    /// §6.5 some registered bureau has the subject with `score ≥ min_score` and
    /// `now ≤ issued_at + max_score_age`.
    BureauScore,
    /// §6.9 the policy's default-probability model admits the borrower:
    /// `b0 + Σ bi·xi ≤ max_logit` on the factors computed from the records.
    DefaultModel,
}

impl Rule {
    /// Every rule, in the order of the enum.
    pub const ALL: [Rule; 21] = [
        Rule::ValueRanges,
        Rule::SubjectKey,
        Rule::PolicyHash,
        Rule::Nullifier,
        Rule::Context,
        Rule::Origination,
        Rule::SlotRoles,
        Rule::RegistryRoot,
        Rule::RootFreshness,
        Rule::Lookup,
        Rule::Kyc,
        Rule::KycHolder,
        Rule::RecordFields,
        Rule::KycExpiry,
        Rule::KycAge,
        Rule::FraudList,
        Rule::ActiveLoans,
        Rule::Outstanding,
        Rule::Arrears,
        Rule::BureauScore,
        Rule::DefaultModel,
    ];

    /// The section of `docs/SPEC.md` the rule implements, e.g. `"6.4"`.
    pub const fn section(self) -> &'static str {
        match self {
            Rule::ValueRanges | Rule::SubjectKey | Rule::RecordFields => "6",
            Rule::PolicyHash | Rule::Nullifier | Rule::Context => "6.6",
            Rule::SlotRoles | Rule::RegistryRoot | Rule::RootFreshness => "6.1",
            Rule::Lookup => "4.3",
            Rule::Kyc | Rule::KycHolder | Rule::KycExpiry | Rule::KycAge => "6.2",
            Rule::FraudList => "6.3",
            Rule::ActiveLoans | Rule::Outstanding | Rule::Arrears => "6.4",
            Rule::BureauScore => "6.5",
            Rule::DefaultModel => "6.9",
            Rule::Origination => "6.10",
        }
    }

    /// The name of the constraint namespace the gadget enforces this block in (the name of
    /// the `gr1cs` tracing span, as `ark_relations::ns!` would create). A `const fn`, so it
    /// can name a span's static call site.
    pub const fn namespace(self) -> &'static str {
        match self {
            Rule::ValueRanges => "value_ranges",
            Rule::SubjectKey => "subject_key",
            Rule::PolicyHash => "policy_hash",
            Rule::Nullifier => "nullifier",
            Rule::Context => "context",
            Rule::Origination => "origination",
            Rule::SlotRoles => "slot_roles",
            Rule::RegistryRoot => "registry_root",
            Rule::RootFreshness => "root_freshness",
            Rule::Lookup => "provider_lookup",
            Rule::Kyc => "kyc",
            Rule::KycHolder => "kyc_holder",
            Rule::RecordFields => "record_fields",
            Rule::KycExpiry => "kyc_expiry",
            Rule::KycAge => "kyc_age",
            Rule::FraudList => "fraud_list",
            Rule::ActiveLoans => "active_loans",
            Rule::Outstanding => "outstanding",
            Rule::Arrears => "arrears",
            Rule::BureauScore => "bureau_score",
            Rule::DefaultModel => "default_model",
        }
    }

    /// A human description of what the rule requires.
    pub const fn description(self) -> &'static str {
        match self {
            Rule::ValueRanges => "now, the policy values and every published_at are u64",
            Rule::SubjectKey => "the subject key is in [1, 2^248)",
            Rule::PolicyHash => "policy_hash is the hash of the policy",
            Rule::Nullifier => "nullifier = H(TAG_NULLIFIER, holder_secret, scope)",
            Rule::Context => "the request context is bound to the proof",
            Rule::Origination => {
                "the origination tag is one of the borrower's max_new_loans tags of this epoch"
            }
            Rule::SlotRoles => "slot 0 is the KYC issuer and no other slot is",
            Rule::RegistryRoot => "the registry slots hash to registry_root",
            Rule::RootFreshness => "every provider root is at most max_root_age old",
            Rule::Lookup => "the lookup witness in each provider tree is valid",
            Rule::Kyc => "the subject is registered with the KYC issuer",
            Rule::KycHolder => "the KYC record is bound to the holder secret",
            Rule::RecordFields => "every record field used is a u64",
            Rule::KycExpiry => "the KYC record has not expired",
            Rule::KycAge => "the KYC record is at least min_kyc_age old",
            Rule::FraudList => "the subject is on no fraud list",
            Rule::ActiveLoans => "active loans across lenders below max_active_loans",
            Rule::Outstanding => "outstanding amount across lenders at most max_outstanding",
            Rule::Arrears => "arrears at every lender at most max_arrears_days",
            Rule::BureauScore => "some bureau has a fresh score at or above min_score",
            Rule::DefaultModel => "the policy's default-probability model admits the borrower",
        }
    }

    /// The rule's failure with a human `detail` (by convention starting with the `§`
    /// reference, e.g. `"§6.3 subject is on the fraud list in slot 2"`).
    pub fn violated(self, detail: impl Into<String>) -> CircuitError {
        CircuitError::Statement {
            rule: self,
            detail: detail.into(),
        }
    }
}

/// `§6.4 active loans across lenders below max_active_loans`.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "§{} {}", self.section(), self.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exhaustive, so a new variant does not compile until it is placed here (and in `ALL`).
    fn position(r: Rule) -> usize {
        match r {
            Rule::ValueRanges => 0,
            Rule::SubjectKey => 1,
            Rule::PolicyHash => 2,
            Rule::Nullifier => 3,
            Rule::Context => 4,
            Rule::Origination => 5,
            Rule::SlotRoles => 6,
            Rule::RegistryRoot => 7,
            Rule::RootFreshness => 8,
            Rule::Lookup => 9,
            Rule::Kyc => 10,
            Rule::KycHolder => 11,
            Rule::RecordFields => 12,
            Rule::KycExpiry => 13,
            Rule::KycAge => 14,
            Rule::FraudList => 15,
            Rule::ActiveLoans => 16,
            Rule::Outstanding => 17,
            Rule::Arrears => 18,
            Rule::BureauScore => 19,
            Rule::DefaultModel => 20,
        }
    }

    #[test]
    fn all_lists_every_rule_once_and_namespaces_are_distinct() {
        for (i, r) in Rule::ALL.iter().enumerate() {
            assert_eq!(position(*r), i, "{r:?}");
        }
        let mut names: Vec<_> = Rule::ALL.iter().map(|r| r.namespace()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Rule::ALL.len());
    }

    #[test]
    fn display_cites_the_section() {
        assert_eq!(
            Rule::FraudList.to_string(),
            "§6.3 the subject is on no fraud list"
        );
        let e = Rule::FraudList.violated("§6.3 subject is on the fraud list in slot 2");
        assert_eq!(
            e.to_string(),
            "statement does not hold (rule fraud_list): §6.3 subject is on the fraud list in slot 2"
        );
    }
}
