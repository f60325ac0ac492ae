//! Soundness of the default-probability model in the statement (spec §6.9), in the style of
//! `eligibility_soundness.rs`: the native twin and the circuit agree on every case and name
//! the same failing [`Rule`]. Each factor at its bound, terms that would overflow, negative
//! coefficients, a borrower just above and just below `p_max`, the freshest bureau score
//! (not the best), and witnesses that fake a factor.

mod soundness;

use soundness::*;
use zkcredit_circuits::imt::LeafRecord;
use zkcredit_circuits::model::{ModelTerms, COEFF_BOUND, FACTORS};
use zkcredit_testkit::scenario::{example_model, model_policy};

const P_MAX: f64 = 0.05;

fn witness_with(world: &World, b: &Borrower, policy: Policy) -> EligibilityWitness {
    world
        .witness(b, policy, NOW, Fr::from(77u64), Fr::from(4242u64))
        .unwrap()
}

/// `z` for the eligible applicant of [`setup`] under `terms`: 1 loan, 120,000 owed, 5 days
/// of arrears, score 700, KYC issued 60 days before `NOW`.
fn applicant_z(terms: &ModelTerms) -> i128 {
    let x = zkcredit_circuits::model::Factors([1, 120_000, 5, 700, 2 * KYC_AGE as u128]);
    terms.linear(&x).unwrap()
}

/// Terms with one coefficient for `factor`, intercept 0 and threshold `t`.
fn single(factor: usize, coefficient: i64, t: i64) -> ModelTerms {
    let mut coefficients = [0; FACTORS];
    coefficients[factor] = coefficient;
    ModelTerms {
        id: Fr::from(5u64),
        scale_bits: 0,
        intercept: 0,
        coefficients,
        max_logit: t,
    }
}

fn slot_of(w: &EligibilityWitness, role: Role, nth: usize) -> usize {
    w.slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.slot.role == role)
        .nth(nth)
        .map(|(i, _)| i)
        .unwrap()
}

fn open_values(w: &mut EligibilityWitness, slot: usize) -> &mut [Fr; 3] {
    match &mut w.slots[slot].lookup.leaf.record {
        LeafRecord::Open { values, .. } => values,
        LeafRecord::Sealed { .. } => panic!("slot {slot} holds no record of the subject"),
    }
}

#[test]
fn the_model_admits_the_eligible_applicant_and_its_hash_is_in_the_policy_hash() {
    let (world, b) = setup(31);
    let w = witness_with(&world, &b, model_policy(P_MAX));
    assert!(satisfied(&w));
    assert_ne!(w.public_inputs().policy_hash, example_policy().hash());
    // The proof for the model policy does not pass as one for the policy without it, nor
    // for the same model with another threshold.
    let mut public = w.public_inputs();
    public.policy_hash = example_policy().hash();
    assert_fails_in_with(&w, public, Rule::PolicyHash, "§6.6");
    public.policy_hash = model_policy(0.5).hash();
    assert_fails_in_with(&w, public, Rule::PolicyHash, "§6.6");
}

#[test]
fn borrower_just_below_and_just_above_p_max() {
    let (world, b) = setup(32);
    let terms = model_policy(P_MAX).model;
    let z = i64::try_from(applicant_z(&terms)).unwrap();
    fn at(terms: ModelTerms, t: i64) -> Policy {
        let mut model = terms;
        model.max_logit = t;
        Policy {
            model,
            ..example_policy()
        }
    }
    assert!(satisfied(&witness_with(&world, &b, at(terms, z))), "z = t");
    assert_fails_in(
        &witness_with(&world, &b, at(terms, z - 1)),
        Rule::DefaultModel,
        "§6.9",
    );
}

#[test]
fn within_every_limit_but_refused_by_the_model() {
    let (mut world, b) = setup(33);
    let limits = example_policy();
    // At every limit of the example policy: 2 loans (< 3), 500,000 owed, 30 days late,
    // score exactly 650.
    world
        .set_record(
            Role::Lender,
            0,
            b.subject_key,
            [2, limits.max_outstanding, 30],
        )
        .unwrap();
    world
        .set_record(
            Role::Bureau,
            0,
            b.subject_key,
            [limits.min_score, NOW - DAY, 7],
        )
        .unwrap();
    world.publish(NOW - 60).unwrap();
    assert!(satisfied(&witness_with(&world, &b, example_policy())));
    let w = witness_with(&world, &b, model_policy(P_MAX));
    let x = zkcredit_circuits::model::Factors([2, 500_000, 30, 650, 2 * KYC_AGE as u128]);
    let p = example_model().probability_f64(&x).unwrap();
    assert!(p > P_MAX, "the example model puts this borrower at {p}");
    assert_fails_in(&w, Rule::DefaultModel, "§6.9");
}

#[test]
fn the_freshest_bureau_score_counts_not_the_best() {
    let (mut world, b) = two_bureau_world(34, NOW - 2 * KYC_AGE);
    // Admitted iff the factor score is at least 700 (negative coefficient).
    let terms = single(3, -1, -700);
    let policy = Policy {
        model: terms,
        ..example_policy()
    };
    world
        .set_record(Role::Bureau, 0, b.subject_key, [800, NOW - 60 * DAY, 7])
        .unwrap();
    world
        .set_record(Role::Bureau, 1, b.subject_key, [690, NOW - DAY, 7])
        .unwrap();
    world.publish(NOW - 60).unwrap();
    assert_fails_in(
        &witness_with(&world, &b, policy),
        Rule::DefaultModel,
        "§6.9",
    );
    // The 800 becomes the freshest: admitted.
    world
        .set_record(Role::Bureau, 0, b.subject_key, [800, NOW - 10, 7])
        .unwrap();
    world.publish(NOW - 5).unwrap();
    assert!(satisfied(&witness_with(&world, &b, policy)));
    // A tie on issued_at: the first bureau in slot order counts.
    world
        .set_record(Role::Bureau, 1, b.subject_key, [690, NOW - 10, 7])
        .unwrap();
    world.publish(NOW - 5).unwrap();
    assert!(satisfied(&witness_with(&world, &b, policy)));
    world
        .set_record(Role::Bureau, 0, b.subject_key, [690, NOW - 10, 7])
        .unwrap();
    world
        .set_record(Role::Bureau, 1, b.subject_key, [800, NOW - 10, 7])
        .unwrap();
    world.publish(NOW - 5).unwrap();
    assert_fails_in(
        &witness_with(&world, &b, policy),
        Rule::DefaultModel,
        "§6.9",
    );
}

/// Each factor at its largest value with the largest coefficient of either sign: a huge
/// positive `z` is refused (it never wraps into the admitted range) and a huge negative
/// one is admitted, by the circuit and the twin alike.
#[test]
fn each_factor_at_its_bound_with_extreme_coefficients() {
    let (mut world, b) = setup(35);
    let limits = Policy {
        max_active_loans: u64::MAX,
        max_outstanding: u64::MAX,
        max_arrears_days: u64::MAX,
        min_score: 0,
        ..example_policy()
    };
    world
        .set_record(
            Role::Lender,
            0,
            b.subject_key,
            [u64::MAX - 2, u64::MAX, u64::MAX],
        )
        .unwrap();
    world
        .set_record(Role::Lender, 1, b.subject_key, [1, 0, 3])
        .unwrap();
    world
        .set_record(Role::Bureau, 0, b.subject_key, [u64::MAX, NOW - DAY, 7])
        .unwrap();
    world.publish(NOW - 60).unwrap();
    for factor in 0..FACTORS {
        let refused = Policy {
            model: single(factor, COEFF_BOUND - 1, COEFF_BOUND - 1),
            ..limits
        };
        assert_fails_in(
            &witness_with(&world, &b, refused),
            Rule::DefaultModel,
            "§6.9",
        );
        let admitted = Policy {
            model: single(factor, -COEFF_BOUND, -COEFF_BOUND),
            ..limits
        };
        assert!(
            satisfied(&witness_with(&world, &b, admitted)),
            "factor {factor}"
        );
    }
}

#[test]
fn terms_beyond_the_bound_fail_the_range_checks() {
    let (world, b) = setup(36);
    for bad in [COEFF_BOUND, -COEFF_BOUND - 1, i64::MAX, i64::MIN] {
        for which in 0..3 {
            let mut model = model_policy(P_MAX).model;
            match which {
                0 => model.coefficients[1] = bad,
                1 => model.intercept = bad,
                _ => model.max_logit = bad,
            }
            let w = witness_with(
                &world,
                &b,
                Policy {
                    model,
                    ..example_policy()
                },
            );
            assert_fails_in(&w, Rule::ValueRanges, "§6.9");
        }
    }
}

#[test]
fn a_faked_factor_fails_the_lookup() {
    let (mut world, b) = setup(37);
    world
        .set_record(Role::Lender, 0, b.subject_key, [2, 500_000, 30])
        .unwrap();
    world
        .set_record(Role::Bureau, 0, b.subject_key, [650, NOW - DAY, 7])
        .unwrap();
    world.publish(NOW - 60).unwrap();
    let honest = witness_with(&world, &b, model_policy(P_MAX));
    assert_fails_in(&honest, Rule::DefaultModel, "§6.9");
    // A better score in the bureau's record.
    let mut w = honest.clone();
    let s = slot_of(&w, Role::Bureau, 0);
    open_values(&mut w, s)[0] = Fr::from(850u64);
    assert_fails_in(&w, Rule::Lookup, "§4.3");
    // Less owed at the lender.
    let mut w = honest.clone();
    let s = slot_of(&w, Role::Lender, 0);
    open_values(&mut w, s)[1] = Fr::from(1u64);
    assert_fails_in(&w, Rule::Lookup, "§4.3");
    // An older KYC record (a longer history counts in the borrower's favour).
    let mut w = honest.clone();
    open_values(&mut w, 0)[1] = Fr::from(NOW - 3_000 * DAY);
    assert_fails_in(&w, Rule::Lookup, "§4.3");
}

#[test]
fn the_null_model_changes_nothing_but_the_hash_inputs() {
    let (world, b) = setup(38);
    let w = witness_with(&world, &b, example_policy());
    assert!(example_policy().model.is_none());
    assert!(satisfied(&w));
    let z = applicant_z(&ModelTerms::NONE);
    assert_eq!(z, 0);
}
