//! A deployed zkcredit stack (registry mirroring a Rust [`Registry`], the alliance's
//! origination-tag registry, lending pools, standalone verifier) on an in-memory [`Chain`]:
//! what the demo and the tests drive.

use crate::abi::{
    fr_word, input_words, onchain_context, proof_words, Groth16Verifier, LendingPool,
    OriginationRegistry, ProviderRegistry,
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
    /// The pool's policy limits new loans (`max_new_loans > 0`, spec §6.10): the pool is
    /// built with the alliance's `OriginationRegistry` and allowed to record tags there;
    /// otherwise with address(0), and every proof's tag must be 0.
    pub limits_new_loans: bool,
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
    /// OriginationRegistry deployment.
    pub originations: u64,
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
    /// LendingPool (the first pool).
    pub pool: Address,
    /// OriginationRegistry, shared by every pool of the alliance.
    pub originations: Address,
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

/// Deploys a funded `LendingPool` on `registry`; with `cfg.limits_new_loans` it is built
/// with `originations` and the admin allows it to record tags there.
fn deploy_pool(
    chain: &mut Chain,
    registry: Address,
    originations: Address,
    cfg: &PoolConfig,
) -> Result<(Address, u64), EvmError> {
    let args = LendingPool::constructorCall {
        registry_: registry,
        originations_: if cfg.limits_new_loans {
            originations
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
    let (pool, gas) = chain.deploy(
        "LendingPool",
        admin(),
        &LendingPool::BYTECODE,
        &args,
        cfg.liquidity,
    )?;
    if cfg.limits_new_loans {
        allow_pool(chain, originations, pool)?;
    }
    Ok((pool, gas))
}

/// The admin allows `pool` to record tags in the `OriginationRegistry` at `originations`.
fn allow_pool(chain: &mut Chain, originations: Address, pool: Address) -> Result<(), EvmError> {
    let call = OriginationRegistry::addPoolCall { pool };
    ok(
        chain.call(admin(), originations, call.abi_encode(), U256::ZERO)?,
        "addPool",
    )
    .map(|_| ())
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
        let (originations, g_orig) = chain.deploy(
            "OriginationRegistry",
            admin(),
            &OriginationRegistry::BYTECODE,
            &OriginationRegistry::constructorCall { admin_: admin() }.abi_encode(),
            U256::ZERO,
        )?;
        let (pool, g_pool) = deploy_pool(&mut chain, reg, originations, &cfg)?;
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
            originations,
            verifier,
            gas: DeployGas {
                registry: g_reg,
                pool: g_pool,
                originations: g_orig,
                verifier: g_ver,
            },
        })
    }

    /// Deploys another lender's pool on the same registries (its own policy and scope in
    /// `cfg`); returns its address.
    pub fn add_pool(&mut self, cfg: &PoolConfig) -> Result<Address, EvmError> {
        self.chain
            .fund(admin(), cfg.liquidity + (U256::from(1u64) << 100));
        deploy_pool(&mut self.chain, self.registry, self.originations, cfg).map(|(a, _)| a)
    }

    /// The admin allows `pool` to record origination tags (a pool with the new-loan limit).
    pub fn allow_pool(&mut self, pool: Address) -> Result<(), EvmError> {
        allow_pool(&mut self.chain, self.originations, pool)
    }

    /// `borrow(amount, proof, public)` sent by `from` to the pool at `pool`.
    pub fn borrow_at(
        &mut self,
        pool: Address,
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
        self.chain.call(from, pool, data, U256::ZERO)
    }

    /// The context a proof must bind for `borrower` to borrow `amount` from `pool`.
    pub fn context_at(&self, pool: Address, borrower: Address, amount: U256) -> Fr {
        onchain_context(CHAIN_ID, pool, borrower, amount)
    }

    /// Whether `tag` is recorded in the alliance's `OriginationRegistry` (what a wallet
    /// asks before choosing its origination index, spec §6.10).
    pub fn origination_tag_used(&mut self, tag: &Fr) -> Result<bool, EvmError> {
        let o = self.chain.view(
            admin(),
            self.originations,
            OriginationRegistry::usedCall { tag: fr_word(tag) }.abi_encode(),
        )?;
        OriginationRegistry::usedCall::abi_decode_returns(&o.output)
            .map_err(|e| EvmError::Evm(e.to_string()))
    }

    /// The context a proof must bind for `borrower` to borrow `amount` from this pool.
    pub fn context(&self, borrower: Address, amount: U256) -> Fr {
        onchain_context(CHAIN_ID, self.pool, borrower, amount)
    }

    /// `borrow(amount, proof, public)` sent by `from` to the first pool.
    pub fn borrow(
        &mut self,
        from: Address,
        amount: U256,
        proof: &Proof<Bn254>,
        public: &PublicInputs,
    ) -> Result<Outcome, EvmError> {
        self.borrow_at(self.pool, from, amount, proof, public)
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
