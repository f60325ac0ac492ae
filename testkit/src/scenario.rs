//! A synthetic alliance (KYC issuer, fraud lists, lenders, bureaus) built from the native
//! primitives: what the demo, the CLI's `gen-witness`, the benchmarks and the tests use to
//! produce real witnesses. Every tree here is a real [`IndexedMerkleTree`] and the registry
//! a real [`Registry`]; nothing is precomputed.

use ark_ff::{UniformRand, Zero};
use ark_std::rand::{Rng, RngCore};
use zkcredit_circuits::eligibility::{EligibilityParams, EligibilityWitness, Policy, SlotWitness};
use zkcredit_circuits::imt::{IndexedMerkleTree, LookupWitness};
use zkcredit_circuits::model::{file::ScoringModel, ModelTerms};
use zkcredit_circuits::registry::{Registry, Role, Slot};
use zkcredit_circuits::{CircuitError, Fr};

/// How many providers of each role the registry holds (after the KYC issuer in slot 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Fraud-list providers.
    pub fraud_lists: usize,
    /// Lenders.
    pub lenders: usize,
    /// Bureaus.
    pub bureaus: usize,
}

impl Default for Layout {
    fn default() -> Self {
        Self {
            fraud_lists: 2,
            lenders: 3,
            bureaus: 1,
        }
    }
}

impl Layout {
    /// The layout the tools and benchmarks use for a registry of `slots` slots: the default
    /// alliance (2 fraud lists, 3 lenders, 1 bureau) from 8 slots up; below that one fraud
    /// list, one bureau and lenders in the remaining slots (at least one).
    pub fn for_slots(slots: usize) -> Self {
        if slots >= 8 {
            Self::default()
        } else {
            Self {
                fraud_lists: 1,
                lenders: slots.saturating_sub(3).max(1),
                bureaus: 1,
            }
        }
    }

    /// Fills every slot: providers spread over the roles in the ratio 2 fraud : 3 lenders : 1 bureau.
    pub fn full(slots: usize) -> Self {
        let n = slots - 1;
        let bureaus = (n / 6).max(1);
        let fraud_lists = (n / 3).max(1);
        Self {
            fraud_lists,
            lenders: n - bureaus - fraud_lists,
            bureaus,
        }
    }
}

/// One provider of the synthetic alliance.
#[derive(Clone, Debug)]
pub struct Provider {
    /// Its registry slot.
    pub slot: usize,
    /// Its role.
    pub role: Role,
    /// Its identifier.
    pub provider_id: Fr,
    /// Its indexed tree.
    pub tree: IndexedMerkleTree,
}

/// A synthetic alliance and its registry.
#[derive(Clone, Debug)]
pub struct World {
    /// Circuit shape the world is built for.
    pub params: EligibilityParams,
    /// Providers, slot order; `providers[0]` is the KYC issuer.
    pub providers: Vec<Provider>,
    /// The registry as last published.
    pub registry: Registry,
}

/// The example policy's `min_kyc_age`: 30 days.
pub const EXAMPLE_MIN_KYC_AGE: u64 = 30 * 86_400;

/// A default policy used by examples and tests (KYC records at least 30 days old).
pub fn example_policy() -> Policy {
    Policy {
        max_active_loans: 3,
        max_outstanding: 500_000,
        max_arrears_days: 30,
        min_score: 650,
        max_score_age: 90 * 86_400,
        max_root_age: 86_400,
        min_kyc_age: EXAMPLE_MIN_KYC_AGE,
        max_new_loans: 0,
        model: ModelTerms::NONE,
    }
}

/// The published example model, "Defi Score Basic" v1 (`params/models/defi-score-basic.json`,
/// spec §6.9).
pub const EXAMPLE_MODEL_JSON: &str = include_str!("../../params/models/defi-score-basic.json");

/// [`EXAMPLE_MODEL_JSON`], loaded.
pub fn example_model() -> ScoringModel {
    ScoringModel::from_json(EXAMPLE_MODEL_JSON).expect("the example model is valid")
}

/// [`example_policy`] plus the example model with "default probability at most `p_max`".
pub fn model_policy(p_max: f64) -> Policy {
    Policy {
        model: example_model()
            .terms(p_max)
            .expect("p_max in (0, 1) is a valid threshold for the example model"),
        ..example_policy()
    }
}

/// [`example_policy`] with `min_kyc_age = 0`: for live flows that register a holder at the
/// issuer and apply seconds later (service tests, the demo). A production policy sets a
/// period (spec §8: a rebound identity gets a fresh nullifier only after it).
pub fn live_policy() -> Policy {
    Policy {
        min_kyc_age: 0,
        ..example_policy()
    }
}

/// The example model's `p_max` in [`live_model_policy`]: a 5 % default probability.
pub const LIVE_MODEL_P_MAX: f64 = 0.05;

/// [`live_policy`] plus the example model at [`LIVE_MODEL_P_MAX`] (spec §6.9): the demo's
/// policy, offered by the launcher's verifier beside [`live_policy`].
pub fn live_model_policy() -> Policy {
    Policy {
        min_kyc_age: live_policy().min_kyc_age,
        ..model_policy(LIVE_MODEL_P_MAX)
    }
}

/// A borrower's identity material.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Borrower {
    /// Subject key (from the KYC issuer).
    pub subject_key: Fr,
    /// Holder secret (wallet only).
    pub holder_secret: Fr,
}

impl std::fmt::Debug for Borrower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Borrower { <redacted> }")
    }
}

impl Borrower {
    /// A random borrower.
    pub fn random<R: RngCore>(rng: &mut R) -> Self {
        let subject_key = zkcredit_circuits::subject::truncate_248(&Fr::rand(rng));
        Self {
            subject_key,
            holder_secret: Fr::rand(rng),
        }
    }
}

impl World {
    /// An alliance with `layout` providers (empty trees) and the registry published at `now`.
    pub fn new(params: EligibilityParams, layout: Layout, now: u64) -> Result<Self, CircuitError> {
        params.validate()?;
        let total = 1 + layout.fraud_lists + layout.lenders + layout.bureaus;
        if total > params.slots {
            return Err(CircuitError::Registry(format!(
                "{total} providers do not fit in {} slots",
                params.slots
            )));
        }
        let roles = std::iter::once(Role::Kyc)
            .chain(std::iter::repeat_n(Role::FraudList, layout.fraud_lists))
            .chain(std::iter::repeat_n(Role::Lender, layout.lenders))
            .chain(std::iter::repeat_n(Role::Bureau, layout.bureaus));
        let providers = roles
            .enumerate()
            .map(|(slot, role)| {
                Ok(Provider {
                    slot,
                    role,
                    provider_id: Fr::from(1000 + slot as u64),
                    tree: IndexedMerkleTree::new(params.depth)?,
                })
            })
            .collect::<Result<Vec<_>, CircuitError>>()?;
        let mut w = Self {
            params,
            providers,
            registry: Registry::new(params.slots)?,
        };
        w.publish(now)?;
        Ok(w)
    }

    /// The `nth` provider of `role`.
    pub fn provider_mut(&mut self, role: Role, nth: usize) -> Result<&mut Provider, CircuitError> {
        self.providers
            .iter_mut()
            .filter(|p| p.role == role)
            .nth(nth)
            .ok_or_else(|| CircuitError::Registry(format!("no {role:?} number {nth}")))
    }

    /// Issues a KYC record `(holder_commitment, issued_at, expires_at)`.
    pub fn register(
        &mut self,
        b: &Borrower,
        issued_at: u64,
        expires_at: u64,
    ) -> Result<(), CircuitError> {
        let c = zkcredit_circuits::eligibility::holder_commitment(&b.holder_secret);
        self.provider_mut(Role::Kyc, 0)?.tree.upsert(
            b.subject_key,
            [c, Fr::from(issued_at), Fr::from(expires_at)],
        )
    }

    /// Sets a record `(v0, v1, v2)` for `key` at the `nth` provider of `role`.
    pub fn set_record(
        &mut self,
        role: Role,
        nth: usize,
        key: Fr,
        v: [u64; 3],
    ) -> Result<(), CircuitError> {
        self.provider_mut(role, nth)?
            .tree
            .upsert(key, v.map(Fr::from))
    }

    /// Publishes every provider's current root in the registry at time `at`.
    pub fn publish(&mut self, at: u64) -> Result<(), CircuitError> {
        for p in &self.providers {
            self.registry.set(
                p.slot,
                Slot {
                    role: p.role,
                    provider_id: p.provider_id,
                    provider_root: p.tree.root(),
                    published_at: at,
                },
            )?;
        }
        Ok(())
    }

    /// Publishes one provider's root at time `at` (the others keep their timestamps).
    pub fn publish_slot(&mut self, slot: usize, at: u64) -> Result<(), CircuitError> {
        let p = self
            .providers
            .iter()
            .find(|p| p.slot == slot)
            .ok_or_else(|| CircuitError::Registry(format!("no provider in slot {slot}")))?;
        self.registry.set(
            slot,
            Slot {
                role: p.role,
                provider_id: p.provider_id,
                provider_root: p.tree.root(),
                published_at: at,
            },
        )
    }

    /// Adds `n` random other borrowers with random records everywhere (realistic trees).
    pub fn populate<R: Rng>(
        &mut self,
        rng: &mut R,
        n: usize,
        now: u64,
    ) -> Result<(), CircuitError> {
        for _ in 0..n {
            let b = Borrower::random(rng);
            self.register(&b, now - 1000, now + 365 * 86_400)?;
            for p in self.providers.iter_mut().skip(1) {
                if rng.gen_bool(0.5) {
                    let v = match p.role {
                        Role::FraudList => {
                            [rng.gen_range(1..5), now - rng.gen_range(0..1_000_000), 0]
                        }
                        Role::Lender => [
                            rng.gen_range(0..3),
                            rng.gen_range(0..200_000),
                            rng.gen_range(0..60),
                        ],
                        Role::Bureau => [
                            rng.gen_range(300..850),
                            now - rng.gen_range(0..10_000_000),
                            7,
                        ],
                        _ => continue,
                    };
                    p.tree.upsert(b.subject_key, v.map(Fr::from))?;
                }
            }
        }
        Ok(())
    }

    /// The wallet's witness for `b` under `policy`, against the registry as published.
    pub fn witness(
        &self,
        b: &Borrower,
        policy: Policy,
        now: u64,
        scope: Fr,
        context: Fr,
    ) -> Result<EligibilityWitness, CircuitError> {
        let slots = self
            .registry
            .slots()
            .iter()
            .enumerate()
            .map(|(i, slot)| {
                let lookup = match self.providers.iter().find(|p| p.slot == i) {
                    Some(p) if slot.role != Role::Empty => {
                        if p.tree.root() != slot.provider_root {
                            return Err(CircuitError::Registry(format!(
                                "slot {i}: provider tree changed since its root was published"
                            )));
                        }
                        p.tree.witness(&b.subject_key)?.1
                    }
                    _ => LookupWitness::empty(self.params.depth),
                };
                Ok(SlotWitness {
                    slot: *slot,
                    lookup,
                })
            })
            .collect::<Result<Vec<_>, CircuitError>>()?;
        Ok(EligibilityWitness {
            holder_secret: b.holder_secret,
            subject_key: b.subject_key,
            policy,
            now,
            scope,
            context,
            origination_index: 0,
            slots,
        })
    }
}

/// A ready-made eligible applicant in a populated world: KYC'd, on no list, 1 loan of
/// 120,000 with 5 days of arrears at the first lender, score 700 at the first bureau.
pub fn eligible_applicant<R: Rng>(
    params: EligibilityParams,
    layout: Layout,
    rng: &mut R,
    others: usize,
    now: u64,
) -> Result<(World, Borrower, EligibilityWitness), CircuitError> {
    let mut world = World::new(params, layout, now)?;
    world.populate(rng, others, now)?;
    let b = Borrower::random(rng);
    // KYC'd 60 days ago: old enough for the example policy's min_kyc_age.
    world.register(&b, now - 2 * EXAMPLE_MIN_KYC_AGE, now + 365 * 86_400)?;
    for p in world.providers.iter_mut().skip(1) {
        // Start clean: the applicant's records are set explicitly below.
        let _ = p.tree.delete(&b.subject_key);
    }
    world.set_record(Role::Lender, 0, b.subject_key, [1, 120_000, 5])?;
    world.set_record(Role::Bureau, 0, b.subject_key, [700, now - 86_400, 7])?;
    world.publish(now - 60)?;
    let w = world.witness(
        &b,
        example_policy(),
        now,
        Fr::from(0x5c09eu64),
        Fr::from(42u64),
    )?;
    debug_assert!(!w.scope.is_zero());
    Ok((world, b, w))
}
