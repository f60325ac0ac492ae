//! The gadgets of the halo2 circuits, written on `halo2-base`'s gate and range chips.
//!
//! [`Rows`] is where a circuit writes its cells: the context of the builder, the range chip,
//! and the [`Rule`] whose constraints are being written. Naming follows the R1CS side
//! (gnark's convention): `is_*` returns a constrained Boolean cell, `enforce_*` adds
//! constraints that must hold. Every `enforce_*` also evaluates its condition on the cells'
//! values, and the first one that does not hold is kept with its rule: a negative test
//! asserts both that the real constraint system (`MockProver`) rejects a witness and which
//! rule the witness broke — the rule is read from the enforcing call, so it names the block
//! whose constraints were violated.

pub mod cmp;
pub mod imt;
pub mod poseidon;
#[cfg(test)]
pub(crate) mod testing;

use crate::HFr;
use halo2_base::gates::{GateChip, GateInstructions, RangeChip, RangeInstructions};
use halo2_base::halo2_proofs::halo2curves::ff::Field as _;
use halo2_base::{AssignedValue, Context, QuantumCell};
use zkcredit_circuits::eligibility::Rule;

/// A cell of the circuit.
pub type Cell = AssignedValue<HFr>;

/// The rows a circuit is writing, with the rule being enforced.
pub struct Rows<'a> {
    /// The builder's main context.
    pub ctx: &'a mut Context<HFr>,
    /// The range chip (lookup-table range checks); its gate chip does the arithmetic.
    pub range: &'a RangeChip<HFr>,
    rule: Rule,
    violated: Option<Rule>,
}

impl<'a> Rows<'a> {
    /// Starts writing into `ctx`; constraints belong to `Rule::Lookup` until [`Self::rule`]
    /// names another.
    pub fn new(ctx: &'a mut Context<HFr>, range: &'a RangeChip<HFr>) -> Self {
        Self {
            ctx,
            range,
            rule: Rule::Lookup,
            violated: None,
        }
    }

    /// The constraints written from now on enforce `rule`.
    pub fn rule(&mut self, rule: Rule) {
        self.rule = rule;
    }

    /// The rule being enforced.
    pub fn current_rule(&self) -> Rule {
        self.rule
    }

    /// The first rule whose constraint does not hold on the witness, if any.
    pub fn violated(&self) -> Option<Rule> {
        self.violated
    }

    fn check(&mut self, holds: bool) {
        if !holds && self.violated.is_none() {
            self.violated = Some(self.rule);
        }
    }

    /// The gate chip.
    pub fn gate(&self) -> &GateChip<HFr> {
        self.range.gate()
    }

    /// A private witness cell.
    pub fn witness(&mut self, v: HFr) -> Cell {
        self.ctx.load_witness(v)
    }

    /// A constant cell.
    pub fn constant(&mut self, v: HFr) -> Cell {
        self.ctx.load_constant(v)
    }

    /// A witnessed Boolean (constrained to 0 or 1, under the current rule).
    pub fn witness_bit(&mut self, b: bool) -> Cell {
        let c = self.witness(HFr::from(b as u64));
        self.range.gate().assert_bit(self.ctx, c);
        c
    }

    /// `a + b`.
    pub fn add(&mut self, a: impl Into<QuantumCell<HFr>>, b: impl Into<QuantumCell<HFr>>) -> Cell {
        self.range.gate().add(self.ctx, a, b)
    }

    /// `a − b`.
    pub fn sub(&mut self, a: impl Into<QuantumCell<HFr>>, b: impl Into<QuantumCell<HFr>>) -> Cell {
        self.range.gate().sub(self.ctx, a, b)
    }

    /// `a · b`.
    pub fn mul(&mut self, a: impl Into<QuantumCell<HFr>>, b: impl Into<QuantumCell<HFr>>) -> Cell {
        self.range.gate().mul(self.ctx, a, b)
    }

    /// `a · b + c`.
    pub fn mul_add(
        &mut self,
        a: impl Into<QuantumCell<HFr>>,
        b: impl Into<QuantumCell<HFr>>,
        c: impl Into<QuantumCell<HFr>>,
    ) -> Cell {
        self.range.gate().mul_add(self.ctx, a, b, c)
    }

    /// `Σ aᵢ·bᵢ`.
    pub fn inner_product(&mut self, a: Vec<QuantumCell<HFr>>, b: Vec<QuantumCell<HFr>>) -> Cell {
        self.range.gate().inner_product(self.ctx, a, b)
    }

    /// `a ∧ b` for Boolean cells.
    pub fn and(&mut self, a: Cell, b: Cell) -> Cell {
        self.range.gate().and(self.ctx, a, b)
    }

    /// `a ∨ b` for Boolean cells.
    pub fn or(&mut self, a: Cell, b: Cell) -> Cell {
        self.range.gate().or(self.ctx, a, b)
    }

    /// `sel ? a : b` for a Boolean `sel`.
    pub fn select(&mut self, a: Cell, b: Cell, sel: Cell) -> Cell {
        self.range.gate().select(self.ctx, a, b, sel)
    }

    /// `¬a` for a Boolean cell.
    pub fn not(&mut self, a: Cell) -> Cell {
        self.range.gate().not(self.ctx, a)
    }

    /// The constrained Boolean `a == b`.
    pub fn is_equal(&mut self, a: Cell, b: Cell) -> Cell {
        self.range.gate().is_equal(self.ctx, a, b)
    }

    /// The constrained Boolean `a == 0`.
    pub fn is_zero(&mut self, a: Cell) -> Cell {
        self.range.gate().is_zero(self.ctx, a)
    }

    /// Enforces `a == b` (a copy constraint).
    pub fn enforce_equal(&mut self, a: Cell, b: Cell) {
        self.check(a.value() == b.value());
        self.ctx.constrain_equal(&a, &b);
    }

    /// Enforces `a == c` for a constant `c`.
    pub fn enforce_constant(&mut self, a: Cell, c: HFr) {
        self.check(*a.value() == c);
        self.range.gate().assert_is_const(self.ctx, &a, &c);
    }

    /// Enforces `a == b` when the Boolean `cond` is 1: `cond · (a − b) = 0`.
    pub fn enforce_equal_if(&mut self, cond: Cell, a: Cell, b: Cell) {
        let d = self.sub(a, b);
        let p = self.mul(cond, d);
        self.enforce_constant(p, HFr::ZERO);
    }

    /// Enforces `a ≠ 0`: witnesses `a⁻¹` and enforces `a · a⁻¹ = 1`.
    pub fn enforce_nonzero(&mut self, a: Cell) {
        let inv = a.value().invert().unwrap_or(HFr::ZERO);
        let inv = self.witness(inv);
        let one = self.mul(a, inv);
        self.enforce_constant(one, HFr::ONE);
    }
}
