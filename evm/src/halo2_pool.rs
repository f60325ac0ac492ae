//! halo2 on chain (SPEC §11.5): the verifier generated from a halo2 verifying key, compiled
//! with the pinned solc-js, and a `Halo2LendingPool` that lends against its proofs, on the
//! same registries as the Groth16 pool.

use crate::abi::{fr_word, input_words, Halo2LendingPool};
use crate::pool::{admin, Deployment, PoolConfig};
use crate::vm::Outcome;
use crate::EvmError;
use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::{SolCall, SolConstructor};
use std::path::{Path, PathBuf};
use std::process::Command;
use zkcredit_circuits::eligibility::{PublicInputs, NUM_PUBLIC_INPUTS};
use zkcredit_halo2::evm::{verifier_solidity, VERIFIER_CONTRACT};
use zkcredit_halo2::keys::VkFile;

/// The repository's `contracts/` folder (where `compile.js` is), as built.
pub fn contracts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts")
}

/// The generated halo2 verifier, compiled.
#[derive(Clone, Debug)]
pub struct Halo2VerifierCode {
    /// Creation code.
    pub bytecode: Vec<u8>,
    /// Deployed code length in bytes (EIP-170 allows 24,576).
    pub deployed_len: usize,
}

/// Compiles a generated halo2 verifier's Solidity with the pinned solc-js
/// (`contracts/compile.js --no-yul-optimizer`, see there why).
pub fn compile_halo2_verifier(
    solidity: &str,
    contracts: &Path,
) -> Result<Halo2VerifierCode, EvmError> {
    let fail = |reason: String| EvmError::Deploy {
        name: VERIFIER_CONTRACT.into(),
        reason,
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let file = std::env::temp_dir().join(format!(
        "zkcredit-{VERIFIER_CONTRACT}-{}-{nanos}.sol",
        std::process::id()
    ));
    std::fs::write(&file, solidity)
        .map_err(|e| fail(format!("writing {}: {e}", file.display())))?;
    let out = Command::new("node")
        .arg(contracts.join("compile.js"))
        .arg("--file")
        .arg(&file)
        .args(["--contract", VERIFIER_CONTRACT, "--no-yul-optimizer"])
        .output();
    let _ = std::fs::remove_file(&file);
    let out = out.map_err(|e| {
        fail(format!(
            "running node: {e} (install Node.js and run `bash scripts/install-js.sh`)"
        ))
    })?;
    if !out.status.success() {
        return Err(fail(format!(
            "solc-js: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let artifact: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| fail(format!("compile.js output: {e}")))?;
    let hex_of = |k: &str| {
        artifact[k]
            .as_str()
            .and_then(|s| hex::decode(s.trim_start_matches("0x")).ok())
            .ok_or_else(|| fail(format!("compile.js output has no {k}")))
    };
    Ok(Halo2VerifierCode {
        bytecode: hex_of("bytecode")?,
        deployed_len: hex_of("deployedBytecode")?.len(),
    })
}

/// The generated verifier of `vk` (eligibility: seven public inputs), compiled.
pub fn halo2_verifier_code(vk: &VkFile, contracts: &Path) -> Result<Halo2VerifierCode, EvmError> {
    let sol = verifier_solidity(vk, NUM_PUBLIC_INPUTS).map_err(|e| EvmError::Deploy {
        name: VERIFIER_CONTRACT.into(),
        reason: e.to_string(),
    })?;
    compile_halo2_verifier(&sol, contracts)
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
}

impl Deployment {
    /// Deploys `code` (the verifier of `vk`) and a funded `Halo2LendingPool` using it, on this
    /// deployment's registries; a development key is refused unless `cfg.insecure_dev_keys`
    /// (anyone can forge proofs for it, SPEC §10).
    pub fn add_halo2_pool(
        &mut self,
        vk: &VkFile,
        code: &Halo2VerifierCode,
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
