// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {OriginationRegistry} from "./OriginationRegistry.sol";
import {ProviderRegistry} from "./ProviderRegistry.sol";
import {
    CONTEXT_MASK,
    EPOCH_SECONDS,
    FR_MODULUS,
    NUM_PUBLIC_INPUTS,
    PI_CONTEXT,
    PI_NOW,
    PI_NULLIFIER,
    PI_ORIGINATION_TAG,
    PI_POLICY_HASH,
    PI_REGISTRY_ROOT,
    PI_SCOPE
} from "./ZkCreditConstants.sol";

/// @title What a zkcredit lending pool checks besides the proof, and what it does after (spec §7)
/// @notice A pool checks, in order: inputs < r; `amount` at most MAX_LOAN and within what is
///         left of the current period's lending limit; the proof's policy hash and scope are
///         this pool's; its registry root is known to the registry (current or recent); `now`
///         is within MAX_SKEW of block.timestamp; its context equals
///         keccak256(abi.encode(chainid, this, msg.sender, amount)) with the top 3 bits
///         cleared (so a proof copied from the mempool is useless to anyone else); the
///         nullifier is unused (one loan per person per scope, which also stops replays); the
///         origination tag is 0 when the pool has no OriginationRegistry and non-zero when it
///         has one, and then of the current epoch (spec §6.10); then the proof verifies (each
///         pool's own proof system). Then it records the nullifier, records the tag in the
///         alliance's OriginationRegistry (which reverts TagUsed if any pool recorded it: the
///         borrower's new-loan limit of this epoch is reached), adds `amount` to the period's
///         total and pays `amount` wei to msg.sender.
///         The per-loan cap and the per-period limit (set at deployment) bound what one
///         eligible borrower, or a burst of them, can take from the pool.
/// @dev `LendingPool` (Groth16) and `Halo2LendingPool` (halo2-KZG) are this contract with a
///      verifier: `borrow` calls `_admit`, checks its proof, then calls `_grant`.
abstract contract PoolRules {
    /// @notice The provider registry whose roots are accepted.
    ProviderRegistry public immutable registry;
    /// @notice The alliance's origination-tag registry, or address(0) when this pool's
    ///         policy sets no new-loan limit (`max_new_loans = 0`, so every tag is 0).
    OriginationRegistry public immutable originations;
    /// @notice This pool's policy hash.
    uint256 public immutable policyHash;
    /// @notice This pool's nullifier scope.
    uint256 public immutable scope;
    /// @notice Accepted |now − block.timestamp| in seconds.
    uint256 public immutable maxSkew;
    /// @notice Largest amount of one loan, in wei.
    uint256 public immutable maxLoan;
    /// @notice Most the pool lends in one period, in wei.
    uint256 public immutable periodLimit;
    /// @notice Length of a lending period in seconds (periods are block.timestamp / periodLength).
    uint256 public immutable periodLength;

    /// @notice The period of the last loan and what was lent in it (one storage slot).
    uint64 public currentPeriod;
    /// @notice Wei lent in `currentPeriod`.
    uint192 public lentInPeriod;

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
    error LoanAboveCap(uint256 amount, uint256 maxLoan);
    error PeriodLimitExceeded(uint256 amount, uint256 remaining);
    error BadLimits();
    error OriginationTagMismatch(uint256 got);
    error EpochMismatch(uint256 proofEpoch, uint256 currentEpoch);

    /// @notice A loan was granted.
    event Borrowed(address indexed borrower, uint256 amount, uint256 indexed nullifier, uint256 registryRoot);

    constructor(
        ProviderRegistry registry_,
        OriginationRegistry originations_,
        uint256 policyHash_,
        uint256 scope_,
        uint256 maxSkew_,
        uint256 maxLoan_,
        uint256 periodLimit_,
        uint256 periodLength_
    ) payable {
        if (policyHash_ >= FR_MODULUS) _revertNotInField(PI_POLICY_HASH);
        if (maxLoan_ == 0 || periodLimit_ < maxLoan_ || periodLimit_ > type(uint192).max || periodLength_ == 0) {
            revert BadLimits();
        }
        if (scope_ >= FR_MODULUS) _revertNotInField(PI_SCOPE);
        registry = registry_;
        originations = originations_;
        policyHash = policyHash_;
        scope = scope_;
        maxSkew = maxSkew_;
        maxLoan = maxLoan_;
        periodLimit = periodLimit_;
        periodLength = periodLength_;
    }

    /// @notice Accepts liquidity.
    receive() external payable {}

    /// @notice The context a borrower's proof must bind to borrow `amount` from this pool.
    function expectedContext(address borrower, uint256 amount) public view returns (uint256) {
        return uint256(keccak256(abi.encode(block.chainid, address(this), borrower, amount))) & CONTEXT_MASK;
    }

    /// @dev Reverts `PublicInputNotInField(index)`: the error of the pool's verifier.
    function _revertNotInField(uint256 index) internal pure virtual;

    /// @dev Every check before the proof's, in the order above; returns the current period
    ///      and what was lent in it.
    function _admit(uint256 amount, uint256[NUM_PUBLIC_INPUTS] calldata input)
        internal
        view
        returns (uint64 period, uint256 lent)
    {
        for (uint256 i = 0; i < NUM_PUBLIC_INPUTS; ++i) {
            if (input[i] >= FR_MODULUS) _revertNotInField(i);
        }
        if (amount > maxLoan) revert LoanAboveCap(amount, maxLoan);
        period = uint64(block.timestamp / periodLength);
        lent = period == currentPeriod ? lentInPeriod : 0;
        if (amount > periodLimit - lent) revert PeriodLimitExceeded(amount, periodLimit - lent);
        if (input[PI_POLICY_HASH] != policyHash) revert PolicyMismatch(input[PI_POLICY_HASH]);
        if (input[PI_SCOPE] != scope) revert ScopeMismatch(input[PI_SCOPE]);
        if (!registry.isKnownRoot(input[PI_REGISTRY_ROOT])) revert UnknownRegistryRoot(input[PI_REGISTRY_ROOT]);
        uint256 t = input[PI_NOW];
        if (t > block.timestamp + maxSkew || t + maxSkew < block.timestamp) revert NowOutOfSkew(t, block.timestamp);
        uint256 ctx = expectedContext(msg.sender, amount);
        if (input[PI_CONTEXT] != ctx) revert ContextMismatch(ctx, input[PI_CONTEXT]);
        if (nullifierUsed[input[PI_NULLIFIER]]) revert NullifierAlreadyUsed(input[PI_NULLIFIER]);
        uint256 tag = input[PI_ORIGINATION_TAG];
        if ((tag == 0) != (address(originations) == address(0))) revert OriginationTagMismatch(tag);
        // A tag is of the proof's epoch: only the current epoch's tags count (else a skew
        // window across an epoch boundary would open the next epoch's k loans early).
        if (tag != 0 && t / EPOCH_SECONDS != block.timestamp / EPOCH_SECONDS) {
            revert EpochMismatch(t / EPOCH_SECONDS, block.timestamp / EPOCH_SECONDS);
        }
    }

    /// @dev After the proof verified: records the nullifier and the tag, counts `amount` in
    ///      the period and pays it to msg.sender.
    function _grant(uint256 amount, uint64 period, uint256 lent, uint256[NUM_PUBLIC_INPUTS] calldata input)
        internal
    {
        uint256 tag = input[PI_ORIGINATION_TAG];
        nullifierUsed[input[PI_NULLIFIER]] = true;
        if (tag != 0) originations.record(tag);
        currentPeriod = period;
        lentInPeriod = uint192(lent + amount);
        if (amount > address(this).balance) revert InsufficientLiquidity(amount, address(this).balance);
        emit Borrowed(msg.sender, amount, input[PI_NULLIFIER], input[PI_REGISTRY_ROOT]);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert PayoutFailed();
    }
}
