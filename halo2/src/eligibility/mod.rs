//! The eligibility statement (SPEC §6) as a halo2 circuit: the same public inputs in the
//! same order ([`PublicInputs::to_vec`]), the same witness type ([`EligibilityWitness`], so
//! one wallet gather feeds either prover), and the constraint blocks of the Groth16 circuit
//! (`zkcredit_circuits::eligibility::EligibilityCircuit`) in the same order, each written
//! under its [`Rule`] so a broken witness is attributed to the rule the native twin
//! ([`EligibilityWitness::check_against`]) names.

pub mod model;

use crate::field::to_halo2;
use crate::gadgets::imt::{lookup, LookupCells};
use crate::gadgets::poseidon::hash;
use crate::gadgets::{Cell, Rows};
use crate::proof::Statement;
use crate::{HFr, Halo2Error};
use halo2_base::QuantumCell::Constant;
use model::{Factors, ModelCells};
use zkcredit_circuits::eligibility::{
    EligibilityParams, EligibilityWitness, PublicInputs, Rule, PI_NOW, SUM_BITS,
};
use zkcredit_circuits::field::fr_to_u64;
use zkcredit_circuits::registry::{Role, Slot};
use zkcredit_circuits::tags::{
    EPOCH_REM_BITS, EPOCH_SECONDS, KEY_BITS, TAG_NULLIFIER, TAG_ORIGINATION, VALUE_BITS,
};

/// The eligibility statement for one witness and its (possibly chosen) public inputs.
#[derive(Clone, Debug)]
pub struct Eligibility {
    /// Shape.
    pub params: EligibilityParams,
    /// The private witness.
    pub witness: EligibilityWitness,
    /// The public inputs.
    pub public: PublicInputs,
}

impl Eligibility {
    /// The statement of `witness` with the public inputs it implies.
    pub fn new(params: EligibilityParams, witness: EligibilityWitness) -> Result<Self, Halo2Error> {
        witness.check_shape(&params)?;
        let public = witness.public_inputs();
        Ok(Self {
            params,
            witness,
            public,
        })
    }

    /// The statement with explicitly chosen public inputs (tests of tampering).
    pub fn with_public(
        params: EligibilityParams,
        witness: EligibilityWitness,
        public: PublicInputs,
    ) -> Self {
        Self {
            params,
            witness,
            public,
        }
    }
}

/// One registry slot's cells (SPEC §5) with its role flags.
struct SlotCells {
    provider_id: Cell,
    provider_root: Cell,
    published_at: Cell,
    role: Cell,
    nonempty: Cell,
    is_fraud: Cell,
    is_lender: Cell,
    is_bureau: Cell,
}

impl SlotCells {
    /// Slot `i` and its role flags (§6.1 slot roles): slot 0 is the constant KYC role;
    /// other slots witness four Booleans with exactly one set and
    /// `role = 2·fraud + 3·lender + 4·bureau`.
    fn assign(rows: &mut Rows<'_>, i: usize, slot: &Slot) -> Self {
        let provider_id = rows.witness(to_halo2(&slot.provider_id));
        let provider_root = rows.witness(to_halo2(&slot.provider_root));
        let published_at = rows.witness(HFr::from(slot.published_at));
        rows.rule(Rule::SlotRoles);
        if i == 0 {
            let one = rows.constant(HFr::from(1u64));
            let zero = rows.constant(HFr::from(0u64));
            let role = rows.constant(to_halo2(&Role::Kyc.as_fr()));
            return Self {
                provider_id,
                provider_root,
                published_at,
                role,
                nonempty: one,
                is_fraud: zero,
                is_lender: zero,
                is_bureau: zero,
            };
        }
        let is_empty = rows.witness_bit(slot.role == Role::Empty);
        let is_fraud = rows.witness_bit(slot.role == Role::FraudList);
        let is_lender = rows.witness_bit(slot.role == Role::Lender);
        let is_bureau = rows.witness_bit(slot.role == Role::Bureau);
        let s = rows.add(is_empty, is_fraud);
        let s = rows.add(s, is_lender);
        let s = rows.add(s, is_bureau);
        rows.enforce_constant(s, HFr::from(1u64));
        let role = rows.inner_product(
            vec![is_fraud.into(), is_lender.into(), is_bureau.into()],
            vec![
                Constant(to_halo2(&Role::FraudList.as_fr())),
                Constant(to_halo2(&Role::Lender.as_fr())),
                Constant(to_halo2(&Role::Bureau.as_fr())),
            ],
        );
        let nonempty = rows.not(is_empty);
        Self {
            provider_id,
            provider_root,
            published_at,
            role,
            nonempty,
            is_fraud,
            is_lender,
            is_bureau,
        }
    }
}

/// The registry root of a power-of-two list of slot leaves (SPEC §5).
fn registry_root(rows: &mut Rows<'_>, leaves: &[Cell]) -> Result<Cell, Halo2Error> {
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|c| hash(rows, c))
            .collect::<Result<_, _>>()?;
    }
    level
        .pop()
        .ok_or_else(|| Halo2Error::Shape("no registry slots".into()))
}

/// The eligibility statement's rows; returns the seven public cells in `PI_*` order.
pub fn eligibility(rows: &mut Rows<'_>, e: &Eligibility) -> Result<Vec<Cell>, Halo2Error> {
    let (params, w) = (&e.params, &e.witness);
    params.validate()?;
    w.check_shape(params)?;
    // §6 public inputs, in order.
    let pi: Vec<Cell> = e
        .public
        .to_vec()
        .iter()
        .map(|v| rows.witness(to_halo2(v)))
        .collect();
    let [registry_root_pi, policy_hash, now, scope, nullifier, _context, origination_tag] =
        <[Cell; 7]>::try_from(pi.clone())
            .map_err(|_| Halo2Error::Shape("seven public inputs".into()))?;
    let secret = rows.witness(to_halo2(&w.holder_secret));
    let key = rows.witness(to_halo2(&w.subject_key));
    let p = &w.policy;
    let limits: Vec<Cell> = p
        .values()
        .iter()
        .map(|v| rows.witness(HFr::from(*v)))
        .collect();
    let [max_active_loans, max_outstanding, max_arrears_days, min_score, max_score_age, max_root_age, min_kyc_age, max_new_loans] =
        <[Cell; 8]>::try_from(limits.clone())
            .map_err(|_| Halo2Error::Shape("eight policy limits".into()))?;
    let model = ModelCells::assign(rows, &p.model);

    // §6 range checks: `now` and every policy value are u64; §6.9 the model's bounds.
    rows.rule(Rule::ValueRanges);
    rows.enforce_bits(now, VALUE_BITS);
    for v in &limits {
        rows.enforce_bits(*v, VALUE_BITS);
    }
    model.enforce_bounds(rows);
    // §6 range checks: the subject key is in [1, 2^248).
    rows.rule(Rule::SubjectKey);
    rows.enforce_bits(key, KEY_BITS);
    rows.enforce_nonzero(key);

    // §6.6 policy_hash = H(limits, model_hash, max_logit).
    rows.rule(Rule::PolicyHash);
    let mut inputs = limits.clone();
    inputs.push(model.hash(rows)?);
    inputs.push(model.max_logit);
    let h = hash(rows, &inputs)?;
    rows.enforce_equal(h, policy_hash);
    // §6.6 nullifier = H(TAG_NULLIFIER, holder_secret, scope).
    rows.rule(Rule::Nullifier);
    let tag = rows.constant(HFr::from(TAG_NULLIFIER));
    let h = hash(rows, &[tag, secret, scope])?;
    rows.enforce_equal(h, nullifier);
    // §6.6 context: bound by the instance column (a public cell equals its instance).
    // §6.10 origination_tag = [max_new_loans ≠ 0] · H(TAG_ORIGINATION, secret, epoch, j).
    rows.rule(Rule::Origination);
    let now_u = fr_to_u64(&e.public.to_vec()[PI_NOW]).unwrap_or(0);
    let epoch = rows.witness(HFr::from(now_u / EPOCH_SECONDS));
    let rem = rows.witness(HFr::from(now_u % EPOCH_SECONDS));
    rows.enforce_bits(epoch, VALUE_BITS);
    rows.enforce_bits(rem, EPOCH_REM_BITS);
    let period = rows.constant(HFr::from(EPOCH_SECONDS));
    rows.enforce_lt(rem, period, EPOCH_REM_BITS);
    let t = rows.mul_add(epoch, Constant(HFr::from(EPOCH_SECONDS)), rem);
    rows.enforce_equal(t, now);
    let j = rows.witness(HFr::from(w.origination_index));
    rows.enforce_bits(j, VALUE_BITS);
    let unlimited = rows.is_zero(max_new_loans);
    let limited = rows.not(unlimited);
    rows.enforce_lt_if(limited, j, max_new_loans, VALUE_BITS);
    let tag = rows.constant(HFr::from(TAG_ORIGINATION));
    let h = hash(rows, &[tag, secret, epoch, j])?;
    let h = rows.mul(h, limited);
    rows.enforce_equal(h, origination_tag);

    // §6.2 the holder commitment H(holder_secret).
    rows.rule(Rule::KycHolder);
    let commitment = hash(rows, &[secret])?;
    let mut leaves = Vec::with_capacity(params.slots);
    let mut loans_sum = rows.constant(HFr::from(0u64));
    let mut outstanding_sum = loans_sum;
    let mut bureau_ok_count = loans_sum;
    let mut factors = Factors::new(rows);

    for (i, sw) in w.slots.iter().enumerate() {
        // §5 / §6.1 slot roles.
        let slot = SlotCells::assign(rows, i, &sw.slot);
        // §6 range checks: published_at is u64.
        rows.rule(Rule::ValueRanges);
        rows.enforce_bits(slot.published_at, VALUE_BITS);
        // §6.1 the slot leaf enters the registry root.
        rows.rule(Rule::RegistryRoot);
        leaves.push(hash(
            rows,
            &[
                slot.role,
                slot.provider_id,
                slot.provider_root,
                slot.published_at,
            ],
        )?);
        // §6.1 non-empty slots are fresh: now ≤ published_at + max_root_age (65-bit).
        rows.rule(Rule::RootFreshness);
        let until = rows.add(slot.published_at, max_root_age);
        rows.enforce_le_if(slot.nonempty, now, until, VALUE_BITS + 1);
        // §4.3 the subject's lookup in this provider's tree (disabled for empty slots).
        rows.rule(Rule::Lookup);
        let lw = LookupCells::assign(rows, &sw.lookup, params.depth)?;
        let r = lookup(rows, slot.nonempty, slot.provider_root, key, &lw)?;
        let [v0, v1, v2] = r.values;

        if i == 0 {
            // §6.2 KYC: present, bound to the holder secret, not expired, old enough.
            rows.rule(Rule::Kyc);
            rows.enforce_constant(r.present, HFr::from(1u64));
            rows.rule(Rule::KycHolder);
            rows.enforce_equal(v0, commitment);
            rows.rule(Rule::RecordFields);
            rows.enforce_bits(v2, VALUE_BITS);
            rows.enforce_bits(v1, VALUE_BITS);
            rows.rule(Rule::KycExpiry);
            rows.enforce_lt(now, v2, VALUE_BITS);
            rows.rule(Rule::KycAge);
            let ready = rows.add(v1, min_kyc_age);
            rows.enforce_le(ready, now, VALUE_BITS + 1);
            factors.kyc(rows, now, v1);
            continue;
        }
        // §6 range checks: every record field that is compared or summed is a u64.
        rows.rule(Rule::RecordFields);
        for v in r.values {
            rows.enforce_bits(v, VALUE_BITS);
        }
        // §6.3 fraud list: is_fraud · present = 0.
        rows.rule(Rule::FraudList);
        let listed = rows.mul(slot.is_fraud, r.present);
        rows.enforce_constant(listed, HFr::from(0u64));
        // §6.4 lenders: sums of active loans and outstanding; every arrears within limit.
        rows.rule(Rule::ActiveLoans);
        loans_sum = rows.mul_add(slot.is_lender, v0, loans_sum);
        rows.rule(Rule::Outstanding);
        outstanding_sum = rows.mul_add(slot.is_lender, v1, outstanding_sum);
        rows.rule(Rule::Arrears);
        rows.enforce_le_if(slot.is_lender, v2, max_arrears_days, VALUE_BITS);
        // §6.5 bureaus: present, score ≥ min_score, issued_at + max_score_age ≥ now.
        rows.rule(Rule::BureauScore);
        let score_ok = rows.is_le(min_score, v0, VALUE_BITS);
        let until = rows.add(v1, max_score_age);
        let fresh = rows.is_le(now, until, VALUE_BITS + 1);
        let has = rows.and(slot.is_bureau, r.present);
        let good = rows.and(score_ok, fresh);
        let ok = rows.and(has, good);
        bureau_ok_count = rows.add(bureau_ok_count, ok);
        // §6.9 factors: the worst arrears over lenders, the freshest bureau score.
        rows.rule(Rule::DefaultModel);
        factors.lender(rows, slot.is_lender, v2);
        factors.bureau(rows, has, v0, v1);
    }

    // §6.1 the slot leaves hash to the public registry root.
    rows.rule(Rule::RegistryRoot);
    let root = registry_root(rows, &leaves)?;
    rows.enforce_equal(root, registry_root_pi);
    // §6.4 Σ active loans < max_active_loans; Σ outstanding ≤ max_outstanding (72-bit).
    rows.rule(Rule::ActiveLoans);
    rows.enforce_lt(loans_sum, max_active_loans, SUM_BITS);
    rows.rule(Rule::Outstanding);
    rows.enforce_le(outstanding_sum, max_outstanding, SUM_BITS);
    // §6.5 at least one bureau qualifies.
    rows.rule(Rule::BureauScore);
    rows.enforce_nonzero(bureau_ok_count);
    // §6.9 b0 + Σ bi·xi ≤ max_logit.
    rows.rule(Rule::DefaultModel);
    model.enforce_admits(
        rows,
        &[
            loans_sum,
            outstanding_sum,
            factors.worst_arrears,
            factors.bureau_score,
            factors.kyc_age,
        ],
    );
    Ok(pi)
}

impl Statement for Eligibility {
    fn synthesize(&self, rows: &mut Rows<'_>) -> Result<Vec<Cell>, Halo2Error> {
        eligibility(rows, self)
    }
}
