// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Groth16Verifier} from "./Groth16Verifier.sol";
import {OriginationRegistry} from "./OriginationRegistry.sol";
import {ProviderRegistry} from "./ProviderRegistry.sol";
import {
    CONTEXT_MASK,
    EPOCH_SECONDS,
    PI_CONTEXT,
    PI_NOW,
    PI_NULLIFIER,
    PI_ORIGINATION_TAG,
    PI_POLICY_HASH,
    PI_REGISTRY_ROOT,
    PI_SCOPE
} from "./ZkCreditConstants.sol";

/// @title Example smart-contract lending pool that lends only against a zkcredit proof (spec §7)
/// @notice borrow() checks, in order: inputs < r; `amount` at most MAX_LOAN and within what is
///         left of the current period's lending limit; the proof's policy hash and scope are this
///         pool's; its registry root is known to the registry (current or recent); `now` is
///         within MAX_SKEW of block.timestamp; its context equals
///         keccak256(abi.encode(chainid, this, msg.sender, amount)) with the top 3 bits
///         cleared (so a proof copied from the mempool is useless to anyone else); the
///         nullifier is unused (one loan per person per scope, which also stops replays); the
///         origination tag is 0 when the pool has no OriginationRegistry and non-zero when it
///         has one, and then of the current epoch (spec §6.10); the Groth16 proof verifies. Then it records the nullifier,
///         records the tag in the alliance's OriginationRegistry (which reverts TagUsed if any
///         pool recorded it: the borrower's new-loan limit of this epoch is reached), adds
///         `amount` to the period's total and pays `amount` wei to msg.sender.
///         The per-loan cap and the per-period limit (set at deployment) bound what one eligible
///         borrower, or a burst of them, can take from the pool.
/// @dev Policy hash and scope are fixed at deployment, so their input terms are folded into a
///      precomputed base point once (saves two EC multiplications per borrow).
///      Public-input indices and the context mask come from the generated ZkCreditConstants.sol;
///      R, NUM_PUBLIC_INPUTS and the IC_<NAME> points from the generated Groth16Verifier.
contract LendingPool is Groth16Verifier {
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
    uint256 internal immutable _baseX;
    uint256 internal immutable _baseY;

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
        if (policyHash_ >= R) revert PublicInputNotInField(PI_POLICY_HASH);
        if (maxLoan_ == 0 || periodLimit_ < maxLoan_ || periodLimit_ > type(uint192).max || periodLength_ == 0) {
            revert BadLimits();
        }
        if (scope_ >= R) revert PublicInputNotInField(PI_SCOPE);
        registry = registry_;
        originations = originations_;
        policyHash = policyHash_;
        scope = scope_;
        maxSkew = maxSkew_;
        maxLoan = maxLoan_;
        periodLimit = periodLimit_;
        periodLength = periodLength_;
        (uint256 x, uint256 y) = _accumulate(IC0_X, IC0_Y, IC_POLICY_HASH_X, IC_POLICY_HASH_Y, policyHash_);
        (x, y) = _accumulate(x, y, IC_SCOPE_X, IC_SCOPE_Y, scope_);
        _baseX = x;
        _baseY = y;
    }

    /// @notice Accepts liquidity.
    receive() external payable {}

    /// @notice The context a borrower's proof must bind to borrow `amount` from this pool.
    function expectedContext(address borrower, uint256 amount) public view returns (uint256) {
        return uint256(keccak256(abi.encode(block.chainid, address(this), borrower, amount))) & CONTEXT_MASK;
    }

    /// @notice Borrows `amount` wei against an eligibility proof.
    /// @param input The public inputs, indexed by the PI_* constants of ZkCreditConstants.sol.
    function borrow(uint256 amount, uint256[8] calldata proof, uint256[NUM_PUBLIC_INPUTS] calldata input) external {
        for (uint256 i = 0; i < NUM_PUBLIC_INPUTS; ++i) {
            if (input[i] >= R) revert PublicInputNotInField(i);
        }
        if (amount > maxLoan) revert LoanAboveCap(amount, maxLoan);
        uint64 period = uint64(block.timestamp / periodLength);
        uint256 lent = period == currentPeriod ? lentInPeriod : 0;
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
        _checkProof(proof);
        (uint256 x, uint256 y) = _accumulate(_baseX, _baseY, IC_REGISTRY_ROOT_X, IC_REGISTRY_ROOT_Y, input[PI_REGISTRY_ROOT]);
        (x, y) = _accumulate(x, y, IC_NOW_X, IC_NOW_Y, t);
        (x, y) = _accumulate(x, y, IC_NULLIFIER_X, IC_NULLIFIER_Y, input[PI_NULLIFIER]);
        (x, y) = _accumulate(x, y, IC_CONTEXT_X, IC_CONTEXT_Y, ctx);
        if (tag != 0) (x, y) = _accumulate(x, y, IC_ORIGINATION_TAG_X, IC_ORIGINATION_TAG_Y, tag);
        if (!_pairingCheck(proof, x, y)) revert InvalidProof();
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
