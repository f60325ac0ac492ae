//! An in-memory EVM (revm, default spec, BN254 precompiles 0x06–0x08 on). The compiled
//! zkcredit contracts (`contracts/out/`, embedded at build time) are deployed from the
//! `BYTECODE` of their [`crate::abi`] bindings.

use crate::EvmError;
use alloy_primitives::{Address, Bytes, U256};
use revm::context::{BlockEnv, CfgEnv, Context, TxEnv};
use revm::context_interface::result::{ExecutionResult, Output};
use revm::database::{CacheDB, EmptyDB};
use revm::handler::{MainBuilder, MainContext, MainnetEvm};
use revm::primitives::TxKind;
use revm::state::AccountInfo;
use revm::{ExecuteCommitEvm, ExecuteEvm, InspectEvm, Inspector};

/// Chain id of the in-memory chain.
pub const CHAIN_ID: u64 = 31337;

type Db = CacheDB<EmptyDB>;
pub(crate) type Ctx = Context<BlockEnv, TxEnv, CfgEnv, Db>;
type Evm = MainnetEvm<Ctx>;

/// The outcome of a transaction.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Whether it succeeded (no revert, no halt).
    pub success: bool,
    /// Return data or revert data.
    pub output: Bytes,
    /// Gas used by the transaction (including the 21,000 base and calldata).
    pub gas_used: u64,
    /// Created contract, for deployments.
    pub created: Option<Address>,
}

impl Outcome {
    /// Execution gas: `gas_used` minus the intrinsic cost (21,000 + calldata).
    pub fn execution_gas(&self, calldata: &[u8]) -> u64 {
        self.gas_used.saturating_sub(intrinsic_gas(calldata))
    }
}

/// 21,000 + 16 per non-zero and 4 per zero calldata byte.
pub fn intrinsic_gas(calldata: &[u8]) -> u64 {
    21_000
        + calldata
            .iter()
            .map(|b| if *b == 0 { 4 } else { 16 })
            .sum::<u64>()
}

/// A transaction's result as an [`Outcome`].
fn outcome(result: ExecutionResult) -> Outcome {
    let gas_used = result.tx_gas_used();
    match result {
        ExecutionResult::Success { output, .. } => match output {
            Output::Create(bytes, addr) => Outcome {
                success: true,
                output: bytes,
                gas_used,
                created: addr,
            },
            Output::Call(bytes) => Outcome {
                success: true,
                output: bytes,
                gas_used,
                created: None,
            },
        },
        ExecutionResult::Revert { output, .. } => Outcome {
            success: false,
            output,
            gas_used,
            created: None,
        },
        ExecutionResult::Halt { reason, .. } => Outcome {
            success: false,
            output: Bytes::from(format!("halt: {reason:?}").into_bytes()),
            gas_used,
            created: None,
        },
    }
}

/// An in-memory chain.
pub struct Chain {
    evm: Evm,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("timestamp", &self.timestamp())
            .finish_non_exhaustive()
    }
}

impl Chain {
    /// A fresh chain at `timestamp`.
    pub fn new(timestamp: u64) -> Self {
        let ctx = Context::mainnet()
            .with_db(CacheDB::new(EmptyDB::default()))
            .modify_cfg_chained(|c| {
                c.chain_id = CHAIN_ID;
                c.disable_nonce_check = true;
            })
            .modify_block_chained(|b| {
                b.timestamp = U256::from(timestamp);
                b.number = U256::from(1);
                b.gas_limit = 60_000_000;
            });
        Self {
            evm: ctx.build_mainnet(),
        }
    }

    /// The block timestamp.
    pub fn timestamp(&self) -> u64 {
        self.evm.ctx.block.timestamp.saturating_to()
    }

    /// Sets the block timestamp.
    pub fn set_timestamp(&mut self, t: u64) {
        self.evm.ctx.block.timestamp = U256::from(t);
    }

    /// Credits `wei` to `addr`.
    pub fn fund(&mut self, addr: Address, wei: U256) {
        let db = &mut self.evm.ctx.journaled_state.database;
        let info = db
            .cache
            .accounts
            .get(&addr)
            .map(|a| a.info.clone())
            .unwrap_or_default();
        db.insert_account_info(
            addr,
            AccountInfo {
                balance: info.balance + wei,
                ..info
            },
        );
    }

    /// The balance of `addr`.
    pub fn balance(&self, addr: Address) -> U256 {
        self.evm
            .ctx
            .journaled_state
            .database
            .cache
            .accounts
            .get(&addr)
            .map(|a| a.info.balance)
            .unwrap_or_default()
    }

    /// The transaction `from` → `kind` with `data` and `value`.
    fn tx_env(from: Address, kind: TxKind, data: Vec<u8>, value: U256) -> Result<TxEnv, EvmError> {
        TxEnv::builder()
            .caller(from)
            .kind(kind)
            .data(Bytes::from(data))
            .value(value)
            .gas_limit(16_000_000)
            .gas_price(0)
            .chain_id(Some(CHAIN_ID))
            .build()
            .map_err(|e| EvmError::Evm(format!("{e:?}")))
    }

    fn tx(
        &mut self,
        from: Address,
        kind: TxKind,
        data: Vec<u8>,
        value: U256,
        commit: bool,
    ) -> Result<Outcome, EvmError> {
        let tx = Self::tx_env(from, kind, data, value)?;
        let result = if commit {
            self.evm
                .transact_commit(tx)
                .map_err(|e| EvmError::Evm(e.to_string()))?
        } else {
            self.evm
                .transact(tx)
                .map_err(|e| EvmError::Evm(e.to_string()))?
                .result
        };
        Ok(outcome(result))
    }

    /// Runs a call on a copy of the chain with `inspector` watching; nothing is committed.
    pub(crate) fn inspect_copy<I: Inspector<Ctx>>(
        &self,
        from: Address,
        to: Address,
        data: Vec<u8>,
        value: U256,
        inspector: I,
    ) -> Result<Outcome, EvmError> {
        let tx = Self::tx_env(from, TxKind::Call(to), data, value)?;
        let mut evm = self.evm.ctx.clone().build_mainnet_with_inspector(inspector);
        let result = evm
            .inspect_tx(tx)
            .map_err(|e| EvmError::Evm(e.to_string()))?
            .result;
        Ok(outcome(result))
    }

    /// Deploys `creation_code ++ ctor_args` from `from` with `value`.
    pub fn deploy(
        &mut self,
        name: &str,
        from: Address,
        creation_code: &[u8],
        ctor_args: &[u8],
        value: U256,
    ) -> Result<(Address, u64), EvmError> {
        let mut code = creation_code.to_vec();
        code.extend_from_slice(ctor_args);
        let o = self.tx(from, TxKind::Create, code, value, true)?;
        match (o.success, o.created) {
            (true, Some(a)) => Ok((a, o.gas_used)),
            _ => Err(EvmError::Deploy {
                name: name.into(),
                reason: format!("reverted: 0x{}", hex::encode(&o.output)),
            }),
        }
    }

    /// A committed call.
    pub fn call(
        &mut self,
        from: Address,
        to: Address,
        data: Vec<u8>,
        value: U256,
    ) -> Result<Outcome, EvmError> {
        self.tx(from, TxKind::Call(to), data, value, true)
    }

    /// A call whose state changes are discarded (a `view`).
    pub fn view(&mut self, from: Address, to: Address, data: Vec<u8>) -> Result<Outcome, EvmError> {
        self.tx(from, TxKind::Call(to), data, U256::ZERO, false)
    }
}
