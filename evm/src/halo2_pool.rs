//! halo2 on chain (SPEC §11.5): the verifier generated from a halo2 verifying key, compiled
//! with the pinned solc-js, and a `Halo2LendingPool` that lends against its proofs, on the
//! same registries as the Groth16 pool.

use crate::abi::{fr_word, input_words, Halo2LendingPool};
use crate::pool::{admin, Deployment, PoolConfig};
use crate::solc::{compile, Compiled, Optimizer};
use crate::vm::Outcome;
use crate::EvmError;
use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::{SolCall, SolConstructor};
use std::path::Path;
use zkcredit_circuits::eligibility::{PublicInputs, NUM_PUBLIC_INPUTS};
use zkcredit_halo2::evm::{verifier_solidity, VERIFIER_CONTRACT};
use zkcredit_halo2::keys::VkFile;

/// The generated verifier of `vk` (eligibility: seven public inputs), compiled.
pub fn halo2_verifier_code(vk: &VkFile, contracts: &Path) -> Result<Compiled, EvmError> {
    let sol = verifier_solidity(vk, NUM_PUBLIC_INPUTS).map_err(|e| EvmError::Deploy {
        name: VERIFIER_CONTRACT.into(),
        reason: e.to_string(),
    })?;
    compile(&sol, VERIFIER_CONTRACT, Optimizer::WithoutYul, contracts)
}

/// A deployed halo2 pool and its verifier.
#[derive(Clone, Copy, Debug)]
pub struct Halo2Pool {
    /// The `Halo2LendingPool`.
    pub pool: Address,
    /// Its generated verifier.
    pub verifier: Address,
    /// Gas of the verifier's deployment.
    pub verifier_gas: u64,
    /// Gas of the pool's deployment.
    pub pool_gas: u64,
    /// The verifier's deployed code length in bytes (EIP-170 allows 24,576).
    pub verifier_bytes: usize,
}

impl Deployment {
    /// Generates and compiles the verifier of `vk` (`compile.js` in `contracts`), deploys it
    /// and a funded `Halo2LendingPool` using it, on this deployment's registries; a
    /// development key is refused unless `cfg.insecure_dev_keys` (anyone can forge proofs
    /// for it, SPEC §10).
    pub fn add_halo2_pool(
        &mut self,
        vk: &VkFile,
        contracts: &Path,
        cfg: &PoolConfig,
    ) -> Result<Halo2Pool, EvmError> {
        if !cfg.insecure_dev_keys && zkcredit_halo2::system::is_dev(vk) {
            return Err(EvmError::Deploy {
                name: "Halo2LendingPool".into(),
                reason: "its verifying key comes from the development powers of tau (anyone can \
                         forge proofs); use keys from a real powers of tau, or set \
                         insecure_dev_keys for a demo or test"
                    .into(),
            });
        }
        let code = halo2_verifier_code(vk, contracts)?;
        self.chain
            .fund(admin(), cfg.liquidity + (U256::from(1u64) << 100));
        let (verifier, verifier_gas) =
            self.chain
                .deploy(VERIFIER_CONTRACT, admin(), &code.bytecode, &[], U256::ZERO)?;
        let args = Halo2LendingPool::constructorCall {
            verifier_: verifier,
            registry_: self.registry,
            originations_: if cfg.limits_new_loans {
                self.originations
            } else {
                Address::ZERO
            },
            policyHash_: fr_word(&cfg.policy_hash),
            scope_: fr_word(&cfg.scope),
            maxSkew_: U256::from(cfg.max_skew),
            maxLoan_: cfg.max_loan,
            periodLimit_: cfg.period_limit,
            periodLength_: U256::from(cfg.period_seconds),
        }
        .abi_encode();
        let (pool, pool_gas) = self.chain.deploy(
            "Halo2LendingPool",
            admin(),
            &Halo2LendingPool::BYTECODE,
            &args,
            cfg.liquidity,
        )?;
        if cfg.limits_new_loans {
            self.allow_pool(pool)?;
        }
        Ok(Halo2Pool {
            pool,
            verifier,
            verifier_gas,
            pool_gas,
            verifier_bytes: code.deployed_len,
        })
    }

    /// `Halo2LendingPool.borrow(amount, proof, public)` sent by `from` to `pool`.
    pub fn borrow_halo2(
        &mut self,
        pool: Address,
        from: Address,
        amount: U256,
        proof: &[u8],
        public: &PublicInputs,
    ) -> Result<Outcome, EvmError> {
        let data = halo2_borrow_calldata(amount, proof, public);
        self.chain.call(from, pool, data, U256::ZERO)
    }
}

/// The calldata of `Halo2LendingPool.borrow(amount, proof, public)`.
pub fn halo2_borrow_calldata(amount: U256, proof: &[u8], public: &PublicInputs) -> Vec<u8> {
    Halo2LendingPool::borrowCall {
        amount,
        proof: Bytes::copy_from_slice(proof),
        input: input_words(public),
    }
    .abi_encode()
}
