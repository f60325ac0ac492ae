//! Single statements (SPEC §6.7) as halo2 circuits, over the same witness types as the
//! Groth16 circuits of `zkcredit_circuits::statements`.

use crate::field::to_halo2;
use crate::gadgets::imt::{lookup, LookupCells};
use crate::gadgets::poseidon::hash;
use crate::gadgets::{Cell, Rows};
use crate::proof::Statement;
use crate::{HFr, Halo2Error};
use zkcredit_circuits::eligibility::Rule;
use zkcredit_circuits::imt::LookupWitness;
use zkcredit_circuits::statements::Subject;
use zkcredit_circuits::tags::{KEY_BITS, TAG_SUBJECT_COMMIT};
use zkcredit_circuits::Fr;

/// Fraud-only: the subject is absent from one fraud list. Public inputs:
/// `[list_root, subject_commitment]`, as the Groth16 `FraudOnlyCircuit`.
#[derive(Clone, Debug)]
pub struct FraudOnly {
    /// Tree depth.
    pub depth: usize,
    /// The list's root (public).
    pub root: Fr,
    /// The subject (private).
    pub subject: Subject,
    /// The non-membership witness (private).
    pub witness: LookupWitness,
}

/// Assigns the subject, range-checks its key and returns `(key, H(TAG, key, blinding))`.
fn subject(rows: &mut Rows<'_>, s: &Subject) -> Result<(Cell, Cell), Halo2Error> {
    rows.rule(Rule::SubjectKey);
    let key = rows.witness(to_halo2(&s.key));
    let blinding = rows.witness(to_halo2(&s.blinding));
    rows.enforce_bits(key, KEY_BITS);
    rows.enforce_nonzero(key);
    let tag = rows.constant(HFr::from(TAG_SUBJECT_COMMIT));
    let commitment = hash(rows, &[tag, key, blinding])?;
    Ok((key, commitment))
}

/// The fraud-only statement's rows.
pub fn fraud_only(rows: &mut Rows<'_>, s: &FraudOnly) -> Result<Vec<Cell>, Halo2Error> {
    let root = rows.witness(to_halo2(&s.root));
    let (key, commitment) = subject(rows, &s.subject)?;
    rows.rule(Rule::Lookup);
    let w = LookupCells::assign(rows, &s.witness, s.depth)?;
    let enabled = rows.constant(HFr::from(1u64));
    let r = lookup(rows, enabled, root, key, &w)?;
    // §6.3: absent.
    rows.rule(Rule::FraudList);
    rows.enforce_constant(r.present, HFr::from(0u64));
    Ok(vec![root, commitment])
}

impl Statement for FraudOnly {
    fn synthesize(&self, rows: &mut Rows<'_>) -> Result<Vec<Cell>, Halo2Error> {
        fraud_only(rows, self)
    }
}
