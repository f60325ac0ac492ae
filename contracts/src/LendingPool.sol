// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Groth16Verifier} from "./Groth16Verifier.sol";
import {ProviderRegistry} from "./ProviderRegistry.sol";

/// @title Example smart-contract lending pool that lends only against a zkcredit proof (spec §7)
/// @notice borrow() checks, in order: inputs < r; the proof's policy hash and scope are this
///         pool's; its registry root is known to the registry (current or recent); `now` is
///         within MAX_SKEW of block.timestamp; its context equals
///         keccak256(abi.encode(chainid, this, msg.sender, amount)) with the top 3 bits
///         cleared (so a proof copied from the mempool is useless to anyone else); the
///         nullifier is unused (one loan per person per scope, which also stops replays); the Groth16 proof verifies. Then it records the nullifier and
///         pays `amount` wei to msg.sender.
/// @dev Policy hash and scope are fixed at deployment, so their input terms are folded into a
///      precomputed base point once (saves two EC multiplications per borrow).
contract LendingPool is Groth16Verifier {
    /// @notice The provider registry whose roots are accepted.
    ProviderRegistry public immutable registry;
    /// @notice This pool's policy hash.
    uint256 public immutable policyHash;
    /// @notice This pool's nullifier scope.
    uint256 public immutable scope;
    /// @notice Accepted |now − block.timestamp| in seconds.
    uint256 public immutable maxSkew;
    uint256 internal immutable _baseX;
    uint256 internal immutable _baseY;

    /// @notice Nullifiers already used.
    mapping(uint256 nullifier => bool used) public nullifierUsed;

    error InvalidProof();
    error PolicyMismatch(uint256 got);
    error ScopeMismatch(uint256 got);
    error UnknownRegistryRoot(uint256 root);
    error NowOutOfSkew(uint256 proofNow, uint256 blockTimestamp);
    error ContextMismatch(uint256 expected, uint256 got);
    error NullifierAlreadyUsed(uint256 nullifier);
    error InsufficientLiquidity(uint256 requested, uint256 available);
    error PayoutFailed();

    /// @notice A loan was granted.
    event Borrowed(address indexed borrower, uint256 amount, uint256 indexed nullifier, uint256 registryRoot);

    constructor(ProviderRegistry registry_, uint256 policyHash_, uint256 scope_, uint256 maxSkew_) payable {
        if (policyHash_ >= R) revert PublicInputNotInField(1);
        if (scope_ >= R) revert PublicInputNotInField(3);
        registry = registry_;
        policyHash = policyHash_;
        scope = scope_;
        maxSkew = maxSkew_;
        (uint256 x, uint256 y) = _accumulate(IC0_X, IC0_Y, IC2_X, IC2_Y, policyHash_);
        (x, y) = _accumulate(x, y, IC4_X, IC4_Y, scope_);
        _baseX = x;
        _baseY = y;
    }

    /// @notice Accepts liquidity.
    receive() external payable {}

    /// @notice The context a borrower's proof must bind to borrow `amount` from this pool.
    function expectedContext(address borrower, uint256 amount) public view returns (uint256) {
        return uint256(keccak256(abi.encode(block.chainid, address(this), borrower, amount))) & ((1 << 253) - 1);
    }

    /// @notice Borrows `amount` wei against an eligibility proof.
    /// @param input [registry_root, policy_hash, now, scope, nullifier, context].
    function borrow(uint256 amount, uint256[8] calldata proof, uint256[6] calldata input) external {
        for (uint256 i = 0; i < 6; ++i) {
            if (input[i] >= R) revert PublicInputNotInField(i);
        }
        if (input[1] != policyHash) revert PolicyMismatch(input[1]);
        if (input[3] != scope) revert ScopeMismatch(input[3]);
        if (!registry.isKnownRoot(input[0])) revert UnknownRegistryRoot(input[0]);
        uint256 t = input[2];
        if (t > block.timestamp + maxSkew || t + maxSkew < block.timestamp) revert NowOutOfSkew(t, block.timestamp);
        uint256 ctx = expectedContext(msg.sender, amount);
        if (input[5] != ctx) revert ContextMismatch(ctx, input[5]);
        if (nullifierUsed[input[4]]) revert NullifierAlreadyUsed(input[4]);
        _checkProof(proof);
        (uint256 x, uint256 y) = _accumulate(_baseX, _baseY, IC1_X, IC1_Y, input[0]);
        (x, y) = _accumulate(x, y, IC3_X, IC3_Y, t);
        (x, y) = _accumulate(x, y, IC5_X, IC5_Y, input[4]);
        (x, y) = _accumulate(x, y, IC6_X, IC6_Y, ctx);
        if (!_pairingCheck(proof, x, y)) revert InvalidProof();
        nullifierUsed[input[4]] = true;
        if (amount > address(this).balance) revert InsufficientLiquidity(amount, address(this).balance);
        emit Borrowed(msg.sender, amount, input[4], input[0]);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert PayoutFailed();
    }
}
