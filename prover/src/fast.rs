//! Proving without re-deriving the constraint matrices (issue: "witness generation without
//! re-synthesis"). The stock arkworks prover synthesizes with matrix construction, inlines
//! every linear combination and rebuilds the R1CS matrices on every proof. A [`Prover`]
//! builds the matrices once (from the setup-mode synthesis, whose variable order is the
//! proving order) and per proof only computes the assignment, then runs the prover core
//! (`proving.rs`: `taceo-groth16`'s witness maps and MSMs, GLV for small keys) on arkworks'
//! proving key: the same proof as arkworks' `create_proof_with_reduction_and_matrices` for
//! the same `(r, s)` (`prover/tests/qap.rs`), with faster MSMs (signed digits, batch-affine
//! buckets, GLV; issue 14) — and the witness map the key was made for ([`Qap`]: arkworks'
//! own, or snarkjs's for a key imported from a ceremony).

use crate::proving::Core;
use crate::ProverError;
use ark_bn254::{Bn254, Fr};
use ark_ff::UniformRand;
use ark_groth16::{Proof, ProvingKey};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef, Matrix, OptimizationGoal,
    SynthesisMode, R1CS_PREDICATE_LABEL,
};
use ark_std::rand::{CryptoRng, RngCore};

/// The R1CS-to-QAP witness map a proving key was generated for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qap {
    /// arkworks' (libsnark's): `h_query` has `n − 1` points (our setups).
    Arkworks,
    /// snarkjs's: `h_query` has `n` points (keys imported from a `.zkey`).
    Circom,
}

impl Qap {
    /// Which map `pk` needs, from the length of its `h_query` for a circuit of
    /// `num_constraints` constraints and `num_inputs` instance variables (SPEC §10.2).
    pub fn of_key(
        pk: &ProvingKey<Bn254>,
        num_constraints: usize,
        num_inputs: usize,
    ) -> Result<Self, ProverError> {
        let n = GeneralEvaluationDomain::<Fr>::new(num_constraints + num_inputs)
            .map(|d| d.size())
            .ok_or_else(|| synth_err("the circuit is too large for the BN254 FFT domain"))?;
        match pk.h_query.len() {
            l if l == n => Ok(Self::Circom),
            l if l + 1 == n => Ok(Self::Arkworks),
            l => Err(ProverError::KeyMismatch {
                path: "<in memory>".into(),
                reason: format!("its h query has {l} points; this circuit's domain is {n}"),
            }),
        }
    }
}

/// A circuit's R1CS: `A·z ∘ B·z = C·z` over `z = (1, public inputs…, private wires…)`.
#[derive(Clone, Debug)]
pub struct R1cs {
    /// A, B, C: one row per constraint, each row `(coefficient, variable index)`.
    pub matrices: Vec<Matrix<Fr>>,
    /// Instance variables, the constant one included.
    pub num_inputs: usize,
    /// Private variables.
    pub num_witness: usize,
    /// Constraints.
    pub num_constraints: usize,
}

impl R1cs {
    /// Synthesizes `setup_circuit` (a value-less instance) in setup mode, optimised for
    /// constraints exactly as the setup and the prover do.
    pub fn of<C: ConstraintSynthesizer<Fr>>(setup_circuit: C) -> Result<Self, ProverError> {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Setup);
        setup_circuit
            .generate_constraints(cs.clone())
            .map_err(synth_err)?;
        cs.finalize();
        let matrices = cs
            .to_matrices()
            .map_err(synth_err)?
            .remove(R1CS_PREDICATE_LABEL)
            .ok_or_else(|| synth_err("no R1CS predicate"))?;
        Ok(Self {
            matrices,
            num_inputs: cs.num_instance_variables(),
            num_witness: cs.num_witness_variables(),
            num_constraints: cs.num_constraints(),
        })
    }
}

impl R1cs {
    /// The matrices in the prover's form (A, B, C moved out, non-zero counts recorded), as
    /// `taceo-groth16`'s witness maps take them.
    pub fn into_constraint_matrices(
        self,
    ) -> Result<taceo_groth16::ConstraintMatrices<Fr>, ProverError> {
        let nnz = |m: &Matrix<Fr>| m.iter().map(Vec::len).sum();
        let [a, b, c]: [Matrix<Fr>; 3] = self
            .matrices
            .try_into()
            .map_err(|m: Vec<_>| synth_err(format!("{} R1CS matrices, not 3", m.len())))?;
        Ok(taceo_groth16::ConstraintMatrices {
            num_instance_variables: self.num_inputs,
            num_witness_variables: self.num_witness,
            num_constraints: self.num_constraints,
            a_num_non_zero: nnz(&a),
            b_num_non_zero: nnz(&b),
            c_num_non_zero: nnz(&c),
            a,
            b,
            c,
        })
    }
}

/// The full assignment `z = (1, public inputs…, private wires…)` of `circuit` (with values),
/// in the variable order of [`R1cs::of`].
pub fn assignment<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Result<Vec<Fr>, ProverError> {
    full_assignment(&synthesize_values(circuit)?)
}

/// Synthesizes `circuit` (with values) the way the prover does: assignments only, no matrices.
fn synthesize_values<C: ConstraintSynthesizer<Fr>>(
    circuit: C,
) -> Result<ConstraintSystemRef<Fr>, ProverError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: false,
        generate_lc_assignments: false,
    });
    circuit
        .generate_constraints(cs.clone())
        .map_err(synth_err)?;
    Ok(cs)
}

/// `(instance assignment, witness assignment)` concatenated.
fn full_assignment(cs: &ConstraintSystemRef<Fr>) -> Result<Vec<Fr>, ProverError> {
    Ok([
        cs.instance_assignment().map_err(synth_err)?,
        cs.witness_assignment().map_err(synth_err)?,
    ]
    .concat())
}

/// A proving key with its circuit's R1CS matrices.
pub struct Prover {
    pk: ProvingKey<Bn254>,
    matrices: taceo_groth16::ConstraintMatrices<Fr>,
    qap: Qap,
    core: Core,
}

impl std::fmt::Debug for Prover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prover")
            .field("num_inputs", &self.matrices.num_instance_variables)
            .field("num_constraints", &self.matrices.num_constraints)
            .finish_non_exhaustive()
    }
}

fn synth_err(e: impl std::fmt::Display) -> ProverError {
    ProverError::Synthesis(e.to_string())
}

impl Prover {
    /// Derives the matrices of `setup_circuit` (a value-less instance of the circuit `pk` is
    /// for) and the witness map `pk` was made for.
    pub fn new<C: ConstraintSynthesizer<Fr>>(
        pk: ProvingKey<Bn254>,
        setup_circuit: C,
    ) -> Result<Self, ProverError> {
        let r1cs = R1cs::of(setup_circuit)?;
        if r1cs.num_inputs != pk.vk.gamma_abc_g1.len() {
            return Err(ProverError::KeyMismatch {
                path: "<in memory>".into(),
                reason: format!(
                    "circuit has {} inputs, key {}",
                    r1cs.num_inputs - 1,
                    pk.vk.gamma_abc_g1.len().saturating_sub(1)
                ),
            });
        }
        let qap = Qap::of_key(&pk, r1cs.num_constraints, r1cs.num_inputs)?;
        let core = Core::new(Core::glv_pays(&pk));
        Ok(Self {
            core,
            pk,
            matrices: r1cs.into_constraint_matrices()?,
            qap,
        })
    }

    /// The witness map this prover's key needs.
    pub fn qap(&self) -> Qap {
        self.qap
    }

    /// Whether this key's MSMs run with GLV (keys of at most
    /// [`GLV_MAX_BASES`](crate::glv::GLV_MAX_BASES) bases per query).
    pub fn uses_glv(&self) -> bool {
        self.core.uses_glv()
    }

    /// This prover with GLV on or off whatever the key's size — to compare the two in
    /// benchmarks and tests; [`Self::new`] chooses by size.
    #[doc(hidden)]
    pub fn with_glv(mut self, on: bool) -> Self {
        self.core.set_glv(on);
        self
    }

    /// Whether this prover's MSMs run in eight AVX-512 IFMA lanes
    /// (`zkcredit_simd::g1_msm`, `g2_msm`): where the processor has them (and `ZKCREDIT_SIMD` is not
    /// `off`), unless fixed-base tables were built (whose own buckets use the lanes for G1).
    pub fn uses_lanes(&self) -> bool {
        self.core.uses_lanes()
    }

    /// How many proofs in this process had their MSMs refused by the lanes, and ran the MSMs
    /// without them (the same proof): zero unless there is a bug; for the tests.
    #[doc(hidden)]
    pub fn lanes_refusals() -> usize {
        crate::proving::lanes_refusals()
    }

    /// This prover with its MSMs in the lanes or not (on only where the processor has
    /// them) — to compare the two in benchmarks and tests.
    #[doc(hidden)]
    pub fn with_lanes(mut self, on: bool) -> Self {
        self.core.set_lanes(on);
        self
    }

    /// This prover with its key's MSMs run from fixed-base tables ([`crate::fixed`]), built
    /// now. For fraud-only at depth 32 they took 1.0 s on 2 cores and 50 MiB, and its proofs
    /// 1.44–1.46× less time (`benches/LEVERS.md`). For provers that prove many times; a
    /// one-shot proof is faster without. Keys with a query of more than
    /// [`FIXED_MAX_BASES`](crate::fixed::FIXED_MAX_BASES) bases are left as they are
    /// (see [`Self::uses_fixed_base_tables`]).
    pub fn with_fixed_base_tables(mut self) -> Self {
        if !self.core.uses_fixed() && Core::fixed_fits(&self.pk) {
            self.core.build_fixed(&self.pk);
        }
        self
    }

    /// Whether this prover's MSMs run from fixed-base tables.
    pub fn uses_fixed_base_tables(&self) -> bool {
        self.core.uses_fixed()
    }

    /// The proving key.
    pub fn pk(&self) -> &ProvingKey<Bn254> {
        &self.pk
    }

    /// Proves `circuit` (with values). The assignment must satisfy the circuit: check the
    /// statement natively first (an unsatisfied assignment yields an invalid proof).
    pub fn prove<C: ConstraintSynthesizer<Fr>, R: RngCore + CryptoRng>(
        &self,
        circuit: C,
        rng: &mut R,
    ) -> Result<Proof<Bn254>, ProverError> {
        let cs = synthesize_values(circuit)?;
        // Constraints are not recorded in this mode; the variable counts pin the shape.
        if cs.num_instance_variables() != self.matrices.num_instance_variables
            || cs.num_witness_variables() != self.matrices.num_witness_variables
        {
            return Err(synth_err("circuit shape differs from the prover's"));
        }
        let full = full_assignment(&cs)?;
        let (r, s) = (Fr::rand(rng), Fr::rand(rng));
        self.prove_assignment(&full, r, s)
    }

    /// Proves the full assignment `full` ([`assignment`]) with blinding `(r, s)` — the
    /// prover core alone, for benchmarks and tests; [`Self::prove`] draws `(r, s)` itself.
    /// The assignment must satisfy the circuit (an unsatisfied one yields an invalid proof).
    /// **Never reuse `(r, s)`**: two proofs with one blinding reveal the difference of
    /// their witnesses' commitments. Hidden from the documentation for that reason.
    #[doc(hidden)]
    pub fn prove_assignment(&self, full: &[Fr], r: Fr, s: Fr) -> Result<Proof<Bn254>, ProverError> {
        let m = &self.matrices;
        if full.len() != m.num_instance_variables + m.num_witness_variables {
            return Err(synth_err(format!(
                "the assignment has {} values; this circuit has {}",
                full.len(),
                m.num_instance_variables + m.num_witness_variables
            )));
        }
        self.core
            .prove(&self.pk, self.qap, &self.matrices, full, r, s)
            .map_err(synth_err)
    }
}
