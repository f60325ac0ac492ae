// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Groth16Verifier} from "./Groth16Verifier.sol";
import {OriginationRegistry} from "./OriginationRegistry.sol";
import {PoolRules} from "./PoolRules.sol";
import {ProviderRegistry} from "./ProviderRegistry.sol";
import {
    PI_CONTEXT,
    PI_NOW,
    PI_NULLIFIER,
    PI_ORIGINATION_TAG,
    PI_POLICY_HASH,
    PI_REGISTRY_ROOT,
    PI_SCOPE
} from "./ZkCreditConstants.sol";

/// @title Example smart-contract lending pool that lends only against a zkcredit Groth16 proof (spec §7)
/// @notice borrow() checks what `PoolRules` lists, in its order, with the Groth16 proof last.
/// @dev Policy hash and scope are fixed at deployment, so their input terms are folded into a
///      precomputed base point once (saves two EC multiplications per borrow).
///      Public-input indices come from the generated ZkCreditConstants.sol; R,
///      NUM_PUBLIC_INPUTS and the IC_<NAME> points from the generated Groth16Verifier.
contract LendingPool is PoolRules, Groth16Verifier {
    uint256 internal immutable _baseX;
    uint256 internal immutable _baseY;

    constructor(
        ProviderRegistry registry_,
        OriginationRegistry originations_,
        uint256 policyHash_,
        uint256 scope_,
        uint256 maxSkew_,
        uint256 maxLoan_,
        uint256 periodLimit_,
        uint256 periodLength_
    ) payable PoolRules(registry_, originations_, policyHash_, scope_, maxSkew_, maxLoan_, periodLimit_, periodLength_) {
        (uint256 x, uint256 y) = _accumulate(IC0_X, IC0_Y, IC_POLICY_HASH_X, IC_POLICY_HASH_Y, policyHash_);
        (x, y) = _accumulate(x, y, IC_SCOPE_X, IC_SCOPE_Y, scope_);
        _baseX = x;
        _baseY = y;
    }

    function _revertNotInField(uint256 index) internal pure override {
        revert PublicInputNotInField(index);
    }

    /// @notice Borrows `amount` wei against an eligibility proof.
    /// @param input The public inputs, indexed by the PI_* constants of ZkCreditConstants.sol.
    function borrow(uint256 amount, uint256[8] calldata proof, uint256[NUM_PUBLIC_INPUTS] calldata input) external {
        (uint64 period, uint256 lent) = _admit(amount, input);
        _checkProof(proof);
        uint256 tag = input[PI_ORIGINATION_TAG];
        (uint256 x, uint256 y) = _accumulate(_baseX, _baseY, IC_REGISTRY_ROOT_X, IC_REGISTRY_ROOT_Y, input[PI_REGISTRY_ROOT]);
        (x, y) = _accumulate(x, y, IC_NOW_X, IC_NOW_Y, input[PI_NOW]);
        (x, y) = _accumulate(x, y, IC_NULLIFIER_X, IC_NULLIFIER_Y, input[PI_NULLIFIER]);
        (x, y) = _accumulate(x, y, IC_CONTEXT_X, IC_CONTEXT_Y, input[PI_CONTEXT]);
        if (tag != 0) (x, y) = _accumulate(x, y, IC_ORIGINATION_TAG_X, IC_ORIGINATION_TAG_Y, tag);
        if (!_pairingCheck(proof, x, y)) revert InvalidProof();
        _grant(amount, period, lent, input);
    }
}
