//! Runs gadget code under `MockProver` (tests only).

use super::Rows;
use crate::HFr;
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::halo2_proofs::dev::MockProver;
use zkcredit_circuits::eligibility::Rule;

/// Rows of the test circuits (2^K).
pub const K: u32 = 14;
/// Lookup bits of the test circuits.
pub const LOOKUP_BITS: usize = 8;

/// Writes `f`'s cells into a fresh circuit and runs `MockProver` on it: whether every
/// constraint holds, and the first rule an `enforce_*` found broken.
pub fn mock(f: impl FnOnce(&mut Rows<'_>)) -> (bool, Option<Rule>) {
    let mut builder = BaseCircuitBuilder::<HFr>::new(false)
        .use_k(K as usize)
        .use_lookup_bits(LOOKUP_BITS);
    let range = builder.range_chip();
    let violated = {
        let mut rows = Rows::new(builder.main(0), &range);
        f(&mut rows);
        rows.violated()
    };
    builder.calculate_params(Some(9));
    let sat = MockProver::run(K, &builder, vec![])
        .expect("the mock prover runs")
        .verify()
        .is_ok();
    (sat, violated)
}
