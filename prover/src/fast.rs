//! Proving without re-deriving the constraint matrices (issue: "witness generation without
//! re-synthesis"). The stock arkworks prover synthesizes with matrix construction, inlines
//! every linear combination and rebuilds the R1CS matrices on every proof. A [`Prover`]
//! builds the matrices once (from the setup-mode synthesis, whose variable order is the
//! proving order) and per proof only computes the assignment, then calls arkworks'
//! `create_proof_with_reduction_and_matrices`.

use crate::ProverError;
use ark_bn254::{Bn254, Fr};
use ark_ff::UniformRand;
use ark_groth16::{Groth16, Proof, ProvingKey};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, Matrix, OptimizationGoal, SynthesisMode,
    R1CS_PREDICATE_LABEL,
};
use ark_std::rand::{CryptoRng, RngCore};

/// A proving key with its circuit's R1CS matrices.
pub struct Prover {
    pk: ProvingKey<Bn254>,
    matrices: Vec<Matrix<Fr>>,
    num_inputs: usize,
    num_witness: usize,
    num_constraints: usize,
}

impl std::fmt::Debug for Prover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prover")
            .field("num_inputs", &self.num_inputs)
            .field("num_constraints", &self.num_constraints)
            .finish_non_exhaustive()
    }
}

fn synth_err(e: impl std::fmt::Display) -> ProverError {
    ProverError::Synthesis(e.to_string())
}

impl Prover {
    /// Derives the matrices of `setup_circuit` (a value-less instance of the circuit `pk` is for).
    pub fn new<C: ConstraintSynthesizer<Fr>>(
        pk: ProvingKey<Bn254>,
        setup_circuit: C,
    ) -> Result<Self, ProverError> {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Setup);
        setup_circuit
            .generate_constraints(cs.clone())
            .map_err(synth_err)?;
        cs.finalize();
        let num_inputs = cs.num_instance_variables();
        let num_constraints = cs.num_constraints();
        let num_witness = cs.num_witness_variables();
        if num_inputs != pk.vk.gamma_abc_g1.len() {
            return Err(ProverError::KeyMismatch {
                path: "<in memory>".into(),
                reason: format!(
                    "circuit has {} inputs, key {}",
                    num_inputs - 1,
                    pk.vk.gamma_abc_g1.len() - 1
                ),
            });
        }
        let matrices = cs
            .to_matrices()
            .map_err(synth_err)?
            .remove(R1CS_PREDICATE_LABEL)
            .ok_or_else(|| synth_err("no R1CS predicate"))?;
        Ok(Self {
            pk,
            matrices,
            num_inputs,
            num_witness,
            num_constraints,
        })
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
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Prove {
            construct_matrices: false,
            generate_lc_assignments: false,
        });
        circuit
            .generate_constraints(cs.clone())
            .map_err(synth_err)?;
        // Constraints are not recorded in this mode; the variable counts pin the shape.
        if cs.num_instance_variables() != self.num_inputs
            || cs.num_witness_variables() != self.num_witness
        {
            return Err(synth_err("circuit shape differs from the prover's"));
        }
        let full: Vec<Fr> = [
            cs.instance_assignment().map_err(synth_err)?,
            cs.witness_assignment().map_err(synth_err)?,
        ]
        .concat();
        let (r, s) = (Fr::rand(rng), Fr::rand(rng));
        Groth16::<Bn254>::create_proof_with_reduction_and_matrices(
            &self.pk,
            r,
            s,
            &self.matrices,
            self.num_inputs,
            self.num_constraints,
            &full,
        )
        .map_err(synth_err)
    }
}
