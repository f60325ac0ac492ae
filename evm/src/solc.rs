//! Compiling Solidity that is not committed (a verifier generated from an imported key) with
//! the pinned solc-js, through `contracts/compile.js --file`, and measuring a verifier.

use crate::vm::Chain;
use crate::EvmError;
use alloy_primitives::U256;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's `contracts/` folder (where `compile.js` is), as built.
pub fn contracts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts")
}

/// The optimizer settings of a compilation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Optimizer {
    /// The committed contracts' settings (optimizer, runs 200).
    Default,
    /// The optimizer without its Yul stage (`--no-yul-optimizer`: the generated halo2
    /// verifier is one assembly block that the Yul optimizer runs out of stack on).
    WithoutYul,
}

/// A compiled contract.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// Creation code.
    pub bytecode: Vec<u8>,
    /// Deployed code length in bytes (EIP-170 allows 24,576).
    pub deployed_len: usize,
}

/// Compiles the self-contained `solidity` and returns `contract`'s code.
pub fn compile(
    solidity: &str,
    contract: &str,
    optimizer: Optimizer,
    contracts: &Path,
) -> Result<Compiled, EvmError> {
    let fail = |reason: String| EvmError::Deploy {
        name: contract.into(),
        reason,
    };
    // A private file (exclusive create, mode 0600), removed when dropped.
    let mut file = tempfile::Builder::new()
        .prefix(&format!("zkcredit-{contract}-"))
        .suffix(".sol")
        .tempfile()
        .map_err(|e| fail(format!("a temporary file: {e}")))?;
    std::io::Write::write_all(&mut file, solidity.as_bytes())
        .map_err(|e| fail(format!("writing {}: {e}", file.path().display())))?;
    let mut cmd = Command::new("node");
    cmd.arg(contracts.join("compile.js"))
        .arg("--file")
        .arg(file.path())
        .args(["--contract", contract]);
    if optimizer == Optimizer::WithoutYul {
        cmd.arg("--no-yul-optimizer");
    }
    let out = cmd.output().map_err(|e| {
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
    Ok(Compiled {
        bytecode: hex_of("bytecode")?,
        deployed_len: hex_of("deployedBytecode")?.len(),
    })
}

/// Deploys `code` on a fresh chain and calls it with `calldata`: the execution gas of the
/// call (without the transaction's intrinsic 21,000 and calldata cost), or an error if it
/// reverts.
pub fn verifier_gas(code: &Compiled, calldata: Vec<u8>) -> Result<u64, EvmError> {
    let mut chain = Chain::new(1_790_000_000);
    let from = crate::pool::admin();
    chain.fund(from, U256::from(1u64) << 100);
    let (at, _) = chain.deploy("verifier", from, &code.bytecode, &[], U256::ZERO)?;
    let o = chain.view(from, at, calldata.clone())?;
    if !o.success {
        return Err(EvmError::Evm(format!(
            "the verifier refused the proof: 0x{}",
            hex::encode(&o.output)
        )));
    }
    Ok(o.execution_gas(&calldata))
}
