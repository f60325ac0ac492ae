//! Batch verification (spec §7): one random linear combination of many Groth16 checks.
//!
//! For proofs (A_i, B_i, C_i) with inputs x_i and random 128-bit r_i, the batch holds iff
//! `Π e(r_i·A_i, B_i) · e(−Σ r_i·vk_x(x_i), γ) · e(−Σ r_i·C_i, δ) · e(−(Σ r_i)·α, β) = 1`,
//! where `Σ r_i·vk_x(x_i) = (Σ r_i)·IC_0 + Σ_j (Σ_i r_i·x_ij)·IC_j` is one small MSM.
//! The r_i come from a merlin transcript over every proof and input in the batch plus 32
//! bytes of OS randomness, so a prover can neither predict nor steer them. If the batch
//! fails, every proof is checked alone and the invalid ones are named: an invalid proof
//! never lets a batch pass.

use crate::{Verifier, VerifyError};
use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::{CurveGroup, VariableBaseMSM};
use ark_ff::{One, Zero};
use ark_groth16::Proof;
use merlin::Transcript;
use rand::RngCore;
use rayon::prelude::*;

/// The outcome of a failed batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} of {total} proofs invalid: {invalid:?}", invalid.len())]
pub struct BatchError {
    /// Number of proofs in the batch.
    pub total: usize,
    /// Indices of the invalid proofs, each with its own error.
    pub invalid: Vec<usize>,
    /// The error of each invalid proof, in the order of `invalid`.
    pub errors: Vec<VerifyError>,
}

fn challenges(items: &[(Proof<Bn254>, Vec<Fr>)], os_seed: [u8; 32]) -> Vec<Fr> {
    let mut t = Transcript::new(b"zkcredit/groth16-batch/v1");
    t.append_message(b"os-randomness", &os_seed);
    t.append_u64(b"batch-size", items.len() as u64);
    for (proof, inputs) in items {
        t.append_message(b"proof", &crate::keys::proof_to_bytes(proof));
        for x in inputs {
            t.append_message(b"input", &zkcredit_circuits::field::fr_to_be_bytes(x));
        }
    }
    (0..items.len())
        .map(|_| {
            let mut b = [0u8; 16];
            t.challenge_bytes(b"r", &mut b);
            // Nonzero 128-bit scalars.
            Fr::from(u128::from_le_bytes(b) | 1)
        })
        .collect()
}

impl Verifier {
    /// Verifies a batch (see the module docs). `Ok(())` iff every proof is valid.
    pub fn verify_batch(&self, items: &[(Proof<Bn254>, Vec<Fr>)]) -> Result<(), BatchError> {
        let total = items.len();
        if total == 0 {
            return Ok(());
        }
        let fail_alone = || {
            let results: Vec<(usize, Result<(), VerifyError>)> = items
                .par_iter()
                .enumerate()
                .map(|(i, (p, x))| (i, self.verify_raw(p, x)))
                .collect();
            let (invalid, errors): (Vec<usize>, Vec<VerifyError>) = results
                .into_iter()
                .filter_map(|(i, r)| r.err().map(|e| (i, e)))
                .unzip();
            if invalid.is_empty() {
                Ok(())
            } else {
                Err(BatchError {
                    total,
                    invalid,
                    errors,
                })
            }
        };
        // Shape errors are per proof: fall back to individual checks to name them.
        let n_inputs = self.num_public_inputs();
        if items.iter().any(|(_, x)| x.len() != n_inputs) {
            return fail_alone();
        }
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        let r = challenges(items, seed);
        let vk = self.vk();

        // Σ r_i·vk_x(x_i) as one MSM over the IC points.
        let mut ic_scalars = vec![Fr::zero(); n_inputs + 1];
        for (ri, (_, x)) in r.iter().zip(items) {
            ic_scalars[0] += ri;
            for (j, xj) in x.iter().enumerate() {
                ic_scalars[j + 1] += *ri * xj;
            }
        }
        let r_sum = ic_scalars[0];
        let vkx = G1Projective::msm(&vk.gamma_abc_g1, &ic_scalars).expect("lengths match");
        let cs: Vec<G1Affine> = items.iter().map(|(p, _)| p.c).collect();
        let c_sum = G1Projective::msm(&cs, &r).expect("lengths match");
        let ra: Vec<G1Affine> = G1Projective::normalize_batch(
            &items
                .par_iter()
                .zip(r.par_iter())
                .map(|((p, _), ri)| p.a * ri)
                .collect::<Vec<_>>(),
        );
        let mut g1: Vec<G1Affine> = ra;
        let mut g2: Vec<G2Affine> = items.iter().map(|(p, _)| p.b).collect();
        g1.push((-vkx).into_affine());
        g2.push(vk.gamma_g2);
        g1.push((-c_sum).into_affine());
        g2.push(vk.delta_g2);
        g1.push((vk.alpha_g1 * -r_sum).into_affine());
        g2.push(vk.beta_g2);
        // Miller loops in parallel chunks, one final exponentiation.
        let chunk = g1.len().div_ceil(rayon::current_num_threads().max(1));
        let ml = g1
            .par_chunks(chunk)
            .zip(g2.par_chunks(chunk))
            .map(|(a, b)| Bn254::multi_miller_loop(a.iter().copied(), b.iter().copied()))
            .reduce(
                || ark_ec::pairing::MillerLoopOutput(One::one()),
                |x, y| ark_ec::pairing::MillerLoopOutput(x.0 * y.0),
            );
        let ok = Bn254::final_exponentiation(ml)
            .map(|gt| gt.0.is_one())
            .unwrap_or(false);
        if ok {
            Ok(())
        } else {
            fail_alone()
        }
    }
}
