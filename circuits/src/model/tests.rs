//! The model (spec §6.9): native vs gadget on the same inputs (factors, hash, the bound),
//! the signed encoding, the file's validation and the fixed point against f64.

use super::constraints::{enforce_admits, FactorsVar, ModelTermsVar};
use super::file::ScoringModel;
use super::*;
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::prelude::*;
use ark_relations::gr1cs::ConstraintSystem;
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../../../params/models/defi-score-basic.json");

fn example() -> ScoringModel {
    ScoringModel::from_json(EXAMPLE).unwrap()
}

/// One slot as the gadget and the twin see it.
#[derive(Clone, Copy, Debug)]
enum Slot {
    Lender(u64, u64, u64),
    Bureau { present: bool, score: u64, at: u64 },
    Other,
}

fn slot() -> impl Strategy<Value = Slot> {
    let small = 0u64..4;
    prop_oneof![
        (
            any::<u64>(),
            any::<u64>(),
            prop_oneof![any::<u64>(), small.clone()]
        )
            .prop_map(|(a, b, c)| Slot::Lender(a >> 8, b >> 8, c)),
        (
            any::<bool>(),
            any::<u64>(),
            prop_oneof![any::<u64>(), small]
        )
            .prop_map(|(present, score, at)| Slot::Bureau { present, score, at }),
        Just(Slot::Other),
    ]
}

/// The factors by the twin and by the gadget (satisfied, fully assigned).
fn both(now: u64, issued: u64, slots: &[Slot]) -> (Factors, [Fr; FACTORS]) {
    let mut acc = FactorAccumulator::default();
    acc.kyc(now, issued);
    let cs = ConstraintSystem::<Fr>::new_ref();
    let w = |x: u64| FpVar::new_witness(cs.clone(), || Ok(Fr::from(x))).unwrap();
    let b = |x: bool| Boolean::new_witness(cs.clone(), || Ok(x)).unwrap();
    let mut var = FactorsVar::new();
    var.kyc(&w(now), &w(issued));
    let (mut loans, mut out) = (FpVar::zero(), FpVar::zero());
    for s in slots {
        match *s {
            Slot::Lender(v0, v1, v2) => {
                acc.lender(v0, v1, v2);
                let is = b(true);
                loans += FpVar::from(is.clone()) * w(v0);
                out += FpVar::from(is.clone()) * w(v1);
                var.lender(&is, &w(v2)).unwrap();
                var.bureau(&b(false), &w(v0), &w(v1)).unwrap();
            }
            Slot::Bureau { present, score, at } => {
                if present {
                    acc.bureau(score, at);
                }
                var.lender(&b(false), &w(7)).unwrap();
                var.bureau(&b(present), &w(score), &w(at)).unwrap();
            }
            Slot::Other => {
                var.lender(&b(false), &w(u64::MAX)).unwrap();
                var.bureau(&b(false), &w(u64::MAX), &w(u64::MAX)).unwrap();
            }
        }
    }
    assert!(cs.is_satisfied().unwrap());
    let v = |x: &FpVar<Fr>| x.value().unwrap();
    (
        acc.factors(),
        [
            v(&loans),
            v(&out),
            v(&var.worst_arrears),
            v(&var.bureau_score),
            v(&var.kyc_age),
        ],
    )
}

/// Whether the gadget's `enforce_admits` is satisfied on these terms and factors.
fn gadget_admits(t: &ModelTerms, x: &Factors) -> bool {
    let cs = ConstraintSystem::<Fr>::new_ref();
    let terms = ModelTermsVar::new_witness(cs.clone(), Some(t)).unwrap();
    terms.enforce_bounds().unwrap();
    let xs: [FpVar<Fr>; FACTORS] =
        x.0.map(|xi| FpVar::new_witness(cs.clone(), || Ok(Fr::from(xi))).unwrap());
    enforce_admits(&terms, &xs).unwrap();
    assert_eq!(terms.hash().unwrap().value().unwrap(), t.hash());
    cs.is_satisfied().unwrap()
}

fn coeff() -> impl Strategy<Value = i64> {
    prop_oneof![
        -COEFF_BOUND..COEFF_BOUND,
        Just(-COEFF_BOUND),
        Just(COEFF_BOUND - 1),
        -3i64..3
    ]
}

fn terms() -> impl Strategy<Value = ModelTerms> {
    (coeff(), proptest::array::uniform5(coeff()), coeff()).prop_map(|(b0, bs, t)| ModelTerms {
        id: Fr::from(9u64),
        scale_bits: 20,
        intercept: b0,
        coefficients: bs,
        max_logit: t,
    })
}

fn factor() -> impl Strategy<Value = u128> {
    prop_oneof![
        any::<u64>().prop_map(u128::from),
        0u128..5,
        Just(u64::MAX as u128)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// The gadget's factors equal the twin's on random slot sequences (ties, absent
    /// bureaus, no lender at all).
    #[test]
    fn factors_gadget_matches_twin(
        slots in proptest::collection::vec(slot(), 0..8),
        issued in any::<u64>(),
        age in any::<u32>(),
    ) {
        let now = issued.saturating_add(age as u64);
        let (native, gadget) = both(now, issued, &slots);
        for (a, b) in native.0.iter().zip(gadget.iter()) {
            prop_assert_eq!(Fr::from(*a), *b);
        }
    }

    /// `enforce_admits` holds exactly when the twin admits, at and around the bounds.
    #[test]
    fn admits_gadget_matches_twin(t in terms(), x in proptest::array::uniform5(factor())) {
        let x = Factors(x);
        prop_assert_eq!(gadget_admits(&t, &x), t.admits(&x));
    }

    /// Just above and just below the threshold.
    #[test]
    fn threshold_edges(t in terms(), x in proptest::array::uniform5(factor())) {
        let x = Factors(x);
        let z = t.linear(&x).unwrap();
        for (delta, admitted) in [(0i128, true), (-1, false), (1, true)] {
            let Ok(max) = i64::try_from(z + delta) else { continue };
            if !in_bounds(max) {
                continue;
            }
            let t = ModelTerms { max_logit: max, ..t };
            prop_assert_eq!(t.admits(&x), admitted);
            prop_assert_eq!(gadget_admits(&t, &x), admitted);
        }
    }

    /// The fixed point stays within the stated bound of the f64 reference.
    #[test]
    fn fixed_point_tracks_f64(x in proptest::array::uniform5(0u128..2_000_000)) {
        let m = example();
        let x = Factors(x);
        let t = m.terms(0.05).unwrap();
        let fixed = t.linear(&x).unwrap() as f64 / t.scale();
        let reference = m.linear_f64(&x).unwrap();
        let bound = m.quantization_bound(&x).unwrap();
        prop_assert!((fixed - reference).abs() <= bound, "{fixed} vs {reference} (bound {bound})");
    }

    #[test]
    fn signed_encoding_round_trips(v in any::<i64>()) {
        prop_assert_eq!(fr_to_i64(&fr_from_i64(v)), Some(v));
    }
}

/// A coefficient outside [−2^52, 2^52) fails the gadget's bound even where the product
/// would not decide anything (the bound is what rules out a wrap).
#[test]
fn out_of_bound_terms_fail_the_gadget() {
    for bad in [COEFF_BOUND, -COEFF_BOUND - 1, i64::MAX, i64::MIN] {
        let t = ModelTerms {
            coefficients: [bad, 0, 0, 0, 0],
            ..ModelTerms::NONE
        };
        assert!(t.validate().is_err());
        let cs = ConstraintSystem::<Fr>::new_ref();
        let v = ModelTermsVar::new_witness(cs.clone(), Some(&t)).unwrap();
        v.enforce_bounds().unwrap();
        assert!(!cs.is_satisfied().unwrap(), "{bad}");
        let t = ModelTerms {
            max_logit: bad,
            ..ModelTerms::NONE
        };
        let cs = ConstraintSystem::<Fr>::new_ref();
        let v = ModelTermsVar::new_witness(cs.clone(), Some(&t)).unwrap();
        v.enforce_bounds().unwrap();
        assert!(!cs.is_satisfied().unwrap(), "threshold {bad}");
    }
    // scale_bits only labels the model inside its hash: refused when terms are read, and
    // neither the twin's bound check nor the gadget looks at it (they agree).
    for (scale_bits, ok) in [(48u8, true), (49, false), (200, false)] {
        let t = ModelTerms {
            scale_bits,
            ..ModelTerms::NONE
        };
        assert_eq!(t.validate().is_ok(), ok, "{scale_bits}");
        assert!(t.check_bounds().is_ok());
        assert!(gadget_admits(&t, &Factors::default()));
        let mut json = serde_json::to_value(t).unwrap();
        json["scale_bits"] = scale_bits.into();
        assert_eq!(serde_json::from_value::<ModelTerms>(json).is_ok(), ok);
    }
}

/// The most negative z the bounds allow against the most positive t still gives a
/// difference below 2^128, and a huge z never wraps to look admissible.
#[test]
fn extreme_values_do_not_wrap() {
    let max_x = Factors([(1u128 << 72) - 1; FACTORS]);
    let hi = ModelTerms {
        intercept: COEFF_BOUND - 1,
        coefficients: [COEFF_BOUND - 1; FACTORS],
        max_logit: -COEFF_BOUND,
        ..ModelTerms::NONE
    };
    assert!(!hi.admits(&max_x) || hi.linear(&max_x).is_none());
    assert!(
        !gadget_admits(&hi, &max_x),
        "a huge z must not wrap into the range"
    );
    let lo = ModelTerms {
        intercept: -COEFF_BOUND,
        coefficients: [-COEFF_BOUND; FACTORS],
        max_logit: COEFF_BOUND - 1,
        ..ModelTerms::NONE
    };
    assert!(gadget_admits(&lo, &max_x), "t − z < 2^128 at the extremes");
}

#[test]
fn the_null_model_admits_everyone_and_round_trips_as_absent() {
    let x = Factors([u64::MAX as u128; FACTORS]);
    assert!(ModelTerms::NONE.admits(&x));
    assert!(gadget_admits(&ModelTerms::NONE, &x));
    assert_eq!(ModelTerms::default(), ModelTerms::NONE);
}

#[test]
fn example_model_loads_and_quantizes() {
    let m = example();
    assert_eq!(m.name, "Defi Score Basic");
    let t = m.terms(0.05).unwrap();
    assert_eq!(t.scale_bits, 40);
    assert_eq!(t.intercept, -2 * (1i64 << 40));
    assert_eq!(
        t.coefficients[Factor::ActiveLoans.index()],
        (0.35f64 * 2f64.powi(40)).round() as i64
    );
    assert!((t.max_probability() - 0.05).abs() < 1e-9);
    assert_eq!(t.id, model_id("Defi Score Basic", "1"));
    // A good borrower: 1 loan, 120,000 owed, no arrears, score 700, KYC a year old.
    let good = Factors([1, 120_000, 0, 700, 365 * 86_400]);
    let p = t.probability(&good).unwrap();
    assert!(p < 0.02 && t.admits(&good), "{p}");
    // Within every limit of the example policy, but refused by the model.
    let risky = Factors([2, 400_000, 30, 650, 365 * 86_400]);
    let p = t.probability(&risky).unwrap();
    assert!(p > 0.10 && !t.admits(&risky), "{p}");
    // The JSON of the terms round-trips and is bounded on read.
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(serde_json::from_str::<ModelTerms>(&json).unwrap(), t);
}

#[test]
fn adversarial_model_files_are_refused_on_load() {
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
        f(&mut v);
        ScoringModel::from_json(&v.to_string())
            .unwrap_err()
            .to_string()
    };
    let e = with(&|v| v["coefficients"]["outstanding"] = 1e30.into());
    assert!(e.contains("outside the circuit's bound"), "{e}");
    let e = with(&|v| v["intercept"] = (-5000.0).into());
    assert!(e.contains("outside the circuit's bound"), "{e}");
    let e = with(&|v| v["coefficients"]["income"] = 0.1.into());
    assert!(e.contains("unknown factor `income`"), "{e}");
    let e = with(&|v| v["coefficients"]["kyc_age_seconds"] = 1e-20.into());
    assert!(e.contains("rounds to 0"), "{e}");
    let e = with(&|v| v["scale_bits"] = 60.into());
    assert!(e.contains("scale_bits = 60"), "{e}");
    let e = with(&|v| v["extra"] = 1.into());
    assert!(e.contains("unknown field"), "{e}");
    let e = with(&|v| v["name"] = "".into());
    assert!(e.contains("name must be"), "{e}");
    let e = with(&|v| v["name"] = "a\u{0}b".into());
    assert!(e.contains("NUL"), "{e}");
    let dup = EXAMPLE.replace(
        "\"active_loans\": 0.35,",
        "\"active_loans\": 0.35, \"active_loans\": 0.1,",
    );
    assert_ne!(dup, EXAMPLE);
    let e = ScoringModel::from_json(&dup).unwrap_err().to_string();
    assert!(e.contains("given twice"), "{e}");
    let m = example();
    for p in [0.0, 1.0, -0.1, f64::NAN] {
        assert!(m.terms(p).is_err(), "{p}");
    }
    // Terms from the wire are bounded on read, never wrapped.
    let mut t = serde_json::to_value(m.terms(0.05).unwrap()).unwrap();
    t["coefficients"][0] = (1i64 << 60).into();
    let e = serde_json::from_value::<ModelTerms>(t)
        .unwrap_err()
        .to_string();
    assert!(e.contains("outside [-2^52, 2^52)"), "{e}");
}
