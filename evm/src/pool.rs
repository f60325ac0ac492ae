//! A deployed zkcredit stack (registry mirroring a Rust [`Registry`], lending pool,
//! standalone verifier) on an in-memory [`Chain`]: what the demo and the tests drive.

use crate::abi::{
    fr_word, input_words, onchain_context, proof_words, Groth16Verifier, LendingPool,
    ProviderRegistry,
};
use crate::vm::{Chain, Outcome, CHAIN_ID};
use crate::EvmError;
use alloy_primitives::{Address, U256};
use alloy_sol_types::{SolCall, SolConstructor};
use ark_bn254::{Bn254, Fr};
use ark_groth16::Proof;
use zkcredit_circuits::eligibility::PublicInputs;
use zkcredit_circuits::registry::{Registry, Role};

/// The address of test/demo account `n`.
pub fn account(n: u64) -> Address {
    Address::left_padding_from(&n.to_be_bytes())
}

/// The admin account of the deployment.
pub fn admin() -> Address {
    account(0xad)
}

/// The account that operates registry slot `slot`.
pub fn provider_account(slot: usize) -> Address {
    account(0x1000 + slot as u64)
}

/// Deployment parameters.
#[derive(Clone, Copy, Debug)]
pub struct PoolConfig {
    /// The pool's policy hash.
    pub policy_hash: Fr,
    /// The pool's nullifier scope.
    pub scope: Fr,
    /// Accepted |now − block.timestamp|.
    pub max_skew: u64,
    /// Seconds a replaced registry root stays acceptable.
    pub history_window: u64,
    /// Initial liquidity in wei.
    pub liquidity: U256,
    /// Largest single loan in wei (`LendingPool.maxLoan`; a larger `amount` reverts
    /// `LoanAboveCap`).
    pub max_loan: U256,
    /// Most the pool lends per period in wei (`LendingPool.periodLimit`, at least `max_loan`;
    /// beyond it `borrow` reverts `PeriodLimitExceeded`).
    pub period_limit: U256,
    /// Length of a lending period in seconds (`LendingPool.periodLength`, non-zero).
    pub period_seconds: u64,
    /// Deploy even though the compiled verifier's key is a development key, which anyone
    /// can forge proofs for (SPEC §10): demos and tests only.
    pub insecure_dev_keys: bool,
}

/// The verifying key compiled into `Groth16Verifier.sol` (and so into `LendingPool`): the
/// committed `params/` key the generator read (the freshness test keeps them equal).
const COMPILED_VK: &[u8] = include_bytes!("../../params/eligibility_s16_d32.vk.bin");
/// The circuit of [`COMPILED_VK`].
const COMPILED_CIRCUIT: &str = "eligibility_s16_d32";

/// Whether the compiled verifier's key is a development key (derivable from the published
/// seed). Errors if the embedded key does not decode.
pub fn compiled_vk_is_insecure_dev() -> Result<bool, EvmError> {
    let vk = zkcredit_verifier::keys::vk_from_bytes(COMPILED_VK).map_err(|e| EvmError::Deploy {
        name: "Groth16Verifier".into(),
        reason: format!("embedded verifying key: {e}"),
    })?;
    Ok(zkcredit_prover::setup::is_insecure_dev_vk(
        COMPILED_CIRCUIT,
        &vk,
    ))
}

/// Gas of each deployment.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeployGas {
    /// ProviderRegistry deployment.
    pub registry: u64,
    /// LendingPool deployment.
    pub pool: u64,
    /// Standalone Groth16Verifier deployment.
    pub verifier: u64,
}

/// A deployed stack.
#[derive(Debug)]
pub struct Deployment {
    /// The chain.
    pub chain: Chain,
    /// ProviderRegistry.
    pub registry: Address,
    /// LendingPool.
    pub pool: Address,
    /// Standalone Groth16Verifier.
    pub verifier: Address,
    /// Deployment gas.
    pub gas: DeployGas,
}

fn ok(o: Outcome, what: &str) -> Result<Outcome, EvmError> {
    if o.success {
        Ok(o)
    } else {
        Err(EvmError::Evm(format!(
            "{what} reverted: 0x{}",
            hex::encode(&o.output)
        )))
    }
}

/// Registers every non-empty slot of `registry` on chain and publishes its root.
pub fn mirror_registry(
    chain: &mut Chain,
    at: Address,
    registry: &Registry,
) -> Result<(), EvmError> {
    for (i, slot) in registry.slots().iter().enumerate() {
        if slot.role == Role::Empty {
            continue;
        }
        let call = ProviderRegistry::setProviderCall {
            slot: U256::from(i),
            role: slot.role as u8,
            providerId: fr_word(&slot.provider_id),
            account: provider_account(i),
        };
        ok(
            chain.call(admin(), at, call.abi_encode(), U256::ZERO)?,
            "setProvider",
        )?;
        publish_root(chain, at, i, &slot.provider_root, slot.published_at)?;
    }
    Ok(())
}

/// The provider of `slot` publishes `root` at `published_at`.
pub fn publish_root(
    chain: &mut Chain,
    at: Address,
    slot: usize,
    root: &Fr,
    published_at: u64,
) -> Result<Outcome, EvmError> {
    let call = ProviderRegistry::publishRootCall {
        slot: U256::from(slot),
        providerRoot: fr_word(root),
        publishedAt: published_at,
    };
    ok(
        chain.call(provider_account(slot), at, call.abi_encode(), U256::ZERO)?,
        "publishRoot",
    )
}

impl Deployment {
    /// A fresh chain at `timestamp` with the registry mirroring `registry`, a funded pool and
    /// a standalone verifier. Deterministic: the same inputs give the same addresses.
    pub fn new(timestamp: u64, registry: &Registry, cfg: PoolConfig) -> Result<Self, EvmError> {
        if !cfg.insecure_dev_keys && compiled_vk_is_insecure_dev()? {
            return Err(EvmError::Deploy {
                name: "LendingPool".into(),
                reason: "its verifier has a development verifying key (anyone can forge proofs); \
                         regenerate the contracts from production keys, or set insecure_dev_keys \
                         for a demo or test"
                    .into(),
            });
        }
        let mut chain = Chain::new(timestamp);
        chain.fund(admin(), cfg.liquidity + (U256::from(1u64) << 100));
        let (reg, g_reg) = chain.deploy(
            "ProviderRegistry",
            admin(),
            &ProviderRegistry::BYTECODE,
            &ProviderRegistry::constructorCall {
                window: cfg.history_window,
            }
            .abi_encode(),
            U256::ZERO,
        )?;
        mirror_registry(&mut chain, reg, registry)?;
        let args = LendingPool::constructorCall {
            registry_: reg,
            policyHash_: fr_word(&cfg.policy_hash),
            scope_: fr_word(&cfg.scope),
            maxSkew_: U256::from(cfg.max_skew),
            maxLoan_: cfg.max_loan,
            periodLimit_: cfg.period_limit,
            periodLength_: U256::from(cfg.period_seconds),
        }
        .abi_encode();
        let (pool, g_pool) = chain.deploy(
            "LendingPool",
            admin(),
            &LendingPool::BYTECODE,
            &args,
            cfg.liquidity,
        )?;
        let (verifier, g_ver) = chain.deploy(
            "Groth16Verifier",
            admin(),
            &Groth16Verifier::BYTECODE,
            &[],
            U256::ZERO,
        )?;
        Ok(Self {
            chain,
            registry: reg,
            pool,
            verifier,
            gas: DeployGas {
                registry: g_reg,
                pool: g_pool,
                verifier: g_ver,
            },
        })
    }

    /// The context a proof must bind for `borrower` to borrow `amount` from this pool.
    pub fn context(&self, borrower: Address, amount: U256) -> Fr {
        onchain_context(CHAIN_ID, self.pool, borrower, amount)
    }

    /// `borrow(amount, proof, public)` sent by `from`.
    pub fn borrow(
        &mut self,
        from: Address,
        amount: U256,
        proof: &Proof<Bn254>,
        public: &PublicInputs,
    ) -> Result<Outcome, EvmError> {
        let data = LendingPool::borrowCall {
            amount,
            proof: proof_words(proof),
            input: input_words(public),
        }
        .abi_encode();
        self.chain.call(from, self.pool, data, U256::ZERO)
    }

    /// The registry's current root.
    pub fn current_root(&mut self) -> Result<U256, EvmError> {
        let o = self.chain.view(
            admin(),
            self.registry,
            ProviderRegistry::currentRootCall {}.abi_encode(),
        )?;
        ProviderRegistry::currentRootCall::abi_decode_returns(&o.output)
            .map_err(|e| EvmError::Evm(e.to_string()))
    }
}
