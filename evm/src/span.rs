//! The gas of a proof's verification inside a larger transaction (issue 14: the proof check
//! inside `borrow`), measured by an inspector on a copy of the chain.
//!
//! The span starts at the first `STATICCALL` to a BN254 precompile (0x06 ecAdd, 0x07 ecMul,
//! 0x08 pairing) and ends at the first instruction after the last pairing returns, in the
//! frame that made the first call. It is the gas that frame had left at the start minus what
//! it had left at the end: the precompiles, the memory they read and write, and the code
//! between them (for `LendingPool.borrow`: the input point's ecMul + ecAdd per variable
//! input and the pairing, with the calldata reads between them). The proof's coordinate
//! checks, which come before the first call, are outside it.

use crate::vm::{Chain, Outcome};
use crate::EvmError;
use alloy_primitives::{Address, U256};
use revm::bytecode::opcode::STATICCALL;
use revm::inspector::Inspector;
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::interpreter_types::{InputsTr, Jumps};
use revm::interpreter::Interpreter;

/// The BN254 precompiles' addresses: ecAdd, ecMul, pairing.
const BN254_PRECOMPILES: std::ops::RangeInclusive<u64> = 6..=8;

/// The pairing precompile.
const PAIRING: u64 = 8;

/// Records the span (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct PrecompileSpan {
    /// The frame's contract and the gas it had left before its first BN254 call.
    start: Option<(Address, u64)>,
    /// The gas left after the last pairing returned.
    end: Option<u64>,
    /// A pairing was just called from the span's frame: its next step is after the return.
    after_pairing: bool,
}

impl PrecompileSpan {
    /// The span's gas, if a pairing was called.
    pub(crate) fn gas(&self) -> Option<u64> {
        let (_, start) = self.start?;
        start.checked_sub(self.end?)
    }
}

impl<CTX> Inspector<CTX, EthInterpreter> for PrecompileSpan {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        let here = interp.input.target_address();
        if self.start.is_some_and(|(frame, _)| frame != here) {
            return;
        }
        let left = interp.gas.remaining();
        if std::mem::take(&mut self.after_pairing) {
            self.end = Some(left);
        }
        if interp.bytecode.opcode() != STATICCALL {
            return;
        }
        // STATICCALL's operands: gas, address, … (the address second from the top).
        let Ok(to) = interp.stack.peek(1) else {
            return;
        };
        let Ok(to) = u64::try_from(to) else {
            return;
        };
        if BN254_PRECOMPILES.contains(&to) {
            self.start.get_or_insert((here, left));
            self.after_pairing = to == PAIRING;
        }
    }
}

impl Chain {
    /// Runs the call on a copy of the chain (nothing is committed) and returns its outcome
    /// and the gas of its verification span (see the module documentation): `None` if no
    /// pairing was called.
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
