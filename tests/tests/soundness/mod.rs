//! Shared by the soundness suites (`eligibility_soundness.rs`, `model_soundness.rs`,
//! `origination_soundness.rs`): the world, the witness, and the assertions that the native
//! twin and **both** circuits — the Groth16 R1CS and the halo2 circuit (SPEC §11, under
//! halo2's `MockProver`) — agree and name the same failing [`Rule`].
#![allow(dead_code, unused_imports)]

pub use ark_relations::gr1cs::{
    ConstraintLayer, ConstraintSynthesizer, ConstraintSystem, TracingMode,
};
pub use ark_std::rand::{rngs::StdRng, SeedableRng};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
pub use zkcredit_circuits::eligibility::*;
pub use zkcredit_circuits::imt::IndexedMerkleTree;
pub use zkcredit_circuits::registry::{Role, Slot};
pub use zkcredit_circuits::{CircuitError, Fr};
pub use zkcredit_testkit::scenario::{eligible_applicant, example_policy, Borrower, Layout, World};

pub const P: EligibilityParams = EligibilityParams {
    slots: 8,
    depth: 16,
};
pub const NOW: u64 = 1_790_000_000;
/// Rows (2^K) and lookup bits of the halo2 circuit at [`P`].
pub const HALO2_K: u32 = 15;
pub const HALO2_LOOKUP_BITS: usize = 14;

/// The halo2 circuit's verdict under `MockProver`: whether every constraint holds, and the
/// rule of the first `enforce_*` the witness breaks.
pub fn halo2_verdict(w: &EligibilityWitness, public: PublicInputs) -> (bool, Option<Rule>) {
    let e = zkcredit_halo2::eligibility::Eligibility::with_public(P, w.clone(), public);
    zkcredit_halo2::proof::mock(HALO2_K, HALO2_LOOKUP_BITS, &e).unwrap()
}
pub const DAY: u64 = 86_400;
/// The example policy's `min_kyc_age`.
pub const KYC_AGE: u64 = zkcredit_testkit::scenario::EXAMPLE_MIN_KYC_AGE;

/// Installs a `ConstraintLayer` as the global tracing subscriber, once per test binary, so
/// constraint traces name their namespaces. Global on purpose: tracing caches a call site's
/// interest process-wide, and a per-thread (`set_default`) subscriber races with tests that
/// register call sites on other threads (a span could be cached as disabled). Every test
/// calls this (through [`setup`] and the synthesis helpers) before synthesizing.
pub fn trace_constraints() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        tracing_subscriber::registry()
            .with(ConstraintLayer::new(TracingMode::OnlyConstraints))
            .init();
    });
}

pub fn setup(seed: u64) -> (World, Borrower) {
    trace_constraints();
    let mut rng = StdRng::seed_from_u64(seed);
    let (world, b, _) = eligible_applicant(P, Layout::default(), &mut rng, 12, NOW).unwrap();
    (world, b)
}

pub fn witness(world: &World, b: &Borrower) -> EligibilityWitness {
    world
        .witness(b, example_policy(), NOW, Fr::from(77u64), Fr::from(4242u64))
        .unwrap()
}

/// Synthesizes with the given public inputs; returns whether all constraints hold, and
/// asserts the native twin (`check_against`) agrees.
pub fn satisfied_with(w: &EligibilityWitness, public: PublicInputs) -> bool {
    trace_constraints();
    let cs = ConstraintSystem::<Fr>::new_ref();
    EligibilityCircuit::with_public(P, w.clone(), public)
        .generate_constraints(cs.clone())
        .unwrap();
    let circuit = cs.is_satisfied().unwrap();
    let native = w.check_against(&P, &public);
    assert_eq!(
        circuit,
        native.is_ok(),
        "circuit and native twin disagree: {native:?}"
    );
    let (halo2, violated) = halo2_verdict(w, public);
    assert_eq!(
        halo2, circuit,
        "the halo2 and Groth16 circuits disagree (halo2 names {violated:?}): {native:?}"
    );
    assert_eq!(
        violated.is_none(),
        halo2,
        "halo2: the rows and the rule check disagree"
    );
    circuit
}

/// Circuit verdict with honest public inputs; asserts the native twin (`check`) agrees.
pub fn satisfied(w: &EligibilityWitness) -> bool {
    let circuit = satisfied_with(w, w.public_inputs());
    let native = w.check(&P);
    assert_eq!(
        circuit,
        native.is_ok(),
        "circuit and native twin disagree: {native:?}"
    );
    circuit
}

/// Synthesizes with the `ConstraintLayer` installed and returns the trace of the first
/// unsatisfied constraint, or `None` if all hold.
pub fn first_unsatisfied(w: &EligibilityWitness, public: PublicInputs) -> Option<String> {
    trace_constraints();
    let cs = ConstraintSystem::<Fr>::new_ref();
    EligibilityCircuit::with_public(P, w.clone(), public)
        .generate_constraints(cs.clone())
        .unwrap();
    cs.which_is_unsatisfied().unwrap()
}

/// The span names on a constraint trace (`"   0: module::path::name"` lines).
pub fn span_names(trace: &str) -> Vec<&str> {
    trace
        .lines()
        .filter_map(|line| {
            let (index, span) = line.trim().split_once(": ")?;
            index.parse::<usize>().ok()?;
            span.rsplit("::").next()
        })
        .collect()
}

/// The rules whose namespace is on the trace.
pub fn rules_on(trace: &str) -> Vec<Rule> {
    let names = span_names(trace);
    Rule::ALL
        .into_iter()
        .filter(|r| names.contains(&r.namespace()))
        .collect()
}

/// Asserts that `w` with the public inputs `public` violates `rule`: the native twin
/// returns `Statement { rule, .. }` whose text contains `detail`, and the circuit's first
/// unsatisfied constraint lies in `rule.namespace()` (and in no other rule's namespace).
pub fn assert_fails_in_with(
    w: &EligibilityWitness,
    public: PublicInputs,
    rule: Rule,
    detail: &str,
) {
    match w.check_against(&P, &public) {
        Err(e @ CircuitError::Statement { rule: r, .. }) => {
            let text = e.to_string();
            assert_eq!(r, rule, "native twin names another rule: {text}");
            assert!(text.contains(detail), "expected `{detail}`, got: {text}");
        }
        other => panic!("native twin: expected a {rule:?} failure, got {other:?}"),
    }
    assert_eq!(
        halo2_verdict(w, public),
        (false, Some(rule)),
        "halo2: MockProver must refuse the witness and name {rule:?}"
    );
    let trace = first_unsatisfied(w, public)
        .unwrap_or_else(|| panic!("circuit accepted a witness violating {rule:?}"));
    assert_eq!(
        rules_on(&trace),
        vec![rule],
        "first unsatisfied constraint is not (only) in namespace `{}`:\n{trace}",
        rule.namespace()
    );
}

/// [`assert_fails_in_with`] with the public inputs the witness implies; `check` (the form
/// the prover uses) must name the same rule.
pub fn assert_fails_in(w: &EligibilityWitness, rule: Rule, detail: &str) {
    match w.check(&P) {
        Err(CircuitError::Statement { rule: r, detail: d }) => {
            assert_eq!(r, rule, "native twin names another rule: {d}")
        }
        other => panic!("native twin: expected a {rule:?} failure, got {other:?}"),
    }
    assert_fails_in_with(w, w.public_inputs(), rule, detail);
}

pub fn republish(world: &mut World) {
    world.publish(NOW - 60).unwrap();
}

/// A world with two bureaus (1 fraud list, 2 lenders) and a borrower KYC'd at `kyc_issued`,
/// with no records anywhere else.
pub fn two_bureau_world(seed: u64, kyc_issued: u64) -> (World, Borrower) {
    trace_constraints();
    let mut rng = StdRng::seed_from_u64(seed);
    let layout = Layout {
        fraud_lists: 1,
        lenders: 2,
        bureaus: 2,
    };
    let mut world = World::new(P, layout, NOW).unwrap();
    world.populate(&mut rng, 8, NOW).unwrap();
    let b = Borrower::random(&mut rng);
    world.register(&b, kyc_issued, NOW + DAY).unwrap();
    (world, b)
}
