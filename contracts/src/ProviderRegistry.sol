// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PoseidonT3} from "./PoseidonT3.sol";
import {PoseidonT5} from "./PoseidonT5.sol";
import {
    FR_MODULUS, REGISTRY_DEPTH, REGISTRY_SLOTS, ROLE_EMPTY, ROLE_KYC, ROLE_MAX
} from "./ZkCreditConstants.sol";

/// @title zkcredit provider registry (spec §5)
/// @notice A Poseidon Merkle tree of SLOTS provider slots (depth DEPTH). Slot leaf
///         H(role, providerId, providerRoot, publishedAt); an empty slot is all zeros.
///         Roles are the ROLE_* numbers of ZkCreditConstants.sol: ROLE_EMPTY, ROLE_KYC (slot 0
///         only), ROLE_FRAUD_LIST, ROLE_LENDER, ROLE_BUREAU.
///         The registry root is recomputed on chain exactly as the Rust `Registry` does, and
///         every root stays acceptable for HISTORY_WINDOW seconds after it is replaced, so a
///         proof in flight is not invalidated by an unrelated update.
contract ProviderRegistry {
    /// @notice Number of slots (registry::DEFAULT_SLOTS, generated).
    uint256 public constant SLOTS = REGISTRY_SLOTS;
    /// @notice Tree depth: SLOTS == 2 ** DEPTH.
    uint256 public constant DEPTH = REGISTRY_DEPTH;

    /// @notice One slot.
    struct Slot {
        uint8 role;
        uint64 publishedAt;
        address account;
        uint256 providerId;
        uint256 providerRoot;
    }

    /// @notice The registry administrator (registers and removes providers).
    address public admin;
    /// @notice Seconds a replaced registry root remains acceptable.
    uint64 public immutable historyWindow;
    /// @notice The current registry root.
    uint256 public currentRoot;
    /// @notice When a past root stopped being current (0: never current or still current).
    mapping(uint256 root => uint64 retiredAt) public retiredAt;

    Slot[SLOTS] internal _slots;
    /// @dev Tree nodes, heap layout: nodes[1] is the root, leaves are nodes[SLOTS..2 * SLOTS - 1].
    uint256[2 * SLOTS] internal _nodes;

    error NotAdmin();
    error NotSlotAccount(uint256 slot);
    error SlotOutOfRange(uint256 slot);
    error BadRole(uint256 slot, uint8 role);
    error NotInField(uint256 value);
    error ZeroAccount();
    error PublishedInFuture(uint64 publishedAt, uint256 blockTimestamp);
    error PublishedBeforePrevious(uint64 publishedAt, uint64 previous);

    /// @notice A provider was registered in (or removed from, ROLE_EMPTY) a slot.
    event ProviderSet(uint256 indexed slot, uint8 role, uint256 providerId, address account);
    /// @notice A provider published a new tree root.
    event RootPublished(uint256 indexed slot, uint256 providerRoot, uint64 publishedAt);
    /// @notice The registry root changed.
    event RegistryRootChanged(uint256 indexed oldRoot, uint256 indexed newRoot, uint64 at);
    /// @notice Admin handed over.
    event AdminChanged(address oldAdmin, address newAdmin);

    /// @param window Seconds a replaced registry root stays acceptable.
    constructor(uint64 window) {
        admin = msg.sender;
        historyWindow = window;
        uint256 level = PoseidonT5.hash([uint256(0), 0, 0, 0]);
        for (uint256 i = SLOTS; i < 2 * SLOTS; ++i) _nodes[i] = level;
        for (uint256 i = SLOTS - 1; i >= 1; --i) {
            _nodes[i] = PoseidonT3.hash([_nodes[2 * i], _nodes[2 * i + 1]]);
        }
        currentRoot = _nodes[1];
        emit RegistryRootChanged(0, currentRoot, uint64(block.timestamp));
    }

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin();
        _;
    }

    /// @notice Hands the admin role over.
    function setAdmin(address newAdmin) external onlyAdmin {
        if (newAdmin == address(0)) revert ZeroAccount();
        emit AdminChanged(admin, newAdmin);
        admin = newAdmin;
    }

    /// @notice Registers a provider in `slot` (ROLE_EMPTY empties the slot). Its root starts at 0.
    function setProvider(uint256 slot, uint8 role, uint256 providerId, address account) external onlyAdmin {
        if (slot >= SLOTS) revert SlotOutOfRange(slot);
        if (role > ROLE_MAX || (slot == 0 && role != ROLE_KYC && role != ROLE_EMPTY) || (slot != 0 && role == ROLE_KYC)) {
            revert BadRole(slot, role);
        }
        if (providerId >= FR_MODULUS) revert NotInField(providerId);
        if (role == ROLE_EMPTY) {
            delete _slots[slot];
        } else {
            if (account == address(0)) revert ZeroAccount();
            _slots[slot] = Slot({role: role, publishedAt: 0, account: account, providerId: providerId, providerRoot: 0});
        }
        emit ProviderSet(slot, role, providerId, account);
        _update(slot);
    }

    /// @notice The provider of `slot` publishes its tree root.
    function publishRoot(uint256 slot, uint256 providerRoot, uint64 publishedAt) external {
        if (slot >= SLOTS) revert SlotOutOfRange(slot);
        Slot storage s = _slots[slot];
        if (s.role == ROLE_EMPTY || msg.sender != s.account) revert NotSlotAccount(slot);
        if (providerRoot >= FR_MODULUS) revert NotInField(providerRoot);
        if (publishedAt > block.timestamp) revert PublishedInFuture(publishedAt, block.timestamp);
        // Never back in time; at the same time only the same root (a retried publication).
        if (publishedAt < s.publishedAt || (publishedAt == s.publishedAt && providerRoot != s.providerRoot)) {
            revert PublishedBeforePrevious(publishedAt, s.publishedAt);
        }
        s.providerRoot = providerRoot;
        s.publishedAt = publishedAt;
        emit RootPublished(slot, providerRoot, publishedAt);
        _update(slot);
    }

    /// @notice The slot leaf hash, as the circuit computes it.
    function slotLeaf(uint256 slot) public view returns (uint256) {
        Slot storage s = _slots[slot];
        return PoseidonT5.hash([uint256(s.role), s.providerId, s.providerRoot, uint256(s.publishedAt)]);
    }

    /// @notice One slot.
    function getSlot(uint256 slot) external view returns (Slot memory) {
        if (slot >= SLOTS) revert SlotOutOfRange(slot);
        return _slots[slot];
    }

    /// @notice Whether `root` is current or was replaced at most historyWindow seconds ago.
    function isKnownRoot(uint256 root) external view returns (bool) {
        if (root == currentRoot) return true;
        uint64 t = retiredAt[root];
        return t != 0 && block.timestamp <= uint256(t) + historyWindow;
    }

    function _update(uint256 slot) internal {
        uint256 i = SLOTS + slot;
        _nodes[i] = slotLeaf(slot);
        while (i > 1) {
            i >>= 1;
            _nodes[i] = PoseidonT3.hash([_nodes[2 * i], _nodes[2 * i + 1]]);
        }
        uint256 old = currentRoot;
        uint256 root = _nodes[1];
        if (root != old) {
            retiredAt[old] = uint64(block.timestamp);
            retiredAt[root] = 0;
            currentRoot = root;
            emit RegistryRootChanged(old, root, uint64(block.timestamp));
        }
    }
}
