//! The gas of a proof's verification inside a larger transaction (issue 14: the proof check
//! inside `borrow`), measured by an inspector on a copy of the chain.
//!
//! The span starts at the first call (any call opcode) to a BN254 precompile (0x06 ecAdd,
//! 0x07 ecMul, 0x08 pairing) and ends at the first instruction after the last pairing
//! returns, in the frame that made the first call. It is the gas that frame had left at the
//! start minus what it had left at the end: the precompiles, each call's own cost (100 gas
//! warm) and memory, and the code between them (for `LendingPool.borrow`: the input point's
//! ecMul + ecAdd per variable input and the pairing, with the calldata reads between them).
//! The proof's coordinate checks, which come before the first call, and the check of the
//! pairing's result, after it, are outside. It suits a verifier whose curve work is these
//! precompile calls from one frame, as our Groth16 verifiers; for a verifier doing much of
//! its work in code before its first precompile call (snark-verifier's halo2 verifier: the
//! transcript, the field arithmetic) it would leave that work out.

use crate::vm::{Chain, Outcome};
use crate::EvmError;
use alloy_primitives::{Address, U256};
use revm::bytecode::opcode::{CALL, CALLCODE, DELEGATECALL, STATICCALL};
use revm::inspector::Inspector;
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::interpreter_types::{InputsTr, Jumps};
use revm::interpreter::Interpreter;

/// The BN254 precompiles' addresses: ecAdd, ecMul, pairing.
const BN254_PRECOMPILES: std::ops::RangeInclusive<u8> = 6..=8;

/// The pairing precompile.
const PAIRING: u8 = 8;

/// Records the span (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct PrecompileSpan {
    /// The frame (contract and call depth) and the gas it had left before its first BN254
    /// call.
    start: Option<(Address, usize, u64)>,
    /// The gas left after the last pairing returned.
    end: Option<u64>,
    /// A pairing was just called from the span's frame: its next step is after the return.
    after_pairing: bool,
    /// The span's frame has returned: a later frame at the same depth is another one.
    closed: bool,
}

impl PrecompileSpan {
    /// The span's gas, if a pairing was called from the frame of the first BN254 call.
    pub(crate) fn gas(&self) -> Option<u64> {
        let (_, _, start) = self.start?;
        start.checked_sub(self.end?)
    }
}

impl<CTX> Inspector<CTX, EthInterpreter> for PrecompileSpan {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        let (here, depth) = (interp.input.target_address(), interp.input.depth());
        if let Some((frame, at, _)) = self.start {
            self.closed |= depth < at;
            if self.closed || (frame, at) != (here, depth) {
                return;
            }
        }
        let left = interp.gas.remaining();
        if std::mem::take(&mut self.after_pairing) {
            self.end = Some(left);
        }
        if !matches!(
            interp.bytecode.opcode(),
            CALL | CALLCODE | DELEGATECALL | STATICCALL
        ) {
            return;
        }
        // Every call opcode's operands start gas, address (the address second from the top);
        // the EVM reads the address from the word's low 20 bytes.
        let Ok(to) = interp.stack.peek(1) else {
            return;
        };
        let to = Address::from_word(to.to_be_bytes::<32>().into()).into_array();
        let n = to[19];
        if to[..19].iter().all(|b| *b == 0) && BN254_PRECOMPILES.contains(&n) {
            self.start.get_or_insert((here, depth, left));
            self.after_pairing = n == PAIRING;
        }
    }
}

impl Chain {
    /// Runs the call on a copy of the chain (nothing is committed) and returns its outcome
    /// and the gas of its verification span (see the module documentation): `None` if no
    /// pairing was called from the frame of the first BN254 call. The span is reported even
    /// if the call reverted afterwards: check the outcome.
    pub fn verification_gas(
        &self,
        from: Address,
        to: Address,
        data: Vec<u8>,
        value: U256,
    ) -> Result<(Outcome, Option<u64>), EvmError> {
        let mut span = PrecompileSpan::default();
        let outcome = self.inspect_copy(from, to, data, value, &mut span)?;
        Ok((outcome, span.gas()))
    }
}
