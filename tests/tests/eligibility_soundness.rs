//! Soundness of the eligibility circuit (spec §6): for each constraint block a witness that
//! violates only it must leave the constraint system unsatisfied, and the native twin
//! (`EligibilityWitness::check` / `check_against`) must agree with the circuit on every case.
//! Every negative test names the [`Rule`] that fails: the twin returns
//! `CircuitError::Statement { rule, .. }` with it, and the circuit's **first** unsatisfied
//! constraint lies in that rule's constraint namespace ([`Rule::namespace`], traced by
//! ark-relations' `ConstraintLayer`).

mod soundness;

use ark_ff::{Field, One, Zero};
use soundness::*;

#[test]
fn honest_applicant_is_accepted() {
    let (world, b) = setup(1);
    let w = witness(&world, &b);
    assert!(satisfied(&w));
    let pi = w.check(&P).unwrap();
    assert_eq!(pi.nullifier, nullifier(&b.holder_secret, &Fr::from(77u64)));
    assert_eq!(pi.registry_root, world.registry.root());
    assert_eq!(pi.policy_hash, example_policy().hash());
}

// ---- §4.3 lookup witnesses ----

#[test]
fn wrong_sibling_fails() {
    let (world, b) = setup(2);
    let mut w = witness(&world, &b);
    w.slots[4].lookup.siblings[5] += Fr::one(); // a lender slot
    assert_fails_in(&w, Rule::Lookup, "§4.3 slot 4");
}

#[test]
fn flipped_path_bit_fails() {
    let (world, b) = setup(3);
    let mut w = witness(&world, &b);
    w.slots[1].lookup.index ^= 1; // a fraud-list slot
    assert_fails_in(&w, Rule::Lookup, "§4.3 slot 1");
}

// ---- §6.1 registry root and freshness ----

#[test]
fn stale_slot_fails_and_boundary_passes() {
    let (mut world, b) = setup(4);
    let max_age = example_policy().max_root_age;
    world.publish_slot(2, NOW - max_age).unwrap();
    assert!(
        satisfied(&witness(&world, &b)),
        "published exactly max_root_age ago is fresh"
    );
    world.publish_slot(2, NOW - max_age - 1).unwrap();
    assert_fails_in(&witness(&world, &b), Rule::RootFreshness, "§6.1 slot 2");
}

#[test]
fn hiding_a_lender_as_an_empty_slot_fails() {
    let (world, b) = setup(5);
    let mut w = witness(&world, &b);
    // The applicant owes at lender slot 3; pretend that slot is empty.
    w.slots[3].slot = Slot::default();
    let honest_root = world.registry.root();
    let mut public = w.public_inputs();
    public.registry_root = honest_root;
    assert_fails_in_with(&w, public, Rule::RegistryRoot, "§6.1");
}

#[test]
fn relabelling_a_slot_role_fails() {
    let (world, b) = setup(6);
    let mut w = witness(&world, &b);
    w.slots[1].slot.role = Role::Lender; // a fraud list claimed to be a lender
    let mut public = w.public_inputs();
    public.registry_root = world.registry.root();
    assert_fails_in_with(&w, public, Rule::RegistryRoot, "§6.1");
}

#[test]
fn kyc_role_outside_slot_0_fails() {
    let (world, b) = setup(24);
    let mut w = witness(&world, &b);
    w.slots[5].slot.role = Role::Kyc; // a lender claimed to be a second KYC issuer
    assert_fails_in(&w, Rule::SlotRoles, "§6.2 slot 5: KYC role outside slot 0");
}

#[test]
fn now_beyond_u64_fails() {
    let (world, b) = setup(25);
    let w = witness(&world, &b);
    let mut p = w.public_inputs();
    p.now = Fr::from(u64::MAX) + Fr::one();
    assert_fails_in_with(&w, p, Rule::ValueRanges, "§6 now is not a u64");
}

#[test]
fn subject_key_zero_or_beyond_248_bits_fails() {
    let (world, b) = setup(26);
    let mut w = witness(&world, &b);
    w.subject_key = Fr::zero();
    assert_fails_in(&w, Rule::SubjectKey, "§6 subject key outside [1, 2^248)");
    w.subject_key = Fr::from(2u64).pow([248u64]);
    assert_fails_in(&w, Rule::SubjectKey, "§6 subject key outside [1, 2^248)");
}

#[test]
fn tampered_registry_root_policy_hash_or_nullifier_fail() {
    let (world, b) = setup(7);
    let w = witness(&world, &b);
    let honest = w.public_inputs();
    assert!(satisfied_with(&w, honest));
    let mut p = honest;
    p.registry_root += Fr::one();
    assert_fails_in_with(&w, p, Rule::RegistryRoot, "registry_root");
    let mut p = honest;
    p.policy_hash += Fr::one();
    assert_fails_in_with(&w, p, Rule::PolicyHash, "policy_hash");
    let mut p = honest;
    p.nullifier = nullifier(&b.holder_secret, &Fr::from(78u64));
    // nullifier for another scope
    assert_fails_in_with(&w, p, Rule::Nullifier, "nullifier");
    let mut p = honest;
    p.scope += Fr::one();
    assert_fails_in_with(&w, p, Rule::Nullifier, "scope");
}

// ---- §6.2 KYC ----

#[test]
fn identity_absent_fails() {
    let (mut world, b) = setup(8);
    world
        .provider_mut(Role::Kyc, 0)
        .unwrap()
        .tree
        .delete(&b.subject_key)
        .unwrap();
    republish(&mut world);
    assert_fails_in(
        &witness(&world, &b),
        Rule::Kyc,
        "§6.2 subject not registered",
    );
}

#[test]
fn wrong_holder_secret_fails() {
    let (world, b) = setup(9);
    let thief = Borrower {
        subject_key: b.subject_key,
        holder_secret: b.holder_secret + Fr::one(),
    };
    assert_fails_in(
        &witness(&world, &thief),
        Rule::KycHolder,
        "§6.2 holder secret",
    );
}

#[test]
fn expired_identity_fails_and_boundary_passes() {
    let (mut world, b) = setup(10);
    world.register(&b, NOW - KYC_AGE, NOW).unwrap(); // expires_at == now: expired
    republish(&mut world);
    assert_fails_in(
        &witness(&world, &b),
        Rule::KycExpiry,
        "§6.2 KYC record expired",
    );
    world.register(&b, NOW - KYC_AGE, NOW + 1).unwrap();
    republish(&mut world);
    assert!(satisfied(&witness(&world, &b)));
}

/// Issue 10, finding 9: a rebind gives the same person a fresh holder secret, so a fresh
/// nullifier in every scope. With `min_kyc_age`, the freshly issued KYC record cannot be
/// used until it is that old: `issued_at + min_kyc_age ≤ now` (§6.2), checked by the
/// native twin and by the circuit in its own namespace. The boundary passes.
#[test]
fn finding_09_fresh_kyc_record_below_min_kyc_age_fails() {
    let (mut world, b) = setup(11);
    // The identity is rebound to a new holder secret: a new KYC record issued an hour ago.
    let rebound = Borrower {
        subject_key: b.subject_key,
        holder_secret: b.holder_secret + Fr::one(),
    };
    world
        .register(&rebound, NOW - 3600, NOW + 365 * DAY)
        .unwrap();
    republish(&mut world);
    assert_fails_in(
        &witness(&world, &rebound),
        Rule::KycAge,
        "§6.2 KYC record issued less than min_kyc_age before now",
    );
    // One second short of the period still fails; exactly min_kyc_age old passes.
    world
        .register(&rebound, NOW - KYC_AGE + 1, NOW + 365 * DAY)
        .unwrap();
    republish(&mut world);
    assert_fails_in(&witness(&world, &rebound), Rule::KycAge, "§6.2");
    world
        .register(&rebound, NOW - KYC_AGE, NOW + 365 * DAY)
        .unwrap();
    republish(&mut world);
    assert!(satisfied(&witness(&world, &rebound)));
    // A policy without the period (min_kyc_age = 0) accepts the fresh record: the field
    // is what refuses it, and it is bound by policy_hash.
    world
        .register(&rebound, NOW - 3600, NOW + 365 * DAY)
        .unwrap();
    republish(&mut world);
    let lax = Policy {
        min_kyc_age: 0,
        ..example_policy()
    };
    let w = world
        .witness(&rebound, lax, NOW, Fr::from(77u64), Fr::from(4242u64))
        .unwrap();
    assert!(satisfied(&w));
    assert_ne!(w.public_inputs().policy_hash, example_policy().hash());
}

// ---- §6.3 fraud lists ----

fn fraud_list_with(world: &mut World, nth: usize, keys: &[Fr]) {
    let t = &mut world.provider_mut(Role::FraudList, nth).unwrap().tree;
    *t = IndexedMerkleTree::new(P.depth).unwrap();
    for k in keys {
        t.insert(*k, [Fr::from(1u64), Fr::from(NOW - DAY), Fr::zero()])
            .unwrap();
    }
    republish(world);
}

#[test]
fn subject_on_a_fraud_list_fails_including_first_and_last_key() {
    let (mut world, b) = setup(11);
    let x = b.subject_key;
    // middle of the list
    fraud_list_with(&mut world, 1, &[x - Fr::from(5u64), x, x + Fr::from(5u64)]);
    assert_fails_in(&witness(&world, &b), Rule::FraudList, "§6.3");
    // first key of the list
    fraud_list_with(&mut world, 1, &[x, x + Fr::from(1u64), x + Fr::from(9u64)]);
    assert_fails_in(&witness(&world, &b), Rule::FraudList, "§6.3");
    // last key of the list
    fraud_list_with(&mut world, 1, &[x - Fr::from(9u64), x - Fr::from(1u64), x]);
    assert_fails_in(&witness(&world, &b), Rule::FraudList, "§6.3");
    // only key of the list
    fraud_list_with(&mut world, 0, &[x]);
    fraud_list_with(&mut world, 1, &[]);
    assert_fails_in(&witness(&world, &b), Rule::FraudList, "§6.3");
    // neighbours only: passes
    fraud_list_with(&mut world, 0, &[x - Fr::from(1u64), x + Fr::from(1u64)]);
    assert!(satisfied(&witness(&world, &b)), "neighbours only");
}

#[test]
fn non_membership_with_low_leaf_whose_next_key_is_the_subject_fails() {
    let (mut world, b) = setup(12);
    let x = b.subject_key;
    fraud_list_with(&mut world, 0, &[x - Fr::from(3u64), x, x + Fr::from(3u64)]);
    let mut w = witness(&world, &b);
    // Present the low leaf (next_key == x) as a non-membership witness.
    let (_, low) = world.providers[1]
        .tree
        .witness(&(x - Fr::from(3u64)))
        .unwrap();
    assert_eq!(low.leaf.next_key, x);
    w.slots[1].lookup = low;
    assert_fails_in(&w, Rule::Lookup, "§4.3 slot 1");
}

#[test]
fn non_membership_with_the_subjects_own_leaf_reports_presence() {
    let (mut world, b) = setup(13);
    let x = b.subject_key;
    fraud_list_with(&mut world, 0, &[x]);
    let w = witness(&world, &b);
    // The witness the tree gives is the leaf with key == x: the gadget returns present = 1
    // and the fraud constraint fails. There is no other leaf that could stand in.
    assert_eq!(w.slots[1].lookup.leaf.key, x);
    assert_fails_in(&w, Rule::FraudList, "§6.3");
}

// ---- §6.4 lenders ----

fn loans(world: &mut World, b: &Borrower, per_lender: [[u64; 3]; 3]) {
    for (i, v) in per_lender.iter().enumerate() {
        world
            .set_record(Role::Lender, i, b.subject_key, *v)
            .unwrap();
    }
    republish(world);
}

#[test]
fn active_loans_n_fails_and_n_minus_1_passes_summed_over_lenders() {
    let (mut world, b) = setup(14);
    let n = example_policy().max_active_loans; // 3
    loans(&mut world, &b, [[1, 10, 0], [1, 10, 0], [n - 2, 10, 0]]);
    assert_fails_in(
        &witness(&world, &b),
        Rule::ActiveLoans,
        "§6.4 too many active loans",
    );
    loans(&mut world, &b, [[1, 10, 0], [0, 10, 0], [n - 2, 10, 0]]);
    assert!(satisfied(&witness(&world, &b)), "Σ = N − 1");
}

#[test]
fn outstanding_a_passes_and_a_plus_1_fails() {
    let (mut world, b) = setup(15);
    let a = example_policy().max_outstanding;
    loans(&mut world, &b, [[1, a - 100, 0], [0, 60, 0], [0, 40, 0]]);
    assert!(satisfied(&witness(&world, &b)), "Σ = A");
    loans(&mut world, &b, [[1, a - 100, 0], [0, 60, 0], [0, 41, 0]]);
    assert_fails_in(&witness(&world, &b), Rule::Outstanding, "§6.4 outstanding");
}

#[test]
fn arrears_at_limit_passes_and_one_over_fails() {
    let (mut world, b) = setup(16);
    let d = example_policy().max_arrears_days;
    loans(&mut world, &b, [[1, 10, 0], [0, 0, d], [0, 0, 1]]);
    assert!(satisfied(&witness(&world, &b)));
    loans(&mut world, &b, [[1, 10, 0], [0, 0, 1], [0, 0, d + 1]]);
    assert_fails_in(&witness(&world, &b), Rule::Arrears, "§6.4 arrears");
}

#[test]
fn sums_that_would_wrap_around_the_modulus_fail() {
    let (mut world, b) = setup(17);
    // Lender 0 records r − 5 active loans (i.e. −5 in the field), lender 1 records 6:
    // Σ = 1 < 3 in the field. Every field is range-checked, so this must fail.
    let minus5 = -Fr::from(5u64);
    world
        .provider_mut(Role::Lender, 0)
        .unwrap()
        .tree
        .upsert(b.subject_key, [minus5, Fr::from(10u64), Fr::zero()])
        .unwrap();
    world
        .set_record(Role::Lender, 1, b.subject_key, [6, 10, 0])
        .unwrap();
    republish(&mut world);
    let w = witness(&world, &b);
    assert_fails_in(&w, Rule::RecordFields, "not a u64");
    // Same trick on the outstanding amount.
    let (mut world, b) = setup(18);
    world
        .provider_mut(Role::Lender, 0)
        .unwrap()
        .tree
        .upsert(
            b.subject_key,
            [Fr::zero(), -Fr::from(1_000_000u64), Fr::zero()],
        )
        .unwrap();
    world
        .set_record(Role::Lender, 1, b.subject_key, [0, 1_000_000 + 5, 0])
        .unwrap();
    republish(&mut world);
    assert_fails_in(&witness(&world, &b), Rule::RecordFields, "not a u64");
}

// ---- §6.5 bureaus ----

fn score(world: &mut World, b: &Borrower, s: u64, issued_at: u64) {
    world
        .set_record(Role::Bureau, 0, b.subject_key, [s, issued_at, 7])
        .unwrap();
    republish(world);
}

#[test]
fn score_t_passes_and_t_minus_1_fails() {
    let (mut world, b) = setup(19);
    let t = example_policy().min_score;
    score(&mut world, &b, t, NOW - DAY);
    assert!(satisfied(&witness(&world, &b)));
    score(&mut world, &b, t - 1, NOW - DAY);
    assert_fails_in(&witness(&world, &b), Rule::BureauScore, "§6.5");
}

#[test]
fn score_too_old_fails_and_boundary_passes() {
    let (mut world, b) = setup(20);
    let age = example_policy().max_score_age;
    score(&mut world, &b, 800, NOW - age);
    assert!(satisfied(&witness(&world, &b)));
    score(&mut world, &b, 800, NOW - age - 1);
    assert_fails_in(&witness(&world, &b), Rule::BureauScore, "§6.5");
}

#[test]
fn no_bureau_record_fails_and_any_qualifying_bureau_suffices() {
    let (mut world, b) = two_bureau_world(21, NOW - KYC_AGE);
    republish(&mut world);
    assert_fails_in(&witness(&world, &b), Rule::BureauScore, "§6.5");
    world
        .set_record(Role::Bureau, 0, b.subject_key, [500, NOW - DAY, 1])
        .unwrap();
    world
        .set_record(Role::Bureau, 1, b.subject_key, [700, NOW - DAY, 1])
        .unwrap();
    republish(&mut world);
    assert!(satisfied(&witness(&world, &b)), "second bureau qualifies");
}

// ---- shape and determinism ----

#[test]
fn witness_of_the_wrong_shape_is_rejected_not_panicking() {
    let (world, b) = setup(22);
    let mut w = witness(&world, &b);
    w.slots.pop();
    assert!(w.check(&P).is_err());
    let cs = ConstraintSystem::<Fr>::new_ref();
    let public = w.public_inputs();
    assert!(EligibilityCircuit::with_public(P, w, public)
        .generate_constraints(cs)
        .is_err());
}

#[test]
fn setup_mode_and_proving_mode_have_the_same_shape() {
    let (world, b) = setup(23);
    let cs_setup = ConstraintSystem::<Fr>::new_ref();
    cs_setup.set_mode(ark_relations::gr1cs::SynthesisMode::Setup);
    EligibilityCircuit::for_setup(P)
        .generate_constraints(cs_setup.clone())
        .unwrap();
    let cs = ConstraintSystem::<Fr>::new_ref();
    EligibilityCircuit::new(P, witness(&world, &b))
        .unwrap()
        .generate_constraints(cs.clone())
        .unwrap();
    assert_eq!(cs_setup.num_constraints(), cs.num_constraints());
    assert_eq!(
        cs_setup.num_instance_variables(),
        cs.num_instance_variables()
    );
    assert_eq!(cs.num_instance_variables(), 1 + NUM_PUBLIC_INPUTS);
}
