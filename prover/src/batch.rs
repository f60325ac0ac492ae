//! Bulk proving on the provider's machine (spec §1): many witnesses of one circuit proven
//! `jobs` at a time on a dedicated rayon pool, each proof itself parallel.

use crate::fast::Prover;
use crate::{prove_eligibility, ProverError};
use ark_bn254::Bn254;
use ark_groth16::Proof;
use zkcredit_circuits::eligibility::{EligibilityParams, EligibilityWitness, PublicInputs};

/// Stack size of the pool's workers: constraint synthesis recurses deeply (2 MiB worker
/// stacks were seen to overflow).
pub const WORKER_STACK_BYTES: usize = 64 << 20;

/// One proof of a batch, or why it failed.
pub type BatchItem<T> = (T, Result<(Proof<Bn254>, PublicInputs), ProverError>);

/// Proves every `(tag, witness)` with `prover` (all for `params`), `jobs` in flight at
/// once; results in input order, each with its tag.
pub fn prove_batch<T: Send>(
    prover: &Prover,
    params: EligibilityParams,
    items: Vec<(T, EligibilityWitness)>,
    jobs: usize,
) -> Result<Vec<BatchItem<T>>, ProverError> {
    use rayon::prelude::*;
    if jobs == 0 {
        return Err(ProverError::Synthesis("jobs must be at least 1".into()));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .stack_size(WORKER_STACK_BYTES)
        .build()
        .map_err(|e| ProverError::Synthesis(e.to_string()))?;
    Ok(pool.install(|| {
        items
            .into_par_iter()
            .map(|(tag, w)| (tag, prove_eligibility(prover, params, w)))
            .collect()
    }))
}
