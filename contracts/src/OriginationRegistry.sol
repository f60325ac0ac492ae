// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title The alliance's record of origination tags (spec §6.10, §7)
/// @notice A borrower has `max_new_loans` origination tags per epoch, unlinkable to each
///         other, to the borrower and across epochs; a lender whose policy limits new loans
///         accepts a proof only with a tag no lender has recorded. Every lending pool of the
///         alliance records its borrower's tag here in the same transaction as the loan, so
///         the (k+1)-th loan of one person in one epoch is refused at every pool at once.
/// @dev Only pools the admin registered may record; a tag is recorded once, by one pool,
///      forever (tags of past epochs can never be used again, as their epoch is in the hash).
contract OriginationRegistry {
    /// @notice Registers and removes pools.
    address public immutable admin;
    /// @notice Pools allowed to record tags.
    mapping(address pool => bool allowed) public isPool;
    /// @notice The pool that recorded each tag (address(0): unused).
    mapping(uint256 tag => address pool) public recordedBy;

    error NotAdmin(address caller);
    error NotPool(address caller);
    error ZeroTag();
    error TagUsed(uint256 tag);

    /// @notice A pool was allowed to record tags.
    event PoolAdded(address indexed pool);
    /// @notice A pool may no longer record tags.
    event PoolRemoved(address indexed pool);
    /// @notice A loan was originated with `tag`.
    event TagRecorded(uint256 indexed tag, address indexed pool);

    constructor(address admin_) {
        admin = admin_;
    }

    /// @notice Allows `pool` to record tags (admin only).
    function addPool(address pool) external {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        isPool[pool] = true;
        emit PoolAdded(pool);
    }

    /// @notice Stops `pool` from recording tags (admin only); its recorded tags stay.
    function removePool(address pool) external {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        isPool[pool] = false;
        emit PoolRemoved(pool);
    }

    /// @notice Whether `tag` was recorded (what a wallet asks before choosing its index).
    function used(uint256 tag) external view returns (bool) {
        return recordedBy[tag] != address(0);
    }

    /// @notice Records `tag` for a loan the calling pool is granting; reverts `TagUsed` if any
    ///         pool recorded it before.
    function record(uint256 tag) external {
        if (!isPool[msg.sender]) revert NotPool(msg.sender);
        if (tag == 0) revert ZeroTag();
        if (recordedBy[tag] != address(0)) revert TagUsed(tag);
        recordedBy[tag] = msg.sender;
        emit TagRecorded(tag, msg.sender);
    }
}
